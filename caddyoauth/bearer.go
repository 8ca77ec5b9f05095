package caddyoauth

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(Bearer{})
}

// Bearer gates requests on an access token of the `oauth` app (RFC 6750):
// the request needs `Authorization: Bearer <token>` for a valid token that
// carries every listed scope. Failures are returned as Caddy errors with
// the RFC 6750 WWW-Authenticate header, so handle_errors applies. On success
// it sets the placeholders {http.auth.user.id} (the user, or the client for
// a client's own token), {http.auth.user.client_id} and
// {http.auth.user.scope}. In the Caddyfile it is `oauth_bearer`.
type Bearer struct {
	// Scopes the token must carry, each matched exactly. Default: none, so
	// any valid token passes.
	Scopes []string `json:"scopes,omitempty"`

	// Realm is the realm of the WWW-Authenticate challenge. Default: "oauth".
	Realm string `json:"realm,omitempty"`

	app       *App
	logger    *zap.Logger
	challenge string // `Bearer realm="…"`
	scopeList string // the required scopes, space-separated
}

// CaddyModule returns the Caddy module information.
func (Bearer) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.oauth_bearer",
		New: func() caddy.Module { return new(Bearer) },
	}
}

// Provision connects the gate to the `oauth` app.
func (b *Bearer) Provision(ctx caddy.Context) error {
	app, err := loadApp(ctx)
	if err != nil {
		return err
	}
	b.app = app
	b.logger = ctx.Logger()
	if b.Realm == "" {
		b.Realm = "oauth"
	}
	b.challenge = "Bearer realm=" + strconv.Quote(b.Realm)
	b.scopeList = joinScopes(b.Scopes)
	return nil
}

// Validate checks the configuration.
func (b *Bearer) Validate() error {
	for _, s := range b.Scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			return fmt.Errorf("scope %q: a scope has no spaces, quotes or backslashes", s)
		}
	}
	return nil
}

var (
	errNoToken           = errors.New("no bearer token")
	errInsufficientScope = errors.New("the token lacks a required scope")
)

// ServeHTTP checks the bearer token and calls next if it passes.
func (b *Bearer) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	token, ok := bearerToken(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", b.challenge)
		return caddyhttp.Error(http.StatusUnauthorized, errNoToken)
	}
	m := b.app.metrics
	v, hit, err := b.app.Validate(r.Context(), token)
	switch {
	case errors.Is(err, ErrInvalidToken):
		m.invalid.Inc()
		w.Header().Set("WWW-Authenticate", b.challenge+`, error="invalid_token", error_description="the access token is invalid, expired or revoked"`)
		return caddyhttp.Error(http.StatusUnauthorized, err)
	case err != nil:
		m.faults.Inc()
		if c := b.logger.Check(zapcore.ErrorLevel, "validating bearer token"); c != nil {
			c.Write(zap.Error(err))
		}
		return caddyhttp.Error(http.StatusServiceUnavailable, fmt.Errorf("validating bearer token: %w", err))
	case hit:
		m.cacheHits.Inc()
	default:
		m.cacheMisses.Inc()
	}
	if !v.HasScopes(b.Scopes) {
		w.Header().Set("WWW-Authenticate", b.challenge+`, error="insufficient_scope", scope="`+b.scopeList+`"`)
		return caddyhttp.Error(http.StatusForbidden, errInsufficientScope)
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	repl.Set("http.auth.user.id", v.Subject())
	repl.Set("http.auth.user.client_id", v.ClientID)
	repl.Set("http.auth.user.scope", v.Scope)
	return next.ServeHTTP(w, r)
}

// bearerToken returns the token of the request's one Authorization header
// if it uses the Bearer scheme (RFC 6750 §2.1). Tokens in the query string
// or body are never read.
func bearerToken(r *http.Request) (string, bool) {
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Bearer)(nil)
	_ caddy.Validator             = (*Bearer)(nil)
	_ caddyhttp.MiddlewareHandler = (*Bearer)(nil)
)
