package caddyoauth

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// SetClock replaces the app's clock, for tests of expiry.
func (a *App) SetClock(now func() time.Time) {
	a.now = now
	a.limiter.now = now
}

// ServerFor returns the oauth_server handler of an app provisioned in a test.
func ServerFor(a *App) *Server { return &Server{app: a, logger: a.logger} }

// BearerFor returns an oauth_bearer handler requiring scopes.
func BearerFor(a *App, scopes ...string) *Bearer {
	b := &Bearer{Scopes: scopes, app: a, logger: a.logger, Realm: "oauth"}
	b.challenge = `Bearer realm="oauth"`
	b.scopeList = joinScopes(scopes)
	return b
}

// SetLogger replaces the app's logger.
func (a *App) SetLogger(l *zap.Logger) { a.logger = l }

// SetStore replaces the app's store, for fault injection.
func (a *App) SetStore(s Store) { a.store = s }

// SetCache replaces the app's validation cache.
func (a *App) SetCache(c *Cache) { a.cache = c }

// Sweep runs one sweep of expired records.
func (a *App) Sweep(ctx context.Context) { a.sweep(ctx) }
