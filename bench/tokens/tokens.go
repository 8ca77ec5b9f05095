// Package tokens derives the access tokens the scale benchmark pre-fills
// the store with, so that the load generator can present the i-th stored
// token without a list of them.
//
// It copies the plugin's token format (caddyoauth/token.go): the prefix,
// then base64url of an 8-byte big-endian selector (the time of issue in
// Unix nanoseconds) and 32 secret bytes. The test fails if the plugin's
// format moves away from this copy.
package tokens

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"time"
)

// accessPrefix is caddyoauth.AccessTokenPrefix. It is not imported, so
// that programs using this package do not link Caddy, whose init redirects
// the standard logger.
const accessPrefix = "coat_"

// seed separates bench tokens from anything else hashed the same way.
const seed = "caddy-oauth-bench/"

// Epoch is the issue time of token 0; token i was issued i microseconds
// later, so pre-filled tokens are older than any the server issues and
// their keys ascend with i, as those of tokens issued over time do.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Access returns the i-th pre-filled access token.
func Access(i int) string {
	var b [8 + sha256.Size]byte
	binary.BigEndian.PutUint64(b[:8], uint64(Epoch.Add(time.Duration(i)*time.Microsecond).UnixNano()))
	secret := sha256.Sum256([]byte(seed + strconv.Itoa(i)))
	copy(b[8:], secret[:])
	return accessPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// IssuedAt returns the issue time encoded in the i-th token.
func IssuedAt(i int) time.Time { return Epoch.Add(time.Duration(i) * time.Microsecond) }
