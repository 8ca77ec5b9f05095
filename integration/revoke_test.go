package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

var revocationHeaderNames = []string{"RevokedAccessToken", "AuthorizedUser", "RevokedRefreshToken"}

// revoke posts to /revoke as the given client.
func (c *caddyServer) revoke(t *testing.T, id, secret, token, hint string) response {
	t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return c.post(t, "/revoke", form.Encode(), withBasic(id, secret))
}

func wantEmpty200(t *testing.T, r response) {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Body) != 0 {
		t.Errorf("want 200 with an empty body, got %s", r)
	}
}

func wantNoRevocationHeaders(t *testing.T, r response) {
	t.Helper()
	for _, h := range revocationHeaderNames {
		if v := r.Header.Values(h); len(v) != 0 {
			t.Errorf("unexpected header %s: %q", h, v)
		}
	}
}

// TestRevoke covers RFC 7009 with WSO2's revocation headers.
func TestRevoke(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory"})

	t.Run("unknown token", func(t *testing.T) {
		for _, tok := range []string{"coat_" + strings.Repeat("q", 43), "cort_" + strings.Repeat("q", 43), "junk"} {
			r := c.revoke(t, mainClient, mainSecret, tok, "")
			wantEmpty200(t, r)
			wantNoRevocationHeaders(t, r)
		}
	})

	t.Run("access token kills its refresh token at once", func(t *testing.T) {
		tr := c.passwordToken(t, "read update")
		// Validate, so the gate has it cached.
		c.wantActive(t, tr.AccessToken)
		c.wantActive(t, tr.AccessToken)

		r := c.revoke(t, mainClient, mainSecret, tr.AccessToken, "access_token")
		if r.Status != http.StatusOK || len(r.Body) != 0 {
			t.Errorf("revoke: want 200 empty, got %s", r)
		}
		wantRevocationHeaders(t, r, tr, "admin")
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("a response carrying tokens has Cache-Control %q, want no-store", cc)
		}

		c.wantInvalid(t, tr.AccessToken)
		wantError(t, c.refresh(t, tr.RefreshToken, ""), http.StatusBadRequest, "invalid_grant")

		// Revoking again: 200, empty.
		wantEmpty200(t, c.revoke(t, mainClient, mainSecret, tr.AccessToken, ""))
	})

	t.Run("refresh token kills its access token", func(t *testing.T) {
		tr := c.passwordToken(t, "read")
		c.wantActive(t, tr.AccessToken)
		r := c.revoke(t, mainClient, mainSecret, tr.RefreshToken, "refresh_token")
		wantEmpty200(t, r)
		wantRevocationHeaders(t, r, tr, "admin")
		c.wantInvalid(t, tr.AccessToken)
		wantError(t, c.refresh(t, tr.RefreshToken, ""), http.StatusBadRequest, "invalid_grant")
	})

	t.Run("wrong hint still revokes", func(t *testing.T) {
		tr := c.passwordToken(t, "read")
		wantEmpty200(t, c.revoke(t, mainClient, mainSecret, tr.RefreshToken, "access_token"))
		c.wantInvalid(t, tr.AccessToken)
	})

	t.Run("client_credentials token", func(t *testing.T) {
		tr := c.ccToken(t, "read")
		c.wantActive(t, tr.AccessToken)
		r := c.revoke(t, mainClient, mainSecret, tr.AccessToken, "")
		wantEmpty200(t, r)
		if got := r.Header.Get("RevokedAccessToken"); got != tr.AccessToken {
			t.Errorf("RevokedAccessToken = %q, want the access token", got)
		}
		c.wantInvalid(t, tr.AccessToken)
	})

	t.Run("refreshed family", func(t *testing.T) {
		tr := c.passwordToken(t, "read")
		next := decodeToken(t, c.refresh(t, tr.RefreshToken, ""))
		c.wantActive(t, next.AccessToken)
		wantEmpty200(t, c.revoke(t, mainClient, mainSecret, next.RefreshToken, ""))
		c.wantInvalid(t, next.AccessToken)
	})

	t.Run("another client cannot revoke", func(t *testing.T) {
		tr := c.passwordToken(t, "read")
		c.wantActive(t, tr.AccessToken)
		for _, tok := range []string{tr.AccessToken, tr.RefreshToken} {
			r := c.revoke(t, otherClient, otherSecret, tok, "")
			wantEmpty200(t, r)
			wantNoRevocationHeaders(t, r)
		}
		c.wantActive(t, tr.AccessToken)
		decodeToken(t, c.refresh(t, tr.RefreshToken, ""))
	})

	t.Run("client must authenticate", func(t *testing.T) {
		tr := c.ccToken(t, "read")
		cases := []struct {
			name string
			r    response
		}{
			{"no auth", c.post(t, "/revoke", url.Values{"token": {tr.AccessToken}}.Encode())},
			{"client_id only", c.post(t, "/revoke", url.Values{"token": {tr.AccessToken}, "client_id": {mainClient}}.Encode())},
			{"wrong secret", c.revoke(t, mainClient, "wrong", tr.AccessToken, "")},
			{"unknown client", c.revoke(t, "nobody", mainSecret, tr.AccessToken, "")},
		}
		for _, tc := range cases {
			if tc.r.Status != http.StatusUnauthorized && tc.r.Status != http.StatusBadRequest {
				t.Errorf("%s: want 401 (or 400), got %s", tc.name, tc.r)
			}
			var e oauthError
			if err := json.Unmarshal(tc.r.Body, &e); err != nil || e.Error != "invalid_client" {
				t.Errorf("%s: want invalid_client, got %s", tc.name, tc.r)
			}
			wantNoRevocationHeaders(t, tc.r)
		}
		if r := cases[2].r; r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("wrong Basic secret at /revoke: want 401 with WWW-Authenticate: Basic, got %s", r)
		}
		c.wantActive(t, tr.AccessToken)
	})

	t.Run("missing token parameter", func(t *testing.T) {
		r := c.post(t, "/revoke", "", withBasic(mainClient, mainSecret))
		wantError(t, r, http.StatusBadRequest, "invalid_request")
	})

	t.Run("body credentials", func(t *testing.T) {
		tr := c.ccToken(t, "read")
		form := url.Values{"token": {tr.AccessToken}, "client_id": {mainClient}, "client_secret": {mainSecret}}
		wantEmpty200(t, c.post(t, "/revoke", form.Encode()))
		c.wantInvalid(t, tr.AccessToken)
	})
}

// TestRevocationHeadersOff checks that without revocation_headers no
// revoked token is echoed back.
func TestRevocationHeadersOff(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory", NoRevocationHeaders: true})
	tr := c.passwordToken(t, "read")
	r := c.revoke(t, mainClient, mainSecret, tr.AccessToken, "")
	wantEmpty200(t, r)
	wantNoRevocationHeaders(t, r)
	c.wantInvalid(t, tr.AccessToken)
}

// TestIntrospect covers RFC 7662.
func TestIntrospect(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory"})
	tr := c.passwordToken(t, "read update")
	before := time.Now().Add(-2 * time.Second)

	introspect := func(token string, opts ...reqOption) response {
		return c.post(t, "/introspect", url.Values{"token": {token}}.Encode(), opts...)
	}
	basic := withBasic(mainClient, mainSecret)

	t.Run("unauthenticated", func(t *testing.T) {
		for name, r := range map[string]response{
			"no auth":      introspect(tr.AccessToken),
			"wrong secret": introspect(tr.AccessToken, withBasic(mainClient, "nope")),
		} {
			if r.Status != http.StatusUnauthorized && r.Status != http.StatusBadRequest {
				t.Errorf("%s: want 401, got %s", name, r)
			}
			if strings.Contains(string(r.Body), `"active"`) {
				t.Errorf("%s: introspection answered: %s", name, r.Body)
			}
		}
	})

	t.Run("active", func(t *testing.T) {
		r := introspect(tr.AccessToken, basic)
		if r.Status != http.StatusOK {
			t.Fatalf("want 200, got %s", r)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type = %q", ct)
		}
		var m map[string]any
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatalf("not JSON: %s", r.Body)
		}
		if m["active"] != true {
			t.Errorf("active = %v", m["active"])
		}
		if !sameScopes(m["scope"], "read update") {
			t.Errorf("scope = %v", m["scope"])
		}
		if m["client_id"] != mainClient {
			t.Errorf("client_id = %v", m["client_id"])
		}
		if m["username"] != "admin" {
			t.Errorf("username = %v", m["username"])
		}
		if m["sub"] != "admin" {
			t.Errorf("sub = %v", m["sub"])
		}
		if s, _ := m["token_type"].(string); !strings.EqualFold(s, "bearer") {
			t.Errorf("token_type = %v, want Bearer", m["token_type"])
		}
		exp, ok1 := m["exp"].(float64)
		iat, ok2 := m["iat"].(float64)
		if !ok1 || !ok2 {
			t.Fatalf("exp/iat are not numbers: %s", r.Body)
		}
		if iat < float64(before.Unix()) || iat > float64(time.Now().Unix()+2) {
			t.Errorf("iat = %v, want about now (%d)", iat, time.Now().Unix())
		}
		if d := exp - iat; d < 3590 || d > 3610 {
			t.Errorf("exp - iat = %v, want 3600", d)
		}
	})

	t.Run("client_credentials token", func(t *testing.T) {
		cc := c.ccToken(t, "read")
		var m map[string]any
		r := introspect(cc.AccessToken, basic)
		if err := json.Unmarshal(r.Body, &m); err != nil || m["active"] != true {
			t.Fatalf("want active, got %s", r)
		}
		if m["client_id"] != mainClient || m["scope"] != "read" {
			t.Errorf("client_id = %v, scope = %v", m["client_id"], m["scope"])
		}
		if u, ok := m["username"]; ok && u != "" {
			t.Errorf("client_credentials token has username %v", u)
		}
	})

	inactive := func(t *testing.T, r response) {
		t.Helper()
		if r.Status != http.StatusOK || strings.TrimSpace(string(r.Body)) != `{"active":false}` {
			t.Errorf(`want 200 {"active":false}, got %s`, r)
		}
	}
	t.Run("unknown", func(t *testing.T) {
		inactive(t, introspect("coat_"+strings.Repeat("x", 43), basic))
		inactive(t, introspect("junk", basic))
	})
	t.Run("revoked", func(t *testing.T) {
		victim := c.passwordToken(t, "read")
		wantEmpty200(t, c.revoke(t, mainClient, mainSecret, victim.AccessToken, ""))
		inactive(t, introspect(victim.AccessToken, basic))
		inactive(t, introspect(victim.RefreshToken, basic))
	})
	t.Run("used refresh token", func(t *testing.T) {
		victim := c.passwordToken(t, "read")
		decodeToken(t, c.refresh(t, victim.RefreshToken, ""))
		inactive(t, introspect(victim.RefreshToken, basic))
	})
}

// TestMetadata checks RFC 8414 server metadata.
func TestMetadata(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory"})
	r := c.get(t, "/.well-known/oauth-authorization-server", "")
	if r.Status != http.StatusOK {
		t.Fatalf("want 200, got %s", r)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	var m struct {
		Issuer                string   `json:"issuer"`
		TokenEndpoint         string   `json:"token_endpoint"`
		RevocationEndpoint    string   `json:"revocation_endpoint"`
		IntrospectionEndpoint string   `json:"introspection_endpoint"`
		GrantTypes            []string `json:"grant_types_supported"`
		ResponseTypes         []string `json:"response_types_supported"`
		PKCE                  []string `json:"code_challenge_methods_supported"`
	}
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, r.Body)
	}
	if m.Issuer != c.base {
		t.Errorf("issuer = %q, want %q", m.Issuer, c.base)
	}
	for name, e := range map[string]struct{ got, want string }{
		"token_endpoint":         {m.TokenEndpoint, c.base + "/token"},
		"revocation_endpoint":    {m.RevocationEndpoint, c.base + "/revoke"},
		"introspection_endpoint": {m.IntrospectionEndpoint, c.base + "/introspect"},
	} {
		if e.got != e.want {
			t.Errorf("%s = %q, want %q", name, e.got, e.want)
		}
	}
	for _, g := range []string{"password", "client_credentials", "refresh_token", "authorization_code"} {
		if !slices.Contains(m.GrantTypes, g) {
			t.Errorf("grant_types_supported %q lacks %q", m.GrantTypes, g)
		}
	}
	if !slices.Equal(m.PKCE, []string{"S256"}) {
		t.Errorf(`code_challenge_methods_supported = %q, want ["S256"]`, m.PKCE)
	}
	// The advertised endpoint works.
	tr := c.post(t, strings.TrimPrefix(m.TokenEndpoint, c.base), "grant_type=client_credentials", withBasic(mainClient, mainSecret))
	if tr.Status != http.StatusOK {
		t.Errorf("advertised token endpoint: %s", tr)
	}
}

// wantRevocationHeaders checks WSO2's headers on a successful revocation:
// the revoked pair and its user.
func wantRevocationHeaders(t *testing.T, r response, revoked tokenResponse, user string) {
	t.Helper()
	for name, want := range map[string]string{
		"RevokedAccessToken":  revoked.AccessToken,
		"RevokedRefreshToken": revoked.RefreshToken,
		"AuthorizedUser":      user,
	} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}
