package integration

// TestMain builds the Caddy under test from the plugin's source in a
// subprocess, out of sight of go test's result cache. Linking the plugin
// into the test binary as well makes every change to it invalidate cached
// results, so a passing result is never one of older code.
import _ "github.com/caddy-oauth/caddy-oauth"
