// Package bbolt is the default token store: one bbolt file, durable,
// for a single Caddy node. Writes of concurrent requests share one
// transaction and one fsync (group commit) and are durable when the call
// returns.
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
	type entry struct {
		key, value, family []byte
	}
	entries := make([]entry, len(records))
	keys := make([][hashLen]byte, len(records))
	for i, r := range records {
		if !hashKey(&keys[i], r.Hash) {
			return fmt.Errorf("saving token record: hash %.12q... is not a hex SHA-256", r.Hash)
		}
		for j := range i {
			if keys[j] == keys[i] {
				return caddyoauth.ErrExists
			}
		}
		e := &entries[i]
		e.key = keys[i][:]
		e.value = encodeRecord(r)
		if r.FamilyID != "" {
			e.family = familyKey(r.FamilyID, e.key)
		}
	}
	var exists bool
	err := s.db.update(func(tx *bolt.Tx) error {
		exists = false
		tokens := tx.Bucket(bucketTokens)
		tokens.FillPercent = appendFill
		for _, e := range entries {
			if tokens.Get(e.key) != nil {
				exists = true
				return nil // write nothing; not a fault of the batch
			}
		}
		families := tx.Bucket(bucketFamilies)
		families.FillPercent = appendFill
		for _, e := range entries {
			if err := tokens.Put(e.key, e.value); err != nil {
				return err
			}
			if e.family != nil {
				if err := families.Put(e.family, nil); err != nil {
					return err
				}
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
	var rec *caddyoauth.TokenRecord
	err := s.db.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketTokens).Get(key[:])
		if v == nil {
			return caddyoauth.ErrNotFound
		}
		var err error
		rec, err = decodeRecord(key[:], v)
		return err
	})
	if err == caddyoauth.ErrNotFound {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("reading token record: %w", err)
	}
	return rec, nil
}

// ConsumeToken implements caddyoauth.Store. The check and the write are
// one transaction.
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
	err := s.db.update(func(tx *bolt.Tx) error {
		rec, outcome = nil, nil
		tokens := tx.Bucket(bucketTokens)
		v := tokens.Get(key[:])
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
			return tokens.Put(key[:], withUsedAt(v, now))
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
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if familyID == "" {
		return nil, nil // records without a family are in none
	}
	prefix := append([]byte(familyID), 0)
	var changed [][]byte
	err := s.db.update(func(tx *bolt.Tx) error {
		changed = changed[:0]
		tokens := tx.Bucket(bucketTokens)
		c := tx.Bucket(bucketFamilies).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(k) != len(prefix)+hashLen {
				continue // a longer family ID that has this one as prefix
			}
			key := k[len(prefix):]
			v := tokens.Get(key)
			if v == nil || len(v) < headerLen {
				continue
			}
			if v[offFlags]&flagRevoked != 0 {
				continue
			}
			key = bytes.Clone(key)
			if err := tokens.Put(key, withRevoked(v)); err != nil {
				return err
			}
			changed = append(changed, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("revoking token family: %w", err)
	}
	hashes := make([]string, len(changed))
	for i, k := range changed {
		hashes[i] = hex.EncodeToString(k)
	}
	return hashes, nil
}

// sweepChunk bounds the records one Sweep transaction deletes, so that a
// large sweep does not hold the write lock for long.
// sweepChunk bounds the deletions of one write transaction, so a sweep
// never holds the writer long.
const sweepChunk = 10_000

// Sweep implements caddyoauth.Store. It reads every record's expiry in a
// read transaction, which does not block writers, then deletes the expired
// records and their family index entries in chunks.
func (s *Store) Sweep(ctx context.Context, before time.Time) (int, error) {
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
		err := s.db.db.Update(func(tx *bolt.Tx) error {
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
