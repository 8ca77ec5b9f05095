package integration

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

var authStyles = []struct {
	name  string
	style oauth2.AuthStyle
}{
	{"header", oauth2.AuthStyleInHeader},
	{"params", oauth2.AuthStyleInParams},
}

// TestClientCredentialsWithOAuth2Library gets a token with
// golang.org/x/oauth2/clientcredentials, with the client authenticating by
// Basic and by body parameters, and uses it through oauth_bearer.
func TestClientCredentialsWithOAuth2Library(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory"})
	for _, as := range authStyles {
		t.Run(as.name, func(t *testing.T) {
			conf := clientcredentials.Config{
				ClientID:     mainClient,
				ClientSecret: mainSecret,
				TokenURL:     c.base + "/token",
				Scopes:       []string{"read"},
				AuthStyle:    as.style,
			}
			tok, err := conf.Token(c.oauth2Context())
			if err != nil {
				t.Fatalf("client_credentials: %v", err)
			}
			if tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "Bearer") {
				t.Errorf("token = %+v", tok)
			}
			if tok.RefreshToken != "" {
				t.Errorf("client_credentials issued a refresh token")
			}
			if got := tok.Extra("scope"); got != "read" {
				t.Errorf("scope = %v, want read", got)
			}
			if d := time.Until(tok.Expiry); d < 59*time.Minute || d > 61*time.Minute {
				t.Errorf("expires in %v, want about 1h", d)
			}

			path := "/orders/cc-" + as.name
			r := c.get(t, path, tok.AccessToken)
			if r.Status != http.StatusOK {
				t.Fatalf("GET %s with the token: %s", path, r)
			}
			got := c.up.find(path)
			if len(got) != 1 {
				t.Fatalf("upstream got %d requests for %s", len(got), path)
			}
			h := got[0].Header
			if h.Get("X-Auth-User") != mainClient || h.Get("X-Auth-Client") != mainClient || h.Get("X-Auth-Scope") != "read" {
				t.Errorf("upstream identity headers: user=%q client=%q scope=%q; want %q %q %q",
					h.Get("X-Auth-User"), h.Get("X-Auth-Client"), h.Get("X-Auth-Scope"), mainClient, mainClient, "read")
			}
		})
	}
}

// TestPasswordAndRefreshWithOAuth2Library runs the password grant and a
// refresh through an oauth2.TokenSource, then shows reuse detection: the
// rotated refresh token is dead and presenting it revokes the new family
// tokens too.
func TestPasswordAndRefreshWithOAuth2Library(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory"})
	for _, as := range authStyles {
		t.Run(as.name, func(t *testing.T) {
			conf := oauth2.Config{
				ClientID:     mainClient,
				ClientSecret: mainSecret,
				Endpoint:     oauth2.Endpoint{TokenURL: c.base + "/token", AuthStyle: as.style},
				Scopes:       []string{"read", "update"},
			}
			ctx := c.oauth2Context()
			tok1, err := conf.PasswordCredentialsToken(ctx, "admin", adminPassword)
			if err != nil {
				t.Fatalf("password grant: %v", err)
			}
			if tok1.AccessToken == "" || tok1.RefreshToken == "" || !strings.EqualFold(tok1.TokenType, "Bearer") {
				t.Fatalf("password token = %+v", tok1)
			}
			if got := tok1.Extra("scope"); !sameScopes(got, "read update") {
				t.Errorf("scope = %v, want read update", got)
			}

			path := "/orders/pw-" + as.name
			if r := c.get(t, path, tok1.AccessToken, withHeader("X-Auth-User", "mallory")); r.Status != http.StatusOK {
				t.Fatalf("GET %s: %s", path, r)
			}
			if got := c.up.find(path); len(got) != 1 {
				t.Fatalf("upstream got %d requests", len(got))
			} else if u := got[0].Header.Values("X-Auth-User"); len(u) != 1 || u[0] != "admin" {
				t.Errorf("upstream X-Auth-User = %q, want only admin", u)
			}

			// Expire locally and let the TokenSource refresh.
			old := *tok1
			expired := *tok1
			expired.Expiry = time.Now().Add(-time.Hour)
			tok2, err := conf.TokenSource(ctx, &expired).Token()
			if err != nil {
				t.Fatalf("refresh through TokenSource: %v", err)
			}
			if tok2.AccessToken == "" || tok2.AccessToken == old.AccessToken {
				t.Errorf("refresh did not give a new access token")
			}
			if tok2.RefreshToken == "" || tok2.RefreshToken == old.RefreshToken {
				t.Errorf("refresh did not rotate the refresh token")
			}
			c.wantActive(t, tok2.AccessToken)

			// The old refresh token is dead...
			wantError(t, c.refreshAs(t, as.style, old.RefreshToken), http.StatusBadRequest, "invalid_grant")
			// ...and presenting it revoked the whole family.
			c.wantInvalid(t, tok2.AccessToken)
			c.wantInvalid(t, old.AccessToken)
			wantError(t, c.refreshAs(t, as.style, tok2.RefreshToken), http.StatusBadRequest, "invalid_grant")
		})
	}
}

// refreshAs posts a refresh with the client authenticating as style says.
func (c *caddyServer) refreshAs(t *testing.T, style oauth2.AuthStyle, rt string) response {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	if style == oauth2.AuthStyleInParams {
		form.Set("client_id", mainClient)
		form.Set("client_secret", mainSecret)
		return c.post(t, "/token", form.Encode())
	}
	return c.post(t, "/token", form.Encode(), withBasic(mainClient, mainSecret))
}

// TestTokenResponseShape checks the JSON and headers of successful token
// responses (RFC 6749 §5.1).
func TestTokenResponseShape(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory"})
	cases := []struct {
		name        string
		form        url.Values
		wantRefresh bool
	}{
		{"client_credentials", url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}, false},
		{"password", url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {adminPassword}, "scope": {"read"}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.post(t, "/token", tc.form.Encode(), withBasic(mainClient, mainSecret))
			if r.Status != http.StatusOK {
				t.Fatalf("want 200, got %s", r)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			if p := r.Header.Get("Pragma"); p != "no-cache" {
				t.Errorf("Pragma = %q, want no-cache", p)
			}
			var m map[string]any
			if err := json.Unmarshal(r.Body, &m); err != nil {
				t.Fatalf("not JSON: %v: %s", err, r.Body)
			}
			if s, _ := m["access_token"].(string); s == "" {
				t.Errorf("access_token missing: %s", r.Body)
			}
			if m["token_type"] != "Bearer" {
				t.Errorf("token_type = %v, want Bearer", m["token_type"])
			}
			if e, ok := m["expires_in"].(float64); !ok || e < 3590 || e > 3600 {
				t.Errorf("expires_in = %v, want a number close to 3600", m["expires_in"])
			}
			if m["scope"] != "read" {
				t.Errorf("scope = %v, want read", m["scope"])
			}
			rt, has := m["refresh_token"]
			if tc.wantRefresh {
				if s, _ := rt.(string); s == "" {
					t.Errorf("refresh_token missing: %s", r.Body)
				} else if s == m["access_token"] {
					t.Errorf("refresh token equals access token")
				}
			} else if has {
				t.Errorf("client_credentials response has refresh_token: %s", r.Body)
			}
		})
	}

	// Two tokens are never alike and carry at least 128 bits.
	a, b := c.ccToken(t, ""), c.ccToken(t, "")
	if a.AccessToken == b.AccessToken {
		t.Errorf("two client_credentials requests gave the same token")
	}
	if len(a.AccessToken) < 22 {
		t.Errorf("access token %d chars long: too short for 128 bits", len(a.AccessToken))
	}
}

// TestScopeRules checks how the granted scope is computed (SPEC §3 Scope).
func TestScopeRules(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory"})
	type tc struct {
		name, id, secret string
		form             url.Values
		want             string
	}
	cc := func(scope string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}}
		if scope != "" {
			v.Set("scope", scope)
		}
		return v
	}
	pw := func(user, password, scope string) url.Values {
		v := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}
		if scope != "" {
			v.Set("scope", scope)
		}
		return v
	}
	cases := []tc{
		{"cc/none requested", mainClient, mainSecret, cc(""), "default"},
		{"cc/empty scope parameter is absent", mainClient, mainSecret, url.Values{"grant_type": {"client_credentials"}, "scope": {""}}, "default"},
		{"cc/all allowed", mainClient, mainSecret, cc("read update PRODUCTION"), "read update PRODUCTION"},
		{"cc/unknown dropped", mainClient, mainSecret, cc("read bogus"), "read"},
		{"cc/none left", mainClient, mainSecret, cc("bogus"), "default"},
		{"cc/case-sensitive", mainClient, mainSecret, cc("production READ"), "default"},
		{"cc/other client limited", otherClient, otherSecret, cc("read update"), "read"},
		{"cc/other client none left", otherClient, otherSecret, cc("update"), "default"},
		{"password/user limits", mainClient, mainSecret, pw("admin", adminPassword, "read update PRODUCTION"), "read update"},
		{"password/none requested", mainClient, mainSecret, pw("admin", adminPassword, ""), "default"},
		{"password/none left", mainClient, mainSecret, pw("admin", adminPassword, "PRODUCTION"), "default"},
		{"password/user without scopes gets client's", mainClient, mainSecret, pw("reader", readerPassword, "PRODUCTION bogus"), "PRODUCTION"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := c.mustTokenAs(t, tc.id, tc.secret, tc.form)
			if !sameScopes(tr.Scope, tc.want) {
				t.Errorf("granted scope %q, want %q", tr.Scope, tc.want)
			}
			// The granted scope is what the gate sees.
			path := "/orders/" + randomID(t)
			r := c.get(t, path, tr.AccessToken)
			wantRead := slices.Contains(strings.Fields(tc.want), "read")
			if wantRead && r.Status != http.StatusOK {
				t.Errorf("token with read refused: %s", r)
			}
			if !wantRead && r.Status != http.StatusForbidden {
				t.Errorf("token without read: want 403, got %s", r)
			}
		})
	}

	t.Run("refresh keeps scope", func(t *testing.T) {
		tr := c.passwordToken(t, "read update")
		r := c.refresh(t, tr.RefreshToken, "")
		got := decodeToken(t, r)
		if !sameScopes(got.Scope, "read update") {
			t.Errorf("refresh without scope gave %q, want read update", got.Scope)
		}
	})
	t.Run("refresh narrows", func(t *testing.T) {
		tr := c.passwordToken(t, "read update")
		got := decodeToken(t, c.refresh(t, tr.RefreshToken, "read"))
		if got.Scope != "read" {
			t.Errorf("narrowing refresh gave %q, want read", got.Scope)
		}
		// The narrowed token lacks update: POST /admin is forbidden.
		r := c.do(t, http.MethodPost, "/admin/x", nil, withBearer(got.AccessToken))
		if r.Status != http.StatusForbidden {
			t.Errorf("narrowed token POST /admin: want 403, got %s", r)
		}
		// And the next refresh cannot widen back.
		wantError(t, c.refresh(t, got.RefreshToken, "read update"), http.StatusBadRequest, "invalid_scope")
	})
	t.Run("refresh cannot widen", func(t *testing.T) {
		tr := c.passwordToken(t, "read")
		wantError(t, c.refresh(t, tr.RefreshToken, "read update"), http.StatusBadRequest, "invalid_scope")
	})
	t.Run("refresh cannot widen default", func(t *testing.T) {
		tr := c.passwordToken(t, "")
		wantError(t, c.refresh(t, tr.RefreshToken, "read"), http.StatusBadRequest, "invalid_scope")
	})
}

func decodeToken(t *testing.T, r response) tokenResponse {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("want 200, got %s", r)
	}
	var tr tokenResponse
	if err := json.Unmarshal(r.Body, &tr); err != nil {
		t.Fatalf("not JSON: %v: %s", err, r.Body)
	}
	return tr
}

// sameScopes compares space-separated scope lists as sets.
func sameScopes(got any, want string) bool {
	s, ok := got.(string)
	if !ok {
		return false
	}
	a, b := strings.Fields(s), strings.Fields(want)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestTokenErrors checks the RFC 6749 §5.2 error codes of /token.
func TestTokenErrors(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory"})
	basic := withBasic(mainClient, mainSecret)
	access := c.ccToken(t, "read").AccessToken
	cases := []struct {
		name   string
		body   string
		opts   []reqOption
		status int
		code   string
	}{
		{"duplicate grant_type", "grant_type=client_credentials&grant_type=client_credentials", []reqOption{basic}, 400, "invalid_request"},
		{"duplicate scope", "grant_type=client_credentials&scope=read&scope=update", []reqOption{basic}, 400, "invalid_request"},
		{"duplicate client_id in body", "grant_type=client_credentials&client_id=" + mainClient + "&client_id=" + mainClient + "&client_secret=" + mainSecret, nil, 400, "invalid_request"},
		{"missing grant_type", "scope=read", []reqOption{basic}, 400, "invalid_request"},
		{"empty grant_type is absent", "grant_type=&scope=read", []reqOption{basic}, 400, "invalid_request"},
		{"unknown grant_type", "grant_type=foo_bar", []reqOption{basic}, 400, "unsupported_grant_type"},
		{"grant not allowed for client", "grant_type=password&username=admin&password=" + url.QueryEscape(adminPassword), []reqOption{withBasic(otherClient, otherSecret)}, 400, "unauthorized_client"},
		{"Basic and body credentials", "grant_type=client_credentials&client_id=" + mainClient + "&client_secret=" + mainSecret, []reqOption{basic}, 400, "invalid_request"},
		{"no client authentication", "grant_type=client_credentials", nil, 401, "invalid_client"},
		{"wrong password", "grant_type=password&username=admin&password=wrong", []reqOption{basic}, 400, "invalid_grant"},
		{"unknown user", "grant_type=password&username=nobody&password=wrong", []reqOption{basic}, 400, "invalid_grant"},
		{"password grant without password", "grant_type=password&username=admin", []reqOption{basic}, 400, "invalid_request"},
		{"unknown refresh token", "grant_type=refresh_token&refresh_token=cort_doesnotexist", []reqOption{basic}, 400, "invalid_grant"},
		{"access token as refresh token", "grant_type=refresh_token&refresh_token=" + access, []reqOption{basic}, 400, "invalid_grant"},
		{"refresh without refresh_token", "grant_type=refresh_token", []reqOption{basic}, 400, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.post(t, "/token", tc.body, tc.opts...)
			if tc.code == "invalid_client" && r.Status == 400 {
				// Without any authentication the 400 form is allowed too.
				tc.status = 400
			}
			wantError(t, r, tc.status, tc.code)
			if r.Header.Get("Pragma") != "no-cache" {
				t.Errorf("error response Pragma = %q, want no-cache", r.Header.Get("Pragma"))
			}
		})
	}

	t.Run("Basic and body client_id of another client", func(t *testing.T) {
		r := c.post(t, "/token", "grant_type=client_credentials&client_id="+otherClient, basic)
		if r.Status == http.StatusOK {
			t.Fatalf("a request naming two clients got a token: %s", r)
		}
		var e oauthError
		_ = json.Unmarshal(r.Body, &e)
		if e.Error != "invalid_request" && e.Error != "invalid_client" {
			t.Errorf("want invalid_request (or invalid_client), got %s", r)
		}
	})
	t.Run("client credentials in the query string", func(t *testing.T) {
		q := url.Values{"client_id": {mainClient}, "client_secret": {mainSecret}}.Encode()
		r := c.post(t, "/token?"+q, "grant_type=client_credentials")
		if r.Status == http.StatusOK {
			t.Fatalf("client authenticated from the query string: %s", r)
		}
		var e oauthError
		_ = json.Unmarshal(r.Body, &e)
		if e.Error != "invalid_client" && e.Error != "invalid_request" {
			t.Errorf("want invalid_client or invalid_request, got %s", r)
		}
	})
	t.Run("a refresh token is not issued for a client without the refresh grant", func(t *testing.T) {
		// "other" lacks refresh_token and password; its cc token has none.
		tr := c.mustTokenAs(t, otherClient, otherSecret, url.Values{"grant_type": {"client_credentials"}})
		if tr.RefreshToken != "" {
			t.Errorf("refresh token issued to a client_credentials request")
		}
	})
	t.Run("refresh token of another client", func(t *testing.T) {
		// A third client would be needed to hold a refresh grant; the
		// main client's refresh token presented by "other" must fail.
		tr := c.passwordToken(t, "read")
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}
		r := c.post(t, "/token", form.Encode(), withBasic(otherClient, otherSecret))
		if r.Status == http.StatusOK {
			t.Fatalf("another client redeemed the refresh token: %s", r)
		}
		var e oauthError
		_ = json.Unmarshal(r.Body, &e)
		if e.Error != "unauthorized_client" && e.Error != "invalid_grant" {
			t.Errorf("want unauthorized_client or invalid_grant, got %s", r)
		}
		// The owner's refresh token still works afterwards.
		decodeToken(t, c.refresh(t, tr.RefreshToken, ""))
	})
}

// TestClientAuthenticationIndistinguishable shows that an unknown client and
// a wrong secret give byte-identical answers.
func TestClientAuthenticationIndistinguishable(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory"})
	const body = "grant_type=client_credentials&scope=read"

	t.Run("basic", func(t *testing.T) {
		unknown := c.post(t, "/token", body, withBasic("no-such-client", mainSecret))
		wrong := c.post(t, "/token", body, withBasic(mainClient, "wrong-secret"))
		for _, r := range []response{unknown, wrong} {
			wantError(t, r, http.StatusUnauthorized, "invalid_client")
			if wa := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Basic") {
				t.Errorf("WWW-Authenticate = %q, want Basic", wa)
			}
		}
		if unknown.Status != wrong.Status || string(unknown.Body) != string(wrong.Body) {
			t.Errorf("unknown client and wrong secret differ:\n%s\n%s", unknown, wrong)
		}
		if unknown.Header.Get("WWW-Authenticate") != wrong.Header.Get("WWW-Authenticate") {
			t.Errorf("WWW-Authenticate differs: %q vs %q", unknown.Header.Get("WWW-Authenticate"), wrong.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("body", func(t *testing.T) {
		unknown := c.post(t, "/token", body+"&client_id=no-such-client&client_secret="+mainSecret)
		wrong := c.post(t, "/token", body+"&client_id="+mainClient+"&client_secret=wrong-secret")
		var e oauthError
		if err := json.Unmarshal(wrong.Body, &e); err != nil || e.Error != "invalid_client" {
			t.Errorf("wrong secret in body: want invalid_client, got %s", wrong)
		}
		if wrong.Status != http.StatusBadRequest && wrong.Status != http.StatusUnauthorized {
			t.Errorf("wrong secret in body: status %d", wrong.Status)
		}
		if unknown.Status != wrong.Status || string(unknown.Body) != string(wrong.Body) {
			t.Errorf("unknown client and wrong secret differ:\n%s\n%s", unknown, wrong)
		}
	})
	t.Run("basic credentials are form-urlencoded", func(t *testing.T) {
		// A secret is compared after form-decoding the Basic parts: the
		// encoded form of a plain secret must still authenticate, so
		// this checks the decoder accepts percent-escapes.
		raw := "Basic " + base64.StdEncoding.EncodeToString([]byte("wU62DjlyDBnq87GlBwplfqvmAbAa:%6BsdSdoefDDP7wpaElfqvmjDue"))
		r := c.post(t, "/token", body, withHeader("Authorization", raw))
		if r.Status != http.StatusOK {
			t.Errorf("percent-encoded Basic secret refused: %s", r)
		}
	})
}

// TestMalformedTokenRequests sends broken requests: none gives a 5xx, and
// the server keeps serving.
func TestMalformedTokenRequests(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory"})
	basic := withBasic(mainClient, mainSecret)
	huge := "grant_type=client_credentials&scope=" + strings.Repeat("a", 10<<20)
	manyParams := "grant_type=client_credentials" + strings.Repeat("&x=1", 100000)
	cases := []struct {
		name   string
		method string
		body   string
		opts   []reqOption
		// want4xx: the request must be refused with a 4xx (else any
		// non-5xx is fine).
		want4xx bool
	}{
		{"bad percent-encoding", http.MethodPost, "grant_type=client_credentials&scope=%zz", []reqOption{basic}, true},
		{"bad percent-encoding in key", http.MethodPost, "grant_type=client_credentials&%zz=1", []reqOption{basic}, true},
		{"huge body", http.MethodPost, huge, []reqOption{basic}, true},
		{"many parameters", http.MethodPost, manyParams, []reqOption{basic}, false},
		{"json content type", http.MethodPost, `{"grant_type":"client_credentials"}`, []reqOption{basic, withHeader("Content-Type", "application/json")}, true},
		{"form body with json content type", http.MethodPost, "grant_type=client_credentials", []reqOption{basic, withHeader("Content-Type", "application/json")}, true},
		{"multipart content type", http.MethodPost, "--x\r\n\r\n--x--", []reqOption{basic, withHeader("Content-Type", "multipart/form-data; boundary=x")}, true},
		{"GET", http.MethodGet, "", []reqOption{basic}, true},
		{"GET with query", http.MethodGet, "", []reqOption{basic}, true},
		{"PUT", http.MethodPut, "grant_type=client_credentials", []reqOption{basic}, true},
		{"empty body", http.MethodPost, "", []reqOption{basic}, true},
		{"semicolon separator", http.MethodPost, "grant_type=client_credentials;scope=read", []reqOption{basic}, false},
		{"invalid base64 Basic", http.MethodPost, "grant_type=client_credentials", []reqOption{withHeader("Authorization", "Basic !!!notbase64")}, true},
		{"Basic without colon", http.MethodPost, "grant_type=client_credentials", []reqOption{withHeader("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("nocolon")))}, true},
		{"Basic with bad escape", http.MethodPost, "grant_type=client_credentials", []reqOption{withHeader("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("%zz:%zz")))}, true},
		{"non-UTF-8 values", http.MethodPost, "grant_type=client_credentials&scope=%ff%fe", []reqOption{basic}, false},
		{"NUL in value", http.MethodPost, "grant_type=password&username=admin%00&password=x", []reqOption{basic}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := "/token"
			if tc.name == "GET with query" {
				path += "?grant_type=client_credentials"
			}
			opts := tc.opts
			if tc.method == http.MethodPost && !hasContentType(tc.opts) {
				opts = append([]reqOption{withHeader("Content-Type", "application/x-www-form-urlencoded")}, opts...)
			}
			var body io.Reader
			if tc.method != http.MethodGet {
				body = strings.NewReader(tc.body)
			}
			r, err := c.tryDo(tc.method, path, body, opts...)
			if err != nil {
				// A server may answer an oversized body (over the
				// 64 KiB default limit) early and close the connection
				// while the client still writes.
				if len(tc.body) > 64<<10 && isConnReset(err) {
					return
				}
				t.Fatalf("%s %s: %v", tc.method, path, err)
			}
			if r.Status >= 500 {
				t.Fatalf("server error: %s", truncate(r))
			}
			if tc.want4xx && (r.Status < 400 || r.Status >= 500) {
				t.Errorf("want a 4xx, got %s", truncate(r))
			}
			if r.Status == http.StatusOK && (tc.name == "GET" || tc.name == "GET with query") {
				t.Errorf("GET /token issued a token")
			}
		})
	}
	// Still serving.
	c.ccToken(t, "read")
	if !c.running() {
		t.Fatal("caddy exited")
	}
}

func isConnReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func hasContentType(opts []reqOption) bool {
	req, _ := http.NewRequest(http.MethodPost, "http://x", nil)
	for _, o := range opts {
		o(req)
	}
	return req.Header.Get("Content-Type") != ""
}

func truncate(r response) string {
	if len(r.Body) > 300 {
		r.Body = append(r.Body[:300:300], "..."...)
	}
	return r.String()
}

// TestLoginEndpoint shows the WSO2 1.5 /login behaves as /token.
func TestLoginEndpoint(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory"})
	conf := clientcredentials.Config{
		ClientID:     mainClient,
		ClientSecret: mainSecret,
		TokenURL:     c.base + "/login",
		Scopes:       []string{"read"},
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	tok, err := conf.Token(c.oauth2Context())
	if err != nil {
		t.Fatalf("client_credentials at /login: %v", err)
	}
	c.wantActive(t, tok.AccessToken)

	pconf := oauth2.Config{ClientID: mainClient, ClientSecret: mainSecret,
		Endpoint: oauth2.Endpoint{TokenURL: c.base + "/login", AuthStyle: oauth2.AuthStyleInParams}}
	ptok, err := pconf.PasswordCredentialsToken(c.oauth2Context(), "admin", adminPassword)
	if err != nil {
		t.Fatalf("password at /login: %v", err)
	}
	if ptok.RefreshToken == "" {
		t.Errorf("password grant at /login gave no refresh token")
	}

	wantError(t, c.post(t, "/login", "grant_type=nope", withBasic(mainClient, mainSecret)), 400, "unsupported_grant_type")
	wantError(t, c.post(t, "/login", "grant_type=client_credentials&grant_type=password", withBasic(mainClient, mainSecret)), 400, "invalid_request")
	wantError(t, c.post(t, "/login", "grant_type=client_credentials", withBasic(mainClient, "bad")), 401, "invalid_client")

	// The oauth2 library reports errors as *oauth2.RetrieveError.
	bad := conf
	bad.ClientSecret = "bad"
	_, err = bad.Token(c.oauth2Context())
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Errorf("wrong secret at /login: want RetrieveError invalid_client, got %v", err)
	}
}

// TestPlaceholderSecret configures a client secret as {env.…}.
func TestPlaceholderSecret(t *testing.T) {
	t.Parallel()
	const secret = "secret-from-the-environment-42"
	c := startCaddy(t, config{
		Storage: "memory",
		Env:     []string{"CADDY_OAUTH_IT_SECRET=" + secret},
		ExtraOAuth: `client envclient {
			secret {env.CADDY_OAUTH_IT_SECRET}
			grant_types client_credentials
			scopes read
		}`,
	})
	tr := c.mustTokenAs(t, "envclient", secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}})
	c.wantActive(t, tr.AccessToken)
	wantError(t, c.post(t, "/token", "grant_type=client_credentials", withBasic("envclient", "{env.CADDY_OAUTH_IT_SECRET}")),
		http.StatusUnauthorized, "invalid_client")
}
