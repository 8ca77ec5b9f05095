package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log"
	mrand "math/rand/v2"
	"net/url"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/caddy-oauth/caddy-oauth/bench/load"
)

// storeTokens is how many access tokens each store holds for the
// cache-miss validation of the stores benchmark.
const storeTokens = 2000

// storesBench runs caddy-oauth on each storage backend, memory, bbolt,
// postgres and redis, and compares client_credentials issuance and
// cache-miss validation (cache_size 1, a random one of storeTokens tokens
// issued beforehand) across them. PostgreSQL gets a database of its own and
// Redis a key prefix of its own, both removed afterwards.
func storesBench(ctx context.Context, e *env, o options, rep *report) error {
	upstream, err := e.upstreamPort(ctx)
	if err != nil {
		return err
	}
	pgDSN, dropDB, err := benchDatabase(ctx, o.postgres)
	if err != nil {
		return err
	}
	started := e.procs.count()
	// The servers must stop before their database and keys are removed.
	defer func() {
		e.procs.stopSince(started)
		dropDB()
	}()
	prefix := "caddy-oauth-bench:" + randomHex(6) + ":"
	defer deleteRedisPrefix(o.redis, prefix)
	rep.note("stores: %s; %s", postgresSettings(ctx, pgDSN), redisSettings(ctx, o.redis))

	stores := []struct{ name, storage string }{
		{"memory", "memory"},
		{"bbolt", "bbolt " + filepath.Join(e.dir, "stores.db")},
		{"postgres", "postgres " + pgDSN},
		{"redis", "redis " + o.redis + " {\n\t\t\tprefix " + prefix + "\n\t\t}"},
	}
	var issue, validate []target
	for _, s := range stores {
		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		cfg := caddyConfig{
			Storage:      s.storage,
			UserHash:     e.userHash,
			TokenPort:    ports[0],
			CacheSize:    1,
			UpstreamPort: upstream,
			Gates:        []gateSite{{Port: ports[1], Auth: "oauth_bearer read"}},
		}
		if err := e.startCaddy(ctx, "caddy-store-"+s.name, cfg); err != nil {
			return fmt.Errorf("stores: %s: %w", s.name, err)
		}
		tokenURL := baseURL(ports[0]) + "/token"
		held := make([]string, storeTokens)
		for i := range held {
			if held[i], err = fetchToken(ctx, tokenURL, "read"); err != nil {
				return fmt.Errorf("stores: %s: issuing the tokens to validate: %w", s.name, err)
			}
		}
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
		issue = append(issue, target{Name: "caddy-oauth " + s.name,
			Request: load.PostForm(tokenURL, form, clientID, clientSecret)})
		validate = append(validate, target{Name: "caddy-oauth " + s.name,
			Request: load.Bearer(baseURL(ports[1])+"/", func(int, int) string { return held[mrand.IntN(len(held))] })})
	}
	ci, err := compare(ctx, o.run, "stores: client_credentials issuance", issue)
	if err != nil {
		return err
	}
	rep.add(ci)
	cv, err := compare(ctx, o.run, "stores: cache-miss validation via oauth_bearer (cache_size 1)", validate)
	if err != nil {
		return err
	}
	rep.add(cv)
	return writeChart(ci, filepath.Join(o.out, "stores-issuance.png"))
}

// benchDatabase creates a database of the run's own on the PostgreSQL
// server that adminDSN names, and returns its DSN and a function that drops
// it.
func benchDatabase(ctx context.Context, adminDSN string) (string, func(), error) {
	name := "caddy_oauth_bench_" + randomHex(6)
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return "", nil, fmt.Errorf("stores: PostgreSQL at %s (set -postgres): %w", adminDSN, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("stores: creating database %s: %w", name, err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, adminDSN)
		if err == nil {
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		}
		if err != nil {
			log.Printf("stores: dropping database %s: %v", name, err)
		}
	}
	u, err := url.Parse(adminDSN)
	if err != nil {
		drop()
		return "", nil, fmt.Errorf("stores: -postgres: %w", err)
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// postgresSettings says how durable the server's commits are.
func postgresSettings(ctx context.Context, dsn string) string {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "PostgreSQL settings unknown: " + err.Error()
	}
	defer conn.Close(context.Background())
	var version, syncCommit, fsync string
	err = conn.QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('synchronous_commit'), current_setting('fsync')").
		Scan(&version, &syncCommit, &fsync)
	if err != nil {
		return "PostgreSQL settings unknown: " + err.Error()
	}
	return fmt.Sprintf("PostgreSQL %s on loopback, synchronous_commit=%s, fsync=%s", version, syncCommit, fsync)
}

// redisSettings says whether the Redis server persists writes before it
// answers (appendfsync always), which caddy-oauth warns about otherwise.
func redisSettings(ctx context.Context, rawURL string) string {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return "Redis settings unknown: " + err.Error()
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	aof, err := rdb.ConfigGet(ctx, "appendonly").Result()
	if err != nil {
		return "Redis settings unknown: " + err.Error()
	}
	fsync, _ := rdb.ConfigGet(ctx, "appendfsync").Result()
	return fmt.Sprintf("Redis on loopback, appendonly=%s, appendfsync=%s", aof["appendonly"], fsync["appendfsync"])
}

// deleteRedisPrefix removes every key under prefix.
func deleteRedisPrefix(rawURL, prefix string) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		if keys = append(keys, iter.Val()); len(keys) == 1000 {
			rdb.Del(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		rdb.Del(ctx, keys...)
	}
	if err := iter.Err(); err != nil {
		log.Printf("stores: removing Redis keys %s*: %v", prefix, err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
