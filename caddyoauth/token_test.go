package caddyoauth

import (
	"strings"
	"testing"
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
	for _, junk := range []string{"", "coat_", "coat_short", strings.Repeat("x", 48), AccessTokenPrefix + strings.Repeat("A", 44)} {
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
