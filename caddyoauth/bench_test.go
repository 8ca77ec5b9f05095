package caddyoauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	_ "github.com/caddy-oauth/caddy-oauth/storage/bbolt"
)

func bboltStorage(b *testing.B) string {
	raw, _ := json.Marshal(map[string]string{"backend": "bbolt", "path": filepath.Join(b.TempDir(), "oauth.db")})
	return string(raw)
}

// BenchmarkValidateCacheHit is the gate's hot path: a cached token.
func BenchmarkValidateCacheHit(b *testing.B) {
	f := newFixture(b)
	tok := f.passwordToken(b, "read")
	ctx := context.Background()
	if _, _, err := f.app.Validate(ctx, tok.AccessToken); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, hit, err := f.app.Validate(ctx, tok.AccessToken); err != nil || !hit {
				b.Fatal("not a cache hit", err)
			}
		}
	})
}

// BenchmarkValidateCacheMissBbolt validates a token that is not cached, on
// bbolt: a SHA-256, one record read and decode.
func BenchmarkValidateCacheMissBbolt(b *testing.B) {
	f := newFixtureOn(b, bboltStorage(b))
	tok := f.passwordToken(b, "read")
	ctx := context.Background()
	empty, _ := caddyoauth.NewCache(1)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f.app.SetCache(empty)
		empty.Purge()
		if _, hit, err := f.app.Validate(ctx, tok.AccessToken); err != nil || hit {
			b.Fatal("not a cache miss", err)
		}
	}
}

// BenchmarkIssueClientCredentials is a whole /token request, handler and
// store included, with concurrent clients sharing the store.
func BenchmarkIssueClientCredentials(b *testing.B) {
	for _, backend := range []struct{ name, storage string }{
		{"memory", `{"backend":"memory"}`},
		{"bbolt", ""},
	} {
		b.Run(backend.name, func(b *testing.B) {
			storage := backend.storage
			if storage == "" {
				storage = bboltStorage(b)
			}
			f := newFixtureOn(b, storage)
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
			b.ReportAllocs()
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if w := f.post(b, "/token", form, "web", "web-secret"); w.Code != http.StatusOK {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}
