package caddyfile

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile" // the caddyfile adapter
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-oauth/caddy-oauth/grants"
	_ "github.com/caddy-oauth/caddy-oauth/storage/bbolt"
	_ "github.com/caddy-oauth/caddy-oauth/storage/memory"
	_ "github.com/caddy-oauth/caddy-oauth/storage/postgres"
	_ "github.com/caddy-oauth/caddy-oauth/storage/redis"
)

var update = flag.Bool("update", false, "rewrite the expected JSON of testdata/*.caddyfiletest from the adapter's output")

// separator splits a .caddyfiletest file into its Caddyfile and the JSON
// the Caddyfile adapts to, as in Caddy's caddytest/integration/caddyfile_adapt.
const separator = "----------"

// adapt runs the caddyfile adapter on input and returns its JSON indented
// with tabs, as Caddy's caddytest.CompareAdapt does.
func adapt(filename string, input []byte) (string, []caddyconfig.Warning, error) {
	adapter := caddyconfig.GetAdapter("caddyfile")
	if adapter == nil {
		return "", nil, fmt.Errorf("no caddyfile adapter registered")
	}
	out, warnings, err := adapter.Adapt(input, map[string]any{"filename": filename})
	if err != nil {
		return "", warnings, err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "\t"); err != nil {
		return "", warnings, err
	}
	return buf.String(), warnings, nil
}

// TestAdapt adapts each testdata/*.caddyfiletest and compares the result
// with the JSON it holds. Run `go test ./caddyfile -update` to rewrite the
// expected JSON after a deliberate change, then review the diff.
func TestAdapt(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.caddyfiletest"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.caddyfiletest files")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".caddyfiletest"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, expected, ok := strings.Cut(strings.ReplaceAll(string(data), "\r\n", "\n"), separator)
			if !ok {
				t.Fatalf("%s: no %q line between the Caddyfile and the JSON", file, separator)
			}
			input = strings.TrimSpace(input) + "\n"
			expected = strings.TrimSpace(expected)

			got, warnings, err := adapt(file, []byte(input))
			if err != nil {
				t.Fatalf("adapting: %v", err)
			}
			for _, w := range warnings {
				t.Errorf("warning: %s:%d: %s", w.File, w.Line, w.Message)
			}
			if *update {
				if err := os.WriteFile(file, []byte(input+separator+"\n"+got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != expected {
				t.Errorf("adapted JSON differs from the expected JSON\n%s", lineDiff(expected, got))
			}
		})
	}
}

// lineDiff describes the first line where want and got differ, with some
// context, and gives got in full.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	line := func(lines []string, i int) string {
		if i < len(lines) {
			return lines[i]
		}
		return "<end>"
	}
	return fmt.Sprintf("first difference at line %d:\n  want: %s\n  got:  %s\nfull output:\n%s",
		i+1, line(w, i), line(g, i), got)
}

// TestExamples checks that every example Caddyfile adapts without warnings
// and that `caddy fmt` leaves it unchanged.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "examples", "*Caddyfile*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no examples/*Caddyfile* files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if formatted := caddyfile.Format(data); !bytes.Equal(formatted, data) {
				t.Errorf("caddy fmt changes %s; it should read:\n%s", file, formatted)
			}
			_, warnings, err := adapt(file, data)
			if err != nil {
				t.Fatalf("adapting %s: %v", file, err)
			}
			for _, w := range warnings {
				t.Errorf("warning: %s:%d: %s", w.File, w.Line, w.Message)
			}
		})
	}
}
