package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/caddy-oauth/caddy-oauth/bench/load"
)

// target is one side of a comparison.
type target struct {
	Name    string
	Request load.RequestFunc
}

// runConfig is the shape of every load run.
type runConfig struct {
	Rounds   int
	Duration time.Duration
	Warmup   time.Duration
	Conns    int
}

// comparison is the outcome of running several targets interleaved.
type comparison struct {
	Title   string                    `json:"title"`
	Config  runConfig                 `json:"config"`
	Targets []string                  `json:"targets"`
	Rounds  map[string][]*load.Result `json:"rounds"`
	// LoadAvg is the machine's 1-minute load average before and after:
	// other work on a shared machine shows here.
	LoadAvg [2]string `json:"load_avg"`
}

// compare runs every target once per round, rotating the order each round
// so that no target always runs first or last, and keeps every result.
func compare(ctx context.Context, rc runConfig, title string, targets []target) (*comparison, error) {
	c := &comparison{Title: title, Config: rc, Rounds: map[string][]*load.Result{}}
	c.LoadAvg[0] = loadAvg()
	defer func() { c.LoadAvg[1] = loadAvg() }()
	for _, t := range targets {
		c.Targets = append(c.Targets, t.Name)
	}
	for r := range rc.Rounds {
		for i := range targets {
			t := targets[(i+r)%len(targets)]
			res, err := load.Run(ctx, load.Config{
				Conns: rc.Conns, Duration: rc.Duration, Warmup: rc.Warmup, Request: t.Request,
			})
			if err != nil {
				return nil, fmt.Errorf("%s: %s, round %d: %w", title, t.Name, r+1, err)
			}
			log.Printf("%-22s round %d/%d %-28s %9.0f req/s  p50 %-10v p99 %-10v errors %d %s",
				title, r+1, rc.Rounds, t.Name, res.RPS, round(res.P50), round(res.P99), res.Errors, res.FirstError)
			c.Rounds[t.Name] = append(c.Rounds[t.Name], res)
		}
	}
	return c, nil
}

// summary is the medians of one target over its rounds.
type summary struct {
	RPS    float64       `json:"rps"`
	P50    time.Duration `json:"p50_ns"`
	P99    time.Duration `json:"p99_ns"`
	Errors int           `json:"errors"`
}

func (c *comparison) summary(name string) summary {
	rs := c.Rounds[name]
	var s summary
	var rps []float64
	var p50, p99 []time.Duration
	for _, r := range rs {
		rps = append(rps, r.RPS)
		p50 = append(p50, r.P50)
		p99 = append(p99, r.P99)
		s.Errors += r.Errors
	}
	s.RPS = median(rps)
	s.P50 = median(p50)
	s.P99 = median(p99)
	return s
}

// pairedRatio is the median over rounds of name's rate divided by base's
// in the same round. The targets of a round run one after the other, so a
// machine that speeds up or slows down between rounds moves both alike:
// on a shared machine this is steadier than a ratio of medians.
func (c *comparison) pairedRatio(name, base string) float64 {
	got, ref := c.Rounds[name], c.Rounds[base]
	var ratios []float64
	for i := range min(len(got), len(ref)) {
		if ref[i].RPS > 0 {
			ratios = append(ratios, got[i].RPS/ref[i].RPS)
		}
	}
	return median(ratios)
}

// median of the values; the mean of the middle two for an even count.
func median[T float64 | time.Duration](vs []T) T {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// loadAvg returns the 1-minute load average, or "?" where there is none.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
