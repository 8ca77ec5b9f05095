package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pools holds the open connection pools, keyed by DSN. Caddy provisions a
// new config before it cleans up the old one, and `caddy validate`
// provisions too: sharing the pool keeps a reload from reconnecting.
var pools = caddy.NewUsagePool()

// connectTimeout bounds connecting and creating the schema at provision,
// so that an unreachable server fails the config instead of hanging it.
const connectTimeout = 15 * time.Second

// idlePingTimeout bounds the ping that pgxpool sends, before handing it
// out, to a connection that has been idle for more than a second. A
// connection that stalled while idle (a lost network, a frozen server
// behind a proxy that still accepts) then costs a request that second and
// is replaced, instead of failing the request at its statement timeout.
// pool_ping_timeout in the DSN sets another bound.
const idlePingTimeout = time.Second

// applicationName names the store's connections in pg_stat_activity,
// unless the DSN names them.
const applicationName = "caddy-oauth"

// database is one connection pool.
type database struct {
	pool *pgxpool.Pool
}

// Destruct implements caddy.Destructor: the pool calls it when the last
// store using the database is cleaned up.
func (d *database) Destruct() error {
	d.pool.Close()
	return nil
}

// listenConfig returns the settings of the revocation watcher's own
// connection: those of the pool's, under a name of its own.
func (d *database) listenConfig() *pgx.ConnConfig {
	cfg := d.pool.Config().ConnConfig // a copy
	cfg.RuntimeParams["application_name"] = watcherApplicationName
	return cfg
}

// acquire returns the database of dsn, connecting if no store is
// connected to it.
func acquire(ctx context.Context, dsn string) (*database, error) {
	val, _, err := pools.LoadOrNew(dsn, func() (caddy.Destructor, error) {
		return openDatabase(ctx, dsn)
	})
	if err != nil {
		return nil, err
	}
	return val.(*database), nil
}

func openDatabase(ctx context.Context, dsn string) (*database, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing the DSN: %w", withoutDSN(err))
	}
	if cfg.PingTimeout == 0 {
		cfg.PingTimeout = idlePingTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = applicationName
	}
	// The pool outlives the config that opens it (see pools): the
	// context is for provisioning alone.
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting: %w", err)
	}
	if err := createSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &database{pool: pool}, nil
}

// withoutDSN returns err, an error of parsing a DSN, without the DSN
// itself: pgx masks the password in it, but only as well as it can parse
// a string that it just failed to parse.
func withoutDSN(err error) error {
	var perr *pgconn.ParseConfigError
	if !errors.As(err, &perr) {
		return err
	}
	// "cannot parse `<dsn>`: <reason>"
	msg := perr.Error()
	if i := strings.LastIndex(msg, "`: "); i >= 0 {
		return errors.New(msg[i+len("`: "):])
	}
	return errors.New("invalid connection string")
}
