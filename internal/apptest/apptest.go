// Package apptest provisions the `oauth` app for unit tests outside a
// running Caddy.
package apptest

import (
	"context"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

// PasswordHash returns a bcrypt hash of password at the lowest cost, for
// the users of a test config.
func PasswordHash(tb testing.TB, password string) string {
	tb.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	return string(hash)
}

// Context returns a Caddy context that is cancelled, and its modules
// cleaned up, when the test ends.
func Context(tb testing.TB) caddy.Context {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(cancel)
	return ctx
}

// Provision provisions app as Caddy does when it loads a config.
func Provision(tb testing.TB, app *caddyoauth.App) error {
	tb.Helper()
	return app.Provision(Context(tb))
}
