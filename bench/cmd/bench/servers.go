package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Credentials every server of the benchmark is set up with.
const (
	clientID     = "bench"
	clientSecret = "benchsecret"
	userName     = "alice"
	userPassword = "pw"
)

const startTimeout = 30 * time.Second

// env is what a run needs to start servers.
type env struct {
	dir      string            // temp dir of the run
	bins     map[string]string // built programs by name
	procs    *procs
	userHash string // bcrypt hash of userPassword, from `caddy hash-password`
	upstream int    // port of the upstream, once started
}

func baseURL(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }

// hashPassword runs `caddy hash-password` for a bcrypt hash of the given cost.
func hashPassword(ctx context.Context, caddyBin, plaintext string, cost int) (string, error) {
	cmd := exec.CommandContext(ctx, caddyBin, "hash-password", "--plaintext", plaintext,
		"--algorithm", "bcrypt", "--bcrypt-cost", strconv.Itoa(cost))
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("caddy hash-password: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// upstreamPort starts the gate benchmarks' backend the first time and
// returns its port.
func (e *env) upstreamPort(ctx context.Context) (int, error) {
	if e.upstream != 0 {
		return e.upstream, nil
	}
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	p, err := e.procs.start("upstream", e.bins["upstream"], "-port", strconv.Itoa(port))
	if err != nil {
		return 0, err
	}
	if err := p.waitHTTP(ctx, baseURL(port)+"/", startTimeout); err != nil {
		return 0, err
	}
	e.upstream = port
	return port, nil
}

// startCaddy writes cfg and runs caddy on it.
func (e *env) startCaddy(ctx context.Context, name string, cfg caddyConfig) error {
	return e.startCaddyBuild(ctx, name, "caddy", cfg)
}

// startCaddyBuild is startCaddy with the Caddy binary built as bin.
func (e *env) startCaddyBuild(ctx context.Context, name, bin string, cfg caddyConfig) error {
	path := filepath.Join(e.dir, name+".Caddyfile")
	if err := cfg.write(path); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	p, err := e.procs.start(name, e.bins[bin], "run", "--config", path, "--adapter", "caddyfile")
	if err != nil {
		return err
	}
	return p.waitHTTP(ctx, baseURL(cfg.TokenPort)+"/.well-known/oauth-authorization-server", startTimeout)
}

// startPeer starts a peer token server (fosite or gooauth2) with extra flags.
func (e *env) startPeer(ctx context.Context, name, bin string, extra ...string) (int, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	args := append([]string{"-port", strconv.Itoa(port), "-client-id", clientID,
		"-client-secret", clientSecret, "-user", userName, "-password", userPassword}, extra...)
	p, err := e.procs.start(name, e.bins[bin], args...)
	if err != nil {
		return 0, err
	}
	return port, p.waitHTTP(ctx, baseURL(port)+"/token", startTimeout)
}

// fetchToken gets an access token by client_credentials from tokenURL.
func fetchToken(ctx context.Context, tokenURL, scope string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", fmt.Errorf("token response (status %d): %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		return "", fmt.Errorf("token request: status %d, error %q", resp.StatusCode, body.Error)
	}
	return body.AccessToken, nil
}
