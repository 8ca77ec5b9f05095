package caddyoauth_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/internal/apptest"
)

// The clients of the authorization tests.
const (
	spaRedirect      = "http://127.0.0.1:8000/cb"
	webRedirect      = "https://app.example.com/callback"
	webRedirect2     = "https://app.example.com/cb?tenant=1"
	implicitRedirect = "https://spa.example.com/cb"
)

// newAuthorizeFixture provisions an app with clients for every case of
// the authorization endpoint; change, if given, adjusts the config first.
func newAuthorizeFixture(t testing.TB, change func(*caddyoauth.App)) *fixture {
	t.Helper()
	app, err := provisionAuthorizeApp(t, change)
	if err != nil {
		t.Fatal(err)
	}
	return fixtureFor(app)
}

// provisionAuthorizeApp provisions the app of newAuthorizeFixture.
func provisionAuthorizeApp(t testing.TB, change func(*caddyoauth.App)) (*caddyoauth.App, error) {
	t.Helper()
	hash := apptest.PasswordHash(t, "alice-pw")
	app := &caddyoauth.App{
		StorageRaw: json.RawMessage(`{"backend":"memory"}`),
		Clients: []*caddyoauth.Client{
			{ID: "spa", Public: true, GrantTypes: []string{"authorization_code", "refresh_token"},
				Scopes: []string{"default", "read", "update", "PRODUCTION"}, RedirectURIs: []string{spaRedirect}},
			{ID: "web", Secret: "web-secret", GrantTypes: []string{"authorization_code"},
				Scopes: []string{"read"}, RedirectURIs: []string{webRedirect, webRedirect2}},
			{ID: "implicit", Public: true, GrantTypes: []string{"implicit"},
				Scopes: []string{"read", "update"}, RedirectURIs: []string{implicitRedirect}},
			{ID: "cc", Secret: "cc-secret", GrantTypes: []string{"client_credentials"},
				RedirectURIs: []string{"https://cc.example.com/cb"}},
			{ID: "noredirect", Public: true, GrantTypes: []string{"authorization_code"}},
		},
		Users: []*caddyoauth.User{
			{Name: "alice", PasswordHash: hash, Scopes: []string{"read", "update"}},
			{Name: "bob", PasswordHash: hash},
		},
	}
	if change != nil {
		change(app)
	}
	return app, apptest.Provision(t, app)
}

// pkce returns a code verifier and its S256 challenge.
func pkce(seed string) (verifier, challenge string) {
	verifier = strings.Repeat(seed, 50)[:50]
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// browser drives the authorization pages as a browser does: it keeps the
// cookies the server sets and sends them back on the paths they are for.
type browser struct {
	t      *testing.T
	f      *fixture
	jar    http.CookieJar
	prefix string            // the path prefix a handle_path stripped
	header map[string]string // added to every request
	// https says the browser speaks https, to the server or to a proxy
	// in front of it that terminates TLS: its jar then sends Secure
	// cookies back.
	https bool
}

func newBrowser(t *testing.T, f *fixture) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, f: f, jar: jar, header: map[string]string{}}
}

// do serves r, as if made to http://example.com<prefix><path> (https if
// the browser speaks it), and checks the headers every response of
// /authorize must have.
func (b *browser) do(r *http.Request) *httptest.ResponseRecorder {
	b.t.Helper()
	public := b.public(r.URL.Path)
	for _, c := range b.jar.Cookies(public) {
		r.AddCookie(c)
	}
	for k, v := range b.header {
		r.Header.Set(k, v)
	}
	repl := caddy.NewReplacer()
	if b.prefix != "" {
		repl.Set("http.request.orig_uri.path", public.Path)
	}
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
	w := httptest.NewRecorder()
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusTeapot)
		return nil
	})
	if err := b.f.server.ServeHTTP(w, r, next); err != nil {
		b.t.Fatalf("ServeHTTP: %v", err)
	}
	b.jar.SetCookies(public, w.Result().Cookies())
	checkPageHeaders(b.t, w)
	return w
}

// public is the URL the browser sees for a path of the handler.
func (b *browser) public(path string) *url.URL {
	scheme := "http"
	if b.https {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: "example.com", Path: b.prefix + path}
}

// get sends an authorization request.
func (b *browser) get(query url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	return b.do(httptest.NewRequest(http.MethodGet, "/authorize?"+query.Encode(), nil))
}

// getRaw sends an authorization request with a query as written.
func (b *browser) getRaw(rawQuery string) *httptest.ResponseRecorder {
	b.t.Helper()
	return b.do(httptest.NewRequest(http.MethodGet, "/authorize?"+rawQuery, nil))
}

// post submits a form to the authorization endpoint.
func (b *browser) post(form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/authorize", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(r)
}

// follow GETs the server-relative Location of a 303.
func (b *browser) follow(w *httptest.ResponseRecorder) *httptest.ResponseRecorder {
	b.t.Helper()
	if w.Code != http.StatusSeeOther {
		b.t.Fatalf("want 303, got %d: %s", w.Code, w.Body)
	}
	u, err := url.Parse(w.Result().Header.Get("Location"))
	if err != nil || u.IsAbs() || !strings.HasPrefix(u.Path, b.prefix+"/") {
		b.t.Fatalf("Location %q is not a page of this server", w.Result().Header.Get("Location"))
	}
	return b.do(httptest.NewRequest(http.MethodGet, strings.TrimPrefix(u.Path, b.prefix)+"?"+u.RawQuery, nil))
}

// submit posts the form of a page with the given action and fields.
func (b *browser) submit(page *httptest.ResponseRecorder, action string, fields url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	form := hiddenFields(b.t, page)
	form.Set("action", action)
	for k, v := range fields {
		form[k] = v
	}
	return b.post(form)
}

// signIn signs in on a sign-in page.
func (b *browser) signIn(page *httptest.ResponseRecorder, user, password string) *httptest.ResponseRecorder {
	b.t.Helper()
	wantPage(b.t, page, "login")
	return b.submit(page, "login", url.Values{"username": {user}, "password": {password}})
}

// authorize runs a request through sign-in (if asked) and the given
// consent action, and returns the redirect to the client.
func (b *browser) authorize(query url.Values, action string) *url.URL {
	b.t.Helper()
	page := b.get(query)
	if pageOf(page) == "login" {
		page = b.follow(b.signIn(page, "alice", "alice-pw"))
	}
	wantPage(b.t, page, "consent")
	return location(b.t, b.submit(page, action, nil))
}

var (
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	pageRE   = regexp.MustCompile(`<title>(Sign in|Authorize |Authorization error)`)
)

// hiddenFields returns the hidden fields of a page's form.
func hiddenFields(t *testing.T, page *httptest.ResponseRecorder) url.Values {
	t.Helper()
	form := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page.Body.String(), -1) {
		form.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if form.Get("csrf_token") == "" {
		t.Fatalf("page without a CSRF token: %s", page.Body)
	}
	return form
}

// pageOf tells which page a response is: login, consent or error.
func pageOf(w *httptest.ResponseRecorder) string {
	m := pageRE.FindStringSubmatch(w.Body.String())
	if m == nil {
		return ""
	}
	return map[string]string{"Sign in": "login", "Authorize ": "consent", "Authorization error": "error"}[m[1]]
}

func wantPage(t *testing.T, w *httptest.ResponseRecorder, page string) {
	t.Helper()
	if got := pageOf(w); got != page {
		t.Fatalf("want the %s page, got %d %q: %s", page, w.Code, got, w.Body)
	}
	if loc := w.Result().Header.Get("Location"); loc != "" {
		t.Fatalf("a page with a Location header: %q", loc)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
}

// location returns the Location of a 303 to the client.
func location(t *testing.T, w *httptest.ResponseRecorder) *url.URL {
	t.Helper()
	if w.Code != http.StatusSeeOther {
		t.Fatalf("want 303, got %d: %s", w.Code, w.Body)
	}
	u, err := url.Parse(w.Result().Header.Get("Location"))
	if err != nil || !u.IsAbs() {
		t.Fatalf("Location %q: %v", w.Result().Header.Get("Location"), err)
	}
	return u
}

// responseParams returns the parameters of an authorization response: in
// the fragment if it has one, else in the query.
func responseParams(t *testing.T, u *url.URL) url.Values {
	t.Helper()
	raw := u.RawQuery
	if u.Fragment != "" {
		raw = u.EscapedFragment()
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkPageHeaders checks the headers every response of /authorize has.
func checkPageHeaders(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	h := w.Header()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	for name, want := range map[string]string{
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q (status %d)", name, got, want, w.Code)
		}
	}
	for name := range h {
		if strings.HasPrefix(name, "Access-Control-") {
			t.Errorf("CORS header %s on /authorize", name)
		}
	}
}

// spaQuery is a valid code request of the public client.
func spaQuery(state string) url.Values {
	_, challenge := pkce("v")
	return url.Values{
		"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {spaRedirect},
		"scope": {"read update PRODUCTION"}, "state": {state},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
}

// redeem exchanges a code at /token for the public client.
func (f *fixture) redeem(t *testing.T, code, redirectURI, verifier string) tokenBody {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {code},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier}}
	return decode(t, f.post(t, "/token", form))
}

func TestAuthorizeCodeFlow(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	b := newBrowser(t, f)
	state := `"><script>alert(1)</script>&x=y é`
	verifier, _ := pkce("v")

	page := b.get(spaQuery(state))
	wantPage(t, page, "login")
	if page.Code != http.StatusOK {
		t.Fatalf("sign-in page: %d", page.Code)
	}
	body := page.Body.String()
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") {
		t.Fatalf("state not escaped in the page: %s", body)
	}
	if got := hiddenFields(t, page).Get("state"); got != state {
		t.Fatalf("hidden state %q, want %q", got, state)
	}

	signedIn := b.signIn(page, "alice", "alice-pw")
	if signedIn.Code != http.StatusSeeOther {
		t.Fatalf("sign-in: want 303, got %d: %s", signedIn.Code, signedIn.Body)
	}
	consent := b.follow(signedIn)
	wantPage(t, consent, "consent")
	for _, want := range []string{"spa", "alice", "<code>read</code>", "<code>update</code>"} {
		if !strings.Contains(consent.Body.String(), want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if strings.Contains(consent.Body.String(), "<code>PRODUCTION</code>") {
		t.Error("consent page shows a scope the user may not grant")
	}
	if csp := consent.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://127.0.0.1:8000;") {
		t.Errorf("consent page CSP does not let the approval reach the client: %q", csp)
	}

	loc := location(t, b.submit(consent, "approve", nil))
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != spaRedirect {
		t.Fatalf("redirected to %q", got)
	}
	q := loc.Query()
	if q.Get("state") != state || q.Get("iss") != "http://example.com" || !strings.HasPrefix(q.Get("code"), caddyoauth.CodePrefix) {
		t.Fatalf("authorization response %v", q)
	}
	if loc.Fragment != "" {
		t.Fatalf("code response with a fragment: %q", loc.Fragment)
	}

	code := q.Get("code")
	// The code is bound to the challenge and the redirect URI.
	if got := f.redeem(t, code, spaRedirect, ""); got.Error != "invalid_grant" {
		t.Fatalf("redeemed without the verifier: %+v", got)
	}
	if got := f.redeem(t, code, spaRedirect, strings.Repeat("w", 50)); got.Error != "invalid_grant" {
		t.Fatalf("redeemed with another verifier: %+v", got)
	}
	if got := f.redeem(t, code, "http://127.0.0.1:8001/cb", verifier); got.Error != "invalid_grant" {
		t.Fatalf("redeemed with another redirect_uri: %+v", got)
	}
	tok := f.redeem(t, code, spaRedirect, verifier)
	if tok.Error != "" || tok.Scope != "read update" || tok.RefreshToken == "" {
		t.Fatalf("redeem: %+v", tok)
	}
	v, _, err := f.app.Validate(context.Background(), tok.AccessToken)
	if err != nil || v.UserID != "alice" || v.ClientID != "spa" {
		t.Fatalf("issued token: %+v %v", v, err)
	}
	// Replay: refused, and what the code produced is revoked.
	if got := f.redeem(t, code, spaRedirect, verifier); got.Error != "invalid_grant" {
		t.Fatalf("replay: %+v", got)
	}
	if _, _, err := f.app.Validate(context.Background(), tok.AccessToken); err == nil {
		t.Fatal("a token of a replayed code is still valid")
	}
	// The code expires after code_ttl.
	late := location(t, b.submit(consent, "approve", nil)).Query().Get("code")
	f.clock.Advance(time.Minute)
	if got := f.redeem(t, late, spaRedirect, verifier); got.Error != "invalid_grant" {
		t.Fatalf("expired code: %+v", got)
	}
}

func TestAuthorizeRedirectURIOmitted(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	b := newBrowser(t, f)
	verifier, _ := pkce("v")
	query := spaQuery("s")
	query.Del("redirect_uri")
	loc := b.authorize(query, "approve")
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != spaRedirect {
		t.Fatalf("redirected to %q, want the only registered URI", got)
	}
	// The token request repeats the authorization request: no redirect_uri.
	code := loc.Query().Get("code")
	if got := f.redeem(t, code, spaRedirect, verifier); got.Error != "invalid_grant" {
		t.Fatalf("a redirect_uri the authorization request did not send: %+v", got)
	}
	if got := f.redeem(t, code, "", verifier); got.Error != "" {
		t.Fatalf("redeem without redirect_uri: %+v", got)
	}
}

func TestAuthorizeConfidentialClientKeepsRedirectQuery(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	b := newBrowser(t, f)
	loc := b.authorize(url.Values{"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {webRedirect2}, "state": {"st"}}, "approve")
	if loc.Host != "app.example.com" || loc.Path != "/cb" || loc.Query().Get("tenant") != "1" || loc.Query().Get("state") != "st" {
		t.Fatalf("response lost the redirect URI's query: %s", loc)
	}
	code := loc.Query().Get("code")
	w := f.post(t, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect2}}, "web", "web-secret")
	if got := decode(t, w); got.Error != "" || got.Scope != "default" {
		t.Fatalf("confidential client without PKCE: %+v", got)
	}
}

func TestAuthorizeDeny(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	b := newBrowser(t, f)
	loc := b.authorize(spaQuery("st&=ate"), "deny")
	q := loc.Query()
	if q.Get("error") != "access_denied" || q.Get("state") != "st&=ate" || q.Get("iss") != "http://example.com" || q.Has("code") {
		t.Fatalf("denial: %v", q)
	}
}

func TestAuthorizeImplicit(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	b := newBrowser(t, f)
	loc := b.authorize(url.Values{"response_type": {"token"}, "client_id": {"implicit"}, "scope": {"read admin"}, "state": {"a b"}}, "approve")
	if loc.RawQuery != "" || loc.Host != "spa.example.com" {
		t.Fatalf("implicit response: %s", loc)
	}
	frag := responseParams(t, loc)
	if frag.Get("token_type") != "Bearer" || frag.Get("expires_in") != "3600" || frag.Get("scope") != "read" ||
		frag.Get("state") != "a b" || frag.Get("iss") != "http://example.com" || frag.Has("refresh_token") {
		t.Fatalf("implicit fragment: %v", frag)
	}
	v, _, err := f.app.Validate(context.Background(), frag.Get("access_token"))
	if err != nil || v.UserID != "alice" || v.ClientID != "implicit" || v.Scope != "read" {
		t.Fatalf("implicit token: %+v %v", v, err)
	}
	// Denial comes in the fragment too (RFC 6749 §4.2.2.1).
	loc = b.authorize(url.Values{"response_type": {"token"}, "client_id": {"implicit"}}, "deny")
	if frag := responseParams(t, loc); frag.Get("error") != "access_denied" || loc.RawQuery != "" || loc.Fragment == "" {
		t.Fatalf("implicit denial: %s", loc)
	}
}

func TestAuthorizeUntrustedRedirectGetsAPage(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	for _, tc := range []struct {
		name     string
		rawQuery string
		want     int // status; 200 is the sign-in page
	}{
		{"exact", "response_type=code&client_id=web&redirect_uri=" + url.QueryEscape(webRedirect), 200},
		{"second registered", "response_type=code&client_id=web&redirect_uri=" + url.QueryEscape(webRedirect2), 200},
		{"loopback with another port", "response_type=token&client_id=spa&redirect_uri=" + url.QueryEscape("http://127.0.0.1:51234/cb"), 303},
		{"loopback without port", "response_type=token&client_id=spa&redirect_uri=" + url.QueryEscape("http://127.0.0.1/cb"), 303},
		{"loopback other path", "response_type=code&client_id=spa&redirect_uri=" + url.QueryEscape("http://127.0.0.1:8000/cb2"), 400},
		{"loopback other host", "response_type=code&client_id=spa&redirect_uri=" + url.QueryEscape("http://localhost:8000/cb"), 400},
		{"loopback https", "response_type=code&client_id=spa&redirect_uri=" + url.QueryEscape("https://127.0.0.1:8000/cb"), 400},
		{"loopback bad port", "response_type=code&client_id=spa&redirect_uri=" + url.QueryEscape("http://127.0.0.1:80x/cb"), 400},
		{"loopback highest port", "response_type=token&client_id=spa&redirect_uri=" + url.QueryEscape("http://127.0.0.1:65535/cb"), 303},
		{"loopback port out of range", "response_type=code&client_id=spa&redirect_uri=" + url.QueryEscape("http://127.0.0.1:65536/cb"), 400},
		{"loopback port overflowing", "response_type=code&client_id=spa&redirect_uri=" + url.QueryEscape("http://127.0.0.1:18446744073709551697/cb"), 400},
		{"loopback localhost for 127.0.0.1", "response_type=code&client_id=spa&redirect_uri=" + url.QueryEscape("http://localhost:9000/cb"), 400},
		{"loopback [::1] for 127.0.0.1", "response_type=code&client_id=spa&redirect_uri=" + url.QueryEscape("http://[::1]:9000/cb"), 400},
		{"loopback userinfo host trick", "response_type=code&client_id=spa&redirect_uri=" + url.QueryEscape("http://127.0.0.1:9000@evil.example/cb"), 400},
		{"loopback encoded path", "response_type=code&client_id=spa&redirect_uri=" + url.QueryEscape("http://127.0.0.1:9000/%63b"), 400},
		{"loopback trailing slash", "response_type=code&client_id=spa&redirect_uri=" + url.QueryEscape("http://127.0.0.1:9000/cb/"), 400},
		{"loopback upper-case scheme", "response_type=code&client_id=spa&redirect_uri=" + url.QueryEscape("HTTP://127.0.0.1:9000/cb"), 400},
		{"loopback user info", "response_type=code&client_id=spa&redirect_uri=" + url.QueryEscape("http://evil@127.0.0.1:8000/cb"), 400},
		{"loopback with fragment", "response_type=code&client_id=spa&redirect_uri=" + url.QueryEscape("http://127.0.0.1:9000/cb#x"), 400},
		{"fragment", "response_type=code&client_id=web&redirect_uri=" + url.QueryEscape(webRedirect+"#x"), 400},
		{"non-loopback port differs", "response_type=code&client_id=web&redirect_uri=" + url.QueryEscape("https://app.example.com:8443/callback"), 400},
		{"extra query", "response_type=code&client_id=web&redirect_uri=" + url.QueryEscape(webRedirect+"?a=1"), 400},
		{"prefix only", "response_type=code&client_id=web&redirect_uri=" + url.QueryEscape(webRedirect+"/x"), 400},
		{"another site", "response_type=code&client_id=web&redirect_uri=" + url.QueryEscape("https://evil.example/callback"), 400},
		{"case differs", "response_type=code&client_id=web&redirect_uri=" + url.QueryEscape("https://APP.example.com/callback"), 400},
		{"omitted with two registered", "response_type=code&client_id=web", 400},
		{"client without redirect URIs", "response_type=code&client_id=noredirect&redirect_uri=" + url.QueryEscape(spaRedirect), 400},
		{"unknown client", "response_type=code&client_id=ghost&redirect_uri=" + url.QueryEscape(webRedirect), 400},
		{"missing client", "response_type=code&redirect_uri=" + url.QueryEscape(webRedirect), 400},
		{"repeated client_id", "response_type=code&client_id=web&client_id=web&redirect_uri=" + url.QueryEscape(webRedirect), 400},
		{"repeated redirect_uri", "response_type=code&client_id=web&redirect_uri=" + url.QueryEscape(webRedirect) + "&redirect_uri=" + url.QueryEscape(webRedirect), 400},
		{"bad query encoding", "response_type=code&client_id=web;x", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, f)
			w := b.getRaw(tc.rawQuery)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s %v", w.Code, tc.want, w.Body, w.Header())
			}
			switch tc.want {
			case 200:
				wantPage(t, w, "login")
			case 303:
				// A trusted loopback URI: the error (the client may not
				// use the implicit grant) goes to the port it names.
				u := location(t, w)
				if got := u.Scheme + "://" + u.Host + u.Path; got != must(url.QueryUnescape(strings.Split(tc.rawQuery, "redirect_uri=")[1])) {
					t.Fatalf("redirected to %q", got)
				}
			default:
				wantPage(t, w, "error")
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestAuthorizeErrorsGoToTheClient(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	_, challenge := pkce("v")
	spa := func(extra string) string {
		return "client_id=spa&redirect_uri=" + url.QueryEscape(spaRedirect) + "&state=" + url.QueryEscape(`s"'<>&`) + extra
	}
	for _, tc := range []struct {
		name     string
		rawQuery string
		want     string
		fragment bool
	}{
		{"missing response_type", spa("&code_challenge_method=S256&code_challenge=" + challenge), "invalid_request", false},
		{"unsupported response_type", spa("&response_type=id_token"), "unsupported_response_type", false},
		{"two response types", spa("&response_type=code+token"), "unsupported_response_type", false},
		{"implicit not allowed", spa("&response_type=token"), "unauthorized_client", true},
		{"code not allowed", "response_type=code&client_id=implicit&state=" + url.QueryEscape(`s"'<>&`), "unauthorized_client", false},
		{"client_credentials client", "response_type=code&client_id=cc&state=" + url.QueryEscape(`s"'<>&`), "unauthorized_client", false},
		{"public client without PKCE", spa("&response_type=code"), "invalid_request", false},
		{"plain PKCE", spa("&response_type=code&code_challenge_method=plain&code_challenge=" + challenge), "invalid_request", false},
		{"PKCE without method", spa("&response_type=code&code_challenge=" + challenge), "invalid_request", false},
		{"method without challenge", spa("&response_type=code&code_challenge_method=S256"), "invalid_request", false},
		{"short challenge", spa("&response_type=code&code_challenge_method=S256&code_challenge=" + challenge[:42]), "invalid_request", false},
		{"challenge with a bad character", spa("&response_type=code&code_challenge_method=S256&code_challenge=" + challenge[:42] + "."), "invalid_request", false},
		{"repeated state", spa("&response_type=code&code_challenge_method=S256&code_challenge=" + challenge + "&state=other"), "invalid_request", false},
		{"repeated scope", spa("&response_type=code&code_challenge_method=S256&code_challenge=" + challenge + "&scope=a&scope=b"), "invalid_request", false},
		{"prompt none without session", spa("&response_type=code&prompt=none&code_challenge_method=S256&code_challenge=" + challenge), "login_required", false},
		{"prompt none with login", spa("&response_type=code&prompt=none+login&code_challenge_method=S256&code_challenge=" + challenge), "invalid_request", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, f)
			w := b.getRaw(tc.rawQuery)
			loc := location(t, w)
			params := responseParams(t, loc)
			if tc.fragment != (loc.Fragment != "") || tc.fragment == (loc.RawQuery != "") {
				t.Errorf("response in the wrong part of the URI: %s", loc)
			}
			if params.Get("error") != tc.want || params.Get("error_description") == "" {
				t.Fatalf("error %q (%q), want %q", params.Get("error"), params.Get("error_description"), tc.want)
			}
			if params.Get("state") != `s"'<>&` || params.Get("iss") != "http://example.com" {
				t.Fatalf("state %q iss %q", params.Get("state"), params.Get("iss"))
			}
			if w.Body.Len() != 0 {
				t.Errorf("redirect with a body: %q", w.Body)
			}
		})
	}
}

func TestAuthorizeSession(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	b := newBrowser(t, f)
	signedIn := b.signIn(b.get(spaQuery("1")), "alice", "alice-pw")
	var session *http.Cookie
	for _, c := range signedIn.Result().Cookies() {
		if c.Name == "caddy_oauth_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/authorize" ||
		session.MaxAge != 600 || !strings.HasPrefix(session.Value, caddyoauth.SessionPrefix) {
		t.Fatalf("session cookie %+v", session)
	}
	rec, err := f.app.Store().GetToken(context.Background(), sessionHash(session.Value))
	if err != nil || rec.Kind != caddyoauth.KindSession || rec.UserID != "alice" {
		t.Fatalf("session record %+v %v", rec, err)
	}

	// Within the session: straight to consent, no password.
	f.clock.Advance(5 * time.Minute)
	wantPage(t, b.get(spaQuery("2")), "consent")
	// prompt=none: the user is signed in, but must still consent.
	none := spaQuery("3")
	none.Set("prompt", "none")
	if got := location(t, b.get(none)).Query().Get("error"); got != "consent_required" {
		t.Fatalf("prompt=none with a session: %q", got)
	}
	// prompt=login: the password again, then consent (not a loop).
	login := spaQuery("4")
	login.Set("prompt", "login")
	again := b.signIn(b.get(login), "bob", "alice-pw")
	consent := b.follow(again)
	wantPage(t, consent, "consent")
	if !strings.Contains(consent.Body.String(), "<strong>bob</strong>") {
		t.Fatalf("consent after prompt=login is not for the new sign-in: %s", consent.Body)
	}
	if loc := location(t, b.submit(consent, "approve", nil)); loc.Query().Get("state") != "4" {
		t.Fatalf("approval after prompt=login: %s", loc)
	}

	// The session ends after session_ttl: the password again, and an
	// approval posted from a page opened before is refused.
	f.clock.Advance(10*time.Minute + time.Second)
	wantPage(t, b.get(spaQuery("5")), "login")
	if w := b.submit(consent, "approve", nil); pageOf(w) != "login" {
		t.Fatalf("approval after the session ended: %d %s", w.Code, w.Body)
	}
	// Expired sessions are swept like every other record.
	f.app.Sweep(context.Background())
	if _, err := f.app.Store().GetToken(context.Background(), sessionHash(session.Value)); !errors.Is(err, caddyoauth.ErrNotFound) {
		t.Fatalf("expired session after a sweep: %v", err)
	}

	// Another browser has no session.
	wantPage(t, newBrowser(t, f).get(spaQuery("6")), "login")
	// Nor does a forged cookie.
	forged := newBrowser(t, f)
	forged.header["Cookie"] = "caddy_oauth_session=" + caddyoauth.NewToken(caddyoauth.SessionPrefix)
	wantPage(t, forged.get(spaQuery("7")), "login")
}

func TestAuthorizeSignInFailures(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	b := newBrowser(t, f)
	page := b.get(spaQuery("s"))
	for _, tc := range []struct{ user, password string }{
		{"alice", "wrong"}, {"nobody", "alice-pw"}, {"", ""},
	} {
		w := b.signIn(page, tc.user, tc.password)
		if w.Code != http.StatusOK {
			t.Fatalf("failed sign-in %q: %d", tc.user, w.Code)
		}
		wantPage(t, w, "login")
		if !strings.Contains(w.Body.String(), `class="error"`) {
			t.Fatalf("failed sign-in without a message: %s", w.Body)
		}
		if strings.Contains(w.Header().Get("Set-Cookie"), "caddy_oauth_session") {
			t.Fatal("a failed sign-in set a session")
		}
	}
	// Repeated failures are slowed down, on the page too.
	var w *httptest.ResponseRecorder
	for range 10 {
		w = b.signIn(page, "alice", "wrong")
	}
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("after 11 failures: %d %v", w.Code, w.Header())
	}
	wantPage(t, w, "login")
}

func TestAuthorizeCSRFAndOrigin(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	b := newBrowser(t, f)
	page := b.get(spaQuery("s"))
	fields := url.Values{"username": {"alice"}, "password": {"alice-pw"}}

	for _, tc := range []struct {
		name   string
		change func(form url.Values, b *browser)
	}{
		{"no token", func(form url.Values, b *browser) { form.Del("csrf_token") }},
		{"wrong token", func(form url.Values, b *browser) {
			form.Set("csrf_token", base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
		}},
		{"no cookie", func(form url.Values, b *browser) { b.jar, _ = cookiejar.New(nil) }},
		{"another origin", func(form url.Values, b *browser) { b.header["Origin"] = "https://evil.example" }},
		{"null origin from another site", func(form url.Values, b *browser) {
			b.header["Origin"] = "null"
			b.header["Sec-Fetch-Site"] = "cross-site"
		}},
		{"same site, not same origin", func(form url.Values, b *browser) { b.header["Sec-Fetch-Site"] = "same-site" }},
		{"https origin for http", func(form url.Values, b *browser) { b.header["Origin"] = "https://example.com" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			other := &browser{t: t, f: f, jar: b.jar, header: map[string]string{}}
			form := hiddenFields(t, page)
			form.Set("action", "login")
			for k, v := range fields {
				form[k] = v
			}
			tc.change(form, other)
			w := other.post(form)
			if w.Code != http.StatusForbidden {
				t.Fatalf("status %d, want 403: %s", w.Code, w.Body)
			}
			wantPage(t, w, "error")
		})
	}
	// The same form from the server's own pages passes: with their origin,
	// or with "null", which browsers send under Referrer-Policy: no-referrer.
	for _, h := range []map[string]string{
		{"Origin": "http://example.com", "Sec-Fetch-Site": "same-origin"},
		{"Origin": "null", "Sec-Fetch-Site": "same-origin"},
	} {
		b.header = h
		if w := b.signIn(page, "alice", "alice-pw"); w.Code != http.StatusSeeOther {
			t.Fatalf("same-origin sign-in %v: %d %s", h, w.Code, w.Body)
		}
	}
	// The CSRF cookie is HttpOnly, SameSite=Strict, on the endpoint's path.
	c := newBrowser(t, f).get(spaQuery("s")).Result().Cookies()
	if len(c) != 1 || c[0].Name != "caddy_oauth_csrf" || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Path != "/authorize" {
		t.Fatalf("CSRF cookie %+v", c)
	}
}

func TestAuthorizeIssuerOriginAccepted(t *testing.T) {
	f := newAuthorizeFixture(t, func(a *caddyoauth.App) { a.Issuer = "https://auth.example.com" })
	b := newBrowser(t, f)
	b.https = true // to the proxy that terminates TLS
	page := b.get(spaQuery("s"))
	b.header["Origin"] = "https://auth.example.com"
	if w := b.signIn(page, "alice", "alice-pw"); w.Code != http.StatusSeeOther {
		t.Fatalf("sign-in from the issuer's origin: %d %s", w.Code, w.Body)
	}
	delete(b.header, "Origin")
	loc := b.authorize(spaQuery("s"), "approve")
	if got := loc.Query().Get("iss"); got != "https://auth.example.com" {
		t.Fatalf("iss %q, want the configured issuer", got)
	}
}

func TestAuthorizePostRevalidates(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	b := newBrowser(t, f)
	consent := b.follow(b.signIn(b.get(spaQuery("s")), "alice", "alice-pw"))
	wantPage(t, consent, "consent")
	for _, tc := range []struct {
		name   string
		fields url.Values
		page   bool   // an error page, not a redirect
		want   string // the error at the client
	}{
		{"redirect_uri swapped", url.Values{"redirect_uri": {"https://evil.example/cb"}}, true, ""},
		{"client swapped", url.Values{"client_id": {"ghost"}}, true, ""},
		{"challenge dropped", url.Values{"code_challenge": {""}}, false, "invalid_request"},
		{"response type swapped", url.Values{"response_type": {"token"}}, false, "unauthorized_client"},
		{"unknown action", url.Values{"action": {"grant"}}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := hiddenFields(t, consent)
			form.Set("action", "approve")
			for k, v := range tc.fields {
				form[k] = v
			}
			for k, v := range form {
				if v[0] == "" {
					form.Del(k)
				}
			}
			w := b.post(form)
			if tc.page {
				wantPage(t, w, "error")
				if w.Code != http.StatusBadRequest {
					t.Fatalf("status %d", w.Code)
				}
				return
			}
			if got := responseParams(t, location(t, w)); got.Get("error") != tc.want || got.Has("code") {
				t.Fatalf("response %v, want error %q", got, tc.want)
			}
		})
	}
	// The scope carried by the form is narrowed again, whatever it says.
	form := hiddenFields(t, consent)
	form.Set("action", "approve")
	form.Set("scope", "read PRODUCTION admin")
	code := location(t, b.post(form)).Query().Get("code")
	verifier, _ := pkce("v")
	if tok := f.redeem(t, code, spaRedirect, verifier); tok.Scope != "read" {
		t.Fatalf("scope %q, want read", tok.Scope)
	}
}

func TestAuthorizeMethodsAndLimits(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	b := newBrowser(t, f)
	for _, method := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		w := b.do(httptest.NewRequest(method, "/authorize?"+spaQuery("s").Encode(), nil))
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, POST" {
			t.Fatalf("%s: %d %v", method, w.Code, w.Header())
		}
		wantPage(t, w, "error")
	}
	if w := b.getRaw(strings.Repeat("a=1&", 100)); w.Code != http.StatusBadRequest {
		t.Fatalf("too many parameters: %d", w.Code)
	}
	r := httptest.NewRequest(http.MethodPost, "/authorize", strings.NewReader(strings.Repeat("a", 1<<20)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if w := b.do(r); w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("huge form: %d", w.Code)
	}
}

func TestAuthorizeUnderHandlePath(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	b := newBrowser(t, f)
	b.prefix = "/auth"
	page := b.get(spaQuery("s"))
	if !strings.Contains(page.Body.String(), `action="/auth/authorize"`) {
		t.Fatalf("form action: %s", page.Body)
	}
	signedIn := b.signIn(page, "alice", "alice-pw")
	if loc := signedIn.Result().Header.Get("Location"); !strings.HasPrefix(loc, "/auth/authorize?") {
		t.Fatalf("sign-in redirect %q", loc)
	}
	for _, c := range signedIn.Result().Cookies() {
		if c.Path != "/auth/authorize" {
			t.Fatalf("cookie %s on path %q", c.Name, c.Path)
		}
	}
	loc := location(t, b.submit(b.follow(signedIn), "approve", nil))
	if got := loc.Query().Get("iss"); got != "http://example.com/auth" {
		t.Fatalf("iss %q", got)
	}
}

func TestAuthorizeStoreFault(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	store := &faultyStore{Store: f.app.Store()}
	f.app.SetStore(store)
	b := newBrowser(t, f)
	consent := b.follow(b.signIn(b.get(spaQuery("s")), "alice", "alice-pw"))
	fresh := newBrowser(t, f)
	page := fresh.get(spaQuery("s"))
	store.down.Store(true)
	for name, w := range map[string]*httptest.ResponseRecorder{
		"session lookup": b.get(spaQuery("s")),
		"approval":       b.submit(consent, "approve", nil),
		"sign-in":        fresh.signIn(page, "alice", "alice-pw"),
	} {
		q := location(t, w).Query()
		if q.Get("error") != "server_error" || q.Has("code") || strings.Contains(q.Get("error_description"), errDown.Error()) {
			t.Fatalf("%s with the store down: %v", name, q)
		}
	}
}

func TestAuthorizeMetadata(t *testing.T) {
	for _, tc := range []struct {
		name     string
		implicit bool
		want     []string
	}{
		{"with an implicit client", true, []string{"code", "token"}},
		{"without", false, []string{"code"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newAuthorizeFixture(t, func(a *caddyoauth.App) {
				if !tc.implicit {
					a.Clients = a.Clients[:2]
				}
			})
			w := f.serve(t, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server", nil))
			var md struct {
				AuthorizationEndpoint string   `json:"authorization_endpoint"`
				ResponseTypes         []string `json:"response_types_supported"`
				GrantTypes            []string `json:"grant_types_supported"`
				Iss                   bool     `json:"authorization_response_iss_parameter_supported"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &md); err != nil {
				t.Fatal(err)
			}
			if md.AuthorizationEndpoint != "http://example.com/authorize" || !md.Iss ||
				strings.Join(md.ResponseTypes, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("metadata %s", w.Body)
			}
			if hasImplicit := strings.Contains(strings.Join(md.GrantTypes, " "), "implicit"); hasImplicit != tc.implicit {
				t.Fatalf("grant_types_supported %q", md.GrantTypes)
			}
		})
	}
}

// sessionOf returns the session token the browser holds, or "".
func (b *browser) sessionOf() string {
	for _, c := range b.jar.Cookies(b.public("/authorize")) {
		if c.Name == "caddy_oauth_session" {
			return c.Value
		}
	}
	return ""
}

// sessionHash returns the store key of the session whose cookie holds
// value: the hash of the token before the dot.
func sessionHash(value string) string {
	token, _, _ := strings.Cut(value, ".")
	return caddyoauth.HashToken(token)
}

// withSession returns a browser of its own that presents token as its
// session cookie, as one who copied the cookie would.
func withSession(t *testing.T, f *fixture, token string) *browser {
	b := newBrowser(t, f)
	b.header["Cookie"] = "caddy_oauth_session=" + token
	return b
}

// wantSessionEnded checks that the session token signs no one in any more.
func wantSessionEnded(t *testing.T, f *fixture, token string) {
	t.Helper()
	rec, err := f.app.Store().GetToken(context.Background(), sessionHash(token))
	if err != nil || !rec.Revoked {
		t.Errorf("the old session record: %+v %v, want it revoked", rec, err)
	}
	wantPage(t, withSession(t, f, token).get(spaQuery("old")), "login")
}

func TestAuthorizeSignInEndsTheOldSession(t *testing.T) {
	f := newAuthorizeFixture(t, nil)

	t.Run("prompt=login", func(t *testing.T) {
		b := newBrowser(t, f)
		wantPage(t, b.follow(b.signIn(b.get(spaQuery("1")), "alice", "alice-pw")), "consent")
		alice := b.sessionOf()
		rec, err := f.app.Store().GetToken(context.Background(), sessionHash(alice))
		if err != nil || rec.FamilyID == "" {
			t.Fatalf("a session record without a family of its own: %+v %v", rec, err)
		}
		// A copy of the cookie works while the session lasts...
		wantPage(t, withSession(t, f, alice).get(spaQuery("copy")), "consent")

		f.clock.Advance(time.Minute)
		login := spaQuery("2")
		login.Set("prompt", "login")
		consent := b.follow(b.signIn(b.get(login), "bob", "alice-pw"))
		if !strings.Contains(consent.Body.String(), "<strong>bob</strong>") {
			t.Fatalf("consent after prompt=login: %s", consent.Body)
		}
		bob := b.sessionOf()
		if bob == "" || bob == alice {
			t.Fatalf("no new session token: %q", bob)
		}
		// ...but not once the browser signed in again, though its
		// session_ttl has not passed.
		wantSessionEnded(t, f, alice)
		wantPage(t, b.get(spaQuery("3")), "consent")
	})

	t.Run("another user from an older sign-in page", func(t *testing.T) {
		b := newBrowser(t, f)
		page := b.get(spaQuery("1")) // a second tab keeps it open
		wantPage(t, b.follow(b.signIn(page, "alice", "alice-pw")), "consent")
		alice := b.sessionOf()
		// A failed sign-in changes nothing.
		if w := b.signIn(page, "bob", "wrong"); w.Code != http.StatusOK || b.sessionOf() != alice {
			t.Fatalf("failed sign-in: %d, session changed: %v", w.Code, b.sessionOf() != alice)
		}
		wantPage(t, withSession(t, f, alice).get(spaQuery("copy")), "consent")
		wantPage(t, b.follow(b.signIn(page, "bob", "alice-pw")), "consent")
		wantSessionEnded(t, f, alice)
	})

	t.Run("the same user again", func(t *testing.T) {
		b := newBrowser(t, f)
		page := b.get(spaQuery("1"))
		b.signIn(page, "alice", "alice-pw")
		first := b.sessionOf()
		b.signIn(page, "alice", "alice-pw")
		if b.sessionOf() == first {
			t.Fatal("a second sign-in kept the session token")
		}
		wantSessionEnded(t, f, first)
	})

	t.Run("the store cannot end it", func(t *testing.T) {
		b := newBrowser(t, f)
		page := b.get(spaQuery("1"))
		b.signIn(page, "alice", "alice-pw")
		alice := b.sessionOf()
		store := &revokeFailingStore{Store: f.app.Store()}
		f.app.SetStore(store)
		defer f.app.SetStore(store.Store)
		w := b.signIn(page, "bob", "alice-pw")
		if q := location(t, w).Query(); q.Get("error") != "server_error" {
			t.Fatalf("sign-in when the old session cannot be ended: %v", q)
		}
		if b.sessionOf() != alice {
			t.Fatal("a new session was started though the old one could not be ended")
		}
	})
}

// revokeFailingStore cannot revoke anything.
type revokeFailingStore struct{ caddyoauth.Store }

func (s *revokeFailingStore) RevokeFamily(context.Context, string) ([]string, error) {
	return nil, errDown
}

func TestAuthorizeSignOut(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	b := newBrowser(t, f)
	consent := b.follow(b.signIn(b.get(spaQuery("s")), "alice", "alice-pw"))
	alice := b.sessionOf()
	if !strings.Contains(consent.Body.String(), `name="action" value="logout"`) {
		t.Fatalf("the consent page offers no sign-out: %s", consent.Body)
	}
	out := b.submit(consent, "logout", nil)
	if loc := out.Result().Header.Get("Location"); out.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/authorize?") {
		t.Fatalf("sign-out: %d %q", out.Code, loc)
	}
	if b.sessionOf() != "" {
		t.Fatal("the session cookie is still there after signing out")
	}
	wantSessionEnded(t, f, alice)
	// Back at the same request, which now asks who signs in.
	page := b.follow(out)
	wantPage(t, page, "login")
	if got := hiddenFields(t, page).Get("code_challenge"); got != spaQuery("s").Get("code_challenge") {
		t.Fatalf("the request was lost: %v", hiddenFields(t, page))
	}
	// Signing out is a form of the pages: CSRF-protected like the others.
	form := hiddenFields(t, consent)
	form.Set("action", "logout")
	form.Set("csrf_token", base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
	if w := b.post(form); w.Code != http.StatusForbidden {
		t.Fatalf("sign-out without the CSRF token: %d", w.Code)
	}
}

func TestAuthorizeCookiesSecureBehindTLSProxy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		issuer string
		tls    bool
		want   bool
	}{
		{"plain http", "", false, false},
		{"TLS", "", true, true},
		{"https issuer, TLS terminated by a proxy", "https://auth.example.com", false, true},
		{"http issuer", "http://127.0.0.1:8080", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newAuthorizeFixture(t, func(a *caddyoauth.App) { a.Issuer = tc.issuer })
			b := newBrowser(t, f)
			b.https = tc.want
			serve := func(r *http.Request) *httptest.ResponseRecorder {
				if tc.tls {
					r.TLS = &tls.ConnectionState{}
				}
				return b.do(r)
			}
			page := serve(httptest.NewRequest(http.MethodGet, "/authorize?"+spaQuery("s").Encode(), nil))
			cookies := page.Result().Cookies()
			if tc.issuer != "" {
				b.header["Origin"] = tc.issuer
			}
			form := hiddenFields(t, page)
			form.Set("action", "login")
			form.Set("username", "alice")
			form.Set("password", "alice-pw")
			r := httptest.NewRequest(http.MethodPost, "/authorize", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			signedIn := serve(r)
			if signedIn.Code != http.StatusSeeOther {
				t.Fatalf("sign-in: %d %s", signedIn.Code, signedIn.Body)
			}
			cookies = append(cookies, signedIn.Result().Cookies()...)
			if len(cookies) != 2 || cookies[1].Name != "caddy_oauth_session" {
				t.Fatalf("cookies %v", cookies)
			}
			for _, c := range cookies {
				if c.Secure != tc.want {
					t.Errorf("cookie %s Secure = %v, want %v", c.Name, c.Secure, tc.want)
				}
			}
		})
	}
}

func TestAuthorizeMountPrefixIsAPath(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	// A request for //auth/authorize reaches `handle_path /auth/*`, whose
	// path matching merges the slashes; the page must still name
	// /auth/authorize, not the scheme-relative //auth/authorize.
	b := newBrowser(t, f)
	b.prefix = "//auth"
	page := b.get(spaQuery("s"))
	if !strings.Contains(page.Body.String(), `action="/auth/authorize"`) {
		t.Fatalf("form action: %s", page.Body)
	}
	// The jar files the cookie under /auth/authorize, the path it was
	// given, so it would not send it to //auth/authorize.
	b.header["Cookie"] = page.Result().Cookies()[0].String()
	signedIn := b.signIn(page, "alice", "alice-pw")
	if loc := signedIn.Result().Header.Get("Location"); !strings.HasPrefix(loc, "/auth/authorize?") {
		t.Fatalf("sign-in redirect %q", loc)
	}
	for _, c := range signedIn.Result().Cookies() {
		if c.Path != "/auth/authorize" {
			t.Errorf("cookie %s on path %q", c.Name, c.Path)
		}
	}
	none := spaQuery("s")
	none.Set("prompt", "none")
	if got := location(t, newBrowser(t, f).get(none)).Query().Get("iss"); got != "http://example.com" {
		t.Fatalf("iss at the root %q", got)
	}
	b = newBrowser(t, f)
	b.prefix = "/x/..//auth/."
	if got := location(t, b.get(none)).Query().Get("iss"); got != "http://example.com/auth" {
		t.Fatalf("iss %q, want http://example.com/auth", got)
	}
}

// TestAuthorizeApprovalIsForTheUserShown signs in as someone else in a
// second tab while the consent page of the first user is open: approving
// that page asks the user now signed in instead of issuing a code for them.
func TestAuthorizeApprovalIsForTheUserShown(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	b := newBrowser(t, f)
	aliceConsent := b.follow(b.signIn(b.get(spaQuery("tab1")), "alice", "alice-pw"))
	wantPage(t, aliceConsent, "consent")
	b.follow(b.signIn(b.get(url.Values{"prompt": {"login"}, "response_type": {"code"}, "client_id": {"spa"},
		"state": {"tab2"}, "code_challenge": spaQuery("x")["code_challenge"], "code_challenge_method": {"S256"}}), "bob", "alice-pw"))

	again := b.submit(aliceConsent, "approve", nil)
	wantPage(t, again, "consent")
	if !strings.Contains(again.Body.String(), "bob") {
		t.Fatalf("the consent page asked again does not show bob: %s", again.Body)
	}
	code := location(t, b.submit(again, "approve", nil)).Query().Get("code")
	rec, err := f.app.Store().GetToken(context.Background(), caddyoauth.HashToken(code))
	if err != nil {
		t.Fatal(err)
	}
	if rec.UserID != "bob" {
		t.Fatalf("the code is for %q, want bob", rec.UserID)
	}
}

// TestAuthorizeStateAFormWouldAlter refuses a state that the sign-in and
// consent forms would not carry back unchanged, and returns it to the
// client byte for byte with the error.
func TestAuthorizeStateAFormWouldAlter(t *testing.T) {
	f := newAuthorizeFixture(t, nil)
	_, challenge := pkce("v")
	for _, state := range []string{"a\nb", "a\r\nb", "a\x00b", "tab\there", "del\x7f", "\xff\xfe", "c1\u0085"} {
		t.Run(strconv.Quote(state), func(t *testing.T) {
			b := newBrowser(t, f)
			w := b.getRaw("response_type=code&client_id=spa&redirect_uri=" + url.QueryEscape(spaRedirect) +
				"&code_challenge_method=S256&code_challenge=" + challenge + "&state=" + url.QueryEscape(state))
			params := responseParams(t, location(t, w))
			if params.Get("error") != "invalid_request" || params.Get("state") != state {
				t.Fatalf("error %q, state %q; want invalid_request and the state as sent", params.Get("error"), params.Get("state"))
			}
		})
	}
}

// TestAuthorizeSessionEndsWhenThePasswordChanges signs alice in, then
// presents her session cookie to the app of a new config (a reload, or
// another node) on the same store: with her password hash changed, the
// session signs no one in; with it unchanged, it still does.
func TestAuthorizeSessionEndsWhenThePasswordChanges(t *testing.T) {
	storage := json.RawMessage(`{"backend":"bbolt","path":` + strconv.Quote(filepath.Join(t.TempDir(), "oauth.db")) + `}`)
	onStore := func(newHash string) func(*caddyoauth.App) {
		return func(a *caddyoauth.App) {
			a.StorageRaw = storage
			if newHash != "" {
				a.Users[0].PasswordHash = newHash
			}
		}
	}
	f := newAuthorizeFixture(t, onStore(""))
	b := newBrowser(t, f)
	wantPage(t, b.follow(b.signIn(b.get(spaQuery("1")), "alice", "alice-pw")), "consent")
	cookie := b.sessionOf()

	for _, tc := range []struct {
		name    string
		newHash string
		want    string
	}{
		{"password unchanged", f.app.Users[0].PasswordHash, "consent"},
		{"password changed", apptest.PasswordHash(t, "alice-new-pw"), "login"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reloaded := newAuthorizeFixture(t, onStore(tc.newHash))
			wantPage(t, withSession(t, reloaded, cookie).get(spaQuery("2")), tc.want)
		})
	}
	// A cookie whose binding was tampered with signs no one in either.
	token, _, _ := strings.Cut(cookie, ".")
	wantPage(t, withSession(t, f, token+".AAAAAAAAAAAAAAAAAAAAAA").get(spaQuery("3")), "login")
	wantPage(t, withSession(t, f, token).get(spaQuery("4")), "login")
}
