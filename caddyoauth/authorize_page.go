package caddyoauth

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// defaultAuthorizeTemplate is the built-in page of /authorize.
//
//go:embed templates/authorize.html
var defaultAuthorizeTemplate string

// The pages of /authorize, the values of AuthorizePage.Page.
const (
	pageLogin   = "login"
	pageConsent = "consent"
	pageError   = "error"
)

// AuthorizePage is the data the template of /authorize gets (see the
// app's authorize_template). One template renders every page, chosen by
// Page. Every value is escaped by html/template where the template puts
// it.
//
// The sign-in form must post to Action the fields username, password and
// action=login; the consent form action=approve or action=deny, and it may
// offer action=logout, which ends the session and shows the sign-in page
// for the same request. Both must carry the hidden fields csrf_token
// (CSRFToken) and Params.
type AuthorizePage struct {
	// Page is "login" (the sign-in form), "consent" (approve or deny the
	// request) or "error" (a request that cannot go back to its client).
	Page string
	// Action is the URL the forms post to: the authorization endpoint.
	Action string
	// CSRFToken is the value of the hidden field csrf_token, which every
	// form must carry.
	CSRFToken string
	// Params are the parameters of the authorization request, which every
	// form must carry in hidden fields: each Name with its Value.
	Params []AuthorizeParam
	// ClientID is the client that asks for authorization (login, consent).
	ClientID string
	// Scopes are the scopes that approval grants: those requested that the
	// client and the user may have, or "default" (consent).
	Scopes []string
	// User is the signed-in user (consent).
	User string
	// Username is the name typed in a failed sign-in (login).
	Username string
	// Error is a message for the user: why the sign-in failed (login), or
	// what is wrong with the request (error).
	Error string
	// ErrorCode is the OAuth error code of the request's failure, such as
	// invalid_request (error).
	ErrorCode string
}

// AuthorizeParam is one parameter of the authorization request.
type AuthorizeParam struct {
	Name  string
	Value string
}

// provisionAuthorizePage parses the template of /authorize: the file of
// AuthorizeTemplate, or the built-in page. A template that does not parse,
// or fails on any of its pages, fails the config load.
func (a *App) provisionAuthorizePage() error {
	text, name := defaultAuthorizeTemplate, "authorize.html"
	if a.AuthorizeTemplate != "" {
		path := caddy.NewReplacer().ReplaceKnown(a.AuthorizeTemplate, "")
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("authorize_template: %v", err)
		}
		text, name = string(b), path
	}
	tmpl, err := template.New(name).Parse(text)
	if err != nil {
		return fmt.Errorf("authorize_template: %v", err)
	}
	sample := AuthorizePage{
		Action: PathAuthorize, CSRFToken: "csrf", ClientID: "client", Scopes: []string{DefaultScope},
		Params: []AuthorizeParam{{Name: "client_id", Value: "client"}}, User: "user", Username: "user",
		Error: "error", ErrorCode: CodeInvalidRequest,
	}
	for _, page := range []string{pageLogin, pageConsent, pageError} {
		sample.Page = page
		if err := tmpl.Execute(io.Discard, &sample); err != nil {
			return fmt.Errorf("authorize_template: page %q: %v", page, err)
		}
	}
	a.authorizePage = tmpl
	return nil
}

// setAuthorizeHeaders sets the headers of every response of /authorize:
// no caching, no framing, no referrer, nothing loaded from anywhere. Forms
// may post to this server and, when formTarget is a redirect URI, have
// the POST redirected there: browsers apply form-action to the redirects
// that follow a form submission.
func setAuthorizeHeaders(h http.Header, formTarget string) {
	formAction := "'self'"
	if src := cspSource(formTarget); src != "" {
		formAction += " " + src
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action "+formAction+
		"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// cspSource returns the CSP source expression that allows uri: its origin
// for http(s), its scheme for others (an app's private-use scheme), or ""
// if uri has no form that can safely go in the header.
func cspSource(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return ""
	}
	for _, c := range u.Scheme + u.Host {
		if c <= ' ' || c >= 0x7f || c == ';' || c == ',' || c == '\'' {
			return ""
		}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return u.Scheme + ":"
	}
	if u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// renderPage writes a page of /authorize with the given status. The page
// of a request whose redirect URI is trusted lets its forms be redirected
// there.
func (s *Server) renderPage(w http.ResponseWriter, status int, req *authorizeRequest, page *AuthorizePage) error {
	if req != nil {
		setAuthorizeHeaders(w.Header(), req.redirectURI)
	}
	var buf bytes.Buffer
	if err := s.app.authorizePage.Execute(&buf, page); err != nil {
		// Templates are tried on every page at load; this is a bug.
		s.logger.Error("rendering the authorization page failed", zap.String("page", page.Page), zap.Error(err))
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// errorPage shows an error that cannot be sent to the client, because the
// client or its redirect URI is not known, or the request is not a valid
// step of the flow. It never redirects.
func (s *Server) errorPage(w http.ResponseWriter, status int, e *Error) error {
	s.app.metrics.errors.WithLabelValues(e.Code).Inc()
	return s.renderPage(w, status, nil, &AuthorizePage{Page: pageError, Error: e.Description, ErrorCode: e.Code})
}

// hiddenParams lists the request's parameters for the hidden fields of a form,
// in a fixed order.
func (req *authorizeRequest) hiddenParams() []AuthorizeParam {
	var out []AuthorizeParam
	for _, name := range authorizeParamNames {
		if v := req.params.Get(name); v != "" {
			out = append(out, AuthorizeParam{Name: name, Value: v})
		}
	}
	return out
}
