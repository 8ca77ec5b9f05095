package redis

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

// The data layout. Every key, and the pub/sub channel, starts with the
// store's prefix (default "caddy-oauth:"):
//
//	<prefix>t:<hash>       hash: one token record, fields below
//	<prefix>f:<family ID>  set: the hashes of the family's records
//	<prefix>exp            sorted set, every score 0: one member per record,
//	                       <expiry><hash><family ID>, in lexical order
//	<prefix>revocations    channel: hashes revoked by RevokeFamily
//
// The record's fields are named below; a field that would hold an empty
// string, no scopes, the zero time or false is left out. Times are Unix
// nanoseconds in decimal. Only the hash of a token is ever stored.
//
// An expiry index member begins with the record's expiry as 16 hex digits
// of its Unix nanoseconds with the sign bit flipped, so that lexical order
// is time order to the nanosecond (sorted set scores are doubles, too
// coarse for that). Sweep takes the members below the sweep time's 16
// digits with ZRANGEBYLEX; the member also names the record and its family,
// so a sweep deletes both without reading the record.
//
// Records are not kept alive by Redis key expiry: a record stays readable,
// expired, until Sweep removes it. As a safety net against a store that is
// never swept (a deployment removed), each record key and family set gets a
// PEXPIREAT of safetyNet after the later of its expiry and the time it was
// saved.
const (
	fieldKind      = "kind"
	fieldFamily    = "family"
	fieldClient    = "client"
	fieldUser      = "user"
	fieldScopes    = "scopes" // a JSON array of strings
	fieldIssued    = "issued"
	fieldExpires   = "expires"
	fieldUsed      = "used"
	fieldRevoked   = "revoked" // "1"
	fieldSealed    = "sealed"
	fieldRedirect  = "redirect"
	fieldChallenge = "challenge"
)

// safetyNet is how long after its expiry Redis deletes a record that no
// sweep removed.
const safetyNet = 24 * time.Hour

// hashLen is the length of a record's hash in hex (see caddyoauth.HashToken).
const hashLen = 64

// The times a Unix nanosecond count can hold.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// isHash reports whether h has the form of caddyoauth.HashToken. Nothing
// else is a key this store holds, and the form keeps keys and index
// members unambiguous.
func isHash(h string) bool { return caddyoauth.IsTokenHash(h) }

// unixNanos returns t in Unix nanoseconds, in decimal.
func unixNanos(t time.Time) (string, error) {
	if t.Before(minTime) || t.After(maxTime) {
		return "", fmt.Errorf("time %v is outside the years 1678 to 2262 that the store can hold", t)
	}
	return strconv.FormatInt(t.UnixNano(), 10), nil
}

// appendTime appends field and t in Unix nanoseconds to fv, unless t is the
// zero time.
func appendTime(fv []any, field string, t time.Time) ([]any, error) {
	if t.IsZero() {
		return fv, nil
	}
	v, err := unixNanos(t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return append(fv, field, v), nil
}

// appendString appends field and v to fv, unless v is empty.
func appendString(fv []any, field, v string) []any {
	if v == "" {
		return fv
	}
	return append(fv, field, v)
}

// encodeRecord returns r's fields and values, alternating, for HSET.
func encodeRecord(r *caddyoauth.TokenRecord) ([]any, error) {
	fv := make([]any, 0, 24)
	fv = appendString(fv, fieldKind, string(r.Kind))
	fv = appendString(fv, fieldFamily, r.FamilyID)
	fv = appendString(fv, fieldClient, r.ClientID)
	fv = appendString(fv, fieldUser, r.UserID)
	if len(r.Scopes) > 0 {
		scopes, err := json.Marshal(r.Scopes)
		if err != nil {
			return nil, err
		}
		fv = append(fv, fieldScopes, string(scopes))
	}
	var err error
	for _, t := range []struct {
		field string
		time  time.Time
	}{{fieldIssued, r.IssuedAt}, {fieldExpires, r.ExpiresAt}, {fieldUsed, r.UsedAt}} {
		if fv, err = appendTime(fv, t.field, t.time); err != nil {
			return nil, err
		}
	}
	if r.Revoked {
		fv = append(fv, fieldRevoked, "1")
	}
	fv = appendString(fv, fieldSealed, string(r.SealedSibling))
	fv = appendString(fv, fieldRedirect, r.RedirectURI)
	fv = appendString(fv, fieldChallenge, r.CodeChallenge)
	return fv, nil
}

// decodeTime returns the time in field of fields, or the zero time if it
// is absent.
func decodeTime(fields map[string]string, field string) (time.Time, error) {
	v, ok := fields[field]
	if !ok {
		return time.Time{}, nil
	}
	ns, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("corrupt token record: field %s: %v", field, err)
	}
	return time.Unix(0, ns).UTC(), nil
}

// decodeRecord returns the record stored under hash with the given fields.
func decodeRecord(hash string, fields map[string]string) (*caddyoauth.TokenRecord, error) {
	r := &caddyoauth.TokenRecord{
		Hash:          hash,
		Kind:          caddyoauth.TokenKind(fields[fieldKind]),
		FamilyID:      fields[fieldFamily],
		ClientID:      fields[fieldClient],
		UserID:        fields[fieldUser],
		Revoked:       fields[fieldRevoked] != "",
		RedirectURI:   fields[fieldRedirect],
		CodeChallenge: fields[fieldChallenge],
	}
	if v, ok := fields[fieldSealed]; ok {
		r.SealedSibling = []byte(v)
	}
	if v, ok := fields[fieldScopes]; ok {
		if err := json.Unmarshal([]byte(v), &r.Scopes); err != nil {
			return nil, fmt.Errorf("corrupt token record: field %s: %v", fieldScopes, err)
		}
	}
	var err error
	for _, t := range []struct {
		field string
		dst   *time.Time
	}{{fieldIssued, &r.IssuedAt}, {fieldExpires, &r.ExpiresAt}, {fieldUsed, &r.UsedAt}} {
		if *t.dst, err = decodeTime(fields, t.field); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// expiryKey returns t as the expiry at the start of an index member: the
// Unix nanoseconds, clamped to what they can hold, as 16 hex digits with
// the sign bit flipped, so that lexical order is time order. The zero time
// sorts first.
func expiryKey(t time.Time) string {
	var ns int64
	switch {
	case t.Before(minTime):
		ns = math.MinInt64
	case t.After(maxTime):
		ns = math.MaxInt64
	default:
		ns = t.UnixNano()
	}
	return fmt.Sprintf("%016x", uint64(ns)^(1<<63))
}

// indexMember returns r's member of the expiry index.
func indexMember(r *caddyoauth.TokenRecord) string {
	return expiryKey(r.ExpiresAt) + r.Hash + r.FamilyID
}

// deadline returns when Redis deletes r's key if no sweep has, in Unix
// milliseconds: safetyNet after the later of r's expiry and now.
func deadline(r *caddyoauth.TokenRecord, now time.Time) int64 {
	t := r.ExpiresAt
	if t.Before(now) {
		t = now
	}
	return t.Add(safetyNet).UnixMilli()
}
