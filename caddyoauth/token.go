package caddyoauth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Token prefixes make leaked tokens easy to scan for, let the gate reject
// junk without a lookup and keep kinds apart.
const (
	AccessTokenPrefix  = "coat_"
	RefreshTokenPrefix = "cort_"
	CodePrefix         = "coac_"
)

// A token is its prefix and, base64url-encoded, a selector followed by
// 256 bits from crypto/rand. The selector is the time of issue: it is no
// secret, but it makes the keys of new records (see HashToken) ascend, so
// ordered stores append them instead of writing all over their indexes.
const (
	selectorBytes = 8
	secretBytes   = 32
	tokenBytes    = selectorBytes + secretBytes
)

// encodedTokenLen is the length of a token without its prefix:
// base64.RawURLEncoding.EncodedLen(tokenBytes).
const encodedTokenLen = (tokenBytes*8 + 5) / 6

// maxTokenLen bounds the tokens that are built and hashed in a buffer on
// the stack: every prefix above fits, with room to spare.
const maxTokenLen = 16 + encodedTokenLen

// NewToken returns a fresh random token with the given prefix.
func NewToken(prefix string) string {
	var b [tokenBytes]byte
	putSelector(b[:selectorBytes])
	_, _ = rand.Read(b[selectorBytes:]) // crypto/rand.Read never fails (Go 1.24+)
	var buf [maxTokenLen]byte
	token := append(buf[:0], prefix...)
	return string(base64.RawURLEncoding.AppendEncode(token, b[:]))
}

// putSelector writes the current time, big-endian, into b.
func putSelector(b []byte) {
	binary.BigEndian.PutUint64(b, uint64(time.Now().UnixNano()))
}

// WellFormed reports whether token has the prefix and the length of a token
// made by NewToken, so junk is rejected before any hashing or lookup.
func WellFormed(token, prefix string) bool {
	return len(token) == len(prefix)+encodedTokenLen && strings.HasPrefix(token, prefix)
}

// TokenKey identifies a token in the store and the cache: the token's
// selector followed by the first 192 bits of its SHA-256. It holds nothing
// from which the token can be recovered.
type TokenKey [32]byte

// KeyOf returns the key of token. A token that is not well formed gets the
// SHA-256 of its text, which matches no record.
func KeyOf(token string) TokenKey {
	var buf [maxTokenLen]byte
	sum := sha256.Sum256(append(buf[:0], token...))
	var sel [selectorBytes + 2]byte // decoding 11 base64 characters gives 8 bytes and a spare
	if i := strings.IndexByte(token, '_'); i >= 0 && len(token) > i+11 {
		if _, err := base64.RawURLEncoding.Decode(sel[:], []byte(token[i+1:i+12])); err == nil {
			var key TokenKey
			copy(key[:selectorBytes], sel[:selectorBytes])
			copy(key[selectorBytes:], sum[:])
			return key
		}
	}
	return sum
}

// HashToken returns the key of token in hex, as the store keys its record.
func HashToken(token string) string {
	return KeyOf(token).hex()
}

// IsTokenHash reports whether h has the form HashToken gives: the
// lower-case hex of a TokenKey. Stores hold nothing else as keys.
func IsTokenHash(h string) bool {
	if len(h) != 2*len(TokenKey{}) {
		return false
	}
	for i := range len(h) {
		if c := h[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// hex returns the key in hex.
func (k TokenKey) hex() string {
	var buf [2 * len(k)]byte
	hex.Encode(buf[:], k[:])
	return string(buf[:])
}

// logField is the part of a token's key that logs show: 48 bits of its
// digest (after the selector, which is only a time), enough to correlate
// log lines, useless to find or forge the token.
func logField(hash string) zap.Field {
	const digest = 2 * selectorBytes
	if len(hash) < digest+12 {
		return zap.Skip()
	}
	return zap.String("token_hash", hash[digest:digest+12])
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
