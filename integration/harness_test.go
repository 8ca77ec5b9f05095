package integration

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/template"
	"time"

	"golang.org/x/oauth2"
)

// The clients and users of the standard configuration.
const (
	mainClient     = "wU62DjlyDBnq87GlBwplfqvmAbAa"
	mainSecret     = "ksdSdoefDDP7wpaElfqvmjDue"
	otherClient    = "other"
	otherSecret    = "otherClientSecret-9f3a7c2e"
	adminPassword  = "adminPassw0rd-integration"
	readerPassword = "readerPassw0rd-integration"
)

// standardConfig is the Caddyfile of SPEC §2, served on loopback, with
// {{.Storage}} and {{.Extra*}} left to each test.
const standardConfig = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
	persist_config off
	{{.ExtraGlobal}}
	oauth {
		{{if .Storage}}storage {{.Storage}}{{end}}
		access_token_ttl 1h
		refresh_token_ttl 24h
		{{if .RevocationHeaders}}revocation_headers{{end}}
		client {{.MainClient}} {
			secret {{.MainSecret}}
			grant_types password client_credentials refresh_token
			scopes default read update PRODUCTION
		}
		client {{.OtherClient}} {
			secret {{.OtherSecret}}
			grant_types client_credentials
			scopes read
		}
		user admin {{.AdminHash}} {
			scopes read update
		}
		user reader {{.ReaderHash}}
		{{.ExtraOAuth}}
	}
}

http://127.0.0.1:{{.Port}} {
	oauth_server
	route /orders/* {
		oauth_bearer read
		reverse_proxy {{.Upstream}} {
			header_up X-Auth-User {http.auth.user.id}
			header_up X-Auth-Client {http.auth.user.client_id}
			header_up X-Auth-Scope {http.auth.user.scope}
		}
	}
	@write method POST PUT DELETE
	route /admin/* {
		oauth_bearer @write update
		oauth_bearer read
		reverse_proxy {{.Upstream}}
	}
	{{.ExtraSite}}
}
`

// config describes one Caddy instance's Caddyfile.
type config struct {
	// Template is the Caddyfile as a text/template; default standardConfig.
	Template string
	// Storage is the argument of the storage line; default "bbolt <dir>/oauth.db".
	Storage string
	// DefaultStorage leaves the storage line out.
	DefaultStorage bool
	// NoRevocationHeaders leaves revocation_headers out.
	NoRevocationHeaders bool
	// ExtraGlobal, ExtraOAuth and ExtraSite are added to the global
	// options, the oauth block and the site block.
	ExtraGlobal string
	ExtraOAuth  string
	ExtraSite   string
	// Env is added to the environment of the caddy process.
	Env []string
	// Binary is the Caddy binary to run; default the one TestMain built.
	Binary string
}

// templateData is what a Caddyfile template can use.
type templateData struct {
	Port, AdminPort                    int
	Upstream                           string
	Dir                                string
	DB                                 string
	Storage                            string
	RevocationHeaders                  bool
	MainClient, MainSecret             string
	OtherClient, OtherSecret           string
	AdminHash, ReaderHash              string
	ExtraGlobal, ExtraOAuth, ExtraSite string
}

// caddyServer is one Caddy subprocess.
type caddyServer struct {
	t         testing.TB
	dir       string // private temp dir: config, data, db
	home      string
	config    string // Caddyfile path
	db        string // default bbolt file path of the test
	port      int
	adminPort int
	base      string // http://127.0.0.1:port
	up        *upstream
	data      templateData
	extraEnv  []string
	bin       string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs *syncBuffer
	gen  int

	client *http.Client
}

// startCaddy writes the Caddyfile, starts Caddy and waits until it serves.
// It stops Caddy when the test ends and logs Caddy's output if it failed.
func startCaddy(t testing.TB, cfg config) *caddyServer {
	t.Helper()
	c := newCaddy(t, cfg)
	c.start()
	return c
}

// newCaddy prepares an instance without starting it.
func newCaddy(t testing.TB, cfg config) *caddyServer {
	t.Helper()
	dir := t.TempDir()
	c := &caddyServer{
		t:         t,
		dir:       dir,
		home:      filepath.Join(dir, "home"),
		config:    filepath.Join(dir, "Caddyfile"),
		db:        filepath.Join(dir, "oauth.db"),
		port:      freePort(t),
		adminPort: freePort(t),
		up:        newUpstream(t),
		extraEnv:  cfg.Env,
		bin:       cmp.Or(cfg.Binary, caddyBin),
		logs:      new(syncBuffer),
		client: &http.Client{
			Timeout:       30 * time.Second,
			Transport:     &http.Transport{DisableKeepAlives: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.base = fmt.Sprintf("http://127.0.0.1:%d", c.port)
	if err := os.MkdirAll(c.home, 0o755); err != nil {
		t.Fatal(err)
	}
	storage := cfg.Storage
	if storage == "" {
		storage = "bbolt " + c.db
	}
	if cfg.DefaultStorage {
		storage = ""
	}
	c.data = templateData{
		Port:              c.port,
		AdminPort:         c.adminPort,
		Upstream:          c.up.srv.URL,
		Dir:               dir,
		DB:                c.db,
		Storage:           storage,
		RevocationHeaders: !cfg.NoRevocationHeaders,
		MainClient:        mainClient,
		MainSecret:        mainSecret,
		OtherClient:       otherClient,
		OtherSecret:       otherSecret,
		AdminHash:         adminHash,
		ReaderHash:        readerHash,
		ExtraGlobal:       cfg.ExtraGlobal,
		ExtraOAuth:        cfg.ExtraOAuth,
		ExtraSite:         cfg.ExtraSite,
	}
	tmpl := cfg.Template
	if tmpl == "" {
		tmpl = standardConfig
	}
	c.writeConfig(c.config, tmpl)
	t.Cleanup(func() {
		c.stop()
		if t.Failed() {
			t.Logf("Caddyfile:\n%s", mustRead(t, c.config))
			t.Logf("caddy output:\n%s", c.logs.String())
		}
	})
	return c
}

// writeConfig renders a Caddyfile template to path.
func (c *caddyServer) writeConfig(path, tmpl string) {
	c.t.Helper()
	var buf bytes.Buffer
	if err := template.Must(template.New("Caddyfile").Parse(tmpl)).Execute(&buf, c.data); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// env is the environment of every caddy command of this instance: data and
// config directories under the test's temp dir.
func (c *caddyServer) env() []string {
	return append(caddyEnv(c.home), c.extraEnv...)
}

func caddyEnv(home string) []string {
	return append(os.Environ(),
		"HOME="+home,
		"XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"),
	)
}

// start runs `caddy run` and waits until the site port answers.
func (c *caddyServer) start() {
	c.t.Helper()
	c.mu.Lock()
	c.gen++
	fmt.Fprintf(c.logs, "----- caddy run #%d -----\n", c.gen)
	cmd := exec.Command(c.bin, "run", "--config", c.config, "--adapter", "caddyfile")
	cmd.Dir = c.dir
	cmd.Env = c.env()
	cmd.Stdout = c.logs
	cmd.Stderr = c.logs
	if err := cmd.Start(); err != nil {
		c.mu.Unlock()
		c.t.Fatalf("starting caddy: %v", err)
	}
	done := make(chan struct{})
	c.cmd, c.done = cmd, done
	c.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		close(done)
	}()

	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			c.t.Fatalf("caddy exited before serving (%v); output:\n%s", cmd.ProcessState, c.logs.String())
		default:
		}
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.port), time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("caddy did not listen on %d within 30s; output:\n%s", c.port, c.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends Caddy gracefully (SIGTERM), killing it after 10s.
func (c *caddyServer) stop() {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.t.Errorf("caddy did not stop within 10s of SIGTERM; killing it")
		_ = cmd.Process.Kill()
		<-done
	}
}

// kill9 ends Caddy with SIGKILL: no shutdown, no flush.
func (c *caddyServer) kill9() {
	c.t.Helper()
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		c.t.Fatal("kill9: caddy is not running")
	}
	if err := cmd.Process.Kill(); err != nil {
		c.t.Fatal(err)
	}
	<-done
}

// running reports whether the process is still alive.
func (c *caddyServer) running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return false
	}
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// caddyCommand runs a caddy CLI command with the test's environment and
// returns its combined output and error. It never hangs beyond 60s.
func caddyCommand(t testing.TB, home, dir string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, caddyBin, args...)
	cmd.Dir = dir
	cmd.Env = caddyEnv(home)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("caddy %s: timed out after 60s: %w", strings.Join(args, " "), ctx.Err())
	}
	return string(out), err
}

// upstream is the backend behind reverse_proxy; it records what it gets.
type upstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []upstreamRequest
}

type upstreamRequest struct {
	Method string
	Path   string
	Header http.Header
}

func newUpstream(t testing.TB) *upstream {
	u := new(upstream)
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.reqs = append(u.reqs, upstreamRequest{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone()})
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "upstream ok")
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// requests returns a copy of what the upstream received.
func (u *upstream) requests() []upstreamRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]upstreamRequest(nil), u.reqs...)
}

// find returns the requests the upstream received for path (with query).
func (u *upstream) find(path string) []upstreamRequest {
	var out []upstreamRequest
	for _, r := range u.requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// response is a fully read HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) String() string {
	return fmt.Sprintf("%d %v %q", r.Status, r.Header, r.Body)
}

// reqOption changes a request before it is sent.
type reqOption func(*http.Request)

// withBasic adds HTTP Basic client authentication, each part form-urlencoded
// first (RFC 6749 §2.3.1).
func withBasic(id, secret string) reqOption {
	return func(r *http.Request) {
		r.Header.Set("Authorization", basicHeader(id, secret))
	}
}

func basicHeader(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func withHeader(k, v string) reqOption {
	return func(r *http.Request) { r.Header.Set(k, v) }
}

func withBearer(token string) reqOption {
	return withHeader("Authorization", "Bearer "+token)
}

// do sends a request to the instance and reads the whole response.
func (c *caddyServer) do(t testing.TB, method, path string, body io.Reader, opts ...reqOption) response {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(req)
	}
	res, err := c.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// tryDo is do without failing the test on transport errors.
func (c *caddyServer) tryDo(method, path string, body io.Reader, opts ...reqOption) (response, error) {
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return response{}, err
	}
	for _, o := range opts {
		o(req)
	}
	res, err := c.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}, err
}

// tryPost is post for goroutines: it returns errors instead of failing.
func (c *caddyServer) tryPost(path, body string, opts ...reqOption) (response, error) {
	form := withHeader("Content-Type", "application/x-www-form-urlencoded")
	return c.tryDo(http.MethodPost, path, strings.NewReader(body), append([]reqOption{form}, opts...)...)
}

// post sends a form-encoded POST with the raw body given.
func (c *caddyServer) post(t testing.TB, path, body string, opts ...reqOption) response {
	t.Helper()
	opts = append([]reqOption{withHeader("Content-Type", "application/x-www-form-urlencoded")}, opts...)
	return c.do(t, http.MethodPost, path, strings.NewReader(body), opts...)
}

// get sends a GET with optional bearer token.
func (c *caddyServer) get(t testing.TB, path, token string, opts ...reqOption) response {
	t.Helper()
	if token != "" {
		opts = append([]reqOption{withBearer(token)}, opts...)
	}
	return c.do(t, http.MethodGet, path, nil, opts...)
}

// tokenResponse is the JSON of a successful token response.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
}

// mustToken posts a token request with the main client's Basic credentials
// and fails the test unless it succeeds.
func (c *caddyServer) mustToken(t testing.TB, form url.Values) tokenResponse {
	t.Helper()
	return c.mustTokenAs(t, mainClient, mainSecret, form)
}

func (c *caddyServer) mustTokenAs(t testing.TB, id, secret string, form url.Values) tokenResponse {
	t.Helper()
	r := c.post(t, "/token", form.Encode(), withBasic(id, secret))
	if r.Status != http.StatusOK {
		t.Fatalf("token request %v: want 200, got %s", form, r)
	}
	var tr tokenResponse
	if err := json.Unmarshal(r.Body, &tr); err != nil {
		t.Fatalf("token response is not JSON: %v: %s", err, r.Body)
	}
	if tr.AccessToken == "" {
		t.Fatalf("token response without access_token: %s", r.Body)
	}
	return tr
}

// passwordToken gets a token for admin with the given scope.
func (c *caddyServer) passwordToken(t testing.TB, scope string) tokenResponse {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {adminPassword}}
	if scope != "" {
		form.Set("scope", scope)
	}
	tr := c.mustToken(t, form)
	if tr.RefreshToken == "" {
		t.Fatalf("password grant gave no refresh token: %+v", tr)
	}
	return tr
}

// ccToken gets a client_credentials token for the main client.
func (c *caddyServer) ccToken(t testing.TB, scope string) tokenResponse {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return c.mustToken(t, form)
}

// refresh posts a refresh_token grant for the main client.
func (c *caddyServer) refresh(t testing.TB, refreshToken, scope string) response {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return c.post(t, "/token", form.Encode(), withBasic(mainClient, mainSecret))
}

// oauthError is the JSON of an RFC 6749 §5.2 error.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// wantError checks an RFC 6749 §5.2 error response.
func wantError(t testing.TB, r response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("want status %d (%s), got %s", status, code, r)
		return
	}
	var e oauthError
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Errorf("error body is not JSON: %v: %q", err, r.Body)
		return
	}
	if e.Error != code {
		t.Errorf("want error %q, got %q (%s)", code, e.Error, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("error Cache-Control = %q, want no-store", cc)
	}
}

// wantActive checks that an access token passes oauth_bearer on /orders.
func (c *caddyServer) wantActive(t testing.TB, token string) {
	t.Helper()
	path := "/orders/" + randomID(t)
	r := c.get(t, path, token)
	if r.Status != http.StatusOK || string(r.Body) != "upstream ok" {
		t.Errorf("token should pass oauth_bearer on %s, got %s", path, r)
	}
}

// wantInvalid checks that an access token is refused as invalid_token and
// never reaches the upstream.
func (c *caddyServer) wantInvalid(t testing.TB, token string) {
	t.Helper()
	path := "/orders/" + randomID(t)
	r := c.get(t, path, token)
	if r.Status != http.StatusUnauthorized {
		t.Errorf("token should be refused with 401 on %s, got %s", path, r)
	} else if wa := r.Header.Get("WWW-Authenticate"); !strings.Contains(wa, `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate = %q, want error=\"invalid_token\"", wa)
	}
	if n := len(c.up.find(path)); n != 0 {
		t.Errorf("a refused request reached the upstream %d times", n)
	}
}

// oauth2Context makes golang.org/x/oauth2 use the instance's HTTP client.
func (c *caddyServer) oauth2Context() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, c.client)
}

// Caddy's ports come from below the kernel's ephemeral range (32768 and
// up on Linux), where the upstreams' httptest servers and outgoing
// connections get theirs: a port handed out here and released until Caddy
// binds it cannot be taken meanwhile by an upstream of a parallel test. A
// counter keeps this run's ports distinct, and a random start keeps two
// runs on one machine apart.
const (
	portBase  = 20000
	portRange = 12000
)

var nextPort atomic.Int64

func init() { nextPort.Store(rand.Int64N(portRange)) }

// freePort returns a port that is free on 127.0.0.1 now and that no other
// caller in this run gets.
func freePort(t testing.TB) int {
	t.Helper()
	for range portRange {
		port := portBase + int(nextPort.Add(1)%portRange)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // in use by something else
		}
		l.Close()
		return port
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

var idCounter struct {
	sync.Mutex
	n int
}

// randomID returns a path segment unique within the run.
func randomID(t testing.TB) string {
	idCounter.Lock()
	defer idCounter.Unlock()
	idCounter.n++
	return fmt.Sprintf("r%d-%d", idCounter.n, time.Now().UnixNano())
}

func mustRead(t testing.TB, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}

// syncBuffer is a bytes.Buffer safe for the process's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fromSource returns a copy of the instance whose requests come from the
// given loopback source address (any 127.0.0.0/8 address works on Linux).
func (c *caddyServer) fromSource(ip string) *caddyServer {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	cc := &caddyServer{t: c.t, base: c.base, up: c.up, port: c.port}
	cc.client = &http.Client{
		Timeout:       30 * time.Second,
		Transport:     &http.Transport{DisableKeepAlives: true, DialContext: dialer.DialContext},
		CheckRedirect: c.client.CheckRedirect,
	}
	return cc
}
