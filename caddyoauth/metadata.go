package caddyoauth

import (
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// serverMetadata is the RFC 8414 authorization server metadata.
type serverMetadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethods  []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
	AuthorizationResponseIss          bool     `json:"authorization_response_iss_parameter_supported"` // RFC 9207
}

// serveMetadata serves GET /.well-known/oauth-authorization-server.
func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return writeError(w, &Error{Code: CodeInvalidRequest, Description: "the method must be GET", Status: http.StatusMethodNotAllowed})
	}
	a := s.app
	base := a.issuerFor(r)
	authMethods := []string{"client_secret_basic", "client_secret_post", "none"}
	md := serverMetadata{
		Issuer:                            base,
		AuthorizationEndpoint:             base + PathAuthorize,
		TokenEndpoint:                     base + PathToken,
		RevocationEndpoint:                base + PathRevoke,
		IntrospectionEndpoint:             base + PathIntrospect,
		ResponseTypesSupported:            []string{"code"},
		TokenEndpointAuthMethodsSupported: authMethods,
		RevocationEndpointAuthMethods:     authMethods,
		IntrospectionEndpointAuthMethods:  authMethods[:2],
		CodeChallengeMethodsSupported:     []string{"S256"},
		AuthorizationResponseIss:          true,
	}
	for gt := range a.grants {
		md.GrantTypesSupported = append(md.GrantTypesSupported, gt)
	}
	if slices.ContainsFunc(a.Clients, func(c *Client) bool { return c.Allows(GrantImplicit) }) {
		md.GrantTypesSupported = append(md.GrantTypesSupported, GrantImplicit)
		md.ResponseTypesSupported = append(md.ResponseTypesSupported, responseToken)
	}
	slices.Sort(md.GrantTypesSupported)
	for _, c := range a.clients {
		md.ScopesSupported = append(md.ScopesSupported, c.Scopes...)
	}
	slices.Sort(md.ScopesSupported)
	md.ScopesSupported = slices.Compact(md.ScopesSupported)
	w.Header().Set("Cache-Control", "max-age=300")
	return writeJSON(w, http.StatusOK, md)
}

// issuerFor returns the issuer identifier (RFC 8414 §2) as the request's
// client sees it: the configured issuer, or else the scheme and host the
// request was made to, followed by the prefix handle_path stripped. The
// metadata publishes it and authorization responses carry it (RFC 9207).
func (a *App) issuerFor(r *http.Request) string {
	base := a.Issuer
	if base == "" {
		base = requestOrigin(r)
	}
	return strings.TrimSuffix(base, "/") + mountPrefix(r)
}

// requestOrigin returns the scheme and host the request was made to.
func requestOrigin(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host
}

// mountPrefix returns the path prefix that handle_path stripped before the
// request reached the handler, so the metadata names the public URLs. It
// is cleaned as Caddy's path matching cleans it (a request for
// //auth/authorize reaches `handle_path /auth/*` too), so that it is always
// a path of this server, never a scheme-relative //host.
func mountPrefix(r *http.Request) string {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return ""
	}
	orig, _ := repl.GetString("http.request.orig_uri.path")
	prefix, ok := strings.CutSuffix(orig, r.URL.Path)
	if !ok || !strings.HasPrefix(prefix, "/") {
		return ""
	}
	if prefix = path.Clean(prefix); prefix == "/" {
		return ""
	}
	return prefix
}
