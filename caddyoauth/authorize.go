package caddyoauth

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// serveAuthorize serves the authorization endpoint (RFC 6749 §3.1): GET
// with an authorization request shows the sign-in page, or the consent page
// to a browser with a session; the pages' forms POST back to it. Every
// POST re-validates the whole request it carries.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) error {
	setAuthorizeHeaders(w.Header(), "")
	switch r.Method {
	case http.MethodGet:
		return s.authorizeGet(w, r)
	case http.MethodPost:
		return s.authorizePost(w, r)
	}
	w.Header().Set("Allow", "GET, POST")
	return s.errorPage(w, http.StatusMethodNotAllowed, Errorf(CodeInvalidRequest, "the method must be GET or POST"))
}

// authorizeGet answers an authorization request: with the sign-in page,
// the consent page, or (prompt=none) at once.
func (s *Server) authorizeGet(w http.ResponseWriter, r *http.Request) error {
	a := s.app
	params, repeated, e := queryParams(r.URL.RawQuery, a.Limits.MaxParams)
	if e != nil {
		return s.errorPage(w, http.StatusBadRequest, e)
	}
	req, e := a.validateAuthorize(params, repeated)
	if e != nil {
		return s.authorizeFail(w, r, req, e)
	}
	user, err := a.session(r.Context(), r)
	if err != nil {
		return s.authorizeFault(w, r, req, err)
	}
	switch {
	case req.promptNone && user == nil:
		return s.authorizeFail(w, r, req, Errorf(CodeLoginRequired, "the user is not signed in"))
	case req.promptNone:
		return s.authorizeFail(w, r, req, Errorf(CodeConsentRequired, "the user must approve the request"))
	case user == nil || req.promptLogin:
		return s.loginPage(w, r, req, http.StatusOK, "", "")
	}
	return s.consentPage(w, r, req, user)
}

// authorizePost handles the forms of the pages: sign-in, approval, denial,
// sign-out.
func (s *Server) authorizePost(w http.ResponseWriter, r *http.Request) error {
	a := s.app
	form, e := a.readForm(w, r)
	if e != nil {
		return s.errorPage(w, e.status(), e)
	}
	if !a.sameOrigin(r) {
		return s.errorPage(w, http.StatusForbidden, Errorf(CodeInvalidRequest, "the form was sent from another site"))
	}
	if !checkCSRF(r, form) {
		return s.errorPage(w, http.StatusForbidden, Errorf(CodeInvalidRequest,
			"the form has expired or did not come from this server; go back to the application and start again"))
	}
	req, e := a.validateAuthorize(formParams(form), nil)
	if e != nil {
		return s.authorizeFail(w, r, req, e)
	}
	switch form.Get("action") {
	case "login":
		return s.signIn(w, r, req, form)
	case "approve":
		user, err := a.session(r.Context(), r)
		if err != nil {
			return s.authorizeFault(w, r, req, err)
		}
		if user == nil {
			return s.loginPage(w, r, req, http.StatusOK, "Your session has expired. Sign in again.", "")
		}
		// The approval is for the user the consent page showed: if someone
		// else signed in on this browser since, ask that user instead.
		if form.Get(consentUserField) != user.Name {
			return s.consentPage(w, r, req, user)
		}
		return s.approve(w, r, req, user)
	case "deny":
		return s.authorizeFail(w, r, req, Errorf(CodeAccessDenied, "the resource owner denied the request"))
	case "logout":
		return s.signOut(w, r, req)
	}
	return s.errorPage(w, http.StatusBadRequest, Errorf(CodeInvalidRequest, "the form has no valid action"))
}

// signIn checks the sign-in form. On success it ends the browser's
// session, if any (a sign-in replaces it, whoever signed in before), starts
// a new one and sends the browser (303, so it follows with a GET) to the
// consent step: the same request without prompt, whose login has now
// happened.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, req *authorizeRequest, form url.Values) error {
	a := s.app
	name, password := form.Get("username"), form.Get("password")
	if name == "" || password == "" {
		return s.loginPage(w, r, req, http.StatusOK, "Enter your username and password.", name)
	}
	user, e := a.AuthenticateUser(r, name, password)
	if e != nil {
		if e.Status == http.StatusTooManyRequests {
			seconds := int((e.RetryAfter + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(seconds))
			return s.loginPage(w, r, req, http.StatusTooManyRequests,
				"Too many failed sign-ins. Try again in "+strconv.Itoa(seconds)+" seconds.", name)
		}
		return s.loginPage(w, r, req, http.StatusOK, "The username or password is wrong.", name)
	}
	if err := a.endSession(r.Context(), r); err != nil {
		return s.authorizeFault(w, r, req, err)
	}
	cookie, err := a.newSession(r.Context(), user)
	if err != nil {
		return s.authorizeFault(w, r, req, err)
	}
	a.setSessionCookie(w, r, cookie)
	return s.restart(w, r, req)
}

// signOut ends the browser's session and sends the browser (303) back to
// the request, whose sign-in page now asks who signs in.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request, req *authorizeRequest) error {
	if err := s.app.endSession(r.Context(), r); err != nil {
		return s.authorizeFault(w, r, req, err)
	}
	s.app.clearSessionCookie(w, r)
	return s.restart(w, r, req)
}

// restart sends the browser (303, so it follows with a GET) to the
// authorization request again, without its prompt: the sign-in or sign-out
// that prompt may have asked for has just happened.
func (s *Server) restart(w http.ResponseWriter, r *http.Request, req *authorizeRequest) error {
	next := make(url.Values, len(req.params))
	for name, v := range req.params {
		if name != "prompt" {
			next[name] = v
		}
	}
	w.Header().Set("Location", authorizePath(r)+"?"+next.Encode())
	w.WriteHeader(http.StatusSeeOther)
	return nil
}

// approve answers an approved request: a code, or for the implicit grant
// an access token, sent to the redirect URI.
func (s *Server) approve(w http.ResponseWriter, r *http.Request, req *authorizeRequest, user *User) error {
	a := s.app
	ctx := r.Context()
	scopes := GrantScopes(req.scopes, req.client, user)
	out := url.Values{}
	if req.responseType == responseToken {
		tokens, err := a.Issue(ctx, req.client, GrantImplicit, &Authorization{UserID: user.Name, Scopes: scopes})
		if err != nil {
			return s.authorizeFault(w, r, req, err)
		}
		out.Set("access_token", tokens.AccessToken)
		out.Set("token_type", "Bearer")
		out.Set("expires_in", strconv.FormatInt(int64(tokens.ExpiresIn/time.Second), 10))
		out.Set("scope", joinScopes(tokens.Scopes))
	} else {
		code := NewToken(CodePrefix)
		now := a.now()
		err := a.store.SaveTokens(ctx, &TokenRecord{
			Hash:      HashToken(code),
			Kind:      KindCode,
			FamilyID:  newFamilyID(),
			ClientID:  req.client.ID,
			UserID:    user.Name,
			Scopes:    scopes,
			IssuedAt:  now,
			ExpiresAt: now.Add(time.Duration(a.CodeTTL)),
			// As the request sent it, possibly empty: the token request
			// must repeat it exactly (RFC 6749 §4.1.3).
			RedirectURI:   req.params.Get("redirect_uri"),
			CodeChallenge: req.challenge,
		})
		if err != nil {
			return s.authorizeFault(w, r, req, err)
		}
		out.Set("code", code)
	}
	s.logger.Debug("authorization approved", zap.String("client_id", req.client.ID),
		zap.String("user", user.Name), zap.String("response_type", req.responseType))
	return s.redirectResponse(w, r, req, out)
}

// loginPage shows the sign-in form for the request, with an error message
// if a sign-in failed.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, req *authorizeRequest, status int, message, username string) error {
	return s.renderPage(w, status, req, &AuthorizePage{
		Page:      pageLogin,
		Action:    authorizePath(r),
		CSRFToken: s.app.csrfToken(w, r),
		Params:    req.hiddenParams(),
		ClientID:  req.client.ID,
		Username:  username,
		Error:     message,
	})
}

// consentUserField is the hidden field of the consent form that names the
// user the page was shown to; an approval by anyone else is not taken.
const consentUserField = "consent_user"

// consentPage asks the signed-in user to approve or deny the request.
func (s *Server) consentPage(w http.ResponseWriter, r *http.Request, req *authorizeRequest, user *User) error {
	return s.renderPage(w, http.StatusOK, req, &AuthorizePage{
		Page:      pageConsent,
		Action:    authorizePath(r),
		CSRFToken: s.app.csrfToken(w, r),
		Params:    append(req.hiddenParams(), AuthorizeParam{Name: consentUserField, Value: user.Name}),
		ClientID:  req.client.ID,
		Scopes:    GrantScopes(req.scopes, req.client, user),
		User:      user.Name,
	})
}

// authorizeFail answers a request that failed with e: on a page when the
// redirect URI is not trusted (req is nil), else at the redirect URI.
func (s *Server) authorizeFail(w http.ResponseWriter, r *http.Request, req *authorizeRequest, e *Error) error {
	if req == nil {
		return s.errorPage(w, e.status(), e)
	}
	s.app.metrics.errors.WithLabelValues(e.Code).Inc()
	return s.redirectResponse(w, r, req, url.Values{"error": {e.Code}, "error_description": {e.Description}})
}

// authorizeFault answers a request the server could not handle (the store
// failed): server_error at the redirect URI (RFC 6749 §4.1.2.1), logged.
func (s *Server) authorizeFault(w http.ResponseWriter, r *http.Request, req *authorizeRequest, err error) error {
	s.logger.Error("authorization request failed", zap.String("client_id", req.client.ID), zap.Error(err))
	return s.authorizeFail(w, r, req, Errorf(CodeServerError, "the server cannot answer now, retry later"))
}

// redirectResponse sends the browser (303) to the request's redirect URI
// with the response parameters, the state and the issuer (RFC 9207), in
// the query, or in the fragment for the implicit grant.
func (s *Server) redirectResponse(w http.ResponseWriter, r *http.Request, req *authorizeRequest, out url.Values) error {
	if state := req.state(); state != "" {
		out.Set("state", state)
	}
	out.Set("iss", s.app.issuerFor(r))
	w.Header().Set("Location", responseURI(req.redirectURI, req.fragment(), out))
	writeHeadHiding(w, http.StatusSeeOther, "Location")
	return nil
}

// responseURI adds the response parameters to the redirect URI: after its
// own query, which is kept as it is (RFC 6749 §3.1.2), or as its fragment.
func responseURI(redirectURI string, fragment bool, params url.Values) string {
	if fragment {
		return redirectURI + "#" + params.Encode()
	}
	sep := "&"
	switch {
	case strings.HasSuffix(redirectURI, "?"):
		sep = ""
	case !strings.Contains(redirectURI, "?"):
		sep = "?"
	}
	return redirectURI + sep + params.Encode()
}
