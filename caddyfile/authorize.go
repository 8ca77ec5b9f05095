package caddyfile

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

// parseAuthorizeOption parses the subdirectives of `oauth` that configure
// the authorization page (/authorize):
//
//	oauth {
//		session_ttl        <duration>
//		authorize_template <path>
//	}
//
// `session_ttl` is how long a user who signed in on the page is not asked
// for the password again (default 10m). `authorize_template` replaces the
// built-in sign-in, consent and error page with an html/template file,
// loaded (and checked) when the config loads; the path may hold
// placeholders such as {env.TEMPLATES}. Each may be given once (see
// onceOnly).
func parseAuthorizeOption(d *caddyfile.Dispenser, app *caddyoauth.App, sub string) error {
	switch sub {
	case "session_ttl":
		ttl, err := durationArg(d, sub)
		if err != nil {
			return err
		}
		app.SessionTTL = ttl
	case "authorize_template":
		path, err := oneArg(d, sub)
		if err != nil {
			return err
		}
		app.AuthorizeTemplate = path
	default:
		return d.Errf("oauth: unknown subdirective %q", sub)
	}
	if d.NextBlock(d.Nesting()) {
		return d.Errf("oauth: %s: unexpected block", sub)
	}
	return nil
}
