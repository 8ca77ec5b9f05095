package grants

import (
	"context"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

func init() {
	caddy.RegisterModule(ClientCredentials{})
}

// ClientCredentials is the client_credentials grant (RFC 6749 §4.4): a
// confidential client obtains a token for itself, without a refresh token.
type ClientCredentials struct{}

// CaddyModule returns the Caddy module information.
func (ClientCredentials) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oauth.grants.client_credentials",
		New: func() caddy.Module { return new(ClientCredentials) },
	}
}

// GrantType returns "client_credentials".
func (ClientCredentials) GrantType() string { return "client_credentials" }

// Authorize grants the requested scopes the client may have.
func (ClientCredentials) Authorize(_ context.Context, req *caddyoauth.TokenRequest) (*caddyoauth.Authorization, error) {
	if req.Client.Public {
		return nil, caddyoauth.Errorf(caddyoauth.CodeUnauthorizedClient, "a public client cannot use client_credentials")
	}
	return &caddyoauth.Authorization{Scopes: caddyoauth.GrantScopes(req.Scopes, req.Client, nil)}, nil
}

// Interface guards
var _ caddyoauth.Grant = (*ClientCredentials)(nil)
