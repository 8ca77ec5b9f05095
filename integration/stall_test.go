package integration

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/internal/testproxy"
)

// TestStalledStoreConnection cuts node B off from the shared store without
// closing its connections, as a lost network or a frozen server does, and
// revokes on node A a token that B has cached: B must stop passing it within
// RevocationDelay, although no notification and no error reaches it.
func TestStalledStoreConnection(t *testing.T) {
	t.Parallel()
	for _, backend := range sharedStores {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			storage := backend.storage(t)
			viaProxy, proxy := throughTestProxy(t, storage)
			a := startCaddy(t, config{Storage: storage})
			b := startCaddy(t, config{Storage: viaProxy})

			// Once B's watcher listens (it drops B's cache when it starts),
			// B serves the token from its cache, and still does after
			// RevocationDelay, since the watcher keeps hearing the store.
			cc := a.ccToken(t, "read")
			for deadline := time.Now().Add(5 * time.Second); ; {
				hits := cacheHits(t, b)
				b.wantActive(t, cc.AccessToken)
				if cacheHits(t, b) > hits {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("B never served the token from its cache")
				}
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(caddyoauth.RevocationDelay + caddyoauth.HeardInterval)
			hits := cacheHits(t, b)
			b.wantActive(t, cc.AccessToken)
			if cacheHits(t, b) != hits+1 {
				t.Fatal("a node whose watcher hears the store stopped serving a cached token from its cache")
			}

			proxy.Stall()
			wantEmpty200(t, a.revoke(t, mainClient, mainSecret, cc.AccessToken, ""))
			revoked := time.Now()

			// From RevocationDelay after the revocation on, B must not let
			// the token through: it refuses it, fails, or cannot answer.
			time.Sleep(time.Until(revoked.Add(caddyoauth.RevocationDelay)))
			client := &http.Client{Timeout: 500 * time.Millisecond}
			for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
				req, err := http.NewRequest(http.MethodGet, b.base+"/orders/"+randomID(t), nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+cc.AccessToken)
				resp, err := client.Do(req)
				if err != nil {
					continue // no answer: the token did not pass
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					t.Fatalf("%v after its revocation on another node, a node cut off from the store still passes the token", time.Since(revoked).Round(time.Millisecond))
				}
			}
			proxy.Close() // so that B's requests still waiting on the store end, and B can stop
		})
	}
}

// throughTestProxy returns storage with the store's address replaced by
// that of a testproxy to it.
func throughTestProxy(t *testing.T, storage string) (string, *testproxy.Proxy) {
	t.Helper()
	fields := strings.Fields(storage)
	u, err := url.Parse(fields[1])
	if err != nil || u.Host == "" {
		t.Fatalf("storage %q: the second word is not a URL with a host", storage)
	}
	p := testproxy.Start(t, u.Host)
	proxied := *u
	proxied.Host = p.Addr()
	return strings.Replace(storage, fields[1], proxied.String(), 1), p
}

// cacheHits returns c's count of validations answered from its cache.
func cacheHits(t *testing.T, c *caddyServer) int {
	t.Helper()
	const metric = `caddy_oauth_validations_total{result="cache_hit"} `
	for line := range strings.Lines(c.metrics(t)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), metric); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return n
		}
	}
	return 0
}
