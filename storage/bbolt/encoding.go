package bbolt

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

// Keys. A record's key is the raw 32 bytes of its hex key (see
// caddyoauth.HashToken), whose selector makes new keys ascend.
//
//	tokens:   hash                              -> encoded record
//	families: family ID, 0x00, hash             -> empty
//
// There is no expiry index: Sweep reads every record's expiry in place.
// Each index costs every issuance a B+tree insert and its dirty pages, in
// the one writer that all issuances share; a sweep every few minutes is
// cheaper.

const hashLen = 32

// hashKey decodes a hash in the form of caddyoauth.HashToken (64 lowercase
// hex digits) into dst. Any other form is not a key this store can hold.
func hashKey(dst *[hashLen]byte, hash string) bool {
	if len(hash) != 2*hashLen {
		return false
	}
	for i := range dst {
		hi, ok1 := nibble(hash[2*i])
		lo, ok2 := nibble(hash[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func nibble(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func familyKey(family string, hash []byte) []byte {
	k := make([]byte, 0, len(family)+1+len(hash))
	k = append(k, family...)
	k = append(k, 0)
	return append(k, hash...)
}

// The record encoding, version 1:
//
//	version   1 byte (1)
//	flags     1 byte (bit 0: revoked)
//	IssuedAt  12 bytes: Unix seconds (int64), nanoseconds (uint32), big-endian
//	ExpiresAt 12 bytes, as IssuedAt
//	UsedAt    12 bytes, as IssuedAt (the zero time encodes as itself)
//	then each a uvarint length and that many bytes:
//	Kind, FamilyID, ClientID, UserID, RedirectURI, CodeChallenge, SealedSibling
//	then a uvarint count of scopes, each a uvarint length and bytes.
//
// The hash is the key and is not repeated. A new field takes a new version.
const (
	version1     = 1
	flagRevoked  = 1 << 0
	offFlags     = 1
	offIssuedAt  = 2
	offExpiresAt = offIssuedAt + timeLen
	offUsedAt    = offExpiresAt + timeLen
	headerLen    = offUsedAt + timeLen
	timeLen      = 12
)

var errCorrupt = errors.New("corrupt token record")

func putTime(b []byte, t time.Time) {
	binary.BigEndian.PutUint64(b, uint64(t.Unix()))
	binary.BigEndian.PutUint32(b[8:], uint32(t.Nanosecond()))
}

func getTime(b []byte) time.Time {
	sec := int64(binary.BigEndian.Uint64(b))
	nsec := int64(binary.BigEndian.Uint32(b[8:]))
	if sec == zeroUnix && nsec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, nsec).UTC()
}

var zeroUnix = time.Time{}.Unix()

func encodedLen(r *caddyoauth.TokenRecord) int {
	n := headerLen
	for _, s := range [...]string{string(r.Kind), r.FamilyID, r.ClientID, r.UserID, r.RedirectURI, r.CodeChallenge} {
		n += binary.MaxVarintLen64 + len(s)
	}
	n += binary.MaxVarintLen64 + len(r.SealedSibling)
	n += binary.MaxVarintLen64
	for _, s := range r.Scopes {
		n += binary.MaxVarintLen64 + len(s)
	}
	return n
}

// encodeRecord returns the encoding of r.
func encodeRecord(r *caddyoauth.TokenRecord) []byte {
	b := make([]byte, headerLen, encodedLen(r))
	b[0] = version1
	if r.Revoked {
		b[offFlags] |= flagRevoked
	}
	putTime(b[offIssuedAt:], r.IssuedAt)
	putTime(b[offExpiresAt:], r.ExpiresAt)
	putTime(b[offUsedAt:], r.UsedAt)
	for _, s := range [...]string{string(r.Kind), r.FamilyID, r.ClientID, r.UserID, r.RedirectURI, r.CodeChallenge} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(r.SealedSibling)))
	b = append(b, r.SealedSibling...)
	b = binary.AppendUvarint(b, uint64(len(r.Scopes)))
	for _, s := range r.Scopes {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// decoder reads the variable-length part of an encoded record.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) bytes() []byte {
	if d.err != nil {
		return nil
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > uint64(len(d.b)-k) {
		d.err = errCorrupt
		return nil
	}
	v := d.b[k : k+int(n)]
	d.b = d.b[k+int(n):]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

// decodeRecord decodes the record stored under hash. It copies everything
// it keeps: b may be bbolt's memory, valid only during the transaction.
func decodeRecord(hash []byte, b []byte) (*caddyoauth.TokenRecord, error) {
	if len(b) < headerLen {
		return nil, errCorrupt
	}
	if b[0] != version1 {
		return nil, fmt.Errorf("%w: unknown encoding version %d", errCorrupt, b[0])
	}
	if b[offFlags]&^flagRevoked != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", errCorrupt, b[offFlags])
	}
	r := &caddyoauth.TokenRecord{
		Hash:      hex.EncodeToString(hash),
		Revoked:   b[offFlags]&flagRevoked != 0,
		IssuedAt:  getTime(b[offIssuedAt:]),
		ExpiresAt: getTime(b[offExpiresAt:]),
		UsedAt:    getTime(b[offUsedAt:]),
	}
	d := decoder{b: b[headerLen:]}
	r.Kind = kind(d.bytes())
	r.FamilyID = d.string()
	r.ClientID = d.string()
	r.UserID = d.string()
	r.RedirectURI = d.string()
	r.CodeChallenge = d.string()
	if s := d.bytes(); len(s) > 0 {
		r.SealedSibling = append([]byte(nil), s...)
	}
	if d.err == nil {
		n, k := binary.Uvarint(d.b)
		// Every scope takes at least one byte.
		if k <= 0 || n > uint64(len(d.b)-k) {
			return nil, errCorrupt
		}
		d.b = d.b[k:]
		if n > 0 {
			r.Scopes = make([]string, n)
			for i := range r.Scopes {
				r.Scopes[i] = d.string()
			}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.b))
	}
	return r, nil
}

// kind returns the TokenKind of b without allocating for the known kinds.
func kind(b []byte) caddyoauth.TokenKind {
	switch string(b) {
	case string(caddyoauth.KindAccess):
		return caddyoauth.KindAccess
	case string(caddyoauth.KindRefresh):
		return caddyoauth.KindRefresh
	case string(caddyoauth.KindCode):
		return caddyoauth.KindCode
	case string(caddyoauth.KindOnce):
		return caddyoauth.KindOnce
	case string(caddyoauth.KindSession):
		return caddyoauth.KindSession
	}
	return caddyoauth.TokenKind(b)
}

// withUsedAt returns a copy of the encoded record b marked used at t.
func withUsedAt(b []byte, t time.Time) []byte {
	c := append([]byte(nil), b...)
	putTime(c[offUsedAt:], t)
	return c
}

// withRevoked returns a copy of the encoded record b marked revoked.
func withRevoked(b []byte) []byte {
	c := append([]byte(nil), b...)
	c[offFlags] |= flagRevoked
	return c
}

// familyOf returns the family ID of the encoded record b, without decoding
// the rest.
func familyOf(b []byte) (string, error) {
	if len(b) < headerLen || b[0] != version1 {
		return "", errCorrupt
	}
	d := decoder{b: b[headerLen:]}
	d.bytes() // kind
	fam := d.string()
	return fam, d.err
}

// expiredBefore reports whether the encoded record b expires before t;
// a record too short to hold an expiry is corrupt and is not swept.
func expiredBefore(b []byte, t time.Time) bool {
	return len(b) >= headerLen && getTime(b[offExpiresAt:]).Before(t)
}
