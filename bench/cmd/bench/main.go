// Command bench runs caddy-oauth's benchmarks: it builds Caddy with the
// plugin, the fosite and go-oauth2 peer servers and a tiny upstream, starts
// them on free 127.0.0.1 ports, runs each comparison interleaved over several
// rounds, prints medians and ratios as Markdown, writes results.json and PNG
// charts, and stops every process it started.
//
//	bench/run.sh            # default: 4 rounds × 3 s, about 6 minutes
//	bench/run.sh -quick     # about a minute and a half
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// defaultOnly is every benchmark, in the order they run.
const defaultOnly = "gate,issuance,scale,stores,cache,gobench"

// options are the command's flags.
type options struct {
	src, out     string
	run          runConfig
	gateRounds   int
	gateDuration time.Duration
	quick        bool
	only         string
	bcryptCost   int
	scale        string
	postgres     string // admin DSN of the stores benchmark's PostgreSQL server
	redis        string // URL of the stores benchmark's Redis server
	keep         bool
	timeout      time.Duration
	serverCPUs   string // taskset's CPU list for every server; "" for no pinning
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.src, "src", ".", "the bench module directory")
	flag.StringVar(&o.out, "out", "results", "directory for results.json, summary.md and the charts")
	flag.IntVar(&o.run.Rounds, "rounds", 4, "rounds per comparison; each round runs every target once")
	flag.DurationVar(&o.run.Duration, "duration", 3*time.Second, "measured duration of one target in one round")
	flag.DurationVar(&o.run.Warmup, "warmup", 300*time.Millisecond, "unmeasured warmup before each measured run")
	flag.IntVar(&o.run.Conns, "conns", 50, "concurrent keep-alive connections")
	// The gate's targets are the tightest (5% and 10%) and the machine is
	// shared: many short interleaved rounds average out drift that a few
	// long ones catch on one side only.
	flag.IntVar(&o.gateRounds, "gate-rounds", 20, "rounds of the gate comparison")
	flag.DurationVar(&o.gateDuration, "gate-duration", 1500*time.Millisecond, "measured duration of one gate target in one round")
	flag.BoolVar(&o.quick, "quick", false, "2 rounds of 2s, scale at 10k/100k, no plugin Go benchmarks (about a minute and a half)")
	flag.StringVar(&o.only, "only", defaultOnly, "comma-separated benchmarks to run")
	flag.IntVar(&o.bcryptCost, "bcrypt-cost", bcrypt.MinCost, "bcrypt cost of the user's password hash (basic_auth, password grant) and of fosite's client secret")
	flag.StringVar(&o.scale, "scale", "10000,1000000", "store sizes of the scale benchmark")
	flag.StringVar(&o.postgres, "postgres", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL server of the stores benchmark (it creates and drops a database of its own)")
	flag.StringVar(&o.redis, "redis", "redis://127.0.0.1:6379/0", "Redis server of the stores benchmark (it uses and then removes a key prefix of its own)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (logs, Caddyfiles, databases)")
	flag.DurationVar(&o.timeout, "timeout", 20*time.Minute, "hard limit on the whole run")
	flag.StringVar(&o.serverCPUs, "server-cpus", "", "run every server on these CPUs (a taskset list such as 1 or 2-3), apart from the load generator: start the run itself pinned elsewhere, e.g. taskset -c 0 bench/run.sh -server-cpus 1")
	flag.Parse()
	if o.quick {
		o.run = runConfig{Rounds: 2, Duration: 2 * time.Second, Warmup: 300 * time.Millisecond, Conns: o.run.Conns}
		o.gateRounds, o.gateDuration = 4, time.Second
		o.scale = "10000,100000"
		if o.only == defaultOnly {
			o.only = "gate,issuance,scale,stores,cache"
		}
	}
	return o
}

func main() {
	log.SetFlags(log.Ltime)
	o := parseFlags()
	if err := run(o); err != nil {
		log.Print("bench: ", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.run.Rounds < 1 || o.gateRounds < 1 || o.run.Duration <= 0 || o.run.Conns < 1 {
		return errors.New("need -rounds ≥ 1, -gate-rounds ≥ 1, -duration > 0 and -conns ≥ 1")
	}
	want := strings.Split(o.only, ",")
	for _, w := range want {
		if !slices.Contains(strings.Split(defaultOnly, ","), w) {
			return fmt.Errorf("-only: unknown benchmark %q (known: %s)", w, defaultOnly)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	dir, err := os.MkdirTemp("", "caddy-oauth-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		log.Printf("temporary files kept in %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", o.out, err)
	}

	// Servers get a home of their own, so Caddy writes nothing outside dir.
	ps := &procs{dir: dir, cpus: o.serverCPUs, env: append(os.Environ(),
		"HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))}
	defer ps.stopAll()

	log.Printf("building into %s", dir)
	programs := []string{"caddy", "fosite", "gooauth2", "upstream"}
	if slices.Contains(want, "issuance") {
		programs = append(programs, caddyNoDatasync)
	}
	bins, err := build(ctx, o.src, dir, programs...)
	if err != nil {
		return err
	}
	e := &env{dir: dir, bins: bins, procs: ps}
	if e.userHash, err = hashPassword(ctx, bins["caddy"], userPassword, o.bcryptCost); err != nil {
		return err
	}

	rep := newReport(o.run, strings.TrimSpace("bench/run.sh "+strings.Join(os.Args[1:], " ")))
	rep.Plugin = pluginVersion(o.src)
	if o.serverCPUs != "" {
		rep.note("servers pinned to CPUs %s (taskset); this run, and so the load generator, on CPUs %s", o.serverCPUs, allowedCPUs())
	}
	rep.note("bcrypt cost %d for the user's password (caddy-oauth password grant, basic_auth) and fosite's client secret; caddy-oauth's client uses a plain `secret` (compared by SHA-256), go-oauth2 and the fosite/go-oauth2 users compare plain text.", o.bcryptCost)
	if slices.Contains(want, "gate") || slices.Contains(want, "scale") {
		if _, err := e.upstreamPort(ctx); err != nil {
			return err
		}
	}
	var failed []string
	step := func(name string, f func() error) {
		if !slices.Contains(want, name) {
			return
		}
		if ctx.Err() != nil {
			failed = append(failed, name+": not run: "+ctx.Err().Error())
			return
		}
		log.Printf("== %s", name)
		started := ps.count()
		defer ps.stopSince(started)
		if err := f(); err != nil {
			log.Printf("%s failed: %v", name, err)
			failed = append(failed, name+": "+err.Error())
			first, _, _ := strings.Cut(err.Error(), "\n")
			rep.note("%s: failed: %s", name, first)
		}
	}

	step("gate", func() error {
		rc := o.run
		rc.Rounds, rc.Duration = o.gateRounds, o.gateDuration
		c, err := gateBench(ctx, e, rc, e.upstream)
		if err != nil {
			return err
		}
		rep.add(c)
		checkGate(rep, c)
		return writeChart(c, filepath.Join(o.out, "gate.png"))
	})
	step("issuance", func() error {
		ts, err := startTokenServers(ctx, e, o.bcryptCost)
		if err != nil {
			return err
		}
		cs, err := issuanceBench(ctx, o.run, ts)
		if err != nil {
			return err
		}
		for _, c := range cs {
			rep.add(c)
		}
		checkIssuance(rep, cs[0])
		return writeChart(cs[0], filepath.Join(o.out, "issuance.png"))
	})
	step("scale", func() error { return scaleBench(ctx, e, o, rep) })
	step("stores", func() error { return storesBench(ctx, e, o, rep) })
	step("cache", func() error { return cacheBench(ctx, e, o, rep) })
	step("gobench", func() error { return goBench(ctx, o, rep) })

	ps.stopAll()
	if err := rep.writeJSON(filepath.Join(o.out, "results.json")); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(o.out, "summary.md"))
	if err != nil {
		return err
	}
	rep.writeMarkdown(f)
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Println()
	rep.writeMarkdown(os.Stdout)
	log.Printf("wrote %s/{results.json,summary.md,*.png}", o.out)
	if len(failed) > 0 {
		return fmt.Errorf("%d benchmark(s) failed:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return nil
}
