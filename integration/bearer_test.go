package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestBearerGate drives oauth_bearer in front of a real reverse_proxy.
func TestBearerGate(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory"})
	read := c.ccToken(t, "read")
	readUpdate := c.passwordToken(t, "read update")
	updateOnly := c.passwordToken(t, "update")
	def := c.ccToken(t, "")
	if !sameScopes(updateOnly.Scope, "update") || def.Scope != "default" {
		t.Fatalf("setup: scopes %q and %q", updateOnly.Scope, def.Scope)
	}

	post := func(path, token string) response {
		opts := []reqOption{}
		if token != "" {
			opts = append(opts, withBearer(token))
		}
		return c.do(t, http.MethodPost, path, strings.NewReader("x=1"), opts...)
	}

	type check struct {
		name   string
		do     func(path string) response
		status int
		// wwwAuth are substrings WWW-Authenticate must contain.
		wwwAuth []string
		// noError: WWW-Authenticate must not carry an error code.
		noError bool
	}
	cases := []check{
		{"no token", func(p string) response { return c.get(t, p, "") }, 401, []string{`Bearer`, `realm="`}, true},
		{"empty bearer", func(p string) response { return c.get(t, p, "", withHeader("Authorization", "Bearer ")) }, 401, []string{`Bearer`}, false},
		{"basic instead of bearer", func(p string) response {
			return c.get(t, p, "", withBasic(mainClient, mainSecret))
		}, 401, []string{`Bearer`}, false},
		{"unknown well-formed token", func(p string) response {
			return c.get(t, p, "coat_"+strings.Repeat("A", 43))
		}, 401, []string{`Bearer`, `realm="`, `error="invalid_token"`}, false},
		{"garbage token", func(p string) response { return c.get(t, p, "not-a-token") }, 401, []string{`error="invalid_token"`}, false},
		{"token with one char changed", func(p string) response { return c.get(t, p, flipLast(read.AccessToken)) }, 401, []string{`error="invalid_token"`}, false},
		{"refresh token as bearer", func(p string) response { return c.get(t, p, readUpdate.RefreshToken) }, 401, []string{`error="invalid_token"`}, false},
		{"token in query string", func(p string) response {
			return c.get(t, p+"?access_token="+url.QueryEscape(read.AccessToken), "")
		}, 401, []string{`Bearer`}, false},
		{"token in form body", func(p string) response {
			return c.do(t, http.MethodPost, p, strings.NewReader("access_token="+url.QueryEscape(read.AccessToken)),
				withHeader("Content-Type", "application/x-www-form-urlencoded"))
		}, 401, []string{`Bearer`}, false},
		{"default-only token on read route", func(p string) response { return c.get(t, p, def.AccessToken) }, 403,
			[]string{`error="insufficient_scope"`, `scope="read"`}, false},
		{"update-only token on read route", func(p string) response { return c.get(t, p, updateOnly.AccessToken) }, 403,
			[]string{`error="insufficient_scope"`}, false},
	}
	for _, tc := range cases {
		t.Run("orders/"+tc.name, func(t *testing.T) {
			path := "/orders/" + randomID(t)
			r := tc.do(path)
			checkGate(t, c, path, r, tc.status, tc.wwwAuth, tc.noError)
		})
	}

	admin := []check{
		{"read token POST", func(p string) response { return post(p, read.AccessToken) }, 403, []string{`error="insufficient_scope"`, `scope="update"`}, false},
		{"update-only token POST", func(p string) response { return post(p, updateOnly.AccessToken) }, 403, []string{`error="insufficient_scope"`, `scope="read"`}, false},
		{"update-only token GET", func(p string) response { return c.get(t, p, updateOnly.AccessToken) }, 403, []string{`error="insufficient_scope"`, `scope="read"`}, false},
		{"no token POST", func(p string) response { return post(p, "") }, 401, []string{`Bearer`, `realm="`}, true},
	}
	for _, tc := range admin {
		t.Run("admin/"+tc.name, func(t *testing.T) {
			path := "/admin/" + randomID(t)
			checkGate(t, c, path, tc.do(path), tc.status, tc.wwwAuth, tc.noError)
		})
	}

	t.Run("admin/allowed", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			do   func(string) response
		}{
			{"read token GET", func(p string) response { return c.get(t, p, read.AccessToken) }},
			{"read update token GET", func(p string) response { return c.get(t, p, readUpdate.AccessToken) }},
			{"read update token POST", func(p string) response { return post(p, readUpdate.AccessToken) }},
		} {
			path := "/admin/" + randomID(t)
			r := tc.do(path)
			if r.Status != http.StatusOK || len(c.up.find(path)) != 1 {
				t.Errorf("%s: want 200 from the upstream, got %s", tc.name, r)
			}
		}
	})

	t.Run("cached token re-checked for scope", func(t *testing.T) {
		// The read token was validated (and cached) above; a write still
		// needs update on every request.
		for range 3 {
			c.wantActive(t, read.AccessToken)
			path := "/admin/" + randomID(t)
			if r := post(path, read.AccessToken); r.Status != http.StatusForbidden {
				t.Errorf("cached read token POST /admin: want 403, got %s", r)
			}
		}
	})

	t.Run("identity headers", func(t *testing.T) {
		path := "/orders/" + randomID(t)
		r := c.get(t, path, readUpdate.AccessToken,
			withHeader("X-Auth-User", "mallory"),
			withHeader("X-Auth-Client", "evil-client"),
			withHeader("X-Auth-Scope", "everything"))
		if r.Status != http.StatusOK {
			t.Fatalf("want 200, got %s", r)
		}
		got := c.up.find(path)
		if len(got) != 1 {
			t.Fatalf("upstream got %d requests", len(got))
		}
		h := got[0].Header
		if v := h.Values("X-Auth-User"); len(v) != 1 || v[0] != "admin" {
			t.Errorf("X-Auth-User = %q, want [admin]", v)
		}
		if v := h.Values("X-Auth-Client"); len(v) != 1 || v[0] != mainClient {
			t.Errorf("X-Auth-Client = %q, want [%s]", v, mainClient)
		}
		if v := h.Values("X-Auth-Scope"); len(v) != 1 || !sameScopes(v[0], "read update") {
			t.Errorf("X-Auth-Scope = %q, want [read update]", v)
		}
		// The bearer token itself goes upstream as sent (Caddy does not
		// strip it); but the client's Authorization is the only one.
		if v := h.Values("Authorization"); len(v) > 1 {
			t.Errorf("upstream got %d Authorization headers", len(v))
		}
	})

	t.Run("client_credentials identity", func(t *testing.T) {
		path := "/orders/" + randomID(t)
		if r := c.get(t, path, read.AccessToken); r.Status != http.StatusOK {
			t.Fatalf("want 200, got %s", r)
		}
		h := c.up.find(path)[0].Header
		if h.Get("X-Auth-User") != mainClient || h.Get("X-Auth-Client") != mainClient || h.Get("X-Auth-Scope") != "read" {
			t.Errorf("user=%q client=%q scope=%q", h.Get("X-Auth-User"), h.Get("X-Auth-Client"), h.Get("X-Auth-Scope"))
		}
	})

	t.Run("other routes are not gated", func(t *testing.T) {
		// oauth_server passes requests it does not serve to the next
		// handler; with nothing after it Caddy answers 200 empty.
		r := c.get(t, "/public", "")
		if r.Status >= 500 || r.Status == http.StatusUnauthorized {
			t.Errorf("GET /public: %s", r)
		}
	})

	// Nothing refused ever reached the upstream.
	for _, r := range c.up.requests() {
		if r.Header.Get("Authorization") == "" {
			t.Errorf("an unauthenticated request reached the upstream: %s %s", r.Method, r.Path)
		}
	}
}

// checkGate checks a refused request.
func checkGate(t *testing.T, c *caddyServer, path string, r response, status int, wwwAuth []string, noError bool) {
	t.Helper()
	if r.Status != status {
		t.Errorf("want %d, got %s", status, r)
	}
	wa := r.Header.Get("WWW-Authenticate")
	for _, s := range wwwAuth {
		if !strings.Contains(wa, s) {
			t.Errorf("WWW-Authenticate %q lacks %q", wa, s)
		}
	}
	if !strings.HasPrefix(wa, "Bearer") {
		t.Errorf("WWW-Authenticate %q does not start with Bearer", wa)
	}
	if noError && strings.Contains(wa, "error=") {
		t.Errorf("WWW-Authenticate %q has an error code for a request without token (RFC 6750 §3.1)", wa)
	}
	if n := len(c.up.find(path)); n != 0 {
		t.Errorf("refused request reached the upstream %d times", n)
	}
	for _, r := range c.up.requests() {
		if strings.HasPrefix(r.Path, path) {
			t.Errorf("refused request reached the upstream as %s", r.Path)
		}
	}
}

// flipLast changes the last character of a token.
func flipLast(s string) string {
	if s == "" {
		return "x"
	}
	last := s[len(s)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return s[:len(s)-1] + string(repl)
}

// TestBearerHandleErrors shows oauth_bearer's errors go through Caddy's
// handle_errors.
func TestBearerHandleErrors(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory", ExtraSite: `handle_errors {
		respond "custom {err.status_code}"
	}`})
	read := c.ccToken(t, "read")
	cases := []struct {
		name   string
		do     func(string) response
		status int
	}{
		{"missing", func(p string) response { return c.get(t, p, "") }, 401},
		{"invalid", func(p string) response { return c.get(t, p, "coat_"+strings.Repeat("Z", 43)) }, 401},
		{"insufficient scope", func(p string) response {
			return c.do(t, http.MethodPost, p, nil, withBearer(read.AccessToken))
		}, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := "/admin/" + randomID(t)
			r := tc.do(path)
			want := "custom " + map[int]string{401: "401", 403: "403"}[tc.status]
			if r.Status != tc.status || string(r.Body) != want {
				t.Errorf("want %d %q, got %s", tc.status, want, r)
			}
			if wa := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer") {
				t.Errorf("WWW-Authenticate lost under handle_errors: %q", wa)
			}
			if len(c.up.find(path)) != 0 {
				t.Errorf("refused request reached the upstream")
			}
		})
	}
	// Token endpoint errors are protocol JSON, not handle_errors pages.
	r := c.post(t, "/token", "grant_type=nope", withBasic(mainClient, mainSecret))
	wantError(t, r, 400, "unsupported_grant_type")
	// And a good token still passes.
	c.wantActive(t, read.AccessToken)
}

// TestAccessLogShowsUser checks Caddy's access log names the token's user
// and never holds the token itself.
func TestAccessLogShowsUser(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory", ExtraSite: `log {
		output stderr
		format json
	}`})
	tr := c.passwordToken(t, "read")
	path := "/orders/" + randomID(t)
	if r := c.get(t, path, tr.AccessToken); r.Status != http.StatusOK {
		t.Fatalf("want 200, got %s", r)
	}
	c.stop() // flush
	var found bool
	for _, line := range strings.Split(c.logs.String(), "\n") {
		if strings.Contains(line, `"uri":"`+path+`"`) {
			found = true
			if !strings.Contains(line, `"user_id":"admin"`) {
				t.Errorf("access log entry lacks user_id admin: %s", line)
			}
		}
	}
	if !found {
		t.Errorf("no access log entry for %s", path)
	}
	for _, s := range []string{tr.AccessToken, tr.RefreshToken, mainSecret, adminPassword} {
		if strings.Contains(c.logs.String(), s) {
			t.Errorf("the log holds a credential (%.8s...)", s)
		}
	}
}
