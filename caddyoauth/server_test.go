package caddyoauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	_ "github.com/caddy-oauth/caddy-oauth/grants"
	"github.com/caddy-oauth/caddy-oauth/internal/apptest"
	_ "github.com/caddy-oauth/caddy-oauth/storage/memory"
)

// testClock is a settable clock shared by the app and the test.
type testClock struct{ t atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *testClock) Advance(d time.Duration) { c.t.Add(int64(d)) }

type fixture struct {
	app    *caddyoauth.App
	server *caddyoauth.Server
	clock  *testClock
}

func newFixture(t testing.TB) *fixture {
	return newFixtureOn(t, `{"backend":"memory"}`)
}

// newFixtureOn provisions an app on the given storage module config.
func newFixtureOn(t testing.TB, storage string) *fixture {
	t.Helper()
	hash := apptest.PasswordHash(t, "alice-pw")
	app := &caddyoauth.App{
		StorageRaw: json.RawMessage(storage),
		Clients: []*caddyoauth.Client{
			{ID: "web", Secret: "web-secret", GrantTypes: []string{"password", "client_credentials", "refresh_token"}, Scopes: []string{"default", "read", "update"}},
			{ID: "other", Secret: "other-secret", GrantTypes: []string{"client_credentials", "refresh_token"}, Scopes: []string{"read"}},
			{ID: "spa", Public: true, GrantTypes: []string{"authorization_code", "refresh_token"}, RedirectURIs: []string{"http://127.0.0.1:8000/cb"}},
		},
		Users: []*caddyoauth.User{{Name: "alice", PasswordHash: hash, Scopes: []string{"read", "update"}}},
	}
	if err := apptest.Provision(t, app); err != nil {
		t.Fatal(err)
	}
	return fixtureFor(app)
}

// fixtureFor serves a provisioned app, on a test clock that starts at
// 2026-01-01.
func fixtureFor(app *caddyoauth.App) *fixture {
	clock := new(testClock)
	clock.t.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	app.SetClock(clock.Now)
	return &fixture{app: app, server: caddyoauth.ServerFor(app), clock: clock}
}

// post sends a form to an endpoint of the server and returns the recorder.
func (f *fixture) post(t testing.TB, path string, form url.Values, basic ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		r.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	return f.serve(t, r)
}

func (f *fixture) serve(t testing.TB, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	repl := caddy.NewReplacer()
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
	w := httptest.NewRecorder()
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusTeapot)
		return nil
	})
	if err := f.server.ServeHTTP(w, r, next); err != nil {
		t.Fatalf("ServeHTTP: %v", err)
	}
	return w
}

type tokenBody struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
}

func decode(t testing.TB, w *httptest.ResponseRecorder) tokenBody {
	t.Helper()
	var b tokenBody
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatalf("body %q: %v", w.Body.String(), err)
	}
	return b
}

func (f *fixture) passwordToken(t testing.TB, scope string) tokenBody {
	t.Helper()
	w := f.post(t, "/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pw"}, "scope": {scope}}, "web", "web-secret")
	if w.Code != http.StatusOK {
		t.Fatalf("password grant: %d %s", w.Code, w.Body)
	}
	return decode(t, w)
}

func TestTokenEndpoint(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name      string
		form      url.Values
		basic     []string
		header    string // the Authorization header as sent, instead of basic
		status    int
		errCode   string
		scope     string
		refresh   bool
		challenge bool
	}{
		{name: "client_credentials basic", form: url.Values{"grant_type": {"client_credentials"}, "scope": {"read admin"}}, basic: []string{"web", "web-secret"}, status: 200, scope: "read"},
		{name: "client_credentials body", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"web"}, "client_secret": {"web-secret"}}, status: 200, scope: "default"},
		{name: "password with user limits", form: url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pw"}, "scope": {"read update default"}}, basic: []string{"web", "web-secret"}, status: 200, scope: "read update", refresh: true},
		{name: "wrong password", form: url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"nope"}}, basic: []string{"web", "web-secret"}, status: 400, errCode: "invalid_grant"},
		{name: "unknown user", form: url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"nope"}}, basic: []string{"web", "web-secret"}, status: 400, errCode: "invalid_grant"},
		{name: "grant not allowed", form: url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pw"}}, basic: []string{"other", "other-secret"}, status: 400, errCode: "unauthorized_client"},
		{name: "unknown grant", form: url.Values{"grant_type": {"magic"}}, basic: []string{"web", "web-secret"}, status: 400, errCode: "unsupported_grant_type"},
		{name: "missing grant", form: url.Values{}, basic: []string{"web", "web-secret"}, status: 400, errCode: "invalid_request"},
		{name: "wrong secret basic", form: url.Values{"grant_type": {"client_credentials"}}, basic: []string{"web", "nope"}, status: 401, errCode: "invalid_client", challenge: true},
		{name: "unknown client basic", form: url.Values{"grant_type": {"client_credentials"}}, basic: []string{"ghost", "nope"}, status: 401, errCode: "invalid_client", challenge: true},
		{name: "both methods", form: url.Values{"grant_type": {"client_credentials"}, "client_secret": {"web-secret"}}, basic: []string{"web", "web-secret"}, status: 400, errCode: "invalid_request"},
		{name: "no client", form: url.Values{"grant_type": {"client_credentials"}}, status: 401, errCode: "invalid_client", challenge: true},
		{name: "wrong secret body", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"web"}, "client_secret": {"nope"}}, status: 401, errCode: "invalid_client", challenge: true},
		{name: "bearer scheme", form: url.Values{"grant_type": {"client_credentials"}}, header: "Bearer abc", status: 401, errCode: "invalid_client", challenge: true},
		{name: "basic without a colon", form: url.Values{"grant_type": {"client_credentials"}}, header: "Basic d2Vi", status: 401, errCode: "invalid_client", challenge: true},
		{name: "public client cannot use client_credentials", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"spa"}}, status: 400, errCode: "unauthorized_client"},
		{name: "refresh without token", form: url.Values{"grant_type": {"refresh_token"}}, basic: []string{"web", "web-secret"}, status: 400, errCode: "invalid_request"},
		{name: "refresh with junk", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"junk"}}, basic: []string{"web", "web-secret"}, status: 400, errCode: "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w *httptest.ResponseRecorder
			if tc.header != "" {
				r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(tc.form.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Authorization", tc.header)
				w = f.serve(t, r)
			} else {
				w = f.post(t, "/token", tc.form, tc.basic...)
			}
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Pragma") != "no-cache" {
				t.Errorf("missing no-store headers: %v", w.Header())
			}
			if got := w.Header().Get("WWW-Authenticate") != ""; got != tc.challenge {
				t.Errorf("WWW-Authenticate present = %v, want %v", got, tc.challenge)
			}
			b := decode(t, w)
			if b.Error != tc.errCode {
				t.Fatalf("error %q, want %q", b.Error, tc.errCode)
			}
			if tc.status != 200 {
				return
			}
			if b.TokenType != "Bearer" || b.ExpiresIn != 3600 || b.Scope != tc.scope || !strings.HasPrefix(b.AccessToken, "coat_") {
				t.Errorf("unexpected response %+v", b)
			}
			if (b.RefreshToken != "") != tc.refresh {
				t.Errorf("refresh token present = %v, want %v", b.RefreshToken != "", tc.refresh)
			}
		})
	}
}

func TestUnknownClientAndWrongSecretLookTheSame(t *testing.T) {
	f := newFixture(t)
	form := url.Values{"grant_type": {"client_credentials"}}
	unknown := f.post(t, "/token", form, "ghost", "x")
	wrong := f.post(t, "/token", form, "web", "x")
	if unknown.Code != wrong.Code || unknown.Body.String() != wrong.Body.String() ||
		unknown.Header().Get("WWW-Authenticate") != wrong.Header().Get("WWW-Authenticate") {
		t.Fatalf("distinguishable: %d %q vs %d %q", unknown.Code, unknown.Body, wrong.Code, wrong.Body)
	}
}

func TestRepeatedFailuresAreSlowedDown(t *testing.T) {
	f := newFixture(t)
	form := url.Values{"grant_type": {"client_credentials"}}
	var w *httptest.ResponseRecorder
	for range 11 {
		w = f.post(t, "/token", form, "web", "wrong")
	}
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("after 11 failures: %d %v", w.Code, w.Header())
	}
}

func TestRefreshRotationAndReuseDetection(t *testing.T) {
	f := newFixture(t)
	first := f.passwordToken(t, "read update")
	refresh := func(token, scope string) *httptest.ResponseRecorder {
		return f.post(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}, "scope": {scope}}, "web", "web-secret")
	}
	// Widening is refused and does not spend the token.
	if w := refresh(first.RefreshToken, "read update PRODUCTION"); w.Code != 400 || decode(t, w).Error != "invalid_scope" {
		t.Fatalf("widening: %d %s", w.Code, w.Body)
	}
	w := refresh(first.RefreshToken, "read")
	if w.Code != 200 {
		t.Fatalf("narrowing refresh: %d %s", w.Code, w.Body)
	}
	second := decode(t, w)
	if second.Scope != "read" || second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatalf("rotation: %+v", second)
	}
	// Another client cannot use (or burn) the token.
	if w := f.post(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second.RefreshToken}}, "other", "other-secret"); w.Code != 400 {
		t.Fatalf("other client's refresh: %d", w.Code)
	}
	bearer := caddyoauth.BearerFor(f.app)
	if code := f.gate(t, bearer, second.AccessToken); code != http.StatusTeapot {
		t.Fatalf("new access token: %d", code)
	}
	// Reuse of the first refresh token revokes the whole family.
	if w := refresh(first.RefreshToken, ""); w.Code != 400 || decode(t, w).Error != "invalid_grant" {
		t.Fatalf("reuse: %d %s", w.Code, w.Body)
	}
	if code := f.gate(t, bearer, second.AccessToken); code != http.StatusUnauthorized {
		t.Fatalf("family access token after reuse: %d", code)
	}
	if w := refresh(second.RefreshToken, ""); w.Code != 400 {
		t.Fatalf("family refresh token after reuse: %d", w.Code)
	}
}

func TestConcurrentRefreshHasOneWinner(t *testing.T) {
	f := newFixture(t)
	tok := f.passwordToken(t, "read")
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := f.post(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "web", "web-secret")
			if w.Code == 200 {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d winners", wins.Load())
	}
}

// gate runs oauth_bearer on a request with the token and returns the status
// (418 from the next handler means it passed).
func (f *fixture) gate(t testing.TB, b *caddyoauth.Bearer, token string) int {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/api", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	repl := caddy.NewReplacer()
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
	w := httptest.NewRecorder()
	err := b.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusTeapot)
		return nil
	}))
	var he caddyhttp.HandlerError
	if errors.As(err, &he) {
		return he.StatusCode
	}
	if err != nil {
		t.Fatalf("gate: %v", err)
	}
	return w.Code
}

func TestBearerGate(t *testing.T) {
	f := newFixture(t)
	tok := f.passwordToken(t, "read")
	for _, tc := range []struct {
		name   string
		scopes []string
		token  string
		want   int
	}{
		{name: "no token", token: "", want: 401},
		{name: "junk", token: "junk", want: 401},
		{name: "unknown", token: caddyoauth.NewToken(caddyoauth.AccessTokenPrefix), want: 401},
		{name: "refresh token is not a bearer token", token: tok.RefreshToken, want: 401},
		{name: "any scope", token: tok.AccessToken, want: 418},
		{name: "has scope", scopes: []string{"read"}, token: tok.AccessToken, want: 418},
		{name: "missing scope", scopes: []string{"read", "update"}, token: tok.AccessToken, want: 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := caddyoauth.BearerFor(f.app, tc.scopes...)
			// Twice: the second answer comes from the cache and must agree.
			for i := range 2 {
				if got := f.gate(t, b, tc.token); got != tc.want {
					t.Fatalf("try %d: status %d, want %d", i, got, tc.want)
				}
			}
		})
	}
	// Expiry: a cached token stops passing when it expires.
	b := caddyoauth.BearerFor(f.app)
	f.clock.Advance(time.Hour)
	if got := f.gate(t, b, tok.AccessToken); got != 401 {
		t.Fatalf("expired token: %d", got)
	}
}

func TestRevokeEvictsAndSendsWSO2Headers(t *testing.T) {
	f := newFixture(t)
	f.app.RevocationHeaders = true
	tok := f.passwordToken(t, "read")
	b := caddyoauth.BearerFor(f.app, "read")
	if got := f.gate(t, b, tok.AccessToken); got != 418 { // now cached
		t.Fatalf("before revocation: %d", got)
	}
	// Another client's revocation does nothing, yet answers 200.
	if w := f.post(t, "/revoke", url.Values{"token": {tok.AccessToken}}, "other", "other-secret"); w.Code != 200 || w.Header().Get("RevokedAccessToken") != "" {
		t.Fatalf("other client's revoke: %d %v", w.Code, w.Header())
	}
	if got := f.gate(t, b, tok.AccessToken); got != 418 {
		t.Fatalf("after another client's revoke: %d", got)
	}
	w := f.post(t, "/revoke", url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}, "web", "web-secret")
	if w.Code != 200 || w.Body.Len() != 0 {
		t.Fatalf("revoke: %d %q", w.Code, w.Body)
	}
	h := w.Result().Header // as sent
	if h.Get("RevokedAccessToken") != tok.AccessToken || h.Get("RevokedRefreshToken") != tok.RefreshToken || h.Get("AuthorizedUser") != "alice" {
		t.Fatalf("WSO2 headers: %v", h)
	}
	// Left for Caddy's access log, which reads the header map afterwards.
	if h := w.Header(); h.Get("RevokedAccessToken") != "" || h.Get("RevokedRefreshToken") != "" || h.Get("AuthorizedUser") != "alice" {
		t.Fatalf("headers left for the access log: %v", h)
	}
	if got := f.gate(t, b, tok.AccessToken); got != 401 {
		t.Fatalf("revoked cached token: %d", got)
	}
	if w := f.post(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "web", "web-secret"); w.Code != 400 {
		t.Fatalf("refresh after revoke: %d", w.Code)
	}
	// Again, and unknown tokens: 200, empty, no headers.
	for _, token := range []string{tok.AccessToken, "junk", caddyoauth.NewToken(caddyoauth.RefreshTokenPrefix)} {
		w := f.post(t, "/revoke", url.Values{"token": {token}}, "web", "web-secret")
		if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("RevokedAccessToken") != "" {
			t.Fatalf("revoke %q: %d %q %v", token, w.Code, w.Body, w.Header())
		}
	}
}

// A client_credentials token is in no family: the store keeps no family
// entry for it, and revoking it revokes that token alone, cached or not.
func TestRevokeLoneAccessToken(t *testing.T) {
	f := newFixture(t)
	f.app.RevocationHeaders = true
	issue := func() tokenBody {
		w := f.post(t, "/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}, "web", "web-secret")
		if w.Code != http.StatusOK {
			t.Fatalf("client_credentials grant: %d %s", w.Code, w.Body)
		}
		return decode(t, w)
	}
	tok, other := issue(), issue()
	rec, err := f.app.Store().GetToken(context.Background(), caddyoauth.HashToken(tok.AccessToken))
	if err != nil || rec.FamilyID != "" {
		t.Fatalf("stored record: %+v, %v; want one in no family", rec, err)
	}
	b := caddyoauth.BearerFor(f.app, "read")
	for _, token := range []string{tok.AccessToken, other.AccessToken} {
		if got := f.gate(t, b, token); got != 418 { // now cached
			t.Fatalf("before revocation: %d", got)
		}
	}
	w := f.post(t, "/revoke", url.Values{"token": {tok.AccessToken}}, "web", "web-secret")
	if h := w.Result().Header; w.Code != 200 || h.Get("RevokedAccessToken") != tok.AccessToken || h.Get("RevokedRefreshToken") != "" {
		t.Fatalf("revoke: %d %v", w.Code, h)
	}
	if got := f.gate(t, b, tok.AccessToken); got != 401 {
		t.Fatalf("revoked cached token: %d", got)
	}
	if got := f.gate(t, b, other.AccessToken); got != 418 {
		t.Fatalf("the client's other token after the revocation: %d", got)
	}
	if w := f.post(t, "/revoke", url.Values{"token": {tok.AccessToken}}, "web", "web-secret"); w.Code != 200 || w.Result().Header.Get("RevokedAccessToken") != "" {
		t.Fatalf("revoking again: %d %v", w.Code, w.Result().Header)
	}
}

func TestIntrospect(t *testing.T) {
	f := newFixture(t)
	tok := f.passwordToken(t, "read")
	w := f.post(t, "/introspect", url.Values{"token": {tok.AccessToken}}, "other", "other-secret")
	var got map[string]any
	json.Unmarshal(w.Body.Bytes(), &got)
	if w.Code != 200 || got["active"] != true || got["scope"] != "read" || got["client_id"] != "web" || got["username"] != "alice" || got["sub"] != "alice" || got["token_type"] != "Bearer" {
		t.Fatalf("introspect: %d %s", w.Code, w.Body)
	}
	f.post(t, "/revoke", url.Values{"token": {tok.AccessToken}}, "web", "web-secret")
	for _, token := range []string{tok.AccessToken, "junk"} {
		w := f.post(t, "/introspect", url.Values{"token": {token}}, "web", "web-secret")
		if w.Code != 200 || w.Body.String() != `{"active":false}` {
			t.Fatalf("introspect %q: %d %s", token, w.Code, w.Body)
		}
	}
	if w := f.post(t, "/introspect", url.Values{"token": {tok.AccessToken}}); w.Code != 401 {
		t.Fatalf("unauthenticated introspect: %d", w.Code)
	}
}

// faultyStore fails every call while down is set.
type faultyStore struct {
	caddyoauth.Store
	down atomic.Bool
}

var errDown = errors.New("store unreachable")

func (s *faultyStore) GetToken(ctx context.Context, hash string) (*caddyoauth.TokenRecord, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.GetToken(ctx, hash)
}

func (s *faultyStore) SaveTokens(ctx context.Context, recs ...*caddyoauth.TokenRecord) error {
	if s.down.Load() {
		return errDown
	}
	return s.Store.SaveTokens(ctx, recs...)
}

func (s *faultyStore) RevokeFamily(ctx context.Context, family string) ([]string, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.RevokeFamily(ctx, family)
}

func TestStoreFaultFailsClosed(t *testing.T) {
	f := newFixture(t)
	store := &faultyStore{Store: f.app.Store()}
	f.app.SetStore(store)
	cached := f.passwordToken(t, "read")
	uncached := f.passwordToken(t, "read")
	b := caddyoauth.BearerFor(f.app, "read")
	f.gate(t, b, cached.AccessToken)
	store.down.Store(true)
	if got := f.gate(t, b, uncached.AccessToken); got != http.StatusServiceUnavailable {
		t.Fatalf("uncached token with the store down: %d", got)
	}
	if got := f.gate(t, b, cached.AccessToken); got != 418 {
		t.Fatalf("cached token with the store down: %d", got)
	}
	if w := f.post(t, "/revoke", url.Values{"token": {cached.AccessToken}}, "web", "web-secret"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("revoke with the store down: %d", w.Code)
	}
	if w := f.post(t, "/token", url.Values{"grant_type": {"client_credentials"}}, "web", "web-secret"); w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), errDown.Error()) {
		t.Fatalf("issue with the store down: %d %s", w.Code, w.Body)
	}
}

func TestEndpointRoutingAndMethods(t *testing.T) {
	f := newFixture(t)
	if w := f.serve(t, httptest.NewRequest(http.MethodGet, "/other", nil)); w.Code != http.StatusTeapot {
		t.Fatalf("other path not passed on: %d", w.Code)
	}
	if w := f.serve(t, httptest.NewRequest(http.MethodGet, "/token", nil)); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /token: %d", w.Code)
	}
	w := f.post(t, "/login", url.Values{"grant_type": {"client_credentials"}}, "web", "web-secret")
	if w.Code != 200 {
		t.Fatalf("/login: %d", w.Code)
	}
	w = f.serve(t, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server", nil))
	var md map[string]any
	json.Unmarshal(w.Body.Bytes(), &md)
	if w.Code != 200 || md["issuer"] != "http://example.com" || md["token_endpoint"] != "http://example.com/token" {
		t.Fatalf("metadata: %d %s", w.Code, w.Body)
	}
	r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(strings.Repeat("a", 1<<20)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if w := f.serve(t, r); w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("huge body: %d", w.Code)
	}
}

// reuseRacingStore revokes a family just before new records are saved into
// it: what a concurrent reuse of the consumed refresh token does when it
// lands between the consume and the save.
type reuseRacingStore struct {
	caddyoauth.Store
	family string
}

func (s *reuseRacingStore) SaveTokens(ctx context.Context, recs ...*caddyoauth.TokenRecord) error {
	if recs[0].FamilyID == s.family {
		if _, err := s.Store.RevokeFamily(ctx, s.family); err != nil {
			return err
		}
	}
	return s.Store.SaveTokens(ctx, recs...)
}

func TestReuseRevocationCannotBeOutrunByTheWinner(t *testing.T) {
	f := newFixture(t)
	tok := f.passwordToken(t, "read")
	rec, err := f.app.Store().GetToken(context.Background(), caddyoauth.HashToken(tok.RefreshToken))
	if err != nil {
		t.Fatal(err)
	}
	f.app.SetStore(&reuseRacingStore{Store: f.app.Store(), family: rec.FamilyID})
	w := f.post(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "web", "web-secret")
	if w.Code != 200 {
		t.Fatalf("the refresh that consumed the token: %d %s", w.Code, w.Body)
	}
	won := decode(t, w)
	if _, _, err := f.app.Validate(context.Background(), won.AccessToken); err == nil {
		t.Fatal("an access token saved into a revoked family is valid")
	}
	if w := f.post(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {won.RefreshToken}}, "web", "web-secret"); w.Code != 400 {
		t.Fatalf("a refresh token saved into a revoked family refreshes: %d", w.Code)
	}
}

func TestSweepDeletesExpiredRecords(t *testing.T) {
	f := newFixture(t)
	tok := f.passwordToken(t, "read")
	ctx := context.Background()
	f.clock.Advance(2 * time.Hour) // past the access token, not the refresh token
	f.app.Sweep(ctx)
	if _, err := f.app.Store().GetToken(ctx, caddyoauth.HashToken(tok.AccessToken)); !errors.Is(err, caddyoauth.ErrNotFound) {
		t.Fatalf("expired access token after a sweep: %v", err)
	}
	if _, err := f.app.Store().GetToken(ctx, caddyoauth.HashToken(tok.RefreshToken)); err != nil {
		t.Fatalf("live refresh token after a sweep: %v", err)
	}
}
