package tokens

import (
	"testing"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

func TestAccessMatchesThePluginsFormat(t *testing.T) {
	if accessPrefix != caddyoauth.AccessTokenPrefix {
		t.Fatalf("accessPrefix = %q, plugin uses %q", accessPrefix, caddyoauth.AccessTokenPrefix)
	}
	if fresh := caddyoauth.NewToken(caddyoauth.AccessTokenPrefix); len(fresh) != len(Access(0)) {
		t.Fatalf("bench token length %d, plugin's %d (%q)", len(Access(0)), len(fresh), fresh)
	}
	seen := map[string]bool{}
	prev := ""
	for i := range 1000 {
		tok := Access(i)
		if !caddyoauth.WellFormed(tok, caddyoauth.AccessTokenPrefix) {
			t.Fatalf("Access(%d) = %q is not well-formed", i, tok)
		}
		if seen[tok] {
			t.Fatalf("Access(%d) repeats an earlier token", i)
		}
		seen[tok] = true
		h := caddyoauth.HashToken(tok)
		if h <= prev {
			t.Fatalf("key of Access(%d) does not ascend: %s after %s", i, h, prev)
		}
		prev = h
	}
	if Access(7) != Access(7) {
		t.Fatal("Access is not deterministic")
	}
	// A token the server issues now sorts after every pre-filled one.
	if now := caddyoauth.HashToken(caddyoauth.NewToken(caddyoauth.AccessTokenPrefix)); now <= caddyoauth.HashToken(Access(10_000_000)) {
		t.Fatalf("a fresh token's key %s sorts before pre-filled ones", now)
	}
}
