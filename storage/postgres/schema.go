package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schema creates the table of the store and its indexes, unless they
// exist. The hash is the key, as 32 bytes; times are Unix nanoseconds
// (timestamptz holds microseconds) and NULL for the zero time, so that
// used_at is NULL while a record is unused.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS caddy_oauth_tokens (
		hash           bytea   PRIMARY KEY CHECK (length(hash) = 32),
		kind           text    NOT NULL,
		family_id      text    NOT NULL DEFAULT '',
		client_id      text    NOT NULL DEFAULT '',
		user_id        text    NOT NULL DEFAULT '',
		scopes         text[],
		issued_at      bigint,
		expires_at     bigint,
		used_at        bigint,
		revoked        boolean NOT NULL DEFAULT false,
		sealed_sibling bytea,
		redirect_uri   text    NOT NULL DEFAULT '',
		code_challenge text    NOT NULL DEFAULT ''
	)`,
	`CREATE INDEX IF NOT EXISTS caddy_oauth_tokens_family_id ON caddy_oauth_tokens (family_id)`,
	`CREATE INDEX IF NOT EXISTS caddy_oauth_tokens_expires_at ON caddy_oauth_tokens (expires_at)`,
}

// schemaLock is the key of the transaction-level advisory lock that
// serializes schema creation: two CREATE TABLE IF NOT EXISTS of nodes
// that start at once can otherwise both create the table, and one fails.
const schemaLock int64 = 0x6361_6464_795f_6f61 // "caddy_oa"

// createSchema creates the table of the store if it is missing. A table
// that exists is left alone, so the store also runs as a user that may
// only read and write it, on a table its administrator created.
func createSchema(ctx context.Context, pool *pgxpool.Pool) error {
	var exists bool
	err := pool.QueryRow(ctx, "SELECT to_regclass('caddy_oauth_tokens') IS NOT NULL").Scan(&exists)
	if err != nil {
		return fmt.Errorf("looking for the table: %w", err)
	}
	if exists {
		return nil
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", schemaLock); err != nil {
			return err
		}
		for _, stmt := range schema {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("creating the table: %w", err)
	}
	return nil
}
