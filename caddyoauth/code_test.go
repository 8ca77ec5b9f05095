package caddyoauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

// saveCode stores an authorization code as the authorization endpoint does.
func (f *fixture) saveCode(t *testing.T, client, redirectURI, challenge string) string {
	t.Helper()
	code := caddyoauth.NewToken(caddyoauth.CodePrefix)
	now := f.clock.Now()
	err := f.app.Store().SaveTokens(context.Background(), &caddyoauth.TokenRecord{
		Hash: caddyoauth.HashToken(code), Kind: caddyoauth.KindCode, FamilyID: "fam-" + code[5:15],
		ClientID: client, UserID: "alice", Scopes: []string{"read"}, IssuedAt: now, ExpiresAt: now.Add(time.Minute),
		RedirectURI: redirectURI, CodeChallenge: challenge,
	})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func TestAuthorizationCodeGrant(t *testing.T) {
	f := newFixture(t)
	verifier := strings.Repeat("x", 50)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	redirect := "http://127.0.0.1:8000/cb"
	redeem := func(code, redirectURI, verifier string) tokenBody {
		w := f.post(t, "/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"},
			"code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}})
		return decode(t, w)
	}

	code := f.saveCode(t, "spa", redirect, challenge)
	if got := redeem(code, "http://127.0.0.1:8000/other", verifier); got.Error != "invalid_grant" {
		t.Fatalf("wrong redirect_uri: %+v", got)
	}
	if got := redeem(code, redirect, strings.Repeat("y", 50)); got.Error != "invalid_grant" {
		t.Fatalf("wrong verifier: %+v", got)
	}
	// The refused attempts did not spend the code.
	tok := redeem(code, redirect, verifier)
	if tok.Error != "" || tok.AccessToken == "" || tok.RefreshToken == "" || tok.Scope != "read" {
		t.Fatalf("redeem: %+v", tok)
	}
	// A replayed code fails and revokes what it produced.
	if got := redeem(code, redirect, verifier); got.Error != "invalid_grant" {
		t.Fatalf("replay: %+v", got)
	}
	if _, _, err := f.app.Validate(context.Background(), tok.AccessToken); err == nil {
		t.Fatal("a token issued from a replayed code is still valid")
	}
	// Expired codes fail.
	late := f.saveCode(t, "spa", redirect, challenge)
	f.clock.Advance(time.Minute)
	if got := redeem(late, redirect, verifier); got.Error != "invalid_grant" {
		t.Fatalf("expired code: %+v", got)
	}
}

// A single-use token presented again after it expired is refused, and is a
// replay all the same: the tokens it produced are revoked, as within its
// lifetime (SECURITY.md: "a replay revokes what the code produced").
func TestReplayAfterExpiryRevokesWhatItProduced(t *testing.T) {
	verifier := strings.Repeat("x", 50)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	const redirect = "http://127.0.0.1:8000/cb"
	for _, tc := range []struct {
		name string
		// use redeems a new single-use token once and returns the form
		// that presents it again, the client's credentials, what its use
		// produced, and how long until the single-use token has expired.
		use func(t *testing.T, f *fixture) (replay url.Values, basic []string, produced tokenBody, expiry time.Duration)
	}{
		{"authorization code", func(t *testing.T, f *fixture) (url.Values, []string, tokenBody, time.Duration) {
			form := url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"},
				"code": {f.saveCode(t, "spa", redirect, challenge)}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
			tok := decode(t, f.post(t, "/token", form))
			if tok.AccessToken == "" {
				t.Fatalf("redeem: %+v", tok)
			}
			return form, nil, tok, caddyoauth.DefaultCodeTTL
		}},
		{"refresh token", func(t *testing.T, f *fixture) (url.Values, []string, tokenBody, time.Duration) {
			first := f.passwordToken(t, "read")
			f.clock.Advance(time.Minute) // so that its successor outlives it
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}}
			tok := decode(t, f.post(t, "/token", form, "web", "web-secret"))
			if tok.RefreshToken == "" {
				t.Fatalf("refresh: %+v", tok)
			}
			return form, []string{"web", "web-secret"}, tok, caddyoauth.DefaultRefreshTokenTTL - time.Minute
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			replay, basic, produced, expiry := tc.use(t, f)
			f.clock.Advance(expiry + time.Second)
			if got := decode(t, f.post(t, "/token", replay, basic...)); got.Error != "invalid_grant" {
				t.Fatalf("replay after expiry: %+v", got)
			}
			refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {produced.RefreshToken}, "client_id": {"spa"}}
			if basic != nil {
				refresh.Del("client_id")
			}
			if w := f.post(t, "/token", refresh, basic...); w.Code != 400 {
				t.Fatalf("the refresh token its use produced still refreshes: %d %s", w.Code, w.Body)
			}
		})
	}
}
