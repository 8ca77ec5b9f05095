package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestListModules checks that one build registers every module.
func TestListModules(t *testing.T) {
	t.Parallel()
	out, err := caddyCommand(t, t.TempDir(), t.TempDir(), "list-modules")
	if err != nil {
		t.Fatalf("caddy list-modules: %v\n%s", err, out)
	}
	have := make(map[string]bool)
	for _, line := range strings.Split(out, "\n") {
		have[strings.TrimSpace(line)] = true
	}
	for _, m := range []string{
		"oauth",
		"http.handlers.oauth_server",
		"http.handlers.oauth_bearer",
		"oauth.storage.bbolt",
		"oauth.storage.memory",
		"oauth.storage.postgres",
		"oauth.storage.redis",
		"oauth.grants.password",
		"oauth.grants.client_credentials",
		"oauth.grants.refresh_token",
		"oauth.grants.authorization_code",
		"oauth.grants.saml2_bearer",
	} {
		if !have[m] {
			t.Errorf("caddy list-modules lacks %s", m)
		}
	}
}

// TestExamples adapts every example Caddyfile, checks `caddy fmt` leaves it
// unchanged and validates examples/Caddyfile.
func TestExamples(t *testing.T) {
	t.Parallel()
	var files []string
	_ = filepath.WalkDir(filepath.Join(repoRoot, "examples"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "Caddyfile") {
			files = append(files, path)
		}
		return nil
	})
	main := filepath.Join(repoRoot, "examples", "Caddyfile")
	if _, err := os.Stat(main); err != nil {
		t.Errorf("examples/Caddyfile: %v", err)
	}
	for _, f := range files {
		rel, _ := filepath.Rel(repoRoot, f)
		t.Run(rel, func(t *testing.T) {
			home, dir := t.TempDir(), t.TempDir()
			out, err := caddyCommand(t, home, dir, "adapt", "--config", f, "--adapter", "caddyfile")
			if err != nil {
				t.Fatalf("caddy adapt: %v\n%s", err, out)
			}
			// adapt prints the JSON on stdout and warnings on stderr;
			// the JSON is the line starting with '{'.
			var cfg struct {
				Apps map[string]json.RawMessage `json:"apps"`
			}
			if err := json.Unmarshal([]byte(jsonLine(out)), &cfg); err != nil {
				t.Fatalf("adapted config is not JSON: %v\n%s", err, out)
			}
			if strings.Contains(out, `"oauth`) && cfg.Apps["oauth"] == nil {
				t.Errorf("adapted config has no apps.oauth:\n%s", out)
			}
			if strings.Contains(strings.ToLower(out), "not formatted") {
				t.Errorf("adapt warns the example is not formatted:\n%s", out)
			}
			if out, err := caddyCommand(t, home, dir, "fmt", f); err != nil {
				t.Errorf("caddy fmt: %v\n%s", err, out)
			}
		})
	}

	// validate provisions every module; point the data dir at a temp dir.
	t.Run("validate examples/Caddyfile", func(t *testing.T) {
		home, dir := t.TempDir(), t.TempDir()
		out, err := caddyCommand(t, home, dir, "validate", "--config", main, "--adapter", "caddyfile")
		if err != nil {
			t.Errorf("caddy validate: %v\n%s", err, out)
		}
	})
}

// jsonLine returns the first line of out that looks like a JSON object.
func jsonLine(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "{") {
			return line
		}
	}
	return out
}

// TestValidateStandardConfig validates the test Caddyfile (SPEC §2 on
// loopback) with both storages, and shows adapt produces the oauth app with
// the configured values.
func TestValidateStandardConfig(t *testing.T) {
	t.Parallel()
	for _, storage := range []string{"memory", ""} {
		name := storage
		if name == "" {
			name = "bbolt"
		}
		t.Run(name, func(t *testing.T) {
			c := newCaddy(t, config{Storage: storage})
			out, err := caddyCommand(t, c.home, c.dir, "validate", "--config", c.config, "--adapter", "caddyfile")
			if err != nil {
				t.Fatalf("caddy validate: %v\n%s", err, out)
			}
			out, err = caddyCommand(t, c.home, c.dir, "adapt", "--config", c.config, "--adapter", "caddyfile")
			if err != nil {
				t.Fatalf("caddy adapt: %v\n%s", err, out)
			}
			var cfg struct {
				Apps struct {
					OAuth map[string]any `json:"oauth"`
				} `json:"apps"`
			}
			if err := json.Unmarshal([]byte(jsonLine(out)), &cfg); err != nil {
				t.Fatalf("adapt output: %v\n%s", err, out)
			}
			if cfg.Apps.OAuth == nil {
				t.Fatalf("no apps.oauth in:\n%s", out)
			}
			if cfg.Apps.OAuth["revocation_headers"] != true {
				t.Errorf("revocation_headers not adapted: %v", cfg.Apps.OAuth)
			}
		})
	}
}

// configErrorTemplate wraps an oauth block body in a minimal Caddyfile.
const configErrorTemplate = `{
	admin off
	auto_https off
	persist_config off
	oauth {
		storage memory
%s
	}
}

http://127.0.0.1:%d {
	oauth_server
}
`

// TestConfigErrors shows configuration mistakes fail at load with a message
// naming the client (or user) and the field.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		body string
		want []string
	}{
		{"unknown grant type", `
		client badgrant {
			secret abcdefgh
			grant_types client_credentials teleport
		}`, []string{"badgrant", "grant_types", "teleport"}},
		{"confidential client without secret", `
		client nosecret {
			grant_types client_credentials
			scopes read
		}`, []string{"nosecret", "secret"}},
		{"http redirect uri to a remote host", `
		client badredirect {
			secret abcdefgh
			grant_types authorization_code
			redirect_uri http://app.example.com/callback
		}`, []string{"badredirect", "redirect_uri"}},
		{"redirect uri with fragment", `
		client fragredirect {
			secret abcdefgh
			grant_types authorization_code
			redirect_uri https://app.example.com/callback#x
		}`, []string{"fragredirect", "redirect_uri"}},
		{"bad secret hash", `
		client badhash {
			secret_hash not-a-hash
			grant_types client_credentials
		}`, []string{"badhash", "secret_hash"}},
		{"bad user hash", `
		user bob not-a-hash`, []string{"bob"}},
		{"public client with secret", `
		client pubsecret {
			public
			secret abcdefgh
			grant_types authorization_code
			redirect_uri http://127.0.0.1:8000/cb
		}`, []string{"pubsecret"}},
		{"code_ttl above 10m", `
		code_ttl 20m`, []string{"code_ttl"}},
		{"unknown client option", `
		client colourful {
			secret abcdefgh
			grant_types client_credentials
			colour blue
		}`, []string{"colour"}},
		{"unknown storage", `
		storage nosuchstore`, []string{"nosuchstore"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			home, dir := t.TempDir(), t.TempDir()
			cfgText := fmt.Sprintf(configErrorTemplate, tc.body, freePort(t))
			if strings.Contains(tc.body, "storage ") {
				// The case sets its own storage: drop the default line.
				cfgText = strings.Replace(cfgText, "\t\tstorage memory\n", "", 1)
			}
			file := filepath.Join(dir, "Caddyfile")
			if err := os.WriteFile(file, []byte(cfgText), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := caddyCommand(t, home, dir, "validate", "--config", file, "--adapter", "caddyfile")
			if err == nil {
				t.Fatalf("caddy validate accepted the config:\n%s\n%s", cfgText, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("error does not mention %q:\n%s", w, lastLines(out, 5))
				}
			}
		})
	}

	t.Run("caddy run fails", func(t *testing.T) {
		t.Parallel()
		home, dir := t.TempDir(), t.TempDir()
		cfgText := fmt.Sprintf(configErrorTemplate, `
		client runbad {
			grant_types client_credentials
		}`, freePort(t))
		file := filepath.Join(dir, "Caddyfile")
		if err := os.WriteFile(file, []byte(cfgText), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(caddyBin, "run", "--config", file, "--adapter", "caddyfile")
		cmd.Env = caddyEnv(home)
		cmd.Dir = dir
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("caddy run exited 0 with a bad config:\n%s", out.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("caddy run kept running with a bad config:\n%s", out.String())
		}
		for _, w := range []string{"runbad", "secret"} {
			if !strings.Contains(out.String(), w) {
				t.Errorf("caddy run's error does not mention %q:\n%s", w, lastLines(out.String(), 5))
			}
		}
	})
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
