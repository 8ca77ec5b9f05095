package caddyoauth

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

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
	// The body is built in a pooled buffer: a Write may not retain it.
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer putBodyBuffer(buf)
	buf.Grow(tokenResponseSize(tokens))
	body := appendTokenResponse(buf.AvailableBuffer(), tokens)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(body)
	return err
}

// appendTokenResponse appends the body of a successful token response (RFC
// 6749 §5.1) to dst: the JSON that encoding/json makes of
//
//	struct {
//		AccessToken  string `json:"access_token"`
//		TokenType    string `json:"token_type"`
//		ExpiresIn    int64  `json:"expires_in"`
//		Scope        string `json:"scope"`
//		RefreshToken string `json:"refresh_token,omitempty"`
//	}
//
// without reflection, for the hottest response of the server.
func appendTokenResponse(dst []byte, t *IssuedTokens) []byte {
	dst = append(dst, `{"access_token":`...)
	dst = appendJSONString(dst, t.AccessToken)
	dst = append(dst, `,"token_type":"Bearer","expires_in":`...)
	dst = strconv.AppendInt(dst, int64(t.ExpiresIn/time.Second), 10)
	dst = append(dst, `,"scope":`...)
	dst = appendJSONString(dst, joinScopes(t.Scopes))
	if t.RefreshToken != "" {
		dst = append(dst, `,"refresh_token":`...)
		dst = appendJSONString(dst, t.RefreshToken)
	}
	return append(dst, '}')
}

// tokenResponseSize is the length of a token response for t with plain
// scopes, for sizing its buffer.
func tokenResponseSize(t *IssuedTokens) int {
	const maxInt64Digits = 20
	n := len(`{"access_token":"","token_type":"Bearer","expires_in":,"scope":"","refresh_token":""}`) + maxInt64Digits
	n += len(t.AccessToken) + len(t.RefreshToken) + len(t.Scopes) // a space between scopes
	for _, s := range t.Scopes {
		n += len(s)
	}
	return n
}

// appendJSONString appends s quoted as encoding/json quotes it. Tokens and
// scope names are plain ASCII and are copied as they are; anything else is
// left to encoding/json, which escapes HTML characters, control characters
// and invalid UTF-8.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			quoted, _ := json.Marshal(s) // a string always marshals
			return append(dst, quoted...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
