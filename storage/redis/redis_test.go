package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/redis/go-redis/v9"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/internal/testenv"
	"github.com/caddy-oauth/caddy-oauth/storage/storagetest"
)

// TestMain keeps a client of the test server for the whole run, so that
// the stores of the tests share it, as the stores of successive configs do,
// instead of each connecting anew.
func TestMain(m *testing.M) {
	if _, _, err := acquire(testURL()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_, _ = clients.Delete(testURL())
	os.Exit(code)
}

// testURL is the Redis server of the tests: CADDY_OAUTH_TEST_REDIS, or a
// local one. Other test runs share it, so each test keeps to a key prefix
// of its own (newPrefix) and never flushes a database.
func testURL() string {
	if u := os.Getenv("CADDY_OAUTH_TEST_REDIS"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// admin returns a client of the test server, closed at the end of the
// test, or ends the test if the server cannot be reached.
func admin(tb testing.TB) *redis.Client {
	tb.Helper()
	opts, err := redis.ParseURL(testURL())
	if err != nil {
		tb.Fatalf("CADDY_OAUTH_TEST_REDIS: %v", err)
	}
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		testenv.Require(tb, "Redis at 127.0.0.1:6379", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// randomName returns what followed by 16 random hex digits.
func randomName(what string) string {
	var b [8]byte
	rand.Read(b[:])
	return what + hex.EncodeToString(b[:])
}

// newPrefix returns a key prefix of the test's own; its keys are deleted
// when the test ends.
func newPrefix(tb testing.TB) string {
	tb.Helper()
	c := admin(tb)
	prefix := randomName("caddy-oauth-test:") + ":"
	tb.Cleanup(func() {
		ks := keys(tb, c, prefix)
		for chunk := range slices.Chunk(ks, 1000) {
			if err := c.Unlink(context.Background(), chunk...).Err(); err != nil {
				tb.Errorf("deleting the test's keys: %v", err)
			}
		}
	})
	return prefix
}

// keys returns the keys that start with prefix, sorted.
func keys(tb testing.TB, c *redis.Client, prefix string) []string {
	tb.Helper()
	var ks []string
	iter := c.Scan(context.Background(), 0, prefix+"*", 1000).Iterator()
	for iter.Next(context.Background()) {
		ks = append(ks, iter.Val())
	}
	if err := iter.Err(); err != nil {
		tb.Fatalf("SCAN %s*: %v", prefix, err)
	}
	slices.Sort(ks)
	return ks
}

// withClientName returns rawURL naming its connections name.
func withClientName(tb testing.TB, rawURL, name string) string {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("client_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// provision returns a store on rawURL and prefix, provisioned as Caddy
// does and cleaned up at the end of the test.
func provision(tb testing.TB, rawURL, prefix string) *Store {
	tb.Helper()
	s := &Store{URL: rawURL, Prefix: prefix}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(cancel)
	if err := s.Provision(ctx); err != nil {
		tb.Fatalf("Provision: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Cleanup(); err != nil {
			tb.Errorf("Cleanup: %v", err)
		}
	})
	return s
}

// newStore returns a store on the test server under a new prefix.
func newStore(tb testing.TB) *Store {
	tb.Helper()
	return provision(tb, testURL(), newPrefix(tb))
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) caddyoauth.Store { return newStore(t) })
}

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		input      string
		wantURL    string
		wantPrefix string
		wantErr    string
	}{
		{"redis redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0", "", ""},
		{"redis {env.REDIS_URL}", "{env.REDIS_URL}", "", ""},
		{"redis rediss://u:p@h:6380/2 {\n\tprefix tenant-a:\n}", "rediss://u:p@h:6380/2", "tenant-a:", ""},
		{"redis redis://h {\n}", "redis://h", "", ""},
		{"redis", "", "", "missing the server's URL"},
		{"redis redis://a redis://b", "", "", "wrong argument count"},
		{"redis redis://h {\n\tprefix\n}", "", "", "wrong argument count"},
		{"redis redis://h {\n\tprefix a b\n}", "", "", "wrong argument count"},
		{"redis redis://h {\n\tpassword x\n}", "", "", `unknown option "password"`},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			var s Store
			err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.URL != tt.wantURL || s.Prefix != tt.wantPrefix {
				t.Fatalf("URL, Prefix = %q, %q; want %q, %q", s.URL, s.Prefix, tt.wantURL, tt.wantPrefix)
			}
		})
	}
}

func TestProvisionPlaceholders(t *testing.T) {
	admin(t)
	t.Setenv("OAUTH_TEST_REDIS_URL", testURL())
	t.Setenv("OAUTH_TEST_TENANT", "tenant-b")
	tests := []struct {
		url, prefix string
		wantPrefix  string
	}{
		{"{env.OAUTH_TEST_REDIS_URL}", "", DefaultPrefix},
		{testURL(), "caddy-oauth-test:{env.OAUTH_TEST_TENANT}:", "caddy-oauth-test:tenant-b:"},
	}
	for _, tt := range tests {
		t.Run(tt.url+" "+tt.prefix, func(t *testing.T) {
			s := provision(t, tt.url, tt.prefix)
			if s.url != testURL() || s.prefix != tt.wantPrefix {
				t.Fatalf("url, prefix = %q, %q; want %q, %q", s.url, s.prefix, testURL(), tt.wantPrefix)
			}
			if _, err := s.GetToken(context.Background(), storagetest.Hash("x")); !errors.Is(err, caddyoauth.ErrNotFound) {
				t.Fatalf("GetToken: %v", err)
			}
		})
	}
}

func TestProvisionErrors(t *testing.T) {
	const password = "s3cret-pa55"
	tests := []struct {
		name, url string
		wantErr   string
	}{
		{"no URL", "", "URL is required"},
		{"empty placeholder", "{env.OAUTH_TEST_UNSET_VARIABLE}", "URL is required"},
		{"bad scheme", "http://u:" + password + "@127.0.0.1:6379", "invalid URL scheme"},
		{"bad port", "redis://u:" + password + "@127.0.0.1:port/0", "invalid port"},
		{"bad database", "redis://u:" + password + "@127.0.0.1:6379/x", "invalid database"},
		{"unreachable", "redis://u:" + password + "@127.0.0.1:1/0", "connecting to redis://u:xxxxx@127.0.0.1:1/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{URL: tt.url}
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			err := s.Provision(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Provision error = %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), password) {
				t.Fatalf("the error shows the password: %v", err)
			}
			if err := s.Cleanup(); err != nil { // Caddy cleans up after a failed Provision
				t.Fatal(err)
			}
			if _, ok := clients.References(tt.url); ok {
				t.Fatal("a failed Provision left its client in the pool")
			}
		})
	}
}

func TestClientShared(t *testing.T) {
	ctx := context.Background()
	prefix := newPrefix(t)
	rawURL := withClientName(t, testURL(), randomName("caddy-oauth-test-"))
	cctx, cancel := caddy.NewContext(caddy.Context{Context: ctx})
	defer cancel()

	// The new config is provisioned before the old one is cleaned up.
	old := &Store{URL: rawURL, Prefix: prefix}
	next := &Store{URL: rawURL, Prefix: prefix}
	for _, s := range []*Store{old, next} {
		if err := s.Provision(cctx); err != nil {
			t.Fatal(err)
		}
	}
	if old.client != next.client {
		t.Fatal("two stores on one URL have two clients")
	}
	if n, _ := clients.References(rawURL); n != 2 {
		t.Fatalf("pool references = %d, want 2", n)
	}
	c := old.client
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := old.Cleanup(); err != nil { // a second Cleanup releases nothing
		t.Fatal(err)
	}
	rec := storagetest.Record("after-old-cleanup", "fam", storagetest.Base)
	if err := next.SaveTokens(ctx, rec); err != nil {
		t.Fatalf("the client closed while a store still used it: %v", err)
	}
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, ok := clients.References(rawURL); ok {
		t.Fatal("client still in the pool after the last Cleanup")
	}
	if err := c.Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("Ping after the last Cleanup: %v, want the client closed", err)
	}
}

func TestDurabilityProblem(t *testing.T) {
	tests := []struct {
		config map[string]string
		want   string // in the problem; "" for none
	}{
		{map[string]string{"appendonly": "yes", "appendfsync": "always"}, ""},
		{map[string]string{"appendonly": "no", "appendfsync": "everysec"}, "appendonly no"},
		{map[string]string{"appendonly": "no", "appendfsync": "always"}, "appendonly no"},
		{map[string]string{"appendonly": "yes", "appendfsync": "everysec"}, "appendfsync everysec"},
		{map[string]string{"appendonly": "yes", "appendfsync": "no"}, "appendfsync no"},
		{map[string]string{}, ""}, // the server does not say
	}
	for _, tt := range tests {
		got := durabilityProblem(tt.config)
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("durabilityProblem(%v) = %q, want %q", tt.config, got, tt.want)
		}
	}
}

func TestRejectedInput(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	base := storagetest.Base
	malformed := []string{"", "abc", strings.ToUpper(storagetest.Hash("x")), strings.Repeat("g", 64), storagetest.Hash("x") + "0"}
	for _, h := range malformed {
		if _, err := s.GetToken(ctx, h); !errors.Is(err, caddyoauth.ErrNotFound) {
			t.Errorf("GetToken(%q): %v, want ErrNotFound", h, err)
		}
		if _, err := s.ConsumeToken(ctx, h, base); !errors.Is(err, caddyoauth.ErrNotFound) {
			t.Errorf("ConsumeToken(%q): %v, want ErrNotFound", h, err)
		}
	}
	saves := map[string]func(r *caddyoauth.TokenRecord){
		"malformed hash":       func(r *caddyoauth.TokenRecord) { r.Hash = malformed[2] },
		"issued before 1678":   func(r *caddyoauth.TokenRecord) { r.IssuedAt = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) },
		"expires after 2262":   func(r *caddyoauth.TokenRecord) { r.ExpiresAt = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) },
		"used at year 1 + 1ns": func(r *caddyoauth.TokenRecord) { r.UsedAt = time.Time{}.Add(1) },
	}
	for name, change := range saves {
		t.Run(name, func(t *testing.T) {
			good := storagetest.Record("good-"+name, "fam", base)
			bad := storagetest.Record("bad-"+name, "fam", base)
			change(bad)
			err := s.SaveTokens(ctx, good, bad)
			if err == nil || errors.Is(err, caddyoauth.ErrExists) {
				t.Fatalf("SaveTokens: %v, want an error", err)
			}
			if _, err := s.GetToken(ctx, good.Hash); !errors.Is(err, caddyoauth.ErrNotFound) {
				t.Fatalf("the good record of a rejected call was stored: %v", err)
			}
		})
	}
	if ks := keys(t, admin(t), s.prefix); len(ks) != 0 {
		t.Fatalf("rejected calls left keys: %v", ks)
	}
	rec := storagetest.Record("consume-times", "", base)
	if err := s.SaveTokens(ctx, rec); err != nil {
		t.Fatal(err)
	}
	for _, now := range []time.Time{{}, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if _, err := s.ConsumeToken(ctx, rec.Hash, now); err == nil || errors.Is(err, caddyoauth.ErrAlreadyUsed) {
			t.Fatalf("ConsumeToken at %v: %v, want an error", now, err)
		}
	}
	if _, err := s.ConsumeToken(ctx, rec.Hash, base); err != nil {
		t.Fatalf("ConsumeToken after rejected times: %v", err)
	}
}
