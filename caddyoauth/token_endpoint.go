package caddyoauth

import (
	"net/http"
	"time"
)

// tokenResponse is the body of a successful token response (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// serveToken serves POST /token (RFC 6749 §3.2).
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) error {
	a := s.app
	form, client, e := s.clientRequest(w, r)
	if e != nil {
		return s.fail(w, r, e)
	}
	grantType := form.Get("grant_type")
	if grantType == "" {
		return s.fail(w, r, Errorf(CodeInvalidRequest, "grant_type is missing"))
	}
	grant, ok := a.grants[grantType]
	if !ok {
		return s.fail(w, r, Errorf(CodeUnsupportedGrantType, "grant type %q is not supported", grantType))
	}
	if !client.Allows(grantType) {
		return s.fail(w, r, Errorf(CodeUnauthorizedClient, "the client may not use grant type %q", grantType))
	}
	auth, err := grant.Authorize(r.Context(), &TokenRequest{
		Client: client,
		Form:   form,
		Scopes: ParseScope(form.Get("scope")),
		Now:    a.now(),
		HTTP:   r,
		Server: a,
	})
	if err != nil {
		return s.fail(w, r, err)
	}
	tokens, err := a.Issue(r.Context(), client, grantType, auth)
	if err != nil {
		return s.fail(w, r, err)
	}
	return writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:  tokens.AccessToken,
		TokenType:    "Bearer",
		ExpiresIn:    int64(tokens.ExpiresIn / time.Second),
		Scope:        joinScopes(tokens.Scopes),
		RefreshToken: tokens.RefreshToken,
	})
}
