package caddyoauth

import (
	"fmt"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(Server{})
}

// Endpoint paths served by Server, relative to where it is mounted (it
// composes with handle_path, which strips a prefix).
const (
	PathToken      = "/token"
	PathLogin      = "/login" // WSO2 API Manager 1.5's Login API: the same as /token
	PathAuthorize  = "/authorize"
	PathRevoke     = "/revoke"
	PathIntrospect = "/introspect"
	PathMetadata   = "/.well-known/oauth-authorization-server"
)

// Server serves the endpoints of the `oauth` app: /token (and /login),
// /authorize, /revoke, /introspect and the RFC 8414 metadata. Every other
// request goes to the next handler. In the Caddyfile it is the
// `oauth_server` directive.
type Server struct {
	app    *App
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Server) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.oauth_server",
		New: func() caddy.Module { return new(Server) },
	}
}

// Provision connects the handler to the `oauth` app.
func (s *Server) Provision(ctx caddy.Context) error {
	app, err := loadApp(ctx)
	if err != nil {
		return err
	}
	s.app = app
	s.logger = ctx.Logger()
	return nil
}

// loadApp returns the `oauth` app of the running config, provisioning it
// with its defaults if the config has none.
func loadApp(ctx caddy.Context) (*App, error) {
	mod, err := ctx.App("oauth")
	if err != nil {
		return nil, fmt.Errorf("loading the oauth app: %v", err)
	}
	return mod.(*App), nil
}

// ServeHTTP serves the endpoint the path names, or calls next.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	var serve func(http.ResponseWriter, *http.Request) error
	switch r.URL.Path {
	case PathToken, PathLogin:
		serve = s.serveToken
	case PathAuthorize:
		serve = s.serveAuthorize
	case PathRevoke:
		serve = s.serveRevoke
	case PathIntrospect:
		serve = s.serveIntrospect
	case PathMetadata:
		serve = s.serveMetadata
	default:
		return next.ServeHTTP(w, r)
	}
	return serve(w, r)
}

// clientRequest reads the form of a request to /token, /revoke or
// /introspect and authenticates its client. Every answer to these requests
// carries a token or concerns a credential, so none may be cached.
func (s *Server) clientRequest(w http.ResponseWriter, r *http.Request) (url.Values, *Client, *Error) {
	setNoStore(w)
	form, e := s.app.readForm(w, r)
	if e != nil {
		return nil, nil, e
	}
	client, e := s.app.authenticateClient(r, form)
	if e != nil {
		return nil, nil, e
	}
	return form, client, nil
}

// fail answers an endpoint request whose handling failed: a protocol error
// as JSON, anything else as a storage fault (503), logged without secrets.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) error {
	if e, ok := err.(*Error); ok {
		s.app.metrics.errors.WithLabelValues(e.Code).Inc()
		return writeError(w, e)
	}
	s.app.metrics.errors.WithLabelValues("server_error").Inc()
	s.logger.Error("request failed", zap.String("path", r.URL.Path), zap.Error(err))
	w.Header().Set("Retry-After", "1")
	return writeError(w, &Error{Code: "server_error", Description: "the server cannot answer now, retry later", Status: http.StatusServiceUnavailable})
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Server)(nil)
	_ caddyhttp.MiddlewareHandler = (*Server)(nil)
)
