package caddyoauth

import (
	"context"
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
// which every node sharing the store knows, and returns its token. The
// record is a family of its own, so that revokeFamily can end it.
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
	return token, nil
}

// session returns the user signed in on the browser that sent r, or nil if
// its session cookie is missing, unknown, expired or ended, or names a user
// who is no longer configured. It returns an error only when the store
// fails.
func (a *App) session(ctx context.Context, r *http.Request) (*User, error) {
	rec, err := a.sessionRecord(ctx, r)
	if rec == nil || err != nil {
		return nil, err
	}
	return a.users[rec.UserID], nil
}

// endSession ends the session of the browser that sent r, if it has one:
// its record is revoked, so its token signs no one in any more, on any
// node, whoever holds it. It returns an error only when the store fails.
func (a *App) endSession(ctx context.Context, r *http.Request) error {
	rec, err := a.sessionRecord(ctx, r)
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
// cookie of r, or nil.
func (a *App) sessionRecord(ctx context.Context, r *http.Request) (*TokenRecord, error) {
	cookie, err := r.Cookie(sessionCookie)
	if err != nil || !WellFormed(cookie.Value, SessionPrefix) {
		return nil, nil
	}
	rec, err := a.store.GetToken(ctx, HashToken(cookie.Value))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up session: %w", err)
	}
	if !rec.Active(KindSession, a.now()) {
		return nil, nil
	}
	return rec, nil
}

// setSessionCookie gives the browser its session token, for as long as the
// session lasts.
func (a *App) setSessionCookie(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    token,
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
