package testenv

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisURL is the server the tests use: the machine's Redis, or
// CADDY_OAUTH_TEST_REDIS.
func RedisURL() string {
	if u := os.Getenv("CADDY_OAUTH_TEST_REDIS"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// RedisPrefix returns a key prefix of the test's own on a Redis server other
// test runs share, and deletes every key under it when the test ends.
// Without a reachable server it ends the test as Require does.
func RedisPrefix(tb testing.TB) string {
	tb.Helper()
	opts, err := redis.ParseURL(RedisURL())
	if err != nil {
		tb.Fatalf("CADDY_OAUTH_TEST_REDIS: %v", err)
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = client.Ping(ctx).Err()
	if err != nil {
		_ = client.Close()
	}
	Require(tb, "Redis at "+opts.Addr, err)
	prefix := "caddy-oauth-test:" + randomHex(tb, 8) + ":"
	tb.Cleanup(func() {
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("listing the test's Redis keys: %v", err)
			return
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			if err := client.Unlink(ctx, keys[:n]...).Err(); err != nil {
				tb.Errorf("deleting the test's Redis keys: %v", err)
				return
			}
			keys = keys[n:]
		}
	})
	return prefix
}
