package caddyoauth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestNewTokenIsWellFormedAndUnique(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		tok := NewToken(AccessTokenPrefix)
		if !WellFormed(tok, AccessTokenPrefix) {
			t.Fatalf("%q is not well formed", tok)
		}
		if WellFormed(tok, RefreshTokenPrefix) {
			t.Fatalf("access token %q passes as a refresh token", tok)
		}
		if seen[tok] {
			t.Fatalf("duplicate token %q", tok)
		}
		seen[tok] = true
	}
	for _, junk := range []string{"", "coat_", "coat_short", strings.Repeat("x", 48), AccessTokenPrefix + strings.Repeat("A", 53), RefreshTokenPrefix + strings.Repeat("A", 54)} {
		if WellFormed(junk, AccessTokenPrefix) {
			t.Errorf("%q passes as well formed", junk)
		}
	}
}

func TestSealSibling(t *testing.T) {
	access, refresh := NewToken(AccessTokenPrefix), NewToken(RefreshTokenPrefix)
	sealed, err := SealSibling(access, refresh)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), refresh) {
		t.Fatal("sealed sibling holds the token in the clear")
	}
	got, err := OpenSibling(access, sealed)
	if err != nil || got != refresh {
		t.Fatalf("OpenSibling = %q, %v; want %q", got, err, refresh)
	}
	if _, err := OpenSibling(NewToken(AccessTokenPrefix), sealed); err == nil {
		t.Fatal("another token opened the sealed sibling")
	}
	if _, err := OpenSibling(access, sealed[:5]); err == nil {
		t.Fatal("truncated sealed sibling opened")
	}
}

func TestKeysOfNewTokensAscend(t *testing.T) {
	prev := HashToken(NewToken(AccessTokenPrefix))
	for range 100 {
		time.Sleep(time.Microsecond)
		next := HashToken(NewToken(RefreshTokenPrefix))
		if len(next) != 64 {
			t.Fatalf("key %q is not 32 bytes of hex", next)
		}
		if next <= prev {
			t.Fatalf("key %s does not sort after %s", next, prev)
		}
		prev = next
	}
	// The key depends on the whole token, not only on its selector.
	tok := NewToken(AccessTokenPrefix)
	other := tok[:len(tok)-1] + "A"
	if tok[len(tok)-1] == 'A' {
		other = tok[:len(tok)-1] + "B"
	}
	if KeyOf(tok) == KeyOf(other) {
		t.Fatal("tokens that differ in their secret part share a key")
	}
	if KeyOf("junk") != sha256.Sum256([]byte("junk")) {
		t.Fatal("junk is not keyed by its SHA-256")
	}
}

func TestLogFieldShowsDigestNotSelector(t *testing.T) {
	hash := HashToken(NewToken(AccessTokenPrefix))
	f := logField(hash)
	if f.String != hash[16:28] || strings.Contains(hash[:16], f.String) {
		t.Fatalf("logField(%s) = %q", hash, f.String)
	}
	if logField("short").Type != zap.Skip().Type {
		t.Fatal("a short hash is logged")
	}
}

func TestTokenKeyHexAndHashToken(t *testing.T) {
	for _, tok := range []string{NewToken(AccessTokenPrefix), "junk", strings.Repeat("x", 200)} {
		key := KeyOf(tok)
		if got, want := HashToken(tok), hex.EncodeToString(key[:]); got != want {
			t.Errorf("HashToken(%q) = %q, want %q", tok, got, want)
		}
	}
	if long := strings.Repeat("x", 200); KeyOf(long) != sha256.Sum256([]byte(long)) {
		t.Error("a token longer than the stack buffer is not hashed whole")
	}
	if encodedTokenLen != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		t.Errorf("encodedTokenLen = %d, want %d", encodedTokenLen, base64.RawURLEncoding.EncodedLen(tokenBytes))
	}
	if id := newFamilyID(); len(id) != 32 {
		t.Errorf("family id %q", id)
	}
}

func TestAppendTokenResponseMatchesEncodingJSON(t *testing.T) {
	type tokenResponse struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int64  `json:"expires_in"`
		Scope        string `json:"scope"`
		RefreshToken string `json:"refresh_token,omitempty"`
	}
	for i, tokens := range []*IssuedTokens{
		{AccessToken: NewToken(AccessTokenPrefix), Scopes: []string{"read"}, ExpiresIn: time.Hour},
		{AccessToken: NewToken(AccessTokenPrefix), RefreshToken: NewToken(RefreshTokenPrefix), Scopes: []string{"read", "update"}, ExpiresIn: 90*time.Second + time.Millisecond},
		{AccessToken: "a", Scopes: nil},
		{AccessToken: "a\"b\\c", Scopes: []string{"<x>", "a&b", "tab\there", "\x00", "é", "\u2028", "bad\xffutf8"}, ExpiresIn: -time.Second},
	} {
		want, err := json.Marshal(tokenResponse{
			AccessToken:  tokens.AccessToken,
			TokenType:    "Bearer",
			ExpiresIn:    int64(tokens.ExpiresIn / time.Second),
			Scope:        joinScopes(tokens.Scopes),
			RefreshToken: tokens.RefreshToken,
		})
		if err != nil {
			t.Fatal(err)
		}
		got := appendTokenResponse(nil, tokens)
		if string(got) != string(want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
		if plain := i < 3; plain && tokenResponseSize(tokens) < len(got) {
			t.Errorf("size %d below the length %d of a plain response", tokenResponseSize(tokens), len(got))
		}
	}
}
