package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-oauth/caddy-oauth/bench/load"
)

func fakeComparison() *comparison {
	res := func(rps float64, p99 time.Duration) *load.Result {
		return &load.Result{RPS: rps, P50: p99 / 4, P99: p99, Requests: int(rps)}
	}
	return &comparison{
		Title:   "gate",
		Targets: []string{"no auth", "oauth_bearer"},
		Rounds: map[string][]*load.Result{
			"no auth":      {res(1000, 10*time.Millisecond), res(1200, 12*time.Millisecond), res(1100, 11*time.Millisecond)},
			"oauth_bearer": {res(900, 11*time.Millisecond), res(1000, 13*time.Millisecond), res(1100, 12*time.Millisecond)},
		},
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestSummaryIsMedianOfRounds(t *testing.T) {
	s := fakeComparison().summary("no auth")
	if s.RPS != 1100 || s.P99 != 11*time.Millisecond {
		t.Errorf("summary = %+v, want 1100 req/s and p99 11ms", s)
	}
}

func TestPairedRatio(t *testing.T) {
	rounds := func(rps ...float64) []*load.Result {
		var rs []*load.Result
		for _, v := range rps {
			rs = append(rs, &load.Result{RPS: v})
		}
		return rs
	}
	for _, tc := range []struct {
		name      string
		got, base []*load.Result
		want      float64
	}{
		{"the machine slows down between rounds", rounds(900, 1800, 2700), rounds(1000, 2000, 3000), 0.9},
		{"median of the per-round ratios", rounds(500, 1000, 1100), rounds(1000, 1000, 1000), 1.0},
		{"a round the base lacks is left out", rounds(900, 1800, 5000), rounds(1000, 2000), 0.9},
		{"a base round with no rate is left out", rounds(900, 700), rounds(1000, 0), 0.9},
		{"no rounds", nil, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &comparison{Rounds: map[string][]*load.Result{"a": tc.got, "b": tc.base}}
			if got := c.pairedRatio("a", "b"); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("pairedRatio = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReportMarkdownAndChecks(t *testing.T) {
	c := fakeComparison()
	r := newReport(runConfig{Rounds: 3, Duration: time.Second, Conns: 2}, "test")
	r.add(c)
	checkGate(r, c)
	var buf bytes.Buffer
	r.writeMarkdown(&buf)
	out := buf.String()
	for _, want := range []string{"| no auth | 1100 | 1.000 | 1.000 |", "| oauth_bearer | 1000 | 0.909 | 0.900 |", "| gate: oauth_bearer ≥ 95% of no-auth throughput | no |"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteChart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gate.png")
	if err := writeChart(fakeComparison(), path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("%s is not a PNG", path)
	}
}

func TestCaddyfileRendersGates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Caddyfile")
	cfg := caddyConfig{Storage: "memory", CacheSize: 1, UserHash: "$2a$04$x", TokenPort: 1, UpstreamPort: 2,
		Gates: []gateSite{{Port: 3}, {Port: 4, Auth: "oauth_bearer read"}}}
	if err := cfg.write(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	s := string(b)
	for _, want := range []string{"storage memory\n", "cache_size 1\n", "user alice $2a$04$x\n", "http://127.0.0.1:1 {\n\toauth_server\n}",
		"http://127.0.0.1:4 {\n\troute {\n\t\toauth_bearer read\n\t\treverse_proxy 127.0.0.1:2 {",
		"keepalive_idle_conns_per_host 1024"} {
		if !strings.Contains(s, want) {
			t.Errorf("Caddyfile lacks %q:\n%s", want, s)
		}
	}
	if strings.Count(s, "keepalive_idle_conns_per_host 1024") != 2 {
		t.Errorf("every gate site needs the same transport:\n%s", s)
	}
}
