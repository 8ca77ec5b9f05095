package caddyoauth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// IssuedTokens is the result of a successful grant.
type IssuedTokens struct {
	AccessToken  string
	RefreshToken string
	Scopes       []string
	ExpiresIn    time.Duration
}

// Issue mints an access token (and a refresh token if auth asks for one) for
// client and persists them before returning. A lone access token, with no
// refresh token and no family to continue, is in no family: revoking it
// revokes it alone, and the store keeps no family index entry for it.
func (a *App) Issue(ctx context.Context, client *Client, grantType string, auth *Authorization) (*IssuedTokens, error) {
	now := a.now()
	family := auth.FamilyID
	if family == "" && auth.RefreshToken {
		family = newFamilyID()
	}
	out := &IssuedTokens{
		AccessToken: NewToken(AccessTokenPrefix),
		Scopes:      auth.Scopes,
		ExpiresIn:   time.Duration(a.AccessTokenTTL),
	}
	access := &TokenRecord{
		Hash:      HashToken(out.AccessToken),
		Kind:      KindAccess,
		FamilyID:  family,
		ClientID:  client.ID,
		UserID:    auth.UserID,
		Scopes:    auth.Scopes,
		IssuedAt:  now,
		ExpiresAt: now.Add(time.Duration(a.AccessTokenTTL)),
	}
	records := []*TokenRecord{access}
	if auth.RefreshToken {
		out.RefreshToken = NewToken(RefreshTokenPrefix)
		refresh := *access
		refresh.Hash = HashToken(out.RefreshToken)
		refresh.Kind = KindRefresh
		refresh.ExpiresAt = now.Add(time.Duration(a.RefreshTokenTTL))
		var err error
		if access.SealedSibling, err = SealSibling(out.AccessToken, out.RefreshToken); err != nil {
			return nil, fmt.Errorf("sealing refresh token: %v", err)
		}
		if refresh.SealedSibling, err = SealSibling(out.RefreshToken, out.AccessToken); err != nil {
			return nil, fmt.Errorf("sealing access token: %v", err)
		}
		records = append(records, &refresh)
	}
	if err := a.store.SaveTokens(ctx, records...); err != nil {
		return nil, fmt.Errorf("storing tokens: %w", err)
	}
	if auth.Parent != nil {
		if err := a.revokeIfParentRevoked(ctx, auth.Parent); err != nil {
			return nil, err
		}
	}
	a.metrics.issued.WithLabelValues(grantType).Inc()
	return out, nil
}

// revokeIfParentRevoked closes the race between consuming a single-use
// token and storing its successors: a reuse of the parent that revoked the
// family in between did not see the new records, so revoke them too. The
// request that consumed the parent still won; what it gets is dead.
func (a *App) revokeIfParentRevoked(ctx context.Context, parent *TokenRecord) error {
	rec, err := a.store.GetToken(ctx, parent.Hash)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("re-reading consumed token: %w", err)
	}
	if err == nil && !rec.Revoked {
		return nil
	}
	return a.revokeFamily(ctx, parent.FamilyID)
}

// newFamilyID returns a new token family's identifier: a selector, so that
// family indexes grow at their end, and 64 random bits.
func newFamilyID() string {
	var b [16]byte
	putSelector(b[:selectorBytes])
	_, _ = rand.Read(b[selectorBytes:])
	var buf [2 * len(b)]byte
	hex.Encode(buf[:], b[:])
	return string(buf[:])
}

// ErrInvalidToken means an access token is unknown, expired, revoked or not
// an access token at all.
var ErrInvalidToken = errors.New("invalid access token")

// Validate returns what the gate needs to know about a valid access token.
// It returns ErrInvalidToken for a token that is not valid, and another
// error when the store cannot answer.
func (a *App) Validate(ctx context.Context, token string) (*ValidToken, bool, error) {
	if !WellFormed(token, AccessTokenPrefix) {
		return nil, false, ErrInvalidToken
	}
	key := KeyOf(token)
	now := a.now()
	if v, ok := a.cache.Get(key, now); ok {
		return v, true, nil
	}
	v, err := a.cache.Load(key, now, func() (*ValidToken, error) {
		rec, err := a.store.GetToken(ctx, key.hex())
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if !rec.Active(KindAccess, now) {
			return nil, nil
		}
		return &ValidToken{
			ClientID:  a.internClientID(rec.ClientID),
			UserID:    rec.UserID,
			Scope:     joinScopes(rec.Scopes),
			ExpiresAt: rec.ExpiresAt.UnixNano(),
		}, nil
	})
	if err != nil {
		return nil, false, err
	}
	if v == nil {
		return nil, false, ErrInvalidToken
	}
	return v, false, nil
}

// internClientID returns the configured client's own copy of id, so cached
// tokens of one client share one string.
func (a *App) internClientID(id string) string {
	if c, ok := a.clients[id]; ok {
		return c.ID
	}
	return id
}

// Redeem consumes a single-use token (a refresh token or an authorization
// code) presented by client. Presenting one that was already used revokes
// its whole family. check, if not nil, may refuse the request before the
// token is consumed, so a refused request does not spend it. Every failure
// that is the client's is an *Error; other errors are storage faults.
func (a *App) Redeem(ctx context.Context, client *Client, token string, kind TokenKind, check func(*TokenRecord) error) (*TokenRecord, error) {
	prefix := RefreshTokenPrefix
	if kind == KindCode {
		prefix = CodePrefix
	}
	invalid := Errorf(CodeInvalidGrant, "the %s is invalid, expired or revoked", kindName(kind))
	if !WellFormed(token, prefix) {
		return nil, invalid
	}
	hash := HashToken(token)
	now := a.now()
	rec, err := a.store.GetToken(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return nil, invalid
	}
	if err != nil {
		return nil, err
	}
	// Another client's token is not consumed, so it cannot be burnt.
	if rec.Kind != kind || rec.ClientID != client.ID {
		return nil, invalid
	}
	if !now.Before(rec.ExpiresAt) {
		// Expired, but presented again after its use all the same: what
		// it produced may still be alive.
		if !rec.UsedAt.IsZero() {
			if err := a.replayed(ctx, client, kind, hash, rec.FamilyID); err != nil {
				return nil, err
			}
		}
		return nil, invalid
	}
	if check != nil && rec.UsedAt.IsZero() && !rec.Revoked {
		if err := check(rec); err != nil {
			return nil, err
		}
	}
	rec, err = a.store.ConsumeToken(ctx, hash, now)
	switch {
	case errors.Is(err, ErrAlreadyUsed):
		if err := a.replayed(ctx, client, kind, hash, rec.FamilyID); err != nil {
			return nil, err
		}
		return nil, invalid
	case errors.Is(err, ErrRevoked), errors.Is(err, ErrNotFound):
		return nil, invalid
	case err != nil:
		return nil, err
	}
	return rec, nil
}

// replayed revokes the family of a single-use token presented after its
// use (RFC 6749 §4.1.2, §10.4): the token may have been stolen, and the
// tokens it produced with it.
func (a *App) replayed(ctx context.Context, client *Client, kind TokenKind, hash, family string) error {
	if err := a.revokeFamily(ctx, family); err != nil {
		return err
	}
	a.logger.Warn("single-use token presented twice: revoked its family",
		zap.String("kind", string(kind)), zap.String("client_id", client.ID),
		logField(hash))
	return nil
}

func kindName(kind TokenKind) string {
	switch kind {
	case KindRefresh:
		return "refresh token"
	case KindCode:
		return "authorization code"
	}
	return string(kind)
}

// revokeFamily revokes every token of the family and evicts them from the
// cache.
func (a *App) revokeFamily(ctx context.Context, family string) error {
	hashes, err := a.store.RevokeFamily(ctx, family)
	if err != nil {
		return fmt.Errorf("revoking token family: %w", err)
	}
	a.cache.Evict(hashes)
	return nil
}
