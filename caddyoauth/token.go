package caddyoauth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// Token prefixes make leaked tokens easy to scan for, let the gate reject
// junk without a lookup and keep kinds apart.
const (
	AccessTokenPrefix  = "coat_"
	RefreshTokenPrefix = "cort_"
	CodePrefix         = "coac_"
)

// tokenBytes is the entropy of every token: 256 bits from crypto/rand.
const tokenBytes = 32

// encodedTokenLen is the length of a token without its prefix.
var encodedTokenLen = base64.RawURLEncoding.EncodedLen(tokenBytes)

// NewToken returns a fresh random token with the given prefix.
func NewToken(prefix string) string {
	var b [tokenBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// WellFormed reports whether token has the prefix and the length of a token
// made by NewToken, so junk is rejected before any hashing or lookup.
func WellFormed(token, prefix string) bool {
	return len(token) == len(prefix)+encodedTokenLen && strings.HasPrefix(token, prefix)
}

// HashToken returns the SHA-256 of token in hex: the key of its record.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// sealInfo separates the sibling-sealing key from any other use of a token.
const sealInfo = "caddy-oauth sibling v1"

// SealSibling encrypts sibling under a key derived from token, so the store
// can hand the sibling back only to a holder of token.
func SealSibling(token, sibling string) ([]byte, error) {
	aead, err := siblingAEAD(token)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(sibling)+aead.Overhead())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(sibling), nil), nil
}

// OpenSibling recovers the sibling sealed by SealSibling with the same token.
func OpenSibling(token string, sealed []byte) (string, error) {
	aead, err := siblingAEAD(token)
	if err != nil {
		return "", err
	}
	if len(sealed) < aead.NonceSize() {
		return "", errors.New("sealed sibling too short")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

func siblingAEAD(token string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(token), nil, sealInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
