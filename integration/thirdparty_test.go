package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
)

// TestThirdPartyGrantModule builds Caddy the way `xcaddy build --with
// github.com/caddy-oauth/caddy-oauth --with <example module>` does, with
// the API-key grant of examples/apikeygrant, a Go module of its own that
// only imports caddy-oauth's public API, and checks that the grant type
// serves tokens that the gate accepts, configured from the Caddyfile.
func TestThirdPartyGrantModule(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "caddy")
	example := plugin{modulePath + "/examples/apikeygrant", filepath.Join(repoRoot, "examples", "apikeygrant")}
	if err := buildLikeXcaddy(t.TempDir(), bin, example); err != nil {
		t.Fatalf("building caddy with the example grant: %v", err)
	}
	const (
		apiKey    = "ak-4f0c2d8e9b7a61350c2f"
		grantType = "urn:example:params:oauth:grant-type:api-key"
	)
	sum := sha256.Sum256([]byte(apiKey))
	c := startCaddy(t, config{
		Binary: bin,
		ExtraOAuth: `grant api_key {
			key ` + hex.EncodeToString(sum[:]) + ` carol
		}
		client ci {
			secret ci-secret-3c9e1f
			grant_types ` + grantType + `
			scopes read
		}`,
	})

	tok := c.mustTokenAs(t, "ci", "ci-secret-3c9e1f", url.Values{"grant_type": {grantType}, "api_key": {apiKey}, "scope": {"read update"}})
	if tok.Scope != "read" {
		t.Errorf("scope = %q, want read (update is not the client's)", tok.Scope)
	}
	if r := c.get(t, "/orders/7", tok.AccessToken); r.Status != http.StatusOK {
		t.Fatalf("GET /orders/7 with the API-key grant's token: %s", r)
	}
	if got := c.up.find("/orders/7"); len(got) != 1 || got[0].Header.Get("X-Auth-User") != "carol" {
		t.Errorf("the upstream saw %+v, want one request for user carol", got)
	}

	r := c.post(t, "/token", url.Values{"grant_type": {grantType}, "api_key": {"wrong"}}.Encode(), withBasic("ci", "ci-secret-3c9e1f"))
	var e oauthError
	if err := json.Unmarshal(r.Body, &e); err != nil || r.Status != http.StatusBadRequest || e.Error != "invalid_grant" {
		t.Errorf("a wrong API key: %s, want 400 invalid_grant", r)
	}
	var md struct {
		GrantTypes []string `json:"grant_types_supported"`
	}
	if err := json.Unmarshal(c.get(t, "/.well-known/oauth-authorization-server", "").Body, &md); err != nil || !slices.Contains(md.GrantTypes, grantType) {
		t.Errorf("the metadata's grant_types_supported %v lacks %s (%v)", md.GrantTypes, grantType, err)
	}
}
