package caddyoauth

import (
	"errors"
	"net/http"
)

// introspection is the body of an RFC 7662 introspection response.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Sub       string `json:"sub,omitempty"`
}

// serveIntrospect serves POST /introspect (RFC 7662) to authenticated
// clients. Anything not currently valid is exactly {"active":false}.
func (s *Server) serveIntrospect(w http.ResponseWriter, r *http.Request) error {
	a := s.app
	form, client, e := s.clientRequest(w, r)
	if e != nil {
		return s.fail(w, r, e)
	}
	if client.Public {
		return s.fail(w, r, &Error{Code: CodeInvalidClient, Description: "introspection needs a confidential client", Status: http.StatusUnauthorized})
	}
	token := form.Get("token")
	if token == "" {
		return s.fail(w, r, Errorf(CodeInvalidRequest, "token is missing"))
	}
	var kind TokenKind
	var tokenType string
	switch {
	case WellFormed(token, AccessTokenPrefix):
		kind, tokenType = KindAccess, "Bearer"
	case WellFormed(token, RefreshTokenPrefix):
		kind, tokenType = KindRefresh, "refresh_token"
	default:
		return writeJSON(w, http.StatusOK, introspection{})
	}
	rec, err := a.store.GetToken(r.Context(), HashToken(token))
	if errors.Is(err, ErrNotFound) {
		return writeJSON(w, http.StatusOK, introspection{})
	}
	if err != nil {
		return s.fail(w, r, err)
	}
	if !rec.Active(kind, a.now()) {
		return writeJSON(w, http.StatusOK, introspection{})
	}
	sub := rec.UserID
	if sub == "" {
		sub = rec.ClientID
	}
	return writeJSON(w, http.StatusOK, introspection{
		Active:    true,
		Scope:     joinScopes(rec.Scopes),
		ClientID:  rec.ClientID,
		Username:  rec.UserID,
		TokenType: tokenType,
		Exp:       rec.ExpiresAt.Unix(),
		Iat:       rec.IssuedAt.Unix(),
		Sub:       sub,
	})
}
