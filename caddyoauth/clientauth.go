package caddyoauth

import (
	"net"
	"net/http"
	"net/url"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// authenticateClient identifies and authenticates the client of a token,
// revocation or introspection request (RFC 6749 §2.3): HTTP Basic with
// form-urlencoded id and secret, or client_id and client_secret in the body,
// never both. A public client sends its client_id alone.
func (a *App) authenticateClient(r *http.Request, form url.Values) (*Client, *Error) {
	id, secret, basic, e := clientCredentials(r, form)
	if e != nil {
		return nil, e
	}
	attempt := authAttempt{Source: Source(r), Client: id}
	if ok, retry := a.limiter.allow(attempt); !ok {
		return nil, &Error{Code: CodeInvalidClient, Description: "too many failed attempts, retry later",
			Status: http.StatusTooManyRequests, RetryAfter: retry}
	}
	var client *Client
	if secret == "" && !basic {
		if c := a.clients[id]; c != nil && c.Public {
			client = c
		}
	} else {
		client = a.verifyClientSecret(id, secret)
	}
	if client == nil {
		a.limiter.fail(attempt)
		return nil, &Error{Code: CodeInvalidClient, Description: "client authentication failed", Status: http.StatusUnauthorized}
	}
	return client, nil
}

// clientCredentials extracts the client's credentials from the request.
func clientCredentials(r *http.Request, form url.Values) (id, secret string, basic bool, e *Error) {
	user, pass, basic := r.BasicAuth()
	if !basic {
		if _, present := r.Header["Authorization"]; present {
			return "", "", false, &Error{Code: CodeInvalidClient, Description: "unsupported authorization scheme", Status: http.StatusUnauthorized}
		}
		id = form.Get("client_id")
		if id == "" {
			return "", "", false, &Error{Code: CodeInvalidClient, Description: "client authentication is missing", Status: http.StatusUnauthorized}
		}
		return id, form.Get("client_secret"), false, nil
	}
	if form.Has("client_secret") {
		return "", "", true, Errorf(CodeInvalidRequest, "the client authenticated with more than one method")
	}
	var err1, err2 error
	id, err1 = url.QueryUnescape(user)
	secret, err2 = url.QueryUnescape(pass)
	if err1 != nil || err2 != nil || id == "" {
		return "", "", true, Errorf(CodeInvalidRequest, "malformed Basic credentials")
	}
	if bodyID := form.Get("client_id"); bodyID != "" && bodyID != id {
		return "", "", true, Errorf(CodeInvalidRequest, "client_id differs from the Basic credentials")
	}
	return id, secret, true, nil
}

// Source returns the address a request comes from: the client IP that
// Caddy determined, which honours the server's trusted_proxies.
func Source(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
