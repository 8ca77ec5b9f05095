package bbolt

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/storage/storagetest"
)

func randString(r *rand.Rand, max int) string {
	b := make([]byte, r.IntN(max+1))
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return string(b)
}

func randTime(r *rand.Rand) time.Time {
	switch r.IntN(4) {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(r.Int64N(1<<40)-1<<39, r.Int64N(1e9))
	case 2:
		return time.Date(1+r.IntN(9999), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), 0, 0, r.IntN(1e9), time.UTC)
	}
	return storagetest.Base.Add(time.Duration(r.Int64()))
}

func randRecord(r *rand.Rand) *caddyoauth.TokenRecord {
	kinds := append(knownKinds[:len(knownKinds):len(knownKinds)], "")
	rec := &caddyoauth.TokenRecord{
		Hash:          storagetest.Hash(randString(r, 8)),
		Kind:          kinds[r.IntN(len(kinds))],
		FamilyID:      randString(r, 40),
		ClientID:      randString(r, 20),
		UserID:        randString(r, 300),
		IssuedAt:      randTime(r),
		ExpiresAt:     randTime(r),
		UsedAt:        randTime(r),
		Revoked:       r.IntN(2) == 0,
		RedirectURI:   randString(r, 200),
		CodeChallenge: randString(r, 43),
	}
	if r.IntN(3) == 0 {
		rec.Kind = caddyoauth.TokenKind(randString(r, 10))
	}
	for range r.IntN(6) {
		rec.Scopes = append(rec.Scopes, randString(r, 20))
	}
	if n := r.IntN(100); n > 0 {
		rec.SealedSibling = []byte(randString(r, n))
	}
	return rec
}

func TestEncodingRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20_000 {
		want := randRecord(r)
		var key [hashLen]byte
		if !hashKey(&key, want.Hash) {
			t.Fatalf("hashKey(%q) failed", want.Hash)
		}
		if hex.EncodeToString(key[:]) != want.Hash {
			t.Fatalf("hashKey(%q) = %x", want.Hash, key)
		}
		b := encodeRecord(want)
		if len(b) > encodedLen(want) {
			t.Fatalf("record %d: encoded %d bytes, more than encodedLen %d", i, len(b), encodedLen(want))
		}
		got, err := decodeRecord(key[:], b)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if d := storagetest.Equal(got, want); d != "" {
			t.Fatalf("record %d: %s", i, d)
		}
		if want.UsedAt.IsZero() != got.UsedAt.IsZero() {
			t.Fatalf("record %d: UsedAt zero %v, got %v", i, want.UsedAt, got.UsedAt)
		}
		if fam, err := familyOf(b); err != nil || fam != want.FamilyID {
			t.Fatalf("record %d: familyOf = %q, %v", i, fam, err)
		}
		if expiredBefore(b, want.ExpiresAt) || !expiredBefore(b, want.ExpiresAt.Add(time.Nanosecond)) {
			t.Fatalf("record %d: expiredBefore disagrees with ExpiresAt %s", i, want.ExpiresAt)
		}
		// The patched copies change only their field.
		used := randTime(r)
		got, err = decodeRecord(key[:], withUsedAt(b, used))
		if err != nil || !got.UsedAt.Equal(used) || got.Revoked != want.Revoked {
			t.Fatalf("record %d: withUsedAt: %v %v", i, got, err)
		}
		got, err = decodeRecord(key[:], withRevoked(b))
		if err != nil || !got.Revoked || !got.UsedAt.Equal(want.UsedAt) {
			t.Fatalf("record %d: withRevoked: %v %v", i, got, err)
		}
		// No truncation or corruption panics; truncations fail.
		for _, n := range []int{0, 1, headerLen - 1, headerLen, len(b) - 1} {
			if n >= 0 && n < len(b) {
				if _, err := decodeRecord(key[:], b[:n]); err == nil {
					t.Fatalf("record %d: a truncation to %d bytes decoded", i, n)
				}
			}
		}
		c := bytes.Clone(b)
		c[r.IntN(len(c))] ^= byte(1 + r.IntN(255))
		_, _ = decodeRecord(key[:], c)
	}
}

// knownKinds are the kinds of records the server stores.
var knownKinds = []caddyoauth.TokenKind{
	caddyoauth.KindAccess, caddyoauth.KindRefresh, caddyoauth.KindCode,
	caddyoauth.KindOnce, caddyoauth.KindSession,
}

// TestKindIsInterned checks that decoding a record of a known kind gives
// the constant itself, not a copy allocated for every record read.
func TestKindIsInterned(t *testing.T) {
	for _, k := range knownKinds {
		b := []byte(string(k)) // as read from the database
		got := kind(b)
		if got != k || unsafe.StringData(string(got)) != unsafe.StringData(string(k)) {
			t.Errorf("kind(%q) is a copy, not the constant", k)
		}
	}
	if got := kind([]byte("other")); got != "other" {
		t.Errorf("kind(other) = %q", got)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		f.Add(encodeRecord(randRecord(r)))
	}
	var key [hashLen]byte
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeRecord(key[:], b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same record.
		again, err := decodeRecord(key[:], encodeRecord(rec))
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if d := storagetest.Equal(again, rec); d != "" {
			t.Fatalf("re-encoding differs: %s", d)
		}
	})
}
