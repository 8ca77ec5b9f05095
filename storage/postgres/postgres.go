// Package postgres is the PostgreSQL token store, for several Caddy nodes
// that share one database: a token issued on one node is valid on every
// node at once, single-use records are consumed atomically across nodes,
// and revocations reach the other nodes' caches through LISTEN/NOTIFY (see
// WatchRevocations).
package postgres

import (
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

func init() {
	caddy.RegisterModule(new(Store))
}

// Store keeps token records in the PostgreSQL table caddy_oauth_tokens,
// which it creates if it is missing. Several configs (a reload, `caddy
// validate`) with the same DSN share one connection pool. In the
// Caddyfile it is `storage postgres <dsn>`.
type Store struct {
	// DSN is the connection string of the database: a URL such as
	// postgres://caddy:secret@db.internal:5432/oauth?sslmode=verify-full
	// or key=value pairs; the PG* environment variables of libpq fill in
	// what it leaves out, and the pool_* parameters of pgxpool, such as
	// pool_max_conns, size the connection pool (pool_ping_timeout, the
	// bound on the ping of a connection idle for over a second, defaults
	// to 1s here). Placeholders such as
	// {env.PG_DSN} are replaced when the store is provisioned. Required.
	DSN string `json:"dsn,omitempty"`

	// StatementTimeout bounds each statement of a token operation: a
	// server or a network that stops answering fails the request (503)
	// after it, instead of holding it until TCP notices. Default: 5s.
	StatementTimeout caddy.Duration `json:"statement_timeout,omitempty"`

	dsn    string // placeholders replaced; the key in the pools pool
	db     *database
	listen *pgx.ConnConfig // for the revocation watcher's connection
	logger *zap.Logger

	// The revocation watcher's interval between pings and ping timeout,
	// shortened by tests; 0: caddyoauth.HeardInterval, defaultPingTimeout.
	heardInterval, pingTimeout time.Duration
}

// CaddyModule returns the Caddy module information.
func (*Store) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oauth.storage.postgres",
		New: func() caddy.Module { return new(Store) },
	}
}

// UnmarshalCaddyfile sets up the store from Caddyfile tokens. Syntax:
//
//	storage postgres <dsn> {
//		statement_timeout <duration>
//	}
func (s *Store) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the backend name
	if !d.NextArg() {
		return d.Errf("storage postgres needs a DSN, such as {env.PG_DSN}")
	}
	s.DSN = d.Val()
	if d.NextArg() {
		return d.Errf("storage postgres takes exactly one argument, the DSN")
	}
	for d.NextBlock(d.Nesting()) {
		switch d.Val() {
		case "statement_timeout":
			if !d.NextArg() {
				return d.ArgErr()
			}
			timeout, err := caddy.ParseDuration(d.Val())
			if err != nil || timeout <= 0 {
				return d.Errf("storage postgres: statement_timeout %q is not a positive duration", d.Val())
			}
			s.StatementTimeout = caddy.Duration(timeout)
			if d.NextArg() {
				return d.ArgErr()
			}
		default:
			return d.Errf("storage postgres: unknown option %q", d.Val())
		}
	}
	return nil
}

// Provision connects to the database, or shares the pool of the stores
// already connected with the same DSN, and creates the table if it is
// missing.
func (s *Store) Provision(ctx caddy.Context) error {
	if s.StatementTimeout < 0 {
		return fmt.Errorf("postgres token store: statement_timeout %v is negative", time.Duration(s.StatementTimeout))
	}
	s.logger = ctx.Logger()
	dsn := caddy.NewReplacer().ReplaceAll(s.DSN, "")
	if dsn == "" {
		return errors.New("postgres token store: the DSN is empty (after replacing placeholders)")
	}
	db, err := acquire(ctx, dsn)
	if err != nil {
		return fmt.Errorf("postgres token store: %w", err)
	}
	s.dsn, s.db = dsn, db
	s.listen = db.listenConfig()
	return nil
}

// Cleanup releases the connection pool; the last store using it closes it.
func (s *Store) Cleanup() error {
	if s.db == nil {
		return nil // not provisioned, or provisioning failed
	}
	s.db = nil
	if _, err := pools.Delete(s.dsn); err != nil {
		return fmt.Errorf("postgres token store: closing the connection pool: %w", err)
	}
	return nil
}

// Interface guards
var (
	_ caddyoauth.Store             = (*Store)(nil)
	_ caddyoauth.RevocationWatcher = (*Store)(nil)
	_ caddy.Provisioner            = (*Store)(nil)
	_ caddy.CleanerUpper           = (*Store)(nil)
	_ caddyfile.Unmarshaler        = (*Store)(nil)
	_ caddy.Destructor             = (*database)(nil)
)
