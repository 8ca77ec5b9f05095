package caddyoauth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
)

// The forms of the authorization page are protected against cross-site
// request forgery by a double-submit cookie: a random token, in a cookie
// that only this site's pages send (SameSite=Strict) and that scripts
// cannot read, and again in a hidden field of every form. A forged POST
// from another site carries no such cookie, or cannot know its value. It
// needs no server-side state, so every node sharing the store accepts the
// forms of every other.
const (
	csrfCookie = "caddy_oauth_csrf"
	csrfField  = "csrf_token"
	csrfBytes  = 32
)

// csrfToken returns the browser's CSRF token for a page's forms: the one
// its cookie holds, so that forms open in other tabs stay valid, or else a
// new one, which it sets in the cookie.
func (a *App) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && isCSRFToken(c.Value) {
		return c.Value
	}
	var b [csrfBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	token := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{
		Name:     csrfCookie,
		Value:    token,
		Path:     authorizePath(r),
		HttpOnly: true,
		Secure:   a.secureCookies(r),
		SameSite: http.SameSiteStrictMode,
	})
	return token
}

// isCSRFToken reports whether s has the form of a token made by csrfToken.
func isCSRFToken(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(csrfBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// checkCSRF reports whether the posted form carries the CSRF token of the
// browser's cookie.
func checkCSRF(r *http.Request, form url.Values) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || !isCSRFToken(c.Value) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(form.Get(csrfField))) == 1
}

// sameOrigin reports whether a POST may come from this server's own pages,
// as far as the browser tells: its Sec-Fetch-Site, when sent, says
// same-origin, and its Origin, when sent and not "null", is the origin the
// request was made to or that of the configured issuer (for a server behind
// a proxy that terminates TLS). Browsers send "Origin: null" for the forms
// of the pages themselves, whose Referrer-Policy is no-referrer, so "null"
// proves nothing either way; the CSRF token still decides.
func (a *App) sameOrigin(r *http.Request) bool {
	if site, sent := r.Header["Sec-Fetch-Site"]; sent && (len(site) != 1 || site[0] != "same-origin") {
		return false
	}
	origins, sent := r.Header["Origin"]
	if !sent {
		return true
	}
	if len(origins) != 1 {
		return false
	}
	origin := origins[0]
	if origin == "null" || origin == requestOrigin(r) {
		return true
	}
	return a.issuerOrigin != "" && origin == a.issuerOrigin
}
