// Package testenv lets tests that need a real service (PostgreSQL, Redis,
// Chromium) skip with a message on a machine without it, and fail under CI
// (CI=true), where a skip would hide that nothing was tested.
package testenv

import (
	"os"
	"testing"
)

// Require ends the test when err says that the service named what is not
// available: a failure under CI=true, a skip with err's message otherwise.
func Require(tb testing.TB, what string, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s is required under CI=true: %v", what, err)
	}
	tb.Skipf("skipping: %s is not available (%v); under CI=true this fails", what, err)
}
