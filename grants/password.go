package grants

import (
	"context"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

func init() {
	caddy.RegisterModule(Password{})
}

// Password is the resource owner password credentials grant (RFC 6749
// §4.3), WSO2's classic grant. Only clients that list it may use it.
type Password struct{}

// CaddyModule returns the Caddy module information.
func (Password) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oauth.grants.password",
		New: func() caddy.Module { return new(Password) },
	}
}

// GrantType returns "password".
func (Password) GrantType() string { return "password" }

// Authorize checks the user's password and grants the requested scopes
// that both the client and the user may have.
func (Password) Authorize(_ context.Context, req *caddyoauth.TokenRequest) (*caddyoauth.Authorization, error) {
	username, password := req.Form.Get("username"), req.Form.Get("password")
	if username == "" || password == "" {
		return nil, caddyoauth.Errorf(caddyoauth.CodeInvalidRequest, "username and password are required")
	}
	user, e := req.Server.AuthenticateUser(req.HTTP, username, password)
	if e != nil {
		return nil, e
	}
	return &caddyoauth.Authorization{
		UserID:       user.Name,
		Scopes:       caddyoauth.GrantScopes(req.Scopes, req.Client, user),
		RefreshToken: req.Client.Allows(RefreshTokenType),
	}, nil
}

// Interface guards
var _ caddyoauth.Grant = (*Password)(nil)
