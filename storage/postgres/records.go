package postgres

import (
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

// columns are the columns of a record, in the order of recordArgs and
// scanRecord.
const columns = "hash, kind, family_id, client_id, user_id, scopes, issued_at, expires_at, used_at, revoked, sealed_sibling, redirect_uri, code_challenge"

// numColumns is how many names columns lists.
const numColumns = 13

// hashLen is the length of a record's key: a SHA-256.
const hashLen = 32

// hashKey returns the key of the record stored under hash, the lower-case
// hex of 32 bytes, or false if hash is not one.
func hashKey(hash string) ([]byte, bool) {
	if !caddyoauth.IsTokenHash(hash) {
		return nil, false
	}
	key, err := hex.DecodeString(hash)
	return key, err == nil
}

// The times Unix nanoseconds in an int64 can hold.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// nanos returns t in Unix nanoseconds, or nil for the zero time. A time
// before 1678 or after 2262, which the nanoseconds cannot hold, is stored
// as the earliest or the latest time they can.
func nanos(t time.Time) *int64 {
	var n int64
	switch {
	case t.IsZero():
		return nil
	case t.Before(minTime):
		n = math.MinInt64
	case t.After(maxTime):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	return &n
}

// fromNanos is the inverse of nanos.
func fromNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

// appendRecordArgs appends the values of r's columns to args.
func appendRecordArgs(args []any, r *caddyoauth.TokenRecord) ([]any, error) {
	key, ok := hashKey(r.Hash)
	if !ok {
		return args, fmt.Errorf("hash %.12q... is not a hex SHA-256", r.Hash)
	}
	return append(args,
		key, string(r.Kind), r.FamilyID, r.ClientID, r.UserID, r.Scopes,
		nanos(r.IssuedAt), nanos(r.ExpiresAt), nanos(r.UsedAt), r.Revoked,
		r.SealedSibling, r.RedirectURI, r.CodeChallenge,
	), nil
}

// insertSQL returns an INSERT of n records.
func insertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO caddy_oauth_tokens (" + columns + ") VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		for j := range numColumns {
			if j == 0 {
				b.WriteByte('(')
			} else {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", i*numColumns+j+1)
		}
		b.WriteByte(')')
	}
	return b.String()
}

// scanRecord reads a record from a row of columns.
func scanRecord(row pgx.Row) (*caddyoauth.TokenRecord, error) {
	var (
		r                     caddyoauth.TokenRecord
		key                   []byte
		kind                  string
		issued, expires, used *int64
	)
	err := row.Scan(&key, &kind, &r.FamilyID, &r.ClientID, &r.UserID, &r.Scopes,
		&issued, &expires, &used, &r.Revoked, &r.SealedSibling, &r.RedirectURI, &r.CodeChallenge)
	if err != nil {
		return nil, err
	}
	r.Hash = hex.EncodeToString(key)
	r.Kind = caddyoauth.TokenKind(kind)
	r.IssuedAt, r.ExpiresAt, r.UsedAt = fromNanos(issued), fromNanos(expires), fromNanos(used)
	return &r, nil
}
