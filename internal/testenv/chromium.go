package testenv

import (
	"errors"
	"os"
	"os/exec"
	"testing"
)

// ChromiumPath returns the Chromium or Chrome binary that browser tests
// drive: CADDY_OAUTH_TEST_CHROMIUM, or the first of the usual names on
// PATH. Without one it ends the test as Require does (`.ci/run` installs
// Debian's chromium package).
func ChromiumPath(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("CADDY_OAUTH_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Require(tb, "Chromium", errors.New("no chromium, chromium-browser, google-chrome or chrome on PATH, and CADDY_OAUTH_TEST_CHROMIUM is not set"))
	return ""
}
