package postgres

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

// maxInsertRows bounds the records of one INSERT, whose parameters
// PostgreSQL counts in 16 bits.
const maxInsertRows = 1000

// uniqueViolation is the SQLSTATE of a duplicate key.
const uniqueViolation = "23505"

// Bounds on the store's statements. pgx waits for an answer as long as
// its context allows, and a server or a network that stops answering
// without closing the connection (a lost network, a frozen server) would
// hold the request, and the pool's connection, for as long as TCP takes to
// notice, minutes. A statement that runs out of time fails (the request
// gets a 503) and its connection is closed.
const (
	defaultStatementTimeout = 5 * time.Second
	sweepTimeout            = time.Minute
)

// bounded returns ctx bounded by the statement timeout.
func (s *Store) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, cmp.Or(time.Duration(s.StatementTimeout), defaultStatementTimeout))
}

// execer runs a statement: the pool, or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// SaveTokens implements caddyoauth.Store. One INSERT saves up to
// maxInsertRows records, atomically; more take several in a transaction.
func (s *Store) SaveTokens(ctx context.Context, records ...*caddyoauth.TokenRecord) error {
	if len(records) == 0 {
		return ctx.Err()
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	args := make([]any, 0, len(records)*numColumns)
	for _, r := range records {
		var err error
		if args, err = appendRecordArgs(args, r); err != nil {
			return fmt.Errorf("postgres token store: saving tokens: %w", err)
		}
	}
	insert := func(db execer) error {
		for chunk := range slices.Chunk(args, maxInsertRows*numColumns) {
			if _, err := db.Exec(ctx, insertSQL(len(chunk)/numColumns), chunk...); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if len(records) <= maxInsertRows {
		err = insert(s.db.pool)
	} else {
		err = pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error { return insert(tx) })
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
		return caddyoauth.ErrExists
	}
	if err != nil {
		return fmt.Errorf("postgres token store: saving tokens: %w", err)
	}
	return nil
}

// GetToken implements caddyoauth.Store.
func (s *Store) GetToken(ctx context.Context, hash string) (*caddyoauth.TokenRecord, error) {
	key, ok := hashKey(hash)
	if !ok {
		return nil, caddyoauth.ErrNotFound
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	rec, err := s.get(ctx, key)
	if err != nil && !errors.Is(err, caddyoauth.ErrNotFound) {
		return nil, fmt.Errorf("postgres token store: reading token: %w", err)
	}
	return rec, err
}

// get returns the record stored under key, or ErrNotFound.
func (s *Store) get(ctx context.Context, key []byte) (*caddyoauth.TokenRecord, error) {
	rec, err := scanRecord(s.db.pool.QueryRow(ctx,
		"SELECT "+columns+" FROM caddy_oauth_tokens WHERE hash = $1", key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, caddyoauth.ErrNotFound
	}
	return rec, err
}

// ConsumeToken implements caddyoauth.Store. One UPDATE checks and marks
// the record, so the database's row lock picks the one winner of
// concurrent calls on any node; a call that updates nothing then reads
// the record to tell why.
func (s *Store) ConsumeToken(ctx context.Context, hash string, now time.Time) (*caddyoauth.TokenRecord, error) {
	if now.IsZero() {
		// used_at would stay NULL: the record would stay unused.
		return nil, errors.New("postgres token store: consuming token: the time of use is zero")
	}
	key, ok := hashKey(hash)
	if !ok {
		return nil, caddyoauth.ErrNotFound
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	rec, err := scanRecord(s.db.pool.QueryRow(ctx,
		"UPDATE caddy_oauth_tokens SET used_at = $2 WHERE hash = $1 AND used_at IS NULL AND NOT revoked RETURNING "+columns,
		key, nanos(now)))
	if err == nil {
		rec.UsedAt = time.Time{} // as it was before
		return rec, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres token store: consuming token: %w", err)
	}
	rec, err = s.get(ctx, key)
	switch {
	case errors.Is(err, caddyoauth.ErrNotFound):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("postgres token store: consuming token: %w", err)
	case rec.Revoked:
		return rec, caddyoauth.ErrRevoked
	case !rec.UsedAt.IsZero():
		return rec, caddyoauth.ErrAlreadyUsed
	}
	// Saved after the UPDATE looked for it: it was not there to consume.
	return nil, caddyoauth.ErrNotFound
}

// RevokeFamily implements caddyoauth.Store. The transaction that revokes
// the records also notifies the other nodes of them (see notify), so that
// they learn of the revocation exactly when it commits.
func (s *Store) RevokeFamily(ctx context.Context, familyID string) ([]string, error) {
	if familyID == "" {
		return nil, ctx.Err() // records without a family are in none
	}
	return s.revoke(ctx, "revoking token family", "family_id = $1", familyID)
}

// RevokeToken implements caddyoauth.Store.
func (s *Store) RevokeToken(ctx context.Context, hash string) ([]string, error) {
	key, ok := hashKey(hash)
	if !ok {
		return nil, ctx.Err() // not a hash the store could hold
	}
	return s.revoke(ctx, "revoking token", "hash = $1", key)
}

// revoke marks revoked the records that where (a condition on $1, arg)
// selects and that are not revoked yet, and tells the other nodes, in one
// transaction. It returns the hashes of the records it changed.
func (s *Store) revoke(ctx context.Context, what, where string, arg any) ([]string, error) {
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	var hashes []string
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, // CollectRows returns the error of Query
			"UPDATE caddy_oauth_tokens SET revoked = true WHERE "+where+" AND NOT revoked RETURNING hash", arg)
		keys, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			return err
		}
		hashes = make([]string, len(keys))
		for i, k := range keys {
			hashes[i] = hex.EncodeToString(k)
		}
		return notify(ctx, tx, hashes)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres token store: %s: %w", what, err)
	}
	return hashes, nil
}

// Sweep implements caddyoauth.Store.
func (s *Store) Sweep(ctx context.Context, before time.Time) (int, error) {
	if before.IsZero() {
		return 0, ctx.Err() // nothing expired before the zero time
	}
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	// A NULL expiry is the zero time, before any other.
	tag, err := s.db.pool.Exec(ctx,
		"DELETE FROM caddy_oauth_tokens WHERE expires_at < $1 OR expires_at IS NULL", nanos(before))
	if err != nil {
		return 0, fmt.Errorf("postgres token store: sweeping expired tokens: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
