package caddyoauth

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The response types of the authorization endpoint (RFC 6749 §3.1.1).
const (
	responseCode  = "code"
	responseToken = "token"
)

// The error codes of authorization responses (RFC 6749 §4.1.2.1) and of
// OpenID Connect's prompt=none that RFC 6749 §5.2 does not have.
const (
	CodeAccessDenied            = "access_denied"
	CodeUnsupportedResponseType = "unsupported_response_type"
	CodeServerError             = "server_error"
	CodeLoginRequired           = "login_required"
	CodeConsentRequired         = "consent_required"
)

// authorizeParamNames are the parameters of an authorization request that
// the server reads (RFC 6749 §4.1.1, §4.2.1; RFC 7636 §4.3; OpenID Connect's
// prompt). The pages carry them, and nothing else of the request, through
// sign-in and consent in hidden fields. Other parameters are ignored.
var authorizeParamNames = [...]string{
	"response_type", "client_id", "redirect_uri", "scope", "state",
	"code_challenge", "code_challenge_method", "prompt",
}

// authorizeRequest is an authorization request whose client and redirect
// URI are trusted.
type authorizeRequest struct {
	client *Client
	// params holds the request's parameters as it sent them (those of
	// authorizeParamNames), one value each.
	params url.Values
	// redirectURI is where the response goes: the redirect_uri parameter,
	// or the client's only registered redirect URI if the request has none.
	redirectURI string
	// responseType is the response_type parameter; it may be unsupported
	// when the request failed.
	responseType string
	// scopes are the requested scopes, before any narrowing.
	scopes []string
	// challenge is the PKCE S256 code challenge, if any.
	challenge string
	// promptLogin and promptNone are OpenID Connect's prompt values:
	// sign in again even with a session, or answer without any page.
	promptLogin, promptNone bool
}

// state returns the state parameter, to be returned byte for byte.
func (req *authorizeRequest) state() string { return req.params.Get("state") }

// survivesForms reports whether s comes back unchanged from a hidden field
// of the pages: valid UTF-8 without control characters. Browsers rewrite
// line breaks in the forms they submit and replace invalid UTF-8, and the
// state must return byte for byte. RFC 6749 (Appendix A.5) allows only
// printable ASCII; other printable text, which survives the forms, is
// accepted too.
func survivesForms(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// fragment reports whether the response goes in the redirect URI's
// fragment (the implicit grant, RFC 6749 §4.2.2) rather than its query.
func (req *authorizeRequest) fragment() bool { return req.responseType == responseToken }

// queryParams reads the parameters of an authorization request from a URL
// query. Parameters without a value count as absent. A repeated parameter
// is not refused here but reported in repeated: a repeated client_id or
// redirect_uri is answered with a page, any other with a redirect.
func queryParams(rawQuery string, maxParams int) (params url.Values, repeated []string, e *Error) {
	if strings.Count(rawQuery, "&")+1 > maxParams {
		return nil, nil, Errorf(CodeInvalidRequest, "too many parameters")
	}
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, nil, Errorf(CodeInvalidRequest, "the query is not valid URL encoding")
	}
	params = make(url.Values, len(authorizeParamNames))
	for _, name := range authorizeParamNames {
		var value string
		n := 0
		for _, v := range query[name] {
			if v != "" {
				if n == 0 {
					value = v
				}
				n++
			}
		}
		if n > 0 {
			params[name] = []string{value}
		}
		if n > 1 {
			repeated = append(repeated, name)
		}
	}
	return params, repeated, nil
}

// formParams picks the parameters of an authorization request out of a
// posted form (read by readForm, which refuses repeated parameters).
func formParams(form url.Values) url.Values {
	params := make(url.Values, len(authorizeParamNames))
	for _, name := range authorizeParamNames {
		if v := form.Get(name); v != "" {
			params[name] = []string{v}
		}
	}
	return params
}

// validateAuthorize checks an authorization request, in the order of RFC
// 6749 §4.1.2.1: first the client and the redirect URI, then the rest.
// Every step of the flow (the first GET, the sign-in, the consent) passes
// the request through it, so nothing the browser carries is trusted.
//
// On failure it returns an *Error and, once the redirect URI is trusted,
// the request: the error is then sent to the client. Without a request the
// error must be shown to the user, never redirected (RFC 6749 §3.1.2.4).
func (a *App) validateAuthorize(params url.Values, repeated []string) (*authorizeRequest, *Error) {
	for _, name := range repeated {
		if name == "client_id" || name == "redirect_uri" {
			return nil, Errorf(CodeInvalidRequest, "the parameter %s is repeated", name)
		}
	}
	clientID := params.Get("client_id")
	if clientID == "" {
		return nil, Errorf(CodeInvalidRequest, "the parameter client_id is missing")
	}
	client := a.clients[clientID]
	if client == nil {
		return nil, Errorf(CodeInvalidClient, "the client is unknown")
	}
	redirectURI, e := client.authorizeRedirectURI(params.Get("redirect_uri"))
	if e != nil {
		return nil, e
	}

	req := &authorizeRequest{
		client:       client,
		params:       params,
		redirectURI:  redirectURI,
		responseType: params.Get("response_type"),
	}
	fail := func(code, description string) (*authorizeRequest, *Error) {
		return req, &Error{Code: code, Description: description}
	}
	if len(repeated) > 0 {
		return fail(CodeInvalidRequest, "the parameter "+repeated[0]+" is repeated")
	}
	if !survivesForms(req.state()) {
		return fail(CodeInvalidRequest, "the state must be text without control characters")
	}
	switch req.responseType {
	case "":
		return fail(CodeInvalidRequest, "the parameter response_type is missing")
	case responseCode:
		if !client.Allows("authorization_code") {
			return fail(CodeUnauthorizedClient, "the client may not use the authorization_code grant")
		}
	case responseToken:
		if !client.Allows(GrantImplicit) {
			return fail(CodeUnauthorizedClient, "the client may not use the implicit grant")
		}
	default:
		return fail(CodeUnsupportedResponseType, "the response_type must be code or token")
	}
	for p := range strings.FieldsSeq(params.Get("prompt")) {
		switch p {
		case "login":
			req.promptLogin = true
		case "none":
			req.promptNone = true
		}
	}
	if req.promptNone && strings.TrimSpace(params.Get("prompt")) != "none" {
		return fail(CodeInvalidRequest, "prompt=none cannot be combined with other prompt values")
	}
	if req.responseType == responseCode {
		if e := req.checkPKCE(); e != nil {
			return req, e
		}
	}
	req.scopes = ParseScope(params.Get("scope"))
	return req, nil
}

// checkPKCE checks the PKCE parameters of a code request (RFC 7636 §4.3):
// S256 only, a challenge of 43 base64url characters, and always one from a
// public client (RFC 9700 §2.1.1).
func (req *authorizeRequest) checkPKCE() *Error {
	challenge := req.params.Get("code_challenge")
	method := req.params.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return Errorf(CodeInvalidRequest, "code_challenge_method is given without code_challenge")
	case challenge == "" && req.client.Public:
		return Errorf(CodeInvalidRequest, "a public client must use PKCE: code_challenge with code_challenge_method S256")
	case challenge == "":
		return nil
	case method != "S256":
		// A missing method means plain (RFC 7636 §4.3), which is refused too.
		return Errorf(CodeInvalidRequest, "code_challenge_method must be S256")
	case !isChallenge(challenge):
		return Errorf(CodeInvalidRequest, "code_challenge must be 43 base64url characters")
	}
	req.challenge = challenge
	return nil
}

// isChallenge reports whether s has the form of an S256 code challenge:
// a SHA-256 in unpadded base64url, 43 characters.
func isChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// authorizeRedirectURI returns where the client's authorization response
// goes: raw if it matches a registered redirect URI, or the only registered
// one if raw is empty (RFC 6749 §3.1.2.3).
func (c *Client) authorizeRedirectURI(raw string) (string, *Error) {
	switch {
	case len(c.RedirectURIs) == 0:
		return "", Errorf(CodeInvalidRequest, "the client has no registered redirect URI")
	case raw == "" && len(c.RedirectURIs) == 1:
		return c.RedirectURIs[0], nil
	case raw == "":
		return "", Errorf(CodeInvalidRequest, "the parameter redirect_uri is missing")
	case !c.matchRedirectURI(raw):
		return "", Errorf(CodeInvalidRequest, "the redirect_uri is not registered for the client")
	}
	return raw, nil
}

// matchRedirectURI reports whether raw is one of the client's registered
// redirect URIs: the same string, except that for a loopback host the port
// may differ, since a native app listens on whatever port it gets (RFC 8252
// §7.3).
func (c *Client) matchRedirectURI(raw string) bool {
	for _, registered := range c.RedirectURIs {
		if raw == registered {
			return true
		}
	}
	rawLoopback, ok := withoutLoopbackPort(raw)
	if !ok {
		return false
	}
	for _, registered := range c.RedirectURIs {
		if reg, ok := withoutLoopbackPort(registered); ok && reg == rawLoopback {
			return true
		}
	}
	return false
}

// withoutLoopbackPort returns uri without its port, if it is an http(s)
// URI of a loopback host with a port number (at most 65535) or none,
// without user info or fragment. Everything else of uri is kept as written.
func withoutLoopbackPort(uri string) (string, bool) {
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil ||
		strings.Contains(uri, "#") || !isLoopback(u.Hostname()) {
		return "", false
	}
	prefix := u.Scheme + "://" + u.Host
	rest, ok := strings.CutPrefix(uri, prefix)
	if !ok {
		return "", false
	}
	port := u.Port()
	if _, err := strconv.ParseUint(port, 10, 16); port != "" && err != nil {
		return "", false
	}
	host := strings.TrimSuffix(strings.TrimSuffix(u.Host, port), ":")
	return u.Scheme + "://" + host + rest, true
}
