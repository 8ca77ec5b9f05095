package caddyoauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
)

// secretHash is a password or client-secret hash made by `caddy
// hash-password`: bcrypt or argon2id.
type secretHash struct {
	hashed   []byte
	comparer caddyauth.Comparer

	// verified is the SHA-256 of the last plaintext that matched, so that
	// only the first request with the right secret pays for the hash.
	mu       sync.Mutex
	verified [32]byte
}

func parseSecretHash(s string) (*secretHash, error) {
	h := &secretHash{hashed: []byte(s)}
	switch {
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		h.comparer = caddyauth.BcryptHash{}
	case strings.HasPrefix(s, "$argon2id$"):
		h.comparer = caddyauth.Argon2idHash{}
	case s == "":
		return nil, errors.New("missing hash")
	default:
		return nil, errors.New("not a bcrypt or argon2id hash (make one with `caddy hash-password`)")
	}
	// A malformed hash must fail now, not on the first sign-in.
	if err := checkHashFormat(h); err != nil {
		return nil, fmt.Errorf("malformed hash: %v", err)
	}
	return h, nil
}

// checkHashFormat parses the hash without the cost of verifying against it.
func checkHashFormat(h *secretHash) error {
	if _, ok := h.comparer.(caddyauth.BcryptHash); ok {
		_, err := bcrypt.Cost(h.hashed)
		return err
	}
	_, _, err := caddyauth.DecodeHash(h.hashed)
	return err
}

// compare reports whether plaintext matches; a malformed hash never does.
func (h *secretHash) compare(plaintext string) bool {
	sum := sha256.Sum256([]byte(plaintext))
	h.mu.Lock()
	verified := h.verified
	h.mu.Unlock()
	if subtle.ConstantTimeCompare(sum[:], verified[:]) == 1 {
		return true
	}
	ok, err := h.comparer.Compare(h.hashed, []byte(plaintext))
	if err != nil || !ok {
		return false
	}
	h.mu.Lock()
	h.verified = sum
	h.mu.Unlock()
	return true
}

// fakeHash is compared against for unknown users and clients, so they take
// as long as a wrong password.
// It never matches, so it never caches.
var fakeHash = &secretHash{
	hashed:   caddyauth.BcryptHash{}.FakeHash(),
	comparer: caddyauth.BcryptHash{},
}
