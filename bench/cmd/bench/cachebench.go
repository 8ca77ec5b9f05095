package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// cacheEntries is the cache size the memory per entry is measured at.
const cacheEntries = 100_000

// cacheBench measures the validation cache's memory per entry, in a
// separate process so that nothing else of the run is on its heap.
func cacheBench(ctx context.Context, e *env, o options, rep *report) error {
	bins, err := build(ctx, o.src, e.dir, "cachemem")
	if err != nil {
		return err
	}
	for _, user := range []bool{false, true} {
		args := []string{"-n", fmt.Sprint(cacheEntries)}
		kind := "client_credentials tokens (no user)"
		if user {
			args = append(args, "-user")
			kind = "password-grant tokens (with a user name)"
		}
		out, err := exec.CommandContext(ctx, bins["cachemem"], args...).Output()
		if err != nil {
			return fmt.Errorf("cachemem: %w", err)
		}
		var res struct {
			Entries       int     `json:"entries"`
			BytesPerEntry float64 `json:"bytes_per_entry"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			return fmt.Errorf("cachemem output %q: %w", out, err)
		}
		rep.note("validation cache: %.0f bytes of live heap per entry at %d entries, %s (bench/cmd/cachemem, HeapAlloc after GC, before/after)",
			res.BytesPerEntry, res.Entries, kind)
	}
	return nil
}

// goBenchPackages are the plugin packages whose Go benchmarks are run; the
// integration tests are left out (their TestMain builds a Caddy).
var goBenchPackages = []string{"./caddyoauth/...", "./storage/...", "./grants/..."}

// goBench runs the plugin's own Go benchmarks (cold and warm validation
// in-process) and keeps their output as gobench.txt.
func goBench(ctx context.Context, o options, rep *report) error {
	root := filepath.Join(o.src, "..")
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", "1s", "-timeout", "5m"}, goBenchPackages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	var out, logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &logs
	err := cmd.Run()
	path := filepath.Join(o.out, "gobench.txt")
	if werr := os.WriteFile(path, append(out.Bytes(), logs.Bytes()...), 0o644); werr != nil {
		return werr
	}
	if err != nil {
		return fmt.Errorf("go test -bench in %s: %w (output in %s)", root, err, path)
	}
	rep.GoBench.Command = "go " + strings.Join(args, " ")
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "pkg: ") {
			rep.GoBench.Lines = append(rep.GoBench.Lines, l)
		}
	}
	return nil
}
