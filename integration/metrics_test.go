package integration

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestMetrics reads the plugin's counters from Caddy's Prometheus
// registry, as served by the admin endpoint's /metrics.
func TestMetrics(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory"})
	tok := c.ccToken(t, "read")
	c.wantActive(t, tok.AccessToken) // a cache miss
	c.wantActive(t, tok.AccessToken) // a cache hit
	wantEmpty200(t, c.revoke(t, mainClient, mainSecret, tok.AccessToken, ""))
	c.wantInvalid(t, tok.AccessToken)
	c.post(t, "/token", "grant_type=client_credentials", withBasic(mainClient, "wrong"))

	body := c.metrics(t)
	for _, want := range []string{
		`caddy_oauth_tokens_issued_total{grant_type="client_credentials"} 1`,
		`caddy_oauth_validations_total{result="cache_miss"} 1`,
		`caddy_oauth_validations_total{result="cache_hit"} 1`,
		`caddy_oauth_validations_total{result="invalid"} 1`,
		`caddy_oauth_revocations_total 1`,
		`caddy_oauth_errors_total{error="invalid_client"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		for _, line := range strings.Split(body, "\n") {
			if strings.Contains(line, "oauth") {
				t.Log(line)
			}
		}
	}
}

// metrics returns what the admin endpoint's /metrics of c serves.
func (c *caddyServer) metrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(c.adminPort) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}
