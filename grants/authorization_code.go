package grants

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"slices"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

func init() {
	caddy.RegisterModule(AuthorizationCode{})
}

// AuthorizationCode is the authorization_code grant (RFC 6749 §4.1) with
// PKCE (RFC 7636, S256 only). A code is single use and bound to its client,
// redirect URI and challenge; redeeming it twice revokes every token issued
// from it.
type AuthorizationCode struct{}

// CaddyModule returns the Caddy module information.
func (AuthorizationCode) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oauth.grants.authorization_code",
		New: func() caddy.Module { return new(AuthorizationCode) },
	}
}

// GrantType returns "authorization_code".
func (AuthorizationCode) GrantType() string { return "authorization_code" }

// Authorize redeems the code and grants the scopes the resource owner
// approved.
func (AuthorizationCode) Authorize(ctx context.Context, req *caddyoauth.TokenRequest) (*caddyoauth.Authorization, error) {
	code := req.Form.Get("code")
	if code == "" {
		return nil, caddyoauth.Errorf(caddyoauth.CodeInvalidRequest, "code is missing")
	}
	verifier := req.Form.Get("code_verifier")
	redirectURI := req.Form.Get("redirect_uri")
	bound := func(rec *caddyoauth.TokenRecord) error {
		if rec.RedirectURI != redirectURI {
			return caddyoauth.Errorf(caddyoauth.CodeInvalidGrant, "redirect_uri differs from the authorization request")
		}
		return checkPKCE(rec.CodeChallenge, verifier, req.Client.Public)
	}
	rec, err := req.Server.Redeem(ctx, req.Client, code, caddyoauth.KindCode, bound)
	if err != nil {
		return nil, err
	}
	return &caddyoauth.Authorization{
		UserID:       rec.UserID,
		Scopes:       slices.Clone(rec.Scopes),
		FamilyID:     rec.FamilyID,
		Parent:       rec,
		RefreshToken: req.Client.Allows(RefreshTokenType),
	}, nil
}

// checkPKCE verifies code_verifier against the S256 challenge (RFC 7636
// §4.6). A verifier without a challenge, or a challenge without a verifier,
// is refused (PKCE downgrade); public clients always need PKCE.
func checkPKCE(challenge, verifier string, public bool) error {
	switch {
	case challenge == "" && verifier == "" && !public:
		return nil
	case challenge == "" && verifier == "":
		return caddyoauth.Errorf(caddyoauth.CodeInvalidGrant, "a public client must use PKCE")
	case challenge == "":
		return caddyoauth.Errorf(caddyoauth.CodeInvalidGrant, "code_verifier given for a code issued without a challenge")
	case verifier == "":
		return caddyoauth.Errorf(caddyoauth.CodeInvalidGrant, "code_verifier is missing")
	case len(verifier) < 43 || len(verifier) > 128:
		return caddyoauth.Errorf(caddyoauth.CodeInvalidGrant, "code_verifier must be 43 to 128 characters")
	}
	sum := sha256.Sum256([]byte(verifier))
	computed := base64.RawURLEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(computed), []byte(challenge)) != 1 {
		return caddyoauth.Errorf(caddyoauth.CodeInvalidGrant, "code_verifier does not match the challenge")
	}
	return nil
}

// Interface guards
var _ caddyoauth.Grant = (*AuthorizationCode)(nil)
