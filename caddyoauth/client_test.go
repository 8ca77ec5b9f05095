package caddyoauth

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestCheckRedirectURI checks the registered redirect URIs refused at
// config load (RFC 9700 §2.1; SECURITY.md: no fragment, http only for
// loopback).
func TestCheckRedirectURI(t *testing.T) {
	for _, tc := range []struct {
		uri     string
		wantErr string // "" for none
	}{
		{"https://app.example.com/cb", ""},
		{"https://app.example.com/cb?tenant=1", ""},
		{"http://127.0.0.1:8000/cb", ""},
		{"http://localhost/cb", ""},
		{"http://[::1]:8000/cb", ""},
		{"https://app.example.com/cb#x", "fragment"},
		{"https://app.example.com/cb#", "fragment"},
		{"https://app.example.com/cb?#", "fragment"},
		{"http://127.0.0.1:8000/cb#", "fragment"},
		{"http://app.example.com/cb", "not loopback"},
		{"/cb", "not an absolute URI"},
		{"https:///cb", "not an absolute URI"},
	} {
		// As the config loads: the client's redirect_uris.
		c := &Client{ID: "c", Secret: "s", GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{tc.uri}}
		err := c.provision(caddy.NewReplacer(), func(string) bool { return true })
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("redirect URI %q: unexpected error: %v", tc.uri, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) ||
			!strings.Contains(err.Error(), `client "c": redirect_uri: `)):
			t.Errorf("redirect URI %q: got %v, want a redirect_uri error containing %q", tc.uri, err, tc.wantErr)
		}
	}
}
