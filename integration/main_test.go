package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

const modulePath = "github.com/caddy-oauth/caddy-oauth"

var (
	// caddyBin is the Caddy binary built by TestMain.
	caddyBin string
	// repoRoot is the absolute path of the module root.
	repoRoot string
	// adminHash is the bcrypt hash of adminPassword.
	adminHash string
	// readerHash is the bcrypt hash of readerPassword.
	readerHash string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	var err error
	repoRoot, err = filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: finding the repository root:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "caddy-oauth-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	caddyBin = filepath.Join(tmp, "caddy")
	if bin := os.Getenv("CADDY_OAUTH_CADDY_BIN"); bin != "" {
		// A prebuilt binary (for example one made by xcaddy).
		caddyBin, err = filepath.Abs(bin)
	} else if os.Getenv("CADDY_OAUTH_XCADDY_BUILD") != "" {
		err = buildLikeXcaddy(filepath.Join(tmp, "build"), caddyBin)
	} else {
		err = goCmd(repoRoot, "build", "-o", caddyBin, "./cmd/caddy")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: building caddy with the plugin: %v\n", err)
		return 1
	}

	for pw, dst := range map[string]*string{adminPassword: &adminHash, readerPassword: &readerHash} {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), 4)
		if err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: bcrypt:", err)
			return 1
		}
		*dst = string(h)
	}
	return m.Run()
}

// plugin is a Go module to build into Caddy from a local directory, as
// `xcaddy build --with <path>=<dir>` does.
type plugin struct{ path, dir string }

// buildLikeXcaddy builds caddy in a fresh module that requires the plugin
// (and any extra plugins) and replaces each with its local directory, as
// `xcaddy build --with` does.
func buildLikeXcaddy(dir, out string, extra ...plugin) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	plugins := append([]plugin{{modulePath, repoRoot}}, extra...)
	var gomod, imports strings.Builder
	gomod.WriteString("module caddybuild\n\ngo 1.26\n")
	for _, p := range plugins {
		fmt.Fprintf(&gomod, "\nrequire %s v0.0.0\n\nreplace %s => %s\n", p.path, p.path, p.dir)
		fmt.Fprintf(&imports, "\t_ %q\n", p.path)
	}
	mainGo := `package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
` + imports.String() + `)

func main() {
	caddycmd.Main()
}
`
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(mainGo), 0o644); err != nil {
		return err
	}
	if sum, err := os.ReadFile(filepath.Join(repoRoot, "go.sum")); err == nil {
		if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
			return err
		}
	}
	// The temporary module has its own go.mod: drop any -modfile of ours.
	env := []string{"GOFLAGS=-mod=mod", "GOWORK=off"}
	if err := goCmdEnv(dir, env, "mod", "tidy"); err != nil {
		return err
	}
	return goCmdEnv(dir, env, "build", "-o", out, ".")
}

func goCmd(dir string, args ...string) error { return goCmdEnv(dir, nil, args...) }

func goCmdEnv(dir string, env []string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}
