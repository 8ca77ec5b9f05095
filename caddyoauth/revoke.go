package caddyoauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"
)

// Revocation describes what a successful revocation revoked, for WSO2's
// response headers.
type Revocation struct {
	AccessToken  string
	RefreshToken string
	UserID       string
}

// Revoke revokes the token presented by client and every token of its
// family (so an access token takes its refresh token with it and the other
// way round), or the token alone if it is in no family, and evicts them
// from the cache. It returns nil for a token that is unknown, already
// revoked or another client's (RFC 7009 §2.2: the answer is the same); an
// error only when the store fails.
func (a *App) Revoke(ctx context.Context, client *Client, token string) (*Revocation, error) {
	var kind TokenKind
	switch {
	case WellFormed(token, AccessTokenPrefix):
		kind = KindAccess
	case WellFormed(token, RefreshTokenPrefix):
		kind = KindRefresh
	default:
		return nil, nil
	}
	rec, err := a.store.GetToken(ctx, HashToken(token))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up token: %w", err)
	}
	if rec.Kind != kind || rec.ClientID != client.ID || rec.Revoked {
		return nil, nil
	}
	var hashes []string
	if rec.FamilyID == "" {
		hashes, err = a.store.RevokeToken(ctx, rec.Hash)
	} else {
		hashes, err = a.store.RevokeFamily(ctx, rec.FamilyID)
	}
	if err != nil {
		return nil, fmt.Errorf("revoking token: %w", err)
	}
	a.cache.Evict(hashes)
	if len(hashes) == 0 {
		return nil, nil
	}
	a.metrics.revocations.Inc()
	a.logger.Info("revoked token family",
		zap.String("client_id", client.ID), logField(rec.Hash), zap.Int("records", len(hashes)))

	rev := &Revocation{UserID: rec.UserID}
	var sibling string
	if rec.SealedSibling != nil {
		if sibling, err = OpenSibling(token, rec.SealedSibling); err != nil {
			return nil, fmt.Errorf("opening sealed sibling: %v", err)
		}
	}
	if kind == KindAccess {
		rev.AccessToken, rev.RefreshToken = token, sibling
	} else {
		rev.AccessToken, rev.RefreshToken = sibling, token
	}
	return rev, nil
}

// serveRevoke serves POST /revoke (RFC 7009), with WSO2's response headers
// when the app's revocation_headers is on.
func (s *Server) serveRevoke(w http.ResponseWriter, r *http.Request) error {
	a := s.app
	form, client, e := s.clientRequest(w, r)
	if e != nil {
		return s.fail(w, r, e)
	}
	token := form.Get("token")
	if token == "" {
		return s.fail(w, r, Errorf(CodeInvalidRequest, "token is missing"))
	}
	rev, err := a.Revoke(r.Context(), client, token)
	if err != nil {
		return s.fail(w, r, err)
	}
	if rev != nil && a.RevocationHeaders {
		h := w.Header()
		h.Set("RevokedAccessToken", rev.AccessToken)
		h.Set("AuthorizedUser", rev.UserID)
		h.Set("RevokedRefreshToken", rev.RefreshToken)
	}
	writeHeadHiding(w, http.StatusOK, "RevokedAccessToken", "RevokedRefreshToken")
	return nil
}
