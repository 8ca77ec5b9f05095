package caddyoauth

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Grant modules live in the "oauth.grants" namespace. Every module registered
// there is loaded by the app (with its zero config, unless the app's "grants"
// list configures it), so a third-party grant type plugs in with nothing but
// `xcaddy build --with <its module>`. A grant module is a caddy.Module whose
// value implements Grant.

// Grant decides who a token request is for and what it may carry. It does
// not mint tokens: the server issues what the returned Authorization says.
type Grant interface {
	// GrantType is the value of the grant_type parameter the grant serves,
	// for example "password" or an absolute URI.
	GrantType() string

	// Authorize checks the request and returns what to issue. It returns an
	// *Error for protocol failures (invalid_grant, invalid_scope, ...); any
	// other error is a server fault and is answered with a 5xx.
	Authorize(ctx context.Context, req *TokenRequest) (*Authorization, error)
}

// TokenRequest is a parsed token request from an authenticated client.
type TokenRequest struct {
	// Client is the authenticated client.
	Client *Client
	// Form holds the request's parameters; each has exactly one value.
	Form url.Values
	// Scopes is the requested scope, split on spaces; nil if none.
	Scopes []string
	// Now is the time of the request, from the app's clock.
	Now time.Time
	// HTTP is the original request (for its remote address or headers).
	HTTP *http.Request
	// Server gives the grant access to users and stored tokens.
	Server *App
}

// Authorization is a grant's decision.
type Authorization struct {
	// UserID is the resource owner, empty for a client acting for itself.
	UserID string
	// Scopes is what the token carries, already narrowed to what the client
	// and user may have (see App.GrantScopes).
	Scopes []string
	// FamilyID continues an existing token family (refresh); empty starts
	// a new one.
	FamilyID string
	// Parent is the record of the single-use token (refresh token or code)
	// the grant consumed, if any. After the new tokens are stored, the
	// server revokes them if the parent was revoked meanwhile, so a
	// concurrent reuse of the parent cannot leave them alive.
	Parent *TokenRecord
	// RefreshToken says whether to issue a refresh token with the access token.
	RefreshToken bool
}
