// Package redis is the token store that several Caddy nodes share through
// one Redis server. Every write is one Lua script, atomic on the server;
// revocations are announced on a pub/sub channel that every node watches
// (see caddyoauth.RevocationWatcher). The data layout is in encoding.go.
package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

func init() {
	caddy.RegisterModule(new(Store))
}

// DefaultPrefix starts every key of a store that sets no prefix.
const DefaultPrefix = "caddy-oauth:"

// connectTimeout bounds the checks of the server at provisioning.
const connectTimeout = 10 * time.Second

// Store keeps token records in Redis, for one Caddy node or several that
// share the server. Several configs (a reload, `caddy validate`) naming the
// same URL share one client. In the Caddyfile it is
//
//	storage redis <url> {
//		prefix <key prefix>
//	}
//
// A token is durable when Redis has it on disk before it answers, which
// takes `appendonly yes` and `appendfsync always` in the server's config;
// otherwise a crash of Redis loses the tokens of up to the last second
// (everysec) or since the last snapshot. Provisioning logs a warning when
// the server's config says so (if the server lets CONFIG GET be run).
//
// The store needs a single Redis server (with replicas if wanted), not a
// Redis Cluster. No command is retried on its own: a write whose reply was
// lost may have been applied, so its error is returned.
type Store struct {
	// URL is the server, as go-redis's ParseURL reads it, for example
	// redis://user:password@host:6379/0, rediss:// for TLS, or
	// unix:///run/redis.sock. Placeholders such as {env.REDIS_URL} are
	// replaced when the store is provisioned. Required.
	URL string `json:"url,omitempty"`

	// Prefix starts every key of the store and its pub/sub channel, so
	// that several deployments can share one Redis database. Placeholders
	// are replaced. Default: "caddy-oauth:".
	Prefix string `json:"prefix,omitempty"`

	url    string // placeholders replaced; the key in the clients pool
	prefix string
	client *client
}

// CaddyModule returns the Caddy module information.
func (*Store) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oauth.storage.redis",
		New: func() caddy.Module { return new(Store) },
	}
}

// UnmarshalCaddyfile sets up the store from Caddyfile tokens. Syntax:
//
//	storage redis <url> {
//		prefix <key prefix>
//	}
func (s *Store) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the backend name
	if !d.NextArg() {
		return d.Errf("storage redis: missing the server's URL")
	}
	s.URL = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(d.Nesting()) {
		switch d.Val() {
		case "prefix":
			if !d.NextArg() {
				return d.ArgErr()
			}
			s.Prefix = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		default:
			return d.Errf("storage redis: unknown option %q", d.Val())
		}
	}
	return nil
}

// Provision connects to the server, or shares the client of the stores
// that already use the URL, and checks that the server answers.
func (s *Store) Provision(ctx caddy.Context) error {
	repl := caddy.NewReplacer()
	rawURL := repl.ReplaceAll(s.URL, "")
	if rawURL == "" {
		return errors.New("redis token store: the server's URL is required")
	}
	s.prefix = DefaultPrefix
	if s.Prefix != "" {
		s.prefix = repl.ReplaceAll(s.Prefix, "")
	}
	c, created, err := acquire(rawURL)
	if err != nil {
		return fmt.Errorf("redis token store: %w", err)
	}
	s.url, s.client = rawURL, c

	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := c.Ping(cctx).Err(); err != nil {
		return fmt.Errorf("redis token store: connecting to %s: %w", redact(rawURL), err)
	}
	if !created {
		return nil // checked when the client was created
	}
	// CONFIG is often disabled on managed servers: then nothing is known.
	if config, err := c.ConfigGet(cctx, "append*").Result(); err == nil {
		if problem := durabilityProblem(config); problem != "" {
			ctx.Logger().Warn("tokens may be lost if Redis crashes: "+problem,
				zap.String("server", redact(rawURL)))
		}
	}
	return nil
}

// durabilityProblem returns why a server with the given config does not
// make a write durable before it acknowledges it, or "" if it does or the
// config does not say.
func durabilityProblem(config map[string]string) string {
	aof, fsync := config["appendonly"], config["appendfsync"]
	switch {
	case aof == "" || fsync == "":
		return ""
	case aof != "yes":
		return "the server runs with appendonly " + aof + "; set appendonly yes and appendfsync always in its config"
	case fsync != "always":
		return "the server runs with appendfsync " + fsync + "; set appendfsync always in its config"
	}
	return ""
}

// Cleanup releases the client; the last store using it closes it.
func (s *Store) Cleanup() error {
	if s.client == nil {
		return nil // not provisioned, or provisioning failed before acquiring
	}
	s.client = nil
	if _, err := clients.Delete(s.url); err != nil {
		return fmt.Errorf("redis token store: closing the client of %s: %v", redact(s.url), err)
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
	_ caddy.Destructor             = (*client)(nil)
)
