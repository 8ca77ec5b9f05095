// Package caddyfile adapts the Caddyfile to caddy-oauth: the `oauth` global
// option, which configures the `oauth` app (apps.oauth in JSON), and the
// `oauth_server` and `oauth_bearer` directives, each with a registered
// place in Caddy's directive order so that no `order` line is needed.
package caddyfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("oauth", parseOAuthOption)
}

// Namespaces of the guest modules the option configures.
const (
	storageNamespace = "oauth.storage"
	grantsNamespace  = "oauth.grants"
)

// parseOAuthOption sets up the `oauth` app from the `oauth` global option.
// Syntax:
//
//	oauth {
//		storage <backend> [<args...>]
//		access_token_ttl  <duration>
//		refresh_token_ttl <duration>
//		code_ttl          <duration>
//		revocation_headers
//		issuer         <url>
//		cache_size     <n>
//		sweep_interval <duration>
//		limits {
//			max_failures      <n>
//			max_user_failures <n>
//			window            <duration>
//			max_body_bytes    <size>
//			max_params        <n>
//		}
//		client <id> {
//			secret <secret> | secret_hash <hash> | public
//			grant_types <type...>
//			scopes <scope...>
//			redirect_uri <uri...>
//		}
//		user <name> <password_hash> [{
//			scopes <scope...>
//		}]
//		grant <name> [<args...>] [{
//			...
//		}]
//	}
//
// `storage` loads the module oauth.storage.<backend> (bbolt, memory,
// postgres, redis, or a third party's), which parses the rest of the line
// and its block; the default is bbolt under Caddy's data directory. `grant`
// configures the module oauth.grants.<name>; grant modules that are not
// listed are loaded with their defaults. `client`, `user`, `redirect_uri`,
// `grant_types` and `scopes` may repeat. Values may hold placeholders such
// as {env.CLIENT_SECRET}: they are kept as written and replaced when the
// app loads. Checks that need the loaded modules (known grant types, hashes,
// redirect URIs) are made by the app, when the config is loaded.
func parseOAuthOption(d *caddyfile.Dispenser, existing any) (any, error) {
	d.Next() // consume option name
	if existing != nil {
		return nil, d.Err("oauth: the global option is given twice; configure the app in one block")
	}
	if d.NextArg() {
		return nil, d.Errf("oauth: unexpected argument %q; the settings go in a block", d.Val())
	}

	app := new(caddyoauth.App)
	p := optionParser{d: d, app: app, clients: make(map[string]bool), users: make(map[string]bool), grants: make(map[string]bool)}
	seen := make(map[string]bool)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		if onceOnly[sub] {
			if seen[sub] {
				return nil, d.Errf("oauth: %s: given twice", sub)
			}
			seen[sub] = true
		}
		var err error
		switch sub {
		case "storage":
			app.StorageRaw, err = p.storage()
		case "access_token_ttl":
			app.AccessTokenTTL, err = durationArg(d, sub)
		case "refresh_token_ttl":
			app.RefreshTokenTTL, err = durationArg(d, sub)
		case "code_ttl":
			app.CodeTTL, err = durationArg(d, sub)
		case "sweep_interval":
			app.SweepInterval, err = durationArg(d, sub)
		case "revocation_headers":
			if d.NextArg() {
				return nil, d.Errf("revocation_headers: unexpected argument %q; the option takes none", d.Val())
			}
			app.RevocationHeaders = true
		case "issuer":
			app.Issuer, err = oneArg(d, sub)
		case "cache_size":
			app.CacheSize, err = positiveIntArg(d, sub)
		case "limits":
			app.Limits, err = parseLimits(d)
		case "session_ttl", "authorize_template":
			err = parseAuthorizeOption(d, app, sub)
		case "client":
			err = p.client()
		case "user":
			err = p.user()
		case "grant":
			err = p.grant()
		case "saml_idp":
			err = p.samlIdP()
		default:
			return nil, d.Errf("oauth: unknown subdirective %q", sub)
		}
		if err != nil {
			return nil, err
		}
	}
	return httpcaddyfile.App{Name: "oauth", Value: caddyconfig.JSON(app, nil)}, nil
}

// onceOnly are the subdirectives of `oauth` that may appear only once.
var onceOnly = map[string]bool{
	"storage":            true,
	"access_token_ttl":   true,
	"refresh_token_ttl":  true,
	"code_ttl":           true,
	"sweep_interval":     true,
	"revocation_headers": true,
	"issuer":             true,
	"cache_size":         true,
	"limits":             true,
	"session_ttl":        true,
	"authorize_template": true,
}

// optionParser holds what the parse of one `oauth` block has seen so far.
type optionParser struct {
	d       *caddyfile.Dispenser
	app     *caddyoauth.App
	clients map[string]bool
	users   map[string]bool
	grants  map[string]bool
}

// storage parses `storage <backend> [<args...>] [{ ... }]` with the
// Caddyfile unmarshaler of the module oauth.storage.<backend>.
func (p *optionParser) storage() (json.RawMessage, error) {
	d := p.d
	if !d.NextArg() {
		return nil, d.Errf("storage: missing backend (one of: %s)", moduleNames(storageNamespace))
	}
	raw, err := guestModule(d, "storage", storageNamespace, "backend")
	if err != nil {
		return nil, err
	}
	return raw, nil
}

// grant parses `grant <name> [<args...>] [{ ... }]` with the Caddyfile
// unmarshaler of the module oauth.grants.<name>.
func (p *optionParser) grant() error {
	d := p.d
	if !d.NextArg() {
		return d.Errf("grant: missing grant module name (one of: %s)", moduleNames(grantsNamespace))
	}
	name := d.Val()
	if p.grants[name] {
		return d.Errf("grant %q: configured twice", name)
	}
	p.grants[name] = true
	raw, err := guestModule(d, "grant", grantsNamespace, "grant")
	if err != nil {
		return err
	}
	p.app.GrantsRaw = append(p.app.GrantsRaw, raw)
	return nil
}

// guestModule returns the JSON of the module <namespace>.<name>, where name
// is the current token, with inlineKey set to name. The module's Caddyfile
// unmarshaler gets the tokens from name to the end of the line or of its
// block. A module without one must be given no arguments.
func guestModule(d *caddyfile.Dispenser, field, namespace, inlineKey string) (json.RawMessage, error) {
	name := d.Val()
	id := namespace + "." + name
	info, err := caddy.GetModule(id)
	if err != nil {
		return nil, d.Errf("%s: unknown module %q (known: %s)", field, name, moduleNames(namespace))
	}
	var val any
	if _, ok := info.New().(caddyfile.Unmarshaler); ok {
		val, err = caddyfile.UnmarshalModule(d, id)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", field, name, err)
		}
	} else {
		if d.NextArg() {
			return nil, d.Errf("%s %s: unexpected argument %q; the module takes no Caddyfile configuration", field, name, d.Val())
		}
		if d.NextBlock(d.Nesting()) {
			return nil, d.Errf("%s %s: unexpected block; the module takes no Caddyfile configuration", field, name)
		}
		val = struct{}{}
	}
	var warnings []caddyconfig.Warning
	raw := caddyconfig.JSONModuleObject(val, inlineKey, name, &warnings)
	if len(warnings) > 0 {
		return nil, d.Errf("%s %s: encoding the module's config: %s", field, name, warnings[0].Message)
	}
	return raw, nil
}

// moduleNames lists the names of the modules registered in namespace.
func moduleNames(namespace string) string {
	var names []string
	for _, info := range caddy.GetModules(namespace) {
		names = append(names, info.ID.Name())
	}
	if len(names) == 0 {
		return "none registered"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// client parses:
//
//	client <id> {
//		secret <secret> | secret_hash <hash> | public
//		grant_types <type...>
//		scopes <scope...>
//		redirect_uri <uri...>
//	}
func (p *optionParser) client() error {
	d := p.d
	if !d.NextArg() {
		return d.Err("client: missing client id")
	}
	c := &caddyoauth.Client{ID: d.Val()}
	if p.clients[c.ID] {
		return d.Errf("client %q: defined twice", c.ID)
	}
	p.clients[c.ID] = true
	if d.NextArg() {
		return d.Errf("client %q: unexpected argument %q; the settings go in a block", c.ID, d.Val())
	}
	errf := func(format string, args ...any) error {
		return d.Errf("client %q: "+format, append([]any{c.ID}, args...)...)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		field := d.Val()
		switch field {
		case "secret", "secret_hash":
			args := d.RemainingArgs()
			if len(args) != 1 {
				return errf("%s: expected one value, got %d", field, len(args))
			}
			if c.Secret != "" || c.SecretHash != "" {
				return errf("%s: the client already has a secret; give one secret or secret_hash", field)
			}
			if field == "secret" {
				c.Secret = args[0]
			} else {
				c.SecretHash = args[0]
			}
		case "public":
			if d.NextArg() {
				return errf("public: unexpected argument %q; the setting takes none", d.Val())
			}
			c.Public = true
		case "grant_types", "scopes", "redirect_uri", "redirect_uris":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return errf("%s: expected at least one value", field)
			}
			switch field {
			case "grant_types":
				c.GrantTypes = append(c.GrantTypes, args...)
			case "scopes":
				c.Scopes = append(c.Scopes, args...)
			default:
				c.RedirectURIs = append(c.RedirectURIs, args...)
			}
		default:
			return errf("unknown setting %q", field)
		}
		if d.NextBlock(d.Nesting()) {
			return errf("%s: unexpected block", field)
		}
	}
	p.app.Clients = append(p.app.Clients, c)
	return nil
}

// user parses:
//
//	user <name> <password_hash> [{
//		scopes <scope...>
//	}]
func (p *optionParser) user() error {
	d := p.d
	if !d.NextArg() {
		return d.Err("user: missing user name")
	}
	u := &caddyoauth.User{Name: d.Val()}
	errf := func(format string, args ...any) error {
		return d.Errf("user %q: "+format, append([]any{u.Name}, args...)...)
	}
	if p.users[u.Name] {
		return errf("defined twice")
	}
	p.users[u.Name] = true
	if !d.NextArg() {
		return errf("password_hash: missing (generate one with `caddy hash-password`)")
	}
	u.PasswordHash = d.Val()
	if d.NextArg() {
		return errf("unexpected argument %q after the password hash", d.Val())
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch field := d.Val(); field {
		case "scopes":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return errf("scopes: expected at least one scope")
			}
			u.Scopes = append(u.Scopes, args...)
		default:
			return errf("unknown setting %q", field)
		}
	}
	p.app.Users = append(p.app.Users, u)
	return nil
}

// parseLimits parses:
//
//	limits {
//		max_failures      <n>
//		max_user_failures <n>
//		window            <duration>
//		max_body_bytes    <size>
//		max_params        <n>
//	}
func parseLimits(d *caddyfile.Dispenser) (*caddyoauth.Limits, error) {
	if d.NextArg() {
		return nil, d.Errf("limits: unexpected argument %q; the settings go in a block", d.Val())
	}
	l := new(caddyoauth.Limits)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		field := d.Val()
		name := "limits: " + field
		var err error
		switch field {
		case "max_failures":
			l.MaxFailures, err = positiveIntArg(d, name)
		case "max_user_failures":
			l.MaxUserFailures, err = positiveIntArg(d, name)
		case "window":
			l.Window, err = durationArg(d, name)
		case "max_params":
			l.MaxParams, err = positiveIntArg(d, name)
		case "max_body_bytes":
			var s string
			if s, err = oneArg(d, name); err != nil {
				return nil, err
			}
			n, perr := humanize.ParseBytes(s)
			if perr != nil || n == 0 || n > 1<<40 {
				return nil, d.Errf("%s: %q is not a positive size in bytes (e.g. 65536 or 64KiB)", name, s)
			}
			l.MaxBodyBytes = int64(n)
		default:
			return nil, d.Errf("limits: unknown setting %q", field)
		}
		if err != nil {
			return nil, err
		}
	}
	return l, nil
}

// oneArg returns the one argument of the current line; field names the
// setting in errors.
func oneArg(d *caddyfile.Dispenser, field string) (string, error) {
	args := d.RemainingArgs()
	if len(args) != 1 {
		return "", d.Errf("%s: expected one value, got %d", field, len(args))
	}
	return args[0], nil
}

// durationArg parses the one argument of the current line as a positive
// duration (caddy.ParseDuration: Go's syntax plus "d" for days).
func durationArg(d *caddyfile.Dispenser, field string) (caddy.Duration, error) {
	s, err := oneArg(d, field)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, d.Errf("%s: invalid duration %q: %v", field, s, unwrapDurationErr(err))
	}
	if dur <= 0 {
		return 0, d.Errf("%s: %q is not a positive duration", field, s)
	}
	return caddy.Duration(dur), nil
}

// unwrapDurationErr drops the "time: " prefix of time.ParseDuration errors.
func unwrapDurationErr(err error) error {
	return errors.New(strings.TrimPrefix(err.Error(), "time: "))
}

// positiveIntArg parses the one argument of the current line as an integer
// greater than zero.
func positiveIntArg(d *caddyfile.Dispenser, field string) (int, error) {
	s, err := oneArg(d, field)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, d.Errf("%s: %q is not a positive integer", field, s)
	}
	return n, nil
}
