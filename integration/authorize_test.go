package integration

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/oauth2"
)

// authzClientConfig adds a public client of the authorization endpoint to
// the standard configuration.
const authzClientConfig = `client authz-spa {
			public
			grant_types authorization_code refresh_token
			scopes default read update
			redirect_uri http://127.0.0.1:8000/cb
		}`

// authzRedirect is the client's redirect URI. Nothing listens there: the
// test reads the authorization response from the Location header.
const authzRedirect = "http://127.0.0.1:8000/cb"

// authzBrowser is an HTTP client that acts as the resource owner's
// browser: it keeps cookies and follows no redirect by itself, so every
// 303 is checked and the one to the client is read, not followed.
type authzBrowser struct {
	t      *testing.T
	client *http.Client
}

func newAuthzBrowser(t *testing.T) *authzBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &authzBrowser{t: t, client: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a request and reads the whole response.
func (b *authzBrowser) do(req *http.Request) response {
	b.t.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: body}
}

// session returns the session token the browser holds for the
// authorization endpoint under base, or "".
func (b *authzBrowser) session(base string) string {
	u, err := url.Parse(base + "/authorize")
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "caddy_oauth_session" {
			return c.Value
		}
	}
	return ""
}

// setSession gives the browser a session cookie, as if copied from another.
func (b *authzBrowser) setSession(base, token string) {
	u, err := url.Parse(base + "/authorize")
	if err != nil {
		b.t.Fatal(err)
	}
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "caddy_oauth_session", Value: token, Path: u.Path}})
}

func (b *authzBrowser) get(rawURL string) response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// submit posts the form of a page, as a browser does: to the form's
// action, resolved against the page's URL, with the page's own origin.
func (b *authzBrowser) submit(pageURL string, page response, action string, fields url.Values) response {
	b.t.Helper()
	form := parseAuthzForm(b.t, page.Body)
	values := form.fields
	values.Set("action", action)
	for k, v := range fields {
		values[k] = v
	}
	base, err := url.Parse(pageURL)
	if err != nil {
		b.t.Fatal(err)
	}
	target, err := base.Parse(form.action)
	if err != nil {
		b.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, target.String(), strings.NewReader(values.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base.Scheme+"://"+base.Host)
	return b.do(req)
}

// authzForm is the form of a sign-in or consent page.
type authzForm struct {
	action string
	fields url.Values // the hidden fields
	inputs []string   // the names of the other inputs and buttons, as name=value for buttons
}

// parseAuthzForm reads the one form of a page.
func parseAuthzForm(t *testing.T, body []byte) authzForm {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	f := authzForm{fields: url.Values{}}
	forms := 0
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		attr := func(name string) string {
			for _, a := range n.Attr {
				if a.Key == name {
					return a.Val
				}
			}
			return ""
		}
		switch n.Data {
		case "form":
			forms++
			f.action = attr("action")
			if m := attr("method"); m != "post" {
				t.Errorf("form method %q, want post", m)
			}
		case "input":
			if attr("type") == "hidden" {
				f.fields.Add(attr("name"), attr("value"))
			} else {
				f.inputs = append(f.inputs, attr("name"))
			}
		case "button":
			f.inputs = append(f.inputs, attr("name")+"="+attr("value"))
		}
	}
	if forms != 1 || f.fields.Get("csrf_token") == "" {
		t.Fatalf("want one form with a csrf_token, got %d forms, fields %v:\n%s", forms, f.fields, body)
	}
	return f
}

// wantInputs checks the field names a page's form offers, which the
// browser tests rely on.
func wantInputs(t *testing.T, page response, want ...string) {
	t.Helper()
	got := parseAuthzForm(t, page.Body).inputs
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("form inputs %q, want %q", got, want)
	}
}

// wantPageHeaders checks the headers that protect every page of /authorize.
func wantPageHeaders(t *testing.T, r response) {
	t.Helper()
	if r.Header.Get("X-Frame-Options") != "DENY" || r.Header.Get("Referrer-Policy") != "no-referrer" ||
		r.Header.Get("Cache-Control") != "no-store" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("page headers: %v", r.Header)
	}
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS header on /authorize: %v", r.Header)
	}
}

// clientRedirect returns the authorization response of a 303 to the
// client's redirect URI.
func clientRedirect(t *testing.T, r response) url.Values {
	t.Helper()
	if r.Status != http.StatusSeeOther {
		t.Fatalf("want 303 to the client, got %s", r)
	}
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != authzRedirect {
		t.Fatalf("redirected to %q, want %q", got, authzRedirect)
	}
	return loc.Query()
}

// TestAuthorizationCodeFlow signs in on the authorization page, approves,
// exchanges the code with golang.org/x/oauth2 and PKCE, and calls a route
// that oauth_bearer gates; then a second authorization in the same browser
// asks only for consent, a sign-in with prompt=login ends the session it
// replaces, signing out ends the new one, and a replayed code revokes the
// token it gave.
// The server is mounted at the root and, with handle_path, under /auth.
func TestAuthorizationCodeFlow(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{ // on the default store: bbolt
		ExtraOAuth: authzClientConfig,
		ExtraSite:  "handle_path /auth/* {\n\t\toauth_server\n\t}",
	})
	for _, mount := range []string{"", "/auth"} {
		t.Run("mount="+mount, func(t *testing.T) {
			base := c.base + mount
			conf := &oauth2.Config{
				ClientID: "authz-spa",
				Endpoint: oauth2.Endpoint{
					AuthURL:   base + "/authorize",
					TokenURL:  base + "/token",
					AuthStyle: oauth2.AuthStyleInParams,
				},
				RedirectURL: authzRedirect,
				Scopes:      []string{"read", "update", "PRODUCTION"},
			}
			b := newAuthzBrowser(t)
			verifier := oauth2.GenerateVerifier()
			state := `st"ate<&>` + mount
			authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))

			login := b.get(authURL)
			if login.Status != http.StatusOK || !strings.Contains(string(login.Body), `name="password"`) {
				t.Fatalf("sign-in page: %s", login)
			}
			wantPageHeaders(t, login)
			wantInputs(t, login, "username", "password", "action=login")
			if strings.Contains(string(login.Body), `st"ate<&>`) {
				t.Errorf("the state is not escaped in the page")
			}
			if mount != "" {
				// handle_path also takes //auth/authorize; the page
				// still posts to /auth/authorize, never to //auth (a
				// scheme-relative URL of another host).
				doubled := newAuthzBrowser(t).get(c.base + "/" + strings.TrimPrefix(authURL, c.base))
				if got := parseAuthzForm(t, doubled.Body).action; got != mount+"/authorize" {
					t.Errorf("form action %q for //auth/authorize, want %q", got, mount+"/authorize")
				}
			}

			// A wrong password shows the page again, and goes nowhere.
			again := b.submit(authURL, login, "login", url.Values{"username": {"admin"}, "password": {"wrong"}})
			if again.Status != http.StatusOK || again.Header.Get("Location") != "" || !strings.Contains(string(again.Body), `name="password"`) {
				t.Fatalf("wrong password: %s", again)
			}

			signedIn := b.submit(authURL, again, "login", url.Values{"username": {"admin"}, "password": {adminPassword}})
			if signedIn.Status != http.StatusSeeOther {
				t.Fatalf("sign-in: want 303, got %s", signedIn)
			}
			consentURL, err := url.Parse(base + "/authorize")
			if err != nil {
				t.Fatal(err)
			}
			consentURL, err = consentURL.Parse(signedIn.Header.Get("Location"))
			if err != nil || consentURL.Host != strings.TrimPrefix(c.base, "http://") {
				t.Fatalf("sign-in redirect %q: %v", signedIn.Header.Get("Location"), err)
			}
			consent := b.get(consentURL.String())
			if consent.Status != http.StatusOK || !strings.Contains(string(consent.Body), "admin") {
				t.Fatalf("consent page: %s", consent)
			}
			wantPageHeaders(t, consent)
			wantInputs(t, consent, "action=approve", "action=deny", "action=logout")

			q := clientRedirect(t, b.submit(consentURL.String(), consent, "approve", nil))
			if q.Get("state") != state || q.Get("iss") != base || q.Get("code") == "" {
				t.Fatalf("authorization response %v", q)
			}
			code := q.Get("code")

			tok, err := conf.Exchange(c.oauth2Context(), code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchanging the code: %v", err)
			}
			if got := tok.Extra("scope"); got != "read update" {
				t.Errorf("scope %v, want the user's read update", got)
			}
			if tok.RefreshToken == "" {
				t.Error("no refresh token for a client that lists refresh_token")
			}
			c.wantActive(t, tok.AccessToken)
			got := c.up.requests()
			if h := got[len(got)-1].Header; h.Get("X-Auth-User") != "admin" || h.Get("X-Auth-Client") != "authz-spa" {
				t.Errorf("identity at the upstream: %v", h)
			}

			// Within the session: the consent page at once, no password.
			verifier2 := oauth2.GenerateVerifier()
			authURL2 := conf.AuthCodeURL("second", oauth2.S256ChallengeOption(verifier2))
			consent2 := b.get(authURL2)
			if consent2.Status != http.StatusOK || strings.Contains(string(consent2.Body), `name="password"`) {
				t.Fatalf("second authorization asked for the password again: %s", consent2)
			}
			q2 := clientRedirect(t, b.submit(authURL2, consent2, "approve", nil))
			if _, err := conf.Exchange(c.oauth2Context(), q2.Get("code"), oauth2.VerifierOption(verifier)); err == nil {
				t.Error("a code was exchanged with another request's verifier")
			}
			// prompt=login asks again, and the new sign-in ends the old
			// session: a copy of its cookie signs no one in any more.
			old := b.session(base)
			copied := newAuthzBrowser(t)
			copied.setSession(base, old)
			if r := copied.get(authURL2); strings.Contains(string(r.Body), `name="password"`) {
				t.Fatalf("a copy of the session cookie is not signed in: %s", r)
			}
			authURL3 := conf.AuthCodeURL("third", oauth2.S256ChallengeOption(verifier2), oauth2.SetAuthURLParam("prompt", "login"))
			relogin := b.get(authURL3)
			if !strings.Contains(string(relogin.Body), `name="password"`) {
				t.Fatalf("prompt=login did not ask for the password: %s", relogin)
			}
			if r := b.submit(authURL3, relogin, "login", url.Values{"username": {"admin"}, "password": {adminPassword}}); r.Status != http.StatusSeeOther {
				t.Fatalf("signing in again: %s", r)
			}
			if now := b.session(base); now == "" || now == old {
				t.Fatalf("signing in again kept the session token")
			}
			if r := copied.get(authURL2); !strings.Contains(string(r.Body), `name="password"`) {
				t.Errorf("the session replaced by a new sign-in is still valid: %s", r)
			}

			// Signing out on the consent page ends the session.
			consent3 := b.get(authURL2)
			signedOut := b.submit(authURL2, consent3, "logout", nil)
			if signedOut.Status != http.StatusSeeOther || b.session(base) != "" {
				t.Fatalf("sign-out: %s, session cookie %q", signedOut, b.session(base))
			}
			if r := b.get(authURL2); !strings.Contains(string(r.Body), `name="password"`) {
				t.Errorf("signed out, but not asked for the password: %s", r)
			}

			// Replaying the first code fails and revokes its token.
			_, err = conf.Exchange(c.oauth2Context(), code, oauth2.VerifierOption(verifier))
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
				t.Fatalf("replayed code: %v", err)
			}
			c.wantInvalid(t, tok.AccessToken)
		})
	}
}

// TestAuthorizeRefusesUntrustedRedirects checks that a bad client or
// redirect URI gets an error page, never a redirect, and that the
// metadata advertises the endpoint.
func TestAuthorizeRefusesUntrustedRedirects(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory", ExtraOAuth: authzClientConfig})
	b := newAuthzBrowser(t)
	for name, query := range map[string]string{
		"unknown client":   "response_type=code&client_id=ghost&redirect_uri=" + url.QueryEscape(authzRedirect),
		"foreign redirect": "response_type=code&client_id=authz-spa&redirect_uri=" + url.QueryEscape("https://evil.example/cb"),
		"other path":       "response_type=code&client_id=authz-spa&redirect_uri=" + url.QueryEscape("http://127.0.0.1:8000/other"),
	} {
		r := b.get(c.base + "/authorize?" + query)
		if r.Status != http.StatusBadRequest || r.Header.Get("Location") != "" {
			t.Errorf("%s: want a 400 page, got %s", name, r)
		}
		wantPageHeaders(t, r)
	}
	// A public client without PKCE: the error goes to the client.
	q := clientRedirect(t, b.get(c.base+"/authorize?response_type=code&client_id=authz-spa&state=s"))
	if q.Get("error") != "invalid_request" || q.Get("state") != "s" {
		t.Errorf("public client without PKCE: %v", q)
	}

	md := c.get(t, "/.well-known/oauth-authorization-server", "")
	if !strings.Contains(string(md.Body), `"authorization_endpoint":"`+c.base+`/authorize"`) ||
		!strings.Contains(string(md.Body), `"authorization_response_iss_parameter_supported":true`) {
		t.Errorf("metadata: %s", md.Body)
	}
}

// TestAuthorizeSessionAcrossNodes signs in on one node and finds the
// session on another that shares the store: the browser, whose cookies
// are the same for both (cookies ignore the port), gets the consent page
// from the second node at once, and the code it approves there is
// exchanged on the first. Signing out on the second node ends the session
// on the first.
func TestAuthorizeSessionAcrossNodes(t *testing.T) {
	t.Parallel()
	onTwoNodes(t, authzClientConfig, func(t *testing.T, a, b *caddyServer) {
		conf := func(c *caddyServer) *oauth2.Config {
			return &oauth2.Config{
				ClientID:    "authz-spa",
				Endpoint:    oauth2.Endpoint{AuthURL: c.base + "/authorize", TokenURL: c.base + "/token", AuthStyle: oauth2.AuthStyleInParams},
				RedirectURL: authzRedirect,
				Scopes:      []string{"read"},
			}
		}
		browser := newAuthzBrowser(t)
		verifier := oauth2.GenerateVerifier()

		authA := conf(a).AuthCodeURL("a", oauth2.S256ChallengeOption(verifier))
		signedIn := browser.submit(authA, browser.get(authA), "login", url.Values{"username": {"admin"}, "password": {adminPassword}})
		if signedIn.Status != http.StatusSeeOther {
			t.Fatalf("sign-in on a: %s", signedIn)
		}

		authB := conf(b).AuthCodeURL("b", oauth2.S256ChallengeOption(verifier))
		consent := browser.get(authB)
		if consent.Status != http.StatusOK || strings.Contains(string(consent.Body), `name="password"`) {
			t.Fatalf("b does not know a's session: %s", consent)
		}
		q := clientRedirect(t, browser.submit(authB, consent, "approve", nil))
		if q.Get("iss") != b.base || q.Get("state") != "b" {
			t.Fatalf("approval on b: %v", q)
		}
		// The token request repeats the redirect_uri of b's request.
		tok, err := conf(a).Exchange(a.oauth2Context(), q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchanging b's code on a: %v", err)
		}
		b.wantActive(t, tok.AccessToken)

		// Signing out on b ends the session on a too, for whoever
		// holds a copy of its cookie.
		copied := newAuthzBrowser(t)
		copied.setSession(a.base, browser.session(a.base))
		if r := copied.get(authA); strings.Contains(string(r.Body), `name="password"`) {
			t.Fatalf("a copy of the session cookie is not signed in on a: %s", r)
		}
		consent = browser.get(authB)
		if r := browser.submit(authB, consent, "logout", nil); r.Status != http.StatusSeeOther {
			t.Fatalf("sign-out on b: %s", r)
		}
		if r := copied.get(authA); !strings.Contains(string(r.Body), `name="password"`) {
			t.Errorf("a still knows the session b ended: %s", r)
		}
	})
}
