package grants

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

func init() {
	caddy.RegisterModule(SAML2Bearer{})
}

// SAML2BearerType is the grant_type of the SAML 2.0 bearer assertion grant.
const SAML2BearerType = "urn:ietf:params:oauth:grant-type:saml2-bearer"

// maxAssertionLen bounds the assertion parameter, checked before it is
// decoded. The request body limit (limits max_body_bytes, 64 KiB by
// default) applies before it.
const maxAssertionLen = 64 << 10

// SAML2Bearer is the SAML 2.0 bearer assertion grant (RFC 7522): a client
// presents an assertion signed by a trusted identity provider, and the
// token is issued for the assertion's NameID. The NameID need not be a
// configured user (the IdP vouches for it), but a configured user's scopes
// still limit the token. Each assertion is accepted once. Only clients that
// list the grant type may use it.
//
// The assertion's signature is checked with goxmldsig against the IdP's
// configured certificates, and every later check reads only the element
// the signature covers. SHA-1, DOCTYPEs and oversized assertions are
// refused. In the Caddyfile, each `saml_idp` block of the `oauth` option
// adds an IdP.
type SAML2Bearer struct {
	// IdPs are the identity providers whose assertions are accepted, each
	// selected by the Issuer of an assertion. Default: none, so every
	// assertion is refused.
	IdPs []*SAMLIdP `json:"idps,omitempty"`

	idps   map[string]*SAMLIdP
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (SAML2Bearer) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oauth.grants.saml2_bearer",
		New: func() caddy.Module { return new(SAML2Bearer) },
	}
}

// Provision loads the certificates of the IdPs.
func (g *SAML2Bearer) Provision(ctx caddy.Context) error {
	g.logger = ctx.Logger()
	repl := caddy.NewReplacer()
	now := time.Now()
	g.idps = make(map[string]*SAMLIdP, len(g.IdPs))
	for _, idp := range g.IdPs {
		if err := idp.provision(repl, g.logger, now); err != nil {
			return err
		}
		if _, dup := g.idps[idp.EntityID]; dup {
			return fmt.Errorf("saml idp %q: defined twice", idp.EntityID)
		}
		g.idps[idp.EntityID] = idp
	}
	return nil
}

// GrantType returns "urn:ietf:params:oauth:grant-type:saml2-bearer".
func (SAML2Bearer) GrantType() string { return SAML2BearerType }

// Authorize verifies the assertion, records its ID as used and grants the
// requested scopes that the client, and the user if configured, may have.
func (g *SAML2Bearer) Authorize(ctx context.Context, req *caddyoauth.TokenRequest) (*caddyoauth.Authorization, error) {
	encoded := req.Form.Get("assertion")
	if encoded == "" {
		return nil, caddyoauth.Errorf(caddyoauth.CodeInvalidRequest, "assertion is missing")
	}
	a, err := g.verify(encoded, req.Now)
	if err != nil {
		return nil, g.refused(req, err)
	}
	if err := g.useOnce(ctx, req, a); err != nil {
		return nil, g.refused(req, err)
	}
	return &caddyoauth.Authorization{
		UserID:       a.NameID,
		Scopes:       caddyoauth.GrantScopes(req.Scopes, req.Client, req.Server.User(a.NameID)),
		RefreshToken: req.Client.Allows(RefreshTokenType),
	}, nil
}

// verify decodes, parses and checks an assertion.
func (g *SAML2Bearer) verify(encoded string, now time.Time) (*samlAssertion, error) {
	if len(encoded) > maxAssertionLen {
		return nil, refuse("size", fmt.Sprintf("the assertion is larger than %d KiB", maxAssertionLen>>10), nil)
	}
	data, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(encoded, "="))
	if err != nil {
		return nil, refuse("encoding", "the assertion is not base64url-encoded", err)
	}
	root, err := parseSAMLXML(data)
	if err != nil {
		return nil, refuse("xml", "the assertion is not an acceptable XML document", err)
	}
	issuer, err := unverifiedIssuer(root)
	if err != nil {
		return nil, err
	}
	idp, ok := g.idps[issuer]
	if !ok {
		return nil, refuse("issuer", "the assertion's Issuer is not a trusted IdP", fmt.Errorf("issuer %q", clip(issuer)))
	}
	verified, id, err := verifySignature(root, idp.certs, now)
	if err != nil {
		return nil, err
	}
	return checkAssertion(verified, idp, id, now)
}

// useOnce records the assertion's ID as used, atomically: of concurrent
// uses exactly one succeeds. The record lives until the assertion is dead.
// Any store error but ErrExists is returned as it is: the server fails
// closed.
func (g *SAML2Bearer) useOnce(ctx context.Context, req *caddyoauth.TokenRequest, a *samlAssertion) error {
	rec := &caddyoauth.TokenRecord{
		Hash:      assertionKey(a.Issuer, a.ID),
		Kind:      caddyoauth.KindOnce,
		ClientID:  req.Client.ID,
		IssuedAt:  req.Now,
		ExpiresAt: a.Expires,
	}
	err := req.Server.Store().SaveTokens(ctx, rec)
	if errors.Is(err, caddyoauth.ErrExists) {
		return refuse("replay", "the assertion has already been used", nil)
	}
	if err != nil {
		return fmt.Errorf("recording the SAML assertion ID as used: %w", err)
	}
	return nil
}

// assertionKey is the store key of a used assertion ID. IDs are unique per
// issuer only, so the issuer is part of it.
func assertionKey(issuer, id string) string {
	return caddyoauth.HashToken("saml2-bearer\x00" + issuer + "\x00" + id)
}

// samlError is an assertion that failed a check: the description goes to
// the client, the check and its cause only to the debug log.
type samlError struct {
	check string
	desc  string
	cause error
}

func (e *samlError) Error() string {
	if e.cause == nil {
		return e.check + ": " + e.desc
	}
	return e.check + ": " + e.desc + ": " + e.cause.Error()
}

// refuse returns the failure of check, described for the client as desc.
func refuse(check, desc string, cause error) error {
	return &samlError{check: check, desc: desc, cause: cause}
}

// refused turns a failed check into invalid_grant and logs it at debug
// level, without the assertion; other errors (storage) are returned as
// they are, for a 503.
func (g *SAML2Bearer) refused(req *caddyoauth.TokenRequest, err error) error {
	var se *samlError
	if !errors.As(err, &se) {
		return err
	}
	if ce := g.logger.Check(zap.DebugLevel, "SAML assertion refused"); ce != nil {
		fields := []zap.Field{zap.String("check", se.check), zap.String("client_id", req.Client.ID)}
		if se.cause != nil {
			fields = append(fields, zap.NamedError("cause", se.cause))
		}
		ce.Write(fields...)
	}
	return caddyoauth.Errorf(caddyoauth.CodeInvalidGrant, "%s", se.desc)
}

// Interface guards
var (
	_ caddy.Provisioner = (*SAML2Bearer)(nil)
	_ caddyoauth.Grant  = (*SAML2Bearer)(nil)
)
