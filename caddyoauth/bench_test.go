package caddyoauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

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
			defer reportCPU(b)()
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

// reportCPU starts measuring the process's CPU time; the function it
// returns reports it per operation as cpu-ns/op. With concurrent requests
// the wall time per operation hides how much work each one costs: this is
// the figure that decides throughput when the cores are busy.
func reportCPU(b *testing.B) func() {
	start := processCPU(b)
	return func() {
		if used := processCPU(b) - start; used > 0 {
			b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

// discardWriter is a minimal http.ResponseWriter whose header map is reused
// across requests, so the benchmark measures the handler, not a recorder.
type discardWriter struct {
	header http.Header
	status int
	body   []byte
}

func (w *discardWriter) Header() http.Header    { return w.header }
func (w *discardWriter) WriteHeader(status int) { w.status = status }
func (w *discardWriter) Write(p []byte) (int, error) {
	w.body = append(w.body[:0], p...)
	return len(p), nil
}

// rewindBody is a request body that can be read again.
type rewindBody struct{ strings.Reader }

func (*rewindBody) Close() error { return nil }

// discardStore keeps no tokens, so that a benchmark of the handler is not
// dominated by a store that grows with every iteration.
type discardStore struct{ caddyoauth.Store }

func (discardStore) SaveTokens(context.Context, ...*caddyoauth.TokenRecord) error { return nil }

// BenchmarkTokenEndpointClientCredentials is one /token request after
// another through the handler, in process: client_credentials with HTTP
// Basic client authentication, as in the throughput comparison with fosite
// and go-oauth2, on the memory store and on a store that keeps nothing.
func BenchmarkTokenEndpointClientCredentials(b *testing.B) {
	for _, store := range []string{"memory", "discard"} {
		b.Run(store, func(b *testing.B) {
			f := newFixture(b)
			if store == "discard" {
				f.app.SetStore(discardStore{f.app.Store()})
			}
			const form = "grant_type=client_credentials&scope=read"
			body := new(rewindBody)
			r := httptest.NewRequest(http.MethodPost, "/token", body)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth("web", "web-secret")
			ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
			ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: "192.0.2.1"})
			r = r.WithContext(ctx)
			w := &discardWriter{header: make(http.Header)}
			next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
			b.ReportAllocs()
			for b.Loop() {
				body.Reset(form)
				clear(w.header)
				if err := f.server.ServeHTTP(w, r, next); err != nil || w.status != http.StatusOK {
					b.Fatalf("status %d, error %v: %s", w.status, err, w.body)
				}
			}
		})
	}
}
