package main

import (
	"bytes"
	"fmt"
	"os"
	"text/template"
)

// caddyConfig is one caddy-oauth instance of the benchmark: the oauth app
// with one client and one user, an oauth_server site and gate sites that
// reverse-proxy to the upstream.
type caddyConfig struct {
	Storage      string // "memory" or "bbolt <path>"
	CacheSize    int    // validation cache entries; 0 for the default
	UserHash     string // bcrypt hash of the user's password
	TokenPort    int
	UpstreamPort int
	Gates        []gateSite
}

// gateSite is one reverse-proxy site; Auth is the directive (or block) in
// front of reverse_proxy, empty for none.
type gateSite struct {
	Port int
	Auth string
}

// The upstream transport is the same on every gate site: Caddy's default
// per-host idle pool is small enough to cost throughput at 50 connections,
// and it must not differ between the sides compared.
var caddyfileTemplate = template.Must(template.New("Caddyfile").Parse(`{
	admin off
	auto_https off
	oauth {
		storage {{.Storage}}
{{- if .CacheSize}}
		cache_size {{.CacheSize}}
{{- end}}
		client bench {
			secret benchsecret
			grant_types client_credentials password refresh_token
			scopes default read
		}
		user alice {{.UserHash}}
	}
}

http://127.0.0.1:{{.TokenPort}} {
	oauth_server
}
{{range .Gates}}
http://127.0.0.1:{{.Port}} {
	route {
{{- if .Auth}}
		{{.Auth}}
{{- end}}
		reverse_proxy 127.0.0.1:{{$.UpstreamPort}} {
			transport http {
				keepalive_idle_conns_per_host 1024
			}
		}
	}
}
{{end}}`))

// basicAuth is the basic_auth block of the reference gate.
func basicAuth(user, hash string) string {
	return fmt.Sprintf("basic_auth {\n\t\t\t%s %s\n\t\t}", user, hash)
}

// write renders the Caddyfile to path.
func (c caddyConfig) write(path string) error {
	var buf bytes.Buffer
	if err := caddyfileTemplate.Execute(&buf, c); err != nil {
		return fmt.Errorf("rendering Caddyfile: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing Caddyfile: %w", err)
	}
	return nil
}
