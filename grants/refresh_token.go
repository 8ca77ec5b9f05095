package grants

import (
	"context"
	"slices"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

func init() {
	caddy.RegisterModule(RefreshToken{})
}

// RefreshTokenType is the grant_type of the refresh_token grant.
const RefreshTokenType = "refresh_token"

// RefreshToken is the refresh_token grant (RFC 6749 §6). Refresh tokens are
// single use: each refresh consumes the presented token and issues a new
// pair in the same family; presenting a used one revokes the family. The
// scope may be narrowed, never widened.
type RefreshToken struct{}

// CaddyModule returns the Caddy module information.
func (RefreshToken) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oauth.grants.refresh_token",
		New: func() caddy.Module { return new(RefreshToken) },
	}
}

// GrantType returns "refresh_token".
func (RefreshToken) GrantType() string { return RefreshTokenType }

// Authorize consumes the refresh token and grants its scopes, or the
// requested subset of them.
func (RefreshToken) Authorize(ctx context.Context, req *caddyoauth.TokenRequest) (*caddyoauth.Authorization, error) {
	token := req.Form.Get("refresh_token")
	if token == "" {
		return nil, caddyoauth.Errorf(caddyoauth.CodeInvalidRequest, "refresh_token is missing")
	}
	notWider := func(rec *caddyoauth.TokenRecord) error {
		if !caddyoauth.HasScopes(rec.Scopes, req.Scopes) {
			return caddyoauth.Errorf(caddyoauth.CodeInvalidScope, "the requested scope exceeds the scope originally granted")
		}
		return nil
	}
	rec, err := req.Server.Redeem(ctx, req.Client, token, caddyoauth.KindRefresh, notWider)
	if err != nil {
		return nil, err
	}
	scopes := req.Scopes
	if len(scopes) == 0 {
		scopes = rec.Scopes
	}
	return &caddyoauth.Authorization{
		UserID:       rec.UserID,
		Scopes:       slices.Clone(scopes),
		FamilyID:     rec.FamilyID,
		Parent:       rec,
		RefreshToken: true,
	}, nil
}

// Interface guards
var _ caddyoauth.Grant = (*RefreshToken)(nil)
