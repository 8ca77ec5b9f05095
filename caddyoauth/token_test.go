package caddyoauth

import (
	"crypto/sha256"
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
