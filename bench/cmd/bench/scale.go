package main

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-oauth/caddy-oauth/bench/load"
	"github.com/caddy-oauth/caddy-oauth/bench/tokens"
)

// scaleBench measures client_credentials issuance and cache-miss validation
// on bbolt stores pre-filled with each size of -scale. The gate's cache is
// set to one entry and every request presents a random pre-filled token, so
// (almost) every validation reads the store.
func scaleBench(ctx context.Context, e *env, o options, rep *report) error {
	sizes, err := parseSizes(o.scale)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(o.src, "cmd", "prefill")); err != nil {
		return fmt.Errorf("no cmd/prefill to fill the store: %w", err)
	}
	bins, err := build(ctx, o.src, e.dir, "prefill")
	if err != nil {
		return err
	}
	upstream, err := e.upstreamPort(ctx)
	if err != nil {
		return err
	}

	var issue, validate []target
	for _, n := range sizes {
		db := filepath.Join(e.dir, fmt.Sprintf("scale-%d.db", n))
		start := time.Now()
		cmd := exec.CommandContext(ctx, bins["prefill"], "-db", db, "-n", strconv.Itoa(n))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("prefill %d tokens: %w\n%s", n, err, out)
		}
		took := time.Since(start)
		size := fileSize(db)
		log.Printf("pre-filled %s with %d tokens in %v (%d MiB)", db, n, took.Round(time.Millisecond), size>>20)
		rep.note("scale: pre-filled bbolt with %s access tokens in %v (file %d MiB)", sizeName(n), took.Round(100*time.Millisecond), size>>20)

		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		cfg := caddyConfig{
			Storage:      "bbolt " + db,
			UserHash:     e.userHash,
			TokenPort:    ports[0],
			CacheSize:    1,
			UpstreamPort: upstream,
			Gates:        []gateSite{{Port: ports[1], Auth: "oauth_bearer read"}},
		}
		if err := e.startCaddy(ctx, fmt.Sprintf("caddy-scale-%d", n), cfg); err != nil {
			return err
		}
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
		issue = append(issue, target{
			Name:    "issue, " + sizeName(n) + " stored",
			Request: load.PostForm(baseURL(ports[0])+"/token", form, clientID, clientSecret),
		})
		validate = append(validate, target{
			Name:    "miss, " + sizeName(n) + " stored",
			Request: load.Bearer(baseURL(ports[1])+"/", func(int, int) string { return tokens.Access(rand.IntN(n)) }),
		})
	}

	ci, err := compare(ctx, o.run, "scale: client_credentials issuance (bbolt)", issue)
	if err != nil {
		return err
	}
	rep.add(ci)
	cv, err := compare(ctx, o.run, "scale: cache-miss validation via oauth_bearer (bbolt, cache_size 1)", validate)
	if err != nil {
		return err
	}
	rep.add(cv)
	small, large := issue[0].Name, issue[len(issue)-1].Name
	rep.checkRatio(fmt.Sprintf("scale: issuance with %s stored within 20%% of %s", sizeName(sizes[len(sizes)-1]), sizeName(sizes[0])),
		ci.summary(large).RPS, ci.summary(small).RPS, 0.80, 0, "req/s")
	return writeChart(cv, filepath.Join(o.out, "scale-validation.png"))
}

func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-scale: %q is not a positive count", f)
		}
		sizes = append(sizes, n)
	}
	if len(sizes) < 2 {
		return nil, fmt.Errorf("-scale: want at least two sizes, got %q", s)
	}
	return sizes, nil
}

// sizeName writes 10000 as 10k and 1000000 as 1M.
func sizeName(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
