package grants

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

func TestCheckPKCE(t *testing.T) {
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	for _, tc := range []struct {
		name                string
		challenge, verifier string
		public, ok          bool
	}{
		{name: "match", challenge: challenge, verifier: verifier, ok: true},
		{name: "match public", challenge: challenge, verifier: verifier, public: true, ok: true},
		{name: "no PKCE, confidential", ok: true},
		{name: "no PKCE, public", public: true},
		{name: "downgrade: verifier without challenge", verifier: verifier},
		{name: "challenge without verifier", challenge: challenge},
		{name: "wrong verifier", challenge: challenge, verifier: strings.Repeat("w", 43)},
		{name: "short verifier", challenge: challenge, verifier: "short"},
		{name: "plain method is not S256", challenge: verifier, verifier: verifier},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPKCE(tc.challenge, tc.verifier, tc.public)
			if (err == nil) != tc.ok {
				t.Fatalf("checkPKCE = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
