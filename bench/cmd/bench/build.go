package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// program is a main package of the bench tree: the module directory to
// build in (relative to the bench module), the package in it and the build
// tags, if any.
type program struct{ dir, pkg, tags string }

// binaries are the programs a run builds, by name. The fosite peer is a
// module of its own (see peers/fosite/go.mod).
var binaries = map[string]program{
	"caddy":    {".", "./cmd/caddy", ""},
	"fosite":   {"peers/fosite", ".", ""},
	"gooauth2": {".", "./peers/gooauth2", ""},
	"upstream": {".", "./cmd/upstream", ""},
	"cachemem": {".", "./cmd/cachemem", ""},
	"prefill":  {".", "./cmd/prefill", ""},

	// caddyNoDatasync is the same Caddy with the bbolt journal's flush
	// compiled out: not durable, a reference for what the flush costs.
	caddyNoDatasync: {".", "./cmd/caddy", "caddyoauth_nodatasync"},
}

const caddyNoDatasync = "caddy-nodatasync"

// build compiles each named program of the bench module in src into dir
// and returns their paths by name.
func build(ctx context.Context, src, dir string, names ...string) (map[string]string, error) {
	paths := make(map[string]string, len(names))
	for _, name := range names {
		prog, ok := binaries[name]
		if !ok {
			return nil, fmt.Errorf("building %s: unknown program", name)
		}
		out := filepath.Join(dir, name)
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", prog.tags, "-o", out, prog.pkg)
		cmd.Dir = filepath.Join(src, prog.dir)
		cmd.Env = os.Environ()
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building %s (%s in %s): %w\n%s", name, prog.pkg, prog.dir, err, strings.TrimSpace(string(b)))
		}
		paths[name] = out
	}
	return paths, nil
}
