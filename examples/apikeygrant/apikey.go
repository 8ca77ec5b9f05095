// Package apikeygrant is an example of a grant type that a third party adds
// to caddy-oauth as a Caddy module of its own: it exchanges a long-lived API
// key for a short-lived access token of the user the key belongs to.
//
// Registering a module in the "oauth.grants" namespace is all it takes:
// build Caddy with it (`xcaddy build --with github.com/caddy-oauth/caddy-oauth
// --with github.com/caddy-oauth/caddy-oauth/examples/apikeygrant`), list its
// grant type in a client's grant_types, and configure it in the `oauth`
// global option:
//
//	oauth {
//		grant api_key {
//			key <sha-256 of the key, hex> <user>
//		}
//		client ci {
//			secret {env.CI_CLIENT_SECRET}
//			grant_types urn:example:params:oauth:grant-type:api-key
//			scopes read
//		}
//	}
//
// The client then asks for a token with
// grant_type=urn:example:params:oauth:grant-type:api-key&api_key=<key>.
package apikeygrant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

func init() {
	caddy.RegisterModule(Grant{})
}

// GrantType is the grant_type value the module serves.
const GrantType = "urn:example:params:oauth:grant-type:api-key"

// Grant exchanges an API key for an access token of the key's user.
type Grant struct {
	// Keys maps the SHA-256 of each API key, in lower-case hex, to the user
	// the key stands for. Only hashes are configured, so the config holds no
	// usable key. Default: none, so every request is refused.
	Keys map[string]string `json:"keys,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Grant) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oauth.grants.api_key",
		New: func() caddy.Module { return new(Grant) },
	}
}

// Provision checks that every key hash is a SHA-256 in hex.
func (g *Grant) Provision(caddy.Context) error {
	for h, user := range g.Keys {
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("api_key: key for user %q: %q is not a SHA-256 in hex", user, h)
		}
		if user == "" {
			return fmt.Errorf("api_key: key %.8s…: empty user", h)
		}
	}
	return nil
}

// GrantType returns the grant type's URN.
func (Grant) GrantType() string { return GrantType }

// Authorize looks the key up by its hash and grants the requested scopes
// that the client may have.
func (g *Grant) Authorize(_ context.Context, req *caddyoauth.TokenRequest) (*caddyoauth.Authorization, error) {
	key := req.Form.Get("api_key")
	if key == "" {
		return nil, caddyoauth.Errorf(caddyoauth.CodeInvalidRequest, "api_key is missing")
	}
	sum := sha256.Sum256([]byte(key))
	user, ok := g.Keys[hex.EncodeToString(sum[:])]
	if !ok {
		return nil, caddyoauth.Errorf(caddyoauth.CodeInvalidGrant, "the API key is not valid")
	}
	return &caddyoauth.Authorization{
		UserID: user,
		Scopes: caddyoauth.GrantScopes(req.Scopes, req.Client, nil),
	}, nil
}

// UnmarshalCaddyfile sets up the grant from Caddyfile tokens:
//
//	grant api_key {
//		key <sha256-hex> <user>
//	}
func (g *Grant) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		if d.Val() != "key" {
			return d.Errf("unknown subdirective %q (want: key)", d.Val())
		}
		var hash, user string
		if !d.Args(&hash, &user) || d.NextArg() {
			return d.Err("key: want <sha256-hex> <user>")
		}
		if g.Keys == nil {
			g.Keys = make(map[string]string)
		}
		if _, dup := g.Keys[hash]; dup {
			return d.Errf("key %.8s…: given twice", hash)
		}
		g.Keys[hash] = user
	}
	return nil
}

// Interface guards
var (
	_ caddyoauth.Grant      = (*Grant)(nil)
	_ caddy.Provisioner     = (*Grant)(nil)
	_ caddyfile.Unmarshaler = (*Grant)(nil)
)
