// Package bbolt is the default token store: one bbolt file, durable,
// for a single Caddy node. Writes of concurrent requests share one append
// to a journal beside the file and one fdatasync (group commit), and are
// durable when the call returns; checkpoints write them to the file in the
// background, many batches per transaction (see journal.go).
package bbolt

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

func init() {
	caddy.RegisterModule(new(Store))
}

// Store keeps token records in a bbolt database file. It is the default
// store. Several configs (a reload, `caddy validate`) naming the same file
// share one open database. In the Caddyfile it is `storage bbolt [<path>]`.
type Store struct {
	// Path is the database file. Placeholders are replaced when the
	// store is provisioned. Default: oauth.db in the oauth folder of
	// Caddy's data directory (caddy.AppDataDir()).
	Path string `json:"path,omitempty"`

	path string // absolute; the key in the databases pool
	db   *database
}

// CaddyModule returns the Caddy module information.
func (*Store) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oauth.storage.bbolt",
		New: func() caddy.Module { return new(Store) },
	}
}

// UnmarshalCaddyfile sets up the store from Caddyfile tokens. Syntax:
//
//	storage bbolt [<path>]
func (s *Store) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the backend name
	if d.NextArg() {
		s.Path = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(d.Nesting()) {
		return d.Errf("storage bbolt takes no options")
	}
	return nil
}

// Provision opens the database file, or shares it with the stores that
// already have it open.
func (s *Store) Provision(ctx caddy.Context) error {
	path := s.Path
	if path == "" {
		path = filepath.Join(caddy.AppDataDir(), "oauth", "oauth.db")
	} else {
		path = caddy.NewReplacer().ReplaceAll(path, "")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("token database path %q: %v", path, err)
	}
	db, err := acquire(abs)
	if err != nil {
		return err
	}
	s.path, s.db = abs, db
	if !journalFlushed {
		ctx.Logger().Warn("this build never flushes the token journal (build tag caddyoauth_nodatasync): issued tokens can be lost in a crash; it is a benchmark reference, not for use",
			zap.String("path", abs))
	}
	return nil
}

// Cleanup releases the database file; the last store using it closes it.
func (s *Store) Cleanup() error {
	if s.db == nil {
		return nil // not provisioned, or provisioning failed
	}
	s.db = nil
	if _, err := databases.Delete(s.path); err != nil {
		return fmt.Errorf("closing token database %s: %v", s.path, err)
	}
	return nil
}

// appendFill is how full SaveTokens packs the pages it splits. New keys
// mostly ascend (see caddyoauth.HashToken), so a page that splits is one
// that will not receive more keys: packing it leaves fewer, fuller pages to
// write and to search than bbolt's default of half full.
const appendFill = 0.95

// SaveTokens implements caddyoauth.Store.
func (s *Store) SaveTokens(ctx context.Context, records ...*caddyoauth.TokenRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(records) == 0 {
		return nil
	}
	keys := make([][hashLen]byte, len(records))
	values := make([][]byte, len(records))
	for i, r := range records {
		if !hashKey(&keys[i], r.Hash) {
			return fmt.Errorf("saving token record: hash %.12q... is not a hex SHA-256", r.Hash)
		}
		if slices.Contains(keys[:i], keys[i]) {
			return caddyoauth.ErrExists
		}
		values[i] = encodeRecord(r)
	}
	var exists bool
	err := s.db.update(func(tx *writeTx) error {
		for i := range keys {
			v, err := tx.get(&keys[i])
			if err != nil {
				return err
			}
			if v != nil {
				exists = true
				return nil // write nothing; not a fault of the batch
			}
		}
		for i, r := range records {
			tx.put(&keys[i], values[i])
			if r.FamilyID != "" {
				tx.addToFamily(r.FamilyID, &keys[i])
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("saving token records: %w", err)
	}
	if exists {
		return caddyoauth.ErrExists
	}
	return nil
}

// GetToken implements caddyoauth.Store.
func (s *Store) GetToken(ctx context.Context, hash string) (*caddyoauth.TokenRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var key [hashLen]byte
	if !hashKey(&key, hash) {
		return nil, caddyoauth.ErrNotFound
	}
	rec, err := s.db.get(&key)
	if err == caddyoauth.ErrNotFound {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("reading token record: %w", err)
	}
	return rec, nil
}

// ConsumeToken implements caddyoauth.Store. The check and the write are
// one step of the committer.
func (s *Store) ConsumeToken(ctx context.Context, hash string, now time.Time) (*caddyoauth.TokenRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var key [hashLen]byte
	if !hashKey(&key, hash) {
		return nil, caddyoauth.ErrNotFound
	}
	var (
		rec     *caddyoauth.TokenRecord
		outcome error
	)
	err := s.db.update(func(tx *writeTx) error {
		v, err := tx.get(&key)
		if err != nil {
			return err
		}
		if v == nil {
			outcome = caddyoauth.ErrNotFound
			return nil
		}
		r, err := decodeRecord(key[:], v)
		if err != nil {
			return err
		}
		rec = r
		switch {
		case r.Revoked:
			outcome = caddyoauth.ErrRevoked
		case !r.UsedAt.IsZero():
			outcome = caddyoauth.ErrAlreadyUsed
		default:
			tx.put(&key, withUsedAt(v, now))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("consuming token record: %w", err)
	}
	return rec, outcome
}

// RevokeFamily implements caddyoauth.Store.
func (s *Store) RevokeFamily(ctx context.Context, familyID string) ([]string, error) {
	if familyID == "" {
		return nil, ctx.Err() // records without a family are in none
	}
	return s.revoke(ctx, "revoking token family", func(tx *writeTx) ([][hashLen]byte, error) {
		return tx.family(familyID)
	})
}

// RevokeToken implements caddyoauth.Store.
func (s *Store) RevokeToken(ctx context.Context, hash string) ([]string, error) {
	var key [hashLen]byte
	if !hashKey(&key, hash) {
		return nil, ctx.Err() // not a hash the store could hold
	}
	return s.revoke(ctx, "revoking token", func(*writeTx) ([][hashLen]byte, error) {
		return [][hashLen]byte{key}, nil
	})
}

// revoke marks revoked, in one write, the records under the keys that
// records returns, and returns the hashes of those it changed.
func (s *Store) revoke(ctx context.Context, what string, records func(*writeTx) ([][hashLen]byte, error)) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var changed [][hashLen]byte
	err := s.db.update(func(tx *writeTx) error {
		keys, err := records(tx)
		if err != nil {
			return err
		}
		for i := range keys {
			key := &keys[i]
			v, err := tx.get(key)
			if err != nil {
				return err
			}
			if len(v) < headerLen || v[offFlags]&flagRevoked != 0 {
				continue
			}
			tx.put(key, withRevoked(v))
			changed = append(changed, *key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	hashes := make([]string, len(changed))
	for i, k := range changed {
		hashes[i] = hex.EncodeToString(k[:])
	}
	return hashes, nil
}

// sweepChunk bounds the deletions of one write transaction, so a sweep
// never holds the file's writer long.
const sweepChunk = 10_000

// Sweep implements caddyoauth.Store. It first checkpoints, so that the
// file holds every record; then it reads every record's expiry in a read
// transaction, which does not block writers, and deletes the expired
// records and their family index entries in chunks.
func (s *Store) Sweep(ctx context.Context, before time.Time) (int, error) {
	if err := s.db.checkpointNow(); err != nil {
		return 0, fmt.Errorf("sweeping expired token records: %w", err)
	}
	type expired struct{ key, family []byte }
	var found []expired
	err := s.db.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
			if !expiredBefore(v, before) {
				return nil
			}
			fam, err := familyOf(v)
			if err != nil {
				return fmt.Errorf("record %x: %w", k[:min(6, len(k))], err)
			}
			found = append(found, expired{key: bytes.Clone(k), family: []byte(fam)})
			return ctx.Err()
		})
	})
	if err != nil {
		return 0, fmt.Errorf("sweeping expired token records: %w", err)
	}
	total := 0
	for chunk := range slices.Chunk(found, sweepChunk) {
		n := 0
		err := s.db.writeFile(func(tx *bolt.Tx) error {
			n = 0
			tokens, families := tx.Bucket(bucketTokens), tx.Bucket(bucketFamilies)
			for _, e := range chunk {
				// Expiry never changes, but the record may be gone.
				if tokens.Get(e.key) == nil {
					continue
				}
				if len(e.family) > 0 {
					if err := families.Delete(familyKey(string(e.family), e.key)); err != nil {
						return err
					}
				}
				if err := tokens.Delete(e.key); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("sweeping expired token records: %w", err)
		}
		total += n
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
	return total, nil
}

// Interface guards
var (
	_ caddyoauth.Store      = (*Store)(nil)
	_ caddy.Provisioner     = (*Store)(nil)
	_ caddy.CleanerUpper    = (*Store)(nil)
	_ caddyfile.Unmarshaler = (*Store)(nil)
	_ caddy.Destructor      = (*database)(nil)
)
