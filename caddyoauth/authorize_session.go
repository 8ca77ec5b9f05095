package caddyoauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// SessionPrefix starts the token of a browser session of the authorization
// page, held in the session cookie; the store keeps only its hash.
const SessionPrefix = "coss_"

// sessionCookie is the name of the cookie that holds a session token.
const sessionCookie = "caddy_oauth_session"

// newSession starts a browser session for user: it stores a session record,
// which every node sharing the store knows, and returns its token.
func (a *App) newSession(ctx context.Context, user *User) (string, error) {
	token := NewToken(SessionPrefix)
	now := a.now()
	err := a.store.SaveTokens(ctx, &TokenRecord{
		Hash:      HashToken(token),
		Kind:      KindSession,
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
// its session cookie is missing, unknown or expired, or names a user who is
// no longer configured. It returns an error only when the store fails.
func (a *App) session(ctx context.Context, r *http.Request) (*User, error) {
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
	return a.users[rec.UserID], nil
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
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
}

// authorizePath is the public path of the authorization endpoint, with the
// prefix that handle_path stripped: where its forms post and its cookies
// are sent.
func authorizePath(r *http.Request) string {
	return mountPrefix(r) + PathAuthorize
}
