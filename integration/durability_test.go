package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentRefresh presents one refresh token from 10 goroutines at
// once: exactly one wins, and since the others presented a used token the
// winner's new tokens are revoked too.
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	for _, storage := range []string{"memory", "bbolt"} {
		t.Run(storage, func(t *testing.T) {
			t.Parallel()
			cfg := config{Storage: "memory"}
			if storage == "bbolt" {
				cfg.Storage = ""
			}
			c := startCaddy(t, cfg)
			for round := range 10 {
				tr := c.passwordToken(t, "read")
				const n = 10
				var (
					wg    sync.WaitGroup
					start = make(chan struct{})
					res   = make([]response, n)
					errs  = make([]error, n)
				)
				for i := range n {
					wg.Go(func() {
						<-start
						res[i], errs[i] = c.tryPost("/token", url.Values{
							"grant_type":    {"refresh_token"},
							"refresh_token": {tr.RefreshToken},
						}.Encode(), withBasic(mainClient, mainSecret))
					})
				}
				close(start)
				wg.Wait()

				var winners []tokenResponse
				for i, r := range res {
					if errs[i] != nil {
						t.Fatalf("round %d: %v", round, errs[i])
					}
					switch r.Status {
					case http.StatusOK:
						winners = append(winners, decodeToken(t, r))
					case http.StatusBadRequest:
						var e oauthError
						if err := json.Unmarshal(r.Body, &e); err != nil || e.Error != "invalid_grant" {
							t.Errorf("round %d: loser got %s, want invalid_grant", round, r)
						}
					default:
						t.Errorf("round %d: unexpected %s", round, r)
					}
				}
				if len(winners) != 1 {
					t.Fatalf("round %d: %d of %d concurrent refreshes succeeded, want exactly 1", round, len(winners), n)
				}
				// The losers presented a used refresh token: the family,
				// the winner's new pair included, is revoked.
				c.wantInvalid(t, winners[0].AccessToken)
				c.wantInvalid(t, tr.AccessToken)
				wantError(t, c.refresh(t, winners[0].RefreshToken, ""), http.StatusBadRequest, "invalid_grant")
			}
		})
	}
}

// TestDurabilityAfterKill issues tokens on bbolt, kills Caddy with SIGKILL
// right after the responses and restarts it on the same file.
func TestDurabilityAfterKill(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{})

	p1 := c.passwordToken(t, "read update")
	p2 := decodeToken(t, c.refresh(t, p1.RefreshToken, "")) // p1's refresh token is used
	rv := c.passwordToken(t, "read")
	c.wantActive(t, rv.AccessToken) // cached before revocation
	wantEmpty200(t, c.revoke(t, mainClient, mainSecret, rv.AccessToken, ""))
	cc := c.ccToken(t, "read")

	c.kill9()
	c.start()

	c.wantActive(t, p2.AccessToken)
	c.wantActive(t, cc.AccessToken)
	c.wantInvalid(t, rv.AccessToken)
	wantError(t, c.refresh(t, rv.RefreshToken, ""), http.StatusBadRequest, "invalid_grant")

	// The live refresh token still refreshes...
	p3 := decodeToken(t, c.refresh(t, p2.RefreshToken, ""))
	if !sameScopes(p3.Scope, "read update") {
		t.Errorf("scope after restart = %q", p3.Scope)
	}
	c.wantActive(t, p3.AccessToken)
	// ...and the rotated one stays dead; presenting it revokes the family.
	c.kill9()
	c.start()
	wantError(t, c.refresh(t, p1.RefreshToken, ""), http.StatusBadRequest, "invalid_grant")
	c.wantInvalid(t, p3.AccessToken)

	// That family revocation is durable too.
	c.kill9()
	c.start()
	c.wantInvalid(t, p3.AccessToken)
	c.wantInvalid(t, p2.AccessToken)
	wantError(t, c.refresh(t, p3.RefreshToken, ""), http.StatusBadRequest, "invalid_grant")
	c.wantActive(t, cc.AccessToken)
}

// TestDefaultStorageIsBboltInDataDir leaves the storage line out: tokens
// survive a SIGKILL and the bbolt file is under Caddy's data directory.
func TestDefaultStorageIsBboltInDataDir(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{DefaultStorage: true})
	tr := c.passwordToken(t, "read")
	c.kill9()
	c.start()
	c.wantActive(t, tr.AccessToken)
	decodeToken(t, c.refresh(t, tr.RefreshToken, ""))

	dataDir := filepath.Join(c.home, "data", "caddy")
	var found []string
	_ = filepath.WalkDir(c.home, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && isBbolt(path) {
			found = append(found, path)
		}
		return nil
	})
	if len(found) != 1 || !strings.HasPrefix(found[0], dataDir+string(filepath.Separator)) {
		t.Errorf("want one bbolt file under %s, found %q", dataDir, found)
	}
	if _, err := os.Stat(c.db); err == nil {
		t.Errorf("default storage wrote %s", c.db)
	}
}

// isBbolt reports whether the file starts with a bbolt meta page.
func isBbolt(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var head [32]byte
	if _, err := f.ReadAt(head[:], 0); err != nil {
		return false
	}
	// page header (16 bytes) then meta.magic, little endian on amd64/arm64.
	return binary.LittleEndian.Uint32(head[16:20]) == 0xED0CDAED
}

// TestReloadKeepsTokens reloads the config (same bbolt file, new route)
// through the admin API: tokens stay valid and the second open of the store
// does not fail or hang.
func TestReloadKeepsTokens(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{})
	tr := c.passwordToken(t, "read")
	cc := c.ccToken(t, "read")
	c.wantActive(t, tr.AccessToken)
	revoked := c.ccToken(t, "read")
	c.wantActive(t, revoked.AccessToken)
	wantEmpty200(t, c.revoke(t, mainClient, mainSecret, revoked.AccessToken, ""))

	next := filepath.Join(c.dir, "Caddyfile.v2")
	c.data.ExtraSite = `respond /version "v2"`
	c.writeConfig(next, standardConfig)
	out, err := caddyCommand(t, c.home, c.dir, "reload", "--config", next, "--adapter", "caddyfile",
		"--address", c.adminAddr())
	if err != nil {
		t.Fatalf("caddy reload: %v\n%s", err, out)
	}
	if r := c.get(t, "/version", ""); string(r.Body) != "v2" {
		t.Fatalf("new config not active after reload: %s", r)
	}
	if !c.running() {
		t.Fatal("caddy exited after reload")
	}
	c.wantActive(t, tr.AccessToken)
	c.wantActive(t, cc.AccessToken)
	c.wantInvalid(t, revoked.AccessToken)
	tr2 := decodeToken(t, c.refresh(t, tr.RefreshToken, ""))
	c.wantActive(t, tr2.AccessToken)

	// A forced reload of the same config re-provisions everything once more.
	out, err = caddyCommand(t, c.home, c.dir, "reload", "--force", "--config", next, "--adapter", "caddyfile",
		"--address", c.adminAddr())
	if err != nil {
		t.Fatalf("second caddy reload: %v\n%s", err, out)
	}
	c.wantActive(t, tr2.AccessToken)
	c.wantInvalid(t, revoked.AccessToken)
	decodeToken(t, c.refresh(t, tr2.RefreshToken, ""))
}

func (c *caddyServer) adminAddr() string {
	return "127.0.0.1:" + strconv.Itoa(c.adminPort)
}

// TestStoreHoldsNoCredentials reads the raw bytes of the bbolt file, its
// journal and Caddy's debug log after use: no token, secret or password is
// in them.
func TestStoreHoldsNoCredentials(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{ExtraGlobal: "debug"})
	var secrets []string
	add := func(tr tokenResponse) tokenResponse {
		secrets = append(secrets, tr.AccessToken)
		if tr.RefreshToken != "" {
			secrets = append(secrets, tr.RefreshToken)
		}
		return tr
	}
	p1 := add(c.passwordToken(t, "read update"))
	c.wantActive(t, p1.AccessToken)
	p2 := add(decodeToken(t, c.refresh(t, p1.RefreshToken, "")))
	add(c.ccToken(t, "read"))
	add(c.mustTokenAs(t, otherClient, otherSecret, url.Values{"grant_type": {"client_credentials"}}))
	p3 := add(c.passwordToken(t, "read"))
	wantEmpty200(t, c.revoke(t, mainClient, mainSecret, p3.RefreshToken, ""))
	c.post(t, "/introspect", url.Values{"token": {p2.AccessToken}}.Encode(), withBasic(mainClient, mainSecret))
	c.stop()

	var db []byte
	for _, name := range []string{c.db, c.db + "-wal0", c.db + "-wal1"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("reading the token database: %v", err)
		}
		db = append(db, b...)
	}
	if !isBbolt(c.db) {
		t.Fatalf("%s is not a bbolt file", c.db)
	}
	logs := []byte(c.logs.String())
	check := func(what string, needle []byte) {
		if len(needle) < 8 {
			return
		}
		if bytes.Contains(db, needle) {
			t.Errorf("the bbolt file or its journal contains %s", what)
		}
		if bytes.Contains(logs, needle) {
			t.Errorf("caddy's log contains %s", what)
		}
	}
	for i, tok := range secrets {
		check("token #"+strconv.Itoa(i), []byte(tok))
		// Also without its prefix, and its decoded random bytes.
		if j := strings.LastIndexByte(tok, '_'); j >= 0 && j < len(tok)-1 {
			body := tok[j+1:]
			check("the body of token #"+strconv.Itoa(i), []byte(body))
			if raw, err := base64.RawURLEncoding.DecodeString(body); err == nil {
				check("the random bytes of token #"+strconv.Itoa(i), raw)
			}
		}
	}
	for name, s := range map[string]string{
		"the main client's secret":  mainSecret,
		"the other client's secret": otherSecret,
		"admin's password":          adminPassword,
	} {
		check(name, []byte(s))
	}
}

// TestValidateWhileRunning runs `caddy validate` on the config of a running
// Caddy (same bbolt file): it must finish (bbolt's file lock must not hang
// it), say why if it fails, and leave the running server working.
func TestValidateWhileRunning(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{})
	tr := c.ccToken(t, "read")
	start := time.Now()
	out, err := caddyCommand(t, c.home, c.dir, "validate", "--config", c.config, "--adapter", "caddyfile")
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("caddy validate took %v", d)
	}
	if err != nil {
		low := strings.ToLower(out)
		if !strings.Contains(low, "lock") && !strings.Contains(out, c.db) {
			t.Errorf("caddy validate failed without naming the locked database: %v\n%s", err, lastLines(out, 5))
		}
	}
	if !c.running() {
		t.Fatal("the running caddy exited")
	}
	c.wantActive(t, tr.AccessToken)
	c.ccToken(t, "read")
}
