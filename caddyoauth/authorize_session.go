package caddyoauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// SessionPrefix starts the token of a browser session of the authorization
// page, held in the session cookie; the store keeps only its hash.
const SessionPrefix = "coss_"

// sessionCookie is the name of the cookie that holds a session token.
const sessionCookie = "caddy_oauth_session"

// newSession starts a browser session for user: it stores a session record,
// which every node sharing the store knows, and returns the value of its
// cookie (see sessionBinding). The record is a family of its own, so
// that revokeFamily can end it.
func (a *App) newSession(ctx context.Context, user *User) (string, error) {
	token := NewToken(SessionPrefix)
	now := a.now()
	err := a.store.SaveTokens(ctx, &TokenRecord{
		Hash:      HashToken(token),
		Kind:      KindSession,
		FamilyID:  newFamilyID(),
		UserID:    user.Name,
		IssuedAt:  now,
		ExpiresAt: now.Add(time.Duration(a.SessionTTL)),
	})
	if err != nil {
		return "", fmt.Errorf("storing session: %w", err)
	}
	return token + "." + sessionBinding(token, user), nil
}

// sessionBinding ties a session to the password hash its user signed in
// with: the HMAC-SHA256 of the session token under the hash, 128 bits in
// base64url. The session cookie holds the token, a dot and the binding.
// Once the user's password hash changes in the config, on any node, the
// binding no longer matches and the session signs no one in, although its
// record lasts until session_ttl.
func sessionBinding(token string, user *User) string {
	mac := hmac.New(sha256.New, []byte(user.PasswordHash))
	mac.Write([]byte(token))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
}

// session returns the user signed in on the browser that sent r, or nil if
// its session cookie is missing, unknown, expired or ended, or names a user
// who is no longer configured or whose password hash has changed since. It
// returns an error only when the store fails.
func (a *App) session(ctx context.Context, r *http.Request) (*User, error) {
	_, user, err := a.sessionRecord(ctx, r)
	return user, err
}

// endSession ends the session of the browser that sent r, if it has one:
// its record is revoked, so its token signs no one in any more, on any
// node, whoever holds it. It returns an error only when the store fails.
func (a *App) endSession(ctx context.Context, r *http.Request) error {
	rec, _, err := a.sessionRecord(ctx, r)
	if rec == nil || err != nil {
		return err
	}
	// Sessions stored before they had a family cannot be revoked; an
	// empty family must never reach RevokeFamily, where it could match
	// every record without one.
	if rec.FamilyID == "" {
		return nil
	}
	if err := a.revokeFamily(ctx, rec.FamilyID); err != nil {
		return fmt.Errorf("ending session: %w", err)
	}
	return nil
}

// sessionRecord returns the active session record named by the session
// cookie of r and its user, or nils: also when the user is no longer
// configured or the cookie's binding does not match the user's password
// hash (see sessionBinding).
func (a *App) sessionRecord(ctx context.Context, r *http.Request) (*TokenRecord, *User, error) {
	cookie, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, nil, nil
	}
	token, binding, ok := strings.Cut(cookie.Value, ".")
	if !ok || !WellFormed(token, SessionPrefix) {
		return nil, nil, nil
	}
	rec, err := a.store.GetToken(ctx, HashToken(token))
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("looking up session: %w", err)
	}
	if !rec.Active(KindSession, a.now()) {
		return nil, nil, nil
	}
	user := a.users[rec.UserID]
	if user == nil || !hmac.Equal([]byte(binding), []byte(sessionBinding(token, user))) {
		return nil, nil, nil
	}
	return rec, user, nil
}

// setSessionCookie gives the browser the value of its session cookie (see
// newSession), for as long as the session lasts.
func (a *App) setSessionCookie(w http.ResponseWriter, r *http.Request, value string) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    value,
		Path:     authorizePath(r),
		MaxAge:   int(time.Duration(a.SessionTTL) / time.Second),
		HttpOnly: true,
		Secure:   a.secureCookies(r),
		SameSite: http.SameSiteLaxMode,
	})
}

// clearSessionCookie tells the browser to drop its session cookie.
func (a *App) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Path:     authorizePath(r),
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   a.secureCookies(r),
		SameSite: http.SameSiteLaxMode,
	})
}

// secureCookies reports whether the cookies of the pages must be Secure:
// when the request came over TLS, or when the configured issuer is https,
// as it is behind a proxy that terminates TLS (and so makes the request
// plain http): the browser speaks https to that proxy.
func (a *App) secureCookies(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(a.issuerOrigin, "https://")
}

// authorizePath is the public path of the authorization endpoint, with the
// prefix that handle_path stripped: where its forms post and its cookies
// are sent.
func authorizePath(r *http.Request) string {
	return mountPrefix(r) + PathAuthorize
}
