package caddyfile

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("oauth_server", parseOAuthServer)
	httpcaddyfile.RegisterHandlerDirective("oauth_bearer", parseOAuthBearer)

	// The endpoints are served before any authentication gate of the site
	// (a client calling /token has no token yet), and the bearer gate sits
	// with the other authentication handlers, ahead of the handlers that
	// respond (reverse_proxy, file_server, ...).
	httpcaddyfile.RegisterDirectiveOrder("oauth_server", httpcaddyfile.Before, "basic_auth")
	httpcaddyfile.RegisterDirectiveOrder("oauth_bearer", httpcaddyfile.After, "basic_auth")
}

// parseOAuthServer sets up the `oauth_server` handler, which serves the
// endpoints of the `oauth` app (/token, /login, /authorize, /revoke,
// /introspect, /.well-known/oauth-authorization-server) and passes every
// other request on. Syntax:
//
//	oauth_server [<matcher>]
//
// It composes with handle_path, which strips a prefix:
//
//	handle_path /oauth/* {
//		oauth_server
//	}
func parseOAuthServer(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // consume directive name
	if h.NextArg() {
		return nil, h.Errf("oauth_server: unexpected argument %q; the directive takes none (the app is configured in the oauth global option)", h.Val())
	}
	if h.NextBlock(0) {
		return nil, h.Err("oauth_server: unexpected block; the directive takes none (the app is configured in the oauth global option)")
	}
	return new(caddyoauth.Server), nil
}

// parseOAuthBearer sets up the `oauth_bearer` handler, which lets a request
// through only with `Authorization: Bearer <token>` for a valid access token
// of the `oauth` app that carries every listed scope (none listed: any valid
// token). Syntax:
//
//	oauth_bearer [<matcher>] [<scope...>] {
//		realm <realm>
//	}
//
// The realm of the WWW-Authenticate challenge defaults to "oauth". On
// success the placeholders {http.auth.user.id}, {http.auth.user.client_id}
// and {http.auth.user.scope} are set, for example for reverse_proxy's
// header_up.
func parseOAuthBearer(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // consume directive name
	b := new(caddyoauth.Bearer)
	b.Scopes = h.RemainingArgs()
	for h.NextBlock(0) {
		switch field := h.Val(); field {
		case "realm":
			args := h.RemainingArgs()
			if len(args) != 1 {
				return nil, h.Errf("oauth_bearer: realm: expected one value, got %d", len(args))
			}
			if b.Realm != "" {
				return nil, h.Err("oauth_bearer: realm: given twice")
			}
			b.Realm = args[0]
		default:
			return nil, h.Errf("oauth_bearer: unknown setting %q", field)
		}
	}
	return b, nil
}
