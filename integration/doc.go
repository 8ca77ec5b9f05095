// Package integration holds the end-to-end tests of caddy-oauth: they build a
// real Caddy binary with the plugin, run it as a subprocess on loopback ports
// and talk to it with golang.org/x/oauth2 and plain HTTP.
//
// Run them with:
//
//	go test ./integration/...
//
// TestMain builds the binary once per run (from ./cmd/caddy, the main.go that
// xcaddy generates); set CADDY_OAUTH_XCADDY_BUILD=1 to build it instead the
// way `xcaddy build --with github.com/caddy-oauth/caddy-oauth` does, in a
// temporary module that requires and replaces this one, or set
// CADDY_OAUTH_CADDY_BIN to test a binary built elsewhere.
package integration
