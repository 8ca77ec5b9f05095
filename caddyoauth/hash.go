package caddyoauth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
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

// fakeHash is compared against for unknown users and clients when none is
// configured to take the cost of: Caddy's fake bcrypt hash (cost 14).
// It never matches, so it never caches.
var fakeHash = &secretHash{
	hashed:   caddyauth.BcryptHash{}.FakeHash(),
	comparer: caddyauth.BcryptHash{},
}

// fakeHashLike returns a hash with the algorithm and cost of h (the same
// bcrypt cost, or the same argon2id parameters) that matches no password:
// h's digest, reversed but for its last character (which carries the
// encoding's padding bits). Comparing an unknown user's or client's password
// against it takes as long as a wrong password of h's, where Caddy's fixed
// fake hash (bcrypt cost 14) would take much longer or shorter than the
// configured hashes and tell which names exist. nil h gives fakeHash.
func fakeHashLike(h *secretHash) *secretHash {
	if h == nil {
		return fakeHash
	}
	i := bytes.LastIndexByte(h.hashed, '$')
	fake := bytes.Clone(h.hashed)
	slices.Reverse(fake[i+1 : len(fake)-1])
	f := &secretHash{hashed: fake, comparer: h.comparer}
	if bytes.Equal(fake, h.hashed) || checkHashFormat(f) != nil {
		return fakeHash
	}
	return f
}
