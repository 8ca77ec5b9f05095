package caddyoauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Client is a registered OAuth client.
type Client struct {
	// ID is the client_id. Required.
	ID string `json:"id"`

	// Secret is the client secret in plain text (placeholders such as
	// {env.CLIENT_SECRET} are replaced at load). A confidential client has
	// either Secret or SecretHash. Only its SHA-256 is kept in memory.
	Secret string `json:"secret,omitempty"`

	// SecretHash is the bcrypt or argon2id hash of the client secret, as
	// printed by `caddy hash-password`. Every failed client authentication
	// and sign-in takes as long as verifying the costliest hash configured
	// (clients' and users'), so that its time tells nothing.
	SecretHash string `json:"secret_hash,omitempty"`

	// Public marks a client that cannot keep a secret (a SPA or a native
	// app): it authenticates with its client_id alone and must use PKCE.
	Public bool `json:"public,omitempty"`

	// GrantTypes are the grant types the client may use, including
	// "implicit" for response_type=token. Required.
	GrantTypes []string `json:"grant_types,omitempty"`

	// Scopes are the scopes the client may receive. If empty, the client
	// only receives "default".
	Scopes []string `json:"scopes,omitempty"`

	// RedirectURIs are the registered redirect URIs of the authorization
	// endpoint. They must be absolute, without fragment (no '#' at all,
	// not even an empty fragment), and https unless the host is a loopback
	// address.
	RedirectURIs []string `json:"redirect_uris,omitempty"`

	secretSum [32]byte
	hash      *secretHash
}

// provision replaces placeholders and checks the client against the grant
// types the server knows.
func (c *Client) provision(repl *caddy.Replacer, knownGrants func(string) bool) error {
	if c.ID == "" {
		return errors.New("client with empty id")
	}
	wrap := func(field string, err error) error {
		return fmt.Errorf("client %q: %s: %v", c.ID, field, err)
	}
	c.Secret = repl.ReplaceKnown(c.Secret, "")
	c.SecretHash = repl.ReplaceKnown(c.SecretHash, "")
	switch {
	case c.Public && (c.Secret != "" || c.SecretHash != ""):
		return wrap("public", errors.New("a public client has no secret"))
	case !c.Public && c.Secret == "" && c.SecretHash == "":
		return wrap("secret", errors.New("a confidential client needs a secret or secret_hash (or mark it public)"))
	case c.Secret != "" && c.SecretHash != "":
		return wrap("secret_hash", errors.New("give either secret or secret_hash, not both"))
	}
	if c.Secret != "" {
		c.secretSum = sha256.Sum256([]byte(c.Secret))
	}
	if c.SecretHash != "" {
		h, err := parseSecretHash(c.SecretHash)
		if err != nil {
			return wrap("secret_hash", err)
		}
		c.hash = h
	}
	if len(c.GrantTypes) == 0 {
		return wrap("grant_types", errors.New("no grant types"))
	}
	for _, gt := range c.GrantTypes {
		if !knownGrants(gt) {
			return wrap("grant_types", fmt.Errorf("unknown grant type %q", gt))
		}
		if gt == "client_credentials" && c.Public {
			return wrap("grant_types", errors.New("client_credentials needs a confidential client"))
		}
	}
	for _, u := range c.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return wrap("redirect_uri", err)
		}
	}
	return nil
}

// Allows reports whether the client may use the grant type.
func (c *Client) Allows(grantType string) bool {
	return slices.Contains(c.GrantTypes, grantType)
}

// checkSecret reports whether secret is the client's secret, in time that
// does not depend on how much of it matches. A full hash verification is
// timed into floor.
func (c *Client) checkSecret(secret string, floor *failureFloor) bool {
	if c.hash != nil {
		return c.hash.compare(secret, floor)
	}
	sum := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(sum[:], c.secretSum[:]) == 1
}

// checkRedirectURI enforces RFC 9700 §2.1 on a registered redirect URI.
func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URI", raw)
	}
	// url.Parse leaves Fragment empty for a trailing "#", which the
	// authorization response would be appended after.
	if strings.Contains(raw, "#") {
		return fmt.Errorf("%q has a fragment: a redirect URI must not contain '#'", raw)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%q uses http for a host that is not loopback", raw)
	}
	return nil
}

// isLoopback reports whether host is a loopback IP address or "localhost".
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (a *App) provisionClients() error {
	repl := caddy.NewReplacer()
	known := func(gt string) bool {
		_, ok := a.grants[gt]
		return ok || gt == GrantImplicit
	}
	a.clients = make(map[string]*Client, len(a.Clients))
	for _, c := range a.Clients {
		if err := c.provision(repl, known); err != nil {
			return err
		}
		if _, dup := a.clients[c.ID]; dup {
			return fmt.Errorf("client %q: defined twice", c.ID)
		}
		a.clients[c.ID] = c
		if c.hash != nil && a.fakeClientHash == nil {
			a.fakeClientHash = fakeHashLike(c.hash)
		}
	}
	return nil
}

// GrantImplicit is the grant_types entry that allows response_type=token.
const GrantImplicit = "implicit"

// Client returns the registered client with that id, or nil.
func (a *App) Client(id string) *Client { return a.clients[id] }

// verifyClientSecret checks a confidential client's secret. Unknown clients
// and wrong secrets take the same path and the same time: that of the
// failure floor (see failureFloor). A right secret is not slowed down.
func (a *App) verifyClientSecret(id, secret string) *Client {
	start := time.Now()
	c, ok := a.clients[id]
	if !ok || c.Public {
		if a.fakeClientHash != nil {
			a.fakeClientHash.compare(secret, &a.failures)
		} else {
			dummyClient.checkSecret(secret, nil)
		}
		a.failures.pad(start)
		return nil
	}
	if !c.checkSecret(secret, &a.failures) {
		a.failures.pad(start)
		return nil
	}
	return c
}

// dummyClient stands in for an unknown client when secrets are plain.
var dummyClient = &Client{ID: "unknown"}
