package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-oauth/caddy-oauth/internal/testenv"
)

// sharedStores are the storage lines of the backends several Caddy nodes
// share, each on a database or key prefix of the test's own.
var sharedStores = []struct {
	name    string
	storage func(t *testing.T) string
}{
	{"postgres", func(t *testing.T) string {
		return "postgres " + testenv.PostgresDatabase(t)
	}},
	{"redis", func(t *testing.T) string {
		return "redis " + testenv.RedisURL() + " {\n\t\t\tprefix " + testenv.RedisPrefix(t) + "\n\t\t}"
	}},
}

// onTwoNodes runs test on two Caddy nodes that share a store, with
// extraOAuth in both oauth blocks, once per shared backend, in parallel
// subtests.
func onTwoNodes(t *testing.T, extraOAuth string, test func(t *testing.T, a, b *caddyServer)) {
	for _, backend := range sharedStores {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			storage := backend.storage(t)
			a := startCaddy(t, config{Storage: storage, ExtraOAuth: extraOAuth})
			b := startCaddy(t, config{Storage: storage, ExtraOAuth: extraOAuth})
			test(t, a, b)
		})
	}
}

// TestSharedStoreAcrossNodes runs two Caddy nodes on one shared store: a
// token issued on one works on the other at once, a refresh token is single
// use across both, and a revocation on one node reaches the other node's
// validation cache within a second.
func TestSharedStoreAcrossNodes(t *testing.T) {
	t.Parallel()
	onTwoNodes(t, "", func(t *testing.T, a, b *caddyServer) {

		tr := a.passwordToken(t, "read")
		b.wantActive(t, tr.AccessToken) // now in b's cache too

		// The refresh token is single use on every node: b rotates it,
		// and its reuse on a is detected and revokes the family.
		rotated := decodeToken(t, b.refresh(t, tr.RefreshToken, ""))
		b.wantActive(t, rotated.AccessToken)
		a.wantActive(t, rotated.AccessToken)
		wantError(t, a.refresh(t, tr.RefreshToken, ""), http.StatusBadRequest, "invalid_grant")
		waitInvalid(t, b, rotated.AccessToken)

		// A revocation on a reaches b, which had the token cached.
		cc := a.ccToken(t, "read")
		b.wantActive(t, cc.AccessToken)
		a.wantActive(t, cc.AccessToken)
		wantEmpty200(t, a.revoke(t, mainClient, mainSecret, cc.AccessToken, ""))
		a.wantInvalid(t, cc.AccessToken)
		waitInvalid(t, b, cc.AccessToken)

		// Introspection on either node agrees.
		for _, c := range []*caddyServer{a, b} {
			r := c.post(t, "/introspect", url.Values{"token": {cc.AccessToken}}.Encode(), withBasic(mainClient, mainSecret))
			if r.Status != http.StatusOK || strings.TrimSpace(string(r.Body)) != `{"active":false}` {
				t.Errorf("introspecting a revoked token on %s: %s", c.base, r)
			}
		}
	})
}

// waitInvalid checks that c refuses token within a second, the time SPEC
// gives a revocation to reach every node.
func waitInvalid(t *testing.T, c *caddyServer, token string) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		r := c.get(t, "/orders/"+randomID(t), token)
		if r.Status == http.StatusUnauthorized {
			c.wantInvalid(t, token)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts a token revoked on another node after 1s: %s", c.base, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSAMLAssertionOnceAcrossNodes presents one SAML assertion to two
// Caddy nodes on a shared store at the same time: exactly one request gets
// a token, every other one invalid_grant.
func TestSAMLAssertionOnceAcrossNodes(t *testing.T) {
	t.Parallel()
	idp := newSAMLIdP(t)
	extra := fmt.Sprintf(`client %s {
			secret %s
			grant_types %s
			scopes read
		}
		saml_idp %s {
			certificate %s
			audience %s
		}`, samlClient, samlSecret, samlGrantType, samlIdPEntity, idp.PEMFile(t), samlAudience)
	onTwoNodes(t, extra, func(t *testing.T, a, b *caddyServer) {
		nodes := []*caddyServer{a, b}
		form := samlForm(idp.assertion(t, "carol@example.com"), "read").Encode()
		const attempts = 16
		statuses := make(chan int, attempts)
		var wg sync.WaitGroup
		for i := range attempts {
			wg.Go(func() {
				r, err := nodes[i%2].tryPost("/token", form, withBasic(samlClient, samlSecret))
				if err != nil {
					t.Error(err)
					return
				}
				statuses <- r.Status
			})
		}
		wg.Wait()
		close(statuses)
		won := 0
		for s := range statuses {
			switch s {
			case http.StatusOK:
				won++
			case http.StatusBadRequest:
			default:
				t.Errorf("a concurrent use of the assertion got %d", s)
			}
		}
		if won != 1 {
			t.Errorf("%d of %d concurrent uses of one assertion on two nodes got a token, want exactly 1", won, attempts)
		}
	})
}
