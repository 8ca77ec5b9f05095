// Package storagetest is the conformance suite every caddyoauth.Store
// backend runs from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) caddyoauth.Store { return newStore(t) })
//	}
//
// open must return an empty store; it is called once per subtest and must
// arrange its own cleanup (t.Cleanup). Times are explicit: nothing sleeps.
// Times must round-trip to the nanosecond (Equal), between the years 1678
// and 2262: a backend whose time type is coarser stores Unix nanoseconds.
package storagetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

// Base is the reference time of the suite's records.
var Base = time.Date(2031, time.March, 4, 5, 6, 7, 891011121, time.UTC)

// Hash returns the hex SHA-256 of name: a key shaped like caddyoauth.HashToken's.
func Hash(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// Record returns a plausible access token record named name in family,
// expiring at expires.
func Record(name, family string, expires time.Time) *caddyoauth.TokenRecord {
	return &caddyoauth.TokenRecord{
		Hash:      Hash(name),
		Kind:      caddyoauth.KindAccess,
		FamilyID:  family,
		ClientID:  "client-" + family,
		UserID:    "alice",
		Scopes:    []string{"read", "write"},
		IssuedAt:  expires.Add(-time.Hour),
		ExpiresAt: expires,
	}
}

// fullRecord sets every field of TokenRecord.
func fullRecord(name string) *caddyoauth.TokenRecord {
	loc := time.FixedZone("UTC+5:30", 5*3600+1800)
	return &caddyoauth.TokenRecord{
		Hash:          Hash(name),
		Kind:          caddyoauth.KindRefresh,
		FamilyID:      "0123456789abcdef0123456789abcdef",
		ClientID:      "spa",
		UserID:        "bob@example.com",
		Scopes:        []string{"openid", "profile", "api:read", "ünïcode"},
		IssuedAt:      Base.In(loc),
		ExpiresAt:     Base.Add(24 * time.Hour),
		UsedAt:        Base.Add(time.Minute + 3*time.Nanosecond),
		Revoked:       true,
		SealedSibling: []byte{0, 1, 2, 0xfe, 0xff, 0, 42},
		RedirectURI:   "https://app.example.com/cb?x=1&y=%20",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
	}
}

// Equal reports how got differs from want, or "" if they are the same
// (times compared with Equal, nil and empty slices alike).
func Equal(got, want *caddyoauth.TokenRecord) string {
	if got == nil || want == nil {
		if got == want {
			return ""
		}
		return fmt.Sprintf("got %v, want %v", got, want)
	}
	var diffs []string
	cmp := func(field string, ok bool, g, w any) {
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s: got %#v, want %#v", field, g, w))
		}
	}
	cmp("Hash", got.Hash == want.Hash, got.Hash, want.Hash)
	cmp("Kind", got.Kind == want.Kind, got.Kind, want.Kind)
	cmp("FamilyID", got.FamilyID == want.FamilyID, got.FamilyID, want.FamilyID)
	cmp("ClientID", got.ClientID == want.ClientID, got.ClientID, want.ClientID)
	cmp("UserID", got.UserID == want.UserID, got.UserID, want.UserID)
	cmp("Scopes", slices.Equal(got.Scopes, want.Scopes), got.Scopes, want.Scopes)
	cmp("IssuedAt", got.IssuedAt.Equal(want.IssuedAt), got.IssuedAt, want.IssuedAt)
	cmp("ExpiresAt", got.ExpiresAt.Equal(want.ExpiresAt), got.ExpiresAt, want.ExpiresAt)
	cmp("UsedAt", got.UsedAt.Equal(want.UsedAt), got.UsedAt, want.UsedAt)
	cmp("Revoked", got.Revoked == want.Revoked, got.Revoked, want.Revoked)
	cmp("SealedSibling", slices.Equal(got.SealedSibling, want.SealedSibling), got.SealedSibling, want.SealedSibling)
	cmp("RedirectURI", got.RedirectURI == want.RedirectURI, got.RedirectURI, want.RedirectURI)
	cmp("CodeChallenge", got.CodeChallenge == want.CodeChallenge, got.CodeChallenge, want.CodeChallenge)
	if len(diffs) == 0 {
		return ""
	}
	return fmt.Sprint(diffs)
}

func clone(r *caddyoauth.TokenRecord) *caddyoauth.TokenRecord {
	c := *r
	c.Scopes = slices.Clone(r.Scopes)
	c.SealedSibling = slices.Clone(r.SealedSibling)
	return &c
}

func save(t *testing.T, s caddyoauth.Store, recs ...*caddyoauth.TokenRecord) {
	t.Helper()
	if err := s.SaveTokens(context.Background(), recs...); err != nil {
		t.Fatalf("SaveTokens: %v", err)
	}
}

// mustGet fails unless the record under hash equals want.
func mustGet(t *testing.T, s caddyoauth.Store, want *caddyoauth.TokenRecord) {
	t.Helper()
	got, err := s.GetToken(context.Background(), want.Hash)
	if err != nil {
		t.Fatalf("GetToken(%.8s): %v", want.Hash, err)
	}
	if d := Equal(got, want); d != "" {
		t.Fatalf("GetToken(%.8s): %s", want.Hash, d)
	}
}

func mustNotFind(t *testing.T, s caddyoauth.Store, hash string) {
	t.Helper()
	got, err := s.GetToken(context.Background(), hash)
	if !errors.Is(err, caddyoauth.ErrNotFound) {
		t.Fatalf("GetToken(%.8s) = %v, %v; want ErrNotFound", hash, got, err)
	}
}

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open func(t *testing.T) caddyoauth.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s caddyoauth.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"SaveTokensAllOrNothing", testSaveAllOrNothing},
		{"GetTokenUnknown", testGetUnknown},
		{"ConsumeToken", testConsume},
		{"ConsumeTokenConcurrent", testConsumeConcurrent},
		{"SaveTokensConcurrentSameHash", testSaveConcurrent},
		{"RevokeFamily", testRevokeFamily},
		{"RevokeToken", testRevokeToken},
		{"Sweep", testSweep},
		{"Copies", testCopies},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

func testRoundTrip(t *testing.T, s caddyoauth.Store) {
	minimal := &caddyoauth.TokenRecord{
		Hash:      Hash("minimal"),
		Kind:      caddyoauth.KindOnce,
		ExpiresAt: Base,
	}
	code := &caddyoauth.TokenRecord{
		Hash:          Hash("code"),
		Kind:          caddyoauth.KindCode,
		FamilyID:      "fam-code",
		ClientID:      "web",
		UserID:        "carol",
		Scopes:        []string{"a"},
		IssuedAt:      Base,
		ExpiresAt:     Base.Add(time.Minute),
		RedirectURI:   "http://127.0.0.1:8080/callback",
		CodeChallenge: "challenge",
	}
	tests := []struct {
		name string
		recs []*caddyoauth.TokenRecord
	}{
		{"every field", []*caddyoauth.TokenRecord{fullRecord("full")}},
		{"minimal", []*caddyoauth.TokenRecord{minimal}},
		{"code", []*caddyoauth.TokenRecord{code}},
		{"access and refresh pair", []*caddyoauth.TokenRecord{Record("pair-a", "fam-pair", Base), fullRecord("pair-r")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := make([]*caddyoauth.TokenRecord, len(tt.recs))
			for i, r := range tt.recs {
				want[i] = clone(r)
			}
			save(t, s, tt.recs...)
			for _, w := range want {
				mustGet(t, s, w)
			}
			got, err := s.GetToken(context.Background(), minimal.Hash)
			if err == nil && (!got.UsedAt.IsZero() || got.Revoked) {
				t.Fatalf("minimal record came back used or revoked: %+v", got)
			}
		})
	}
}

func testSaveAllOrNothing(t *testing.T, s caddyoauth.Store) {
	ctx := context.Background()
	existing := Record("existing", "fam-1", Base)
	save(t, s, existing)
	if err := s.SaveTokens(ctx); err != nil {
		t.Fatalf("SaveTokens() with no records: %v", err)
	}

	tests := []struct {
		name   string
		recs   []*caddyoauth.TokenRecord
		absent []string // hashes that must not have been stored
	}{
		{"existing alone", []*caddyoauth.TokenRecord{Record("existing", "fam-2", Base.Add(time.Hour))}, nil},
		{"existing last", []*caddyoauth.TokenRecord{Record("new-1", "fam-3", Base), Record("existing", "fam-3", Base)}, []string{Hash("new-1")}},
		{"existing first", []*caddyoauth.TokenRecord{Record("existing", "fam-4", Base), Record("new-2", "fam-4", Base)}, []string{Hash("new-2")}},
		{"duplicate within the call", []*caddyoauth.TokenRecord{Record("dup", "fam-5", Base), Record("dup", "fam-5", Base)}, []string{Hash("dup")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.SaveTokens(ctx, tt.recs...)
			if !errors.Is(err, caddyoauth.ErrExists) {
				t.Fatalf("SaveTokens = %v, want ErrExists", err)
			}
			for _, h := range tt.absent {
				mustNotFind(t, s, h)
			}
			// The existing record is untouched.
			mustGet(t, s, Record("existing", "fam-1", Base))
		})
	}
	// Nothing of the failed calls joined a family.
	for _, fam := range []string{"fam-2", "fam-3", "fam-4", "fam-5"} {
		hashes, err := s.RevokeFamily(ctx, fam)
		if err != nil || len(hashes) != 0 {
			t.Fatalf("RevokeFamily(%s) after failed saves = %v, %v; want nothing", fam, hashes, err)
		}
	}
	mustGet(t, s, Record("existing", "fam-1", Base))
}

func testGetUnknown(t *testing.T, s caddyoauth.Store) {
	save(t, s, Record("known", "fam", Base))
	mustNotFind(t, s, Hash("unknown"))
}

func testConsume(t *testing.T, s caddyoauth.Store) {
	ctx := context.Background()
	now := Base.Add(-30 * time.Minute)
	later := now.Add(time.Second)

	fresh := Record("fresh", "fam-c", Base)
	fresh.Kind = caddyoauth.KindRefresh
	revoked := Record("revoked", "fam-r", Base)
	revoked.Kind = caddyoauth.KindCode
	revoked.Revoked = true
	save(t, s, clone(fresh), clone(revoked))

	used := clone(fresh)
	used.UsedAt = now

	tests := []struct {
		name    string
		hash    string
		now     time.Time
		want    *caddyoauth.TokenRecord // returned record; nil for none
		wantErr error
		after   *caddyoauth.TokenRecord // stored afterwards; nil: not found
	}{
		{"first use", fresh.Hash, now, fresh, nil, used},
		{"second use", fresh.Hash, later, used, caddyoauth.ErrAlreadyUsed, used},
		{"third use", fresh.Hash, later, used, caddyoauth.ErrAlreadyUsed, used},
		{"revoked", revoked.Hash, now, revoked, caddyoauth.ErrRevoked, revoked},
		{"revoked again", revoked.Hash, later, revoked, caddyoauth.ErrRevoked, revoked},
		{"unknown", Hash("nope"), now, nil, caddyoauth.ErrNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ConsumeToken(ctx, tt.hash, tt.now)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("ConsumeToken error = %v, want %v", err, tt.wantErr)
			}
			if tt.want == nil {
				if got != nil {
					t.Fatalf("ConsumeToken returned %+v, want no record", got)
				}
			} else if d := Equal(got, tt.want); d != "" {
				t.Fatalf("ConsumeToken returned %s", d)
			}
			if tt.after == nil {
				mustNotFind(t, s, tt.hash)
			} else {
				mustGet(t, s, tt.after)
			}
		})
	}
}

func testConsumeConcurrent(t *testing.T, s caddyoauth.Store) {
	const n = 32
	rec := Record("contended", "fam", Base)
	rec.Kind = caddyoauth.KindCode
	save(t, s, rec)
	var (
		start sync.WaitGroup
		done  sync.WaitGroup
		errs  = make([]error, n)
		recs  = make([]*caddyoauth.TokenRecord, n)
	)
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			recs[i], errs[i] = s.ConsumeToken(context.Background(), rec.Hash, Base.Add(time.Duration(-i)*time.Second))
		}()
	}
	start.Done()
	done.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("goroutines %d and %d both consumed the record", winner, i)
			}
			winner = i
			if !recs[i].UsedAt.IsZero() {
				t.Fatalf("winner got a used record: %+v", recs[i])
			}
		case errors.Is(err, caddyoauth.ErrAlreadyUsed):
			if recs[i] == nil || recs[i].UsedAt.IsZero() {
				t.Fatalf("loser %d got record %+v, want the used record", i, recs[i])
			}
		default:
			t.Fatalf("goroutine %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no goroutine consumed the record")
	}
	want := clone(rec)
	want.UsedAt = Base.Add(time.Duration(-winner) * time.Second)
	mustGet(t, s, want)
	for i, err := range errs {
		if err != nil {
			if d := Equal(recs[i], want); d != "" {
				t.Fatalf("loser %d: %s", i, d)
			}
		}
	}
}

// testSaveConcurrent is the single-use insert of SAML assertion IDs: of
// concurrent saves of one hash, exactly one wins.
func testSaveConcurrent(t *testing.T, s caddyoauth.Store) {
	const n = 32
	var (
		wg   sync.WaitGroup
		errs = make([]error, n)
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := Record("assertion-id", "", Base)
			r.Kind = caddyoauth.KindOnce
			r.ClientID = fmt.Sprint(i)
			// Each call also saves a record of its own, which must be
			// stored only by the winner.
			errs[i] = s.SaveTokens(context.Background(), Record(fmt.Sprint("own-", i), "", Base), r)
		}()
	}
	wg.Wait()
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			mustGet(t, s, Record(fmt.Sprint("own-", i), "", Base))
		case errors.Is(err, caddyoauth.ErrExists):
			mustNotFind(t, s, Hash(fmt.Sprint("own-", i)))
		default:
			t.Fatalf("goroutine %d: %v", i, err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d concurrent saves of one hash succeeded, want 1", winners)
	}
}

func testRevokeFamily(t *testing.T, s caddyoauth.Store) {
	ctx := context.Background()
	a1 := Record("a1", "fam-a", Base)
	a2 := Record("a2", "fam-a", Base.Add(time.Hour))
	a2.Kind = caddyoauth.KindRefresh
	a3 := Record("a3", "fam-a", Base)
	a3.Revoked = true
	b1 := Record("b1", "fam-b", Base)
	prefix := Record("p1", "fam-a-longer", Base) // fam-a is a prefix of its family
	none := Record("none", "", Base)             // belongs to no family
	save(t, s, a1, a2, a3, b1, prefix, none)

	tests := []struct {
		name   string
		family string
		want   []string
	}{
		{"family", "fam-a", []string{a1.Hash, a2.Hash}},
		{"again", "fam-a", nil},
		{"unknown", "fam-zzz", nil},
		{"empty family id", "", nil},
		{"prefix of another family", "fam", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.RevokeFamily(ctx, tt.family)
			if err != nil {
				t.Fatalf("RevokeFamily: %v", err)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Fatalf("RevokeFamily(%q) = %v, want %v", tt.family, got, want)
			}
		})
	}
	for _, r := range []*caddyoauth.TokenRecord{a1, a2, a3} {
		w := clone(r)
		w.Revoked = true
		mustGet(t, s, w)
		if _, err := s.ConsumeToken(ctx, r.Hash, Base); !errors.Is(err, caddyoauth.ErrRevoked) {
			t.Fatalf("ConsumeToken of revoked %.8s: %v, want ErrRevoked", r.Hash, err)
		}
	}
	for _, r := range []*caddyoauth.TokenRecord{b1, prefix, none} {
		mustGet(t, s, r)
	}
}

func testRevokeToken(t *testing.T, s caddyoauth.Store) {
	ctx := context.Background()
	lone := Record("lone", "", Base)
	other := Record("other", "", Base)
	revoked := Record("revoked", "", Base)
	revoked.Revoked = true
	save(t, s, lone, other, revoked)

	tests := []struct {
		name string
		hash string
		want []string
	}{
		{"record", lone.Hash, []string{lone.Hash}},
		{"again", lone.Hash, nil},
		{"revoked when saved", revoked.Hash, nil},
		{"unknown", Hash("unknown"), nil},
		{"not a hash", "xyz", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.RevokeToken(ctx, tt.hash)
			if err != nil {
				t.Fatalf("RevokeToken: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("RevokeToken(%.8s) = %v, want %v", tt.hash, got, tt.want)
			}
		})
	}
	w := clone(lone)
	w.Revoked = true
	mustGet(t, s, w)
	if _, err := s.ConsumeToken(ctx, lone.Hash, Base); !errors.Is(err, caddyoauth.ErrRevoked) {
		t.Fatalf("ConsumeToken of revoked %.8s: %v, want ErrRevoked", lone.Hash, err)
	}
	mustGet(t, s, other)
	mustGet(t, s, revoked)
}

func testSweep(t *testing.T, s caddyoauth.Store) {
	ctx := context.Background()
	recs := []*caddyoauth.TokenRecord{
		Record("hour-ago", "fam-s", Base.Add(-time.Hour)),
		Record("ns-ago", "fam-s", Base.Add(-time.Nanosecond)),
		Record("ancient", "", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)),
		Record("at", "fam-s", Base),
		Record("ns-after", "fam-s", Base.Add(time.Nanosecond)),
		Record("later", "fam-t", Base.Add(time.Hour)),
	}
	for _, r := range recs {
		save(t, s, r) // one at a time: sweeps must see separate saves
	}
	tests := []struct {
		name   string
		before time.Time
		want   int
	}{
		{"nothing expired", time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		{"before base", Base, 3},
		{"again", Base, 0},
		{"in another zone", Base.Add(time.Nanosecond).In(time.FixedZone("X", -7*3600)), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := s.Sweep(ctx, tt.before)
			if err != nil {
				t.Fatalf("Sweep: %v", err)
			}
			if n != tt.want {
				t.Fatalf("Sweep(%s) = %d, want %d", tt.before, n, tt.want)
			}
			for _, r := range recs {
				if r.ExpiresAt.Before(tt.before) {
					mustNotFind(t, s, r.Hash)
				} else {
					mustGet(t, s, r)
				}
			}
		})
	}
	// Swept records left their family.
	got, err := s.RevokeFamily(ctx, "fam-s")
	if err != nil {
		t.Fatalf("RevokeFamily: %v", err)
	}
	if want := []string{Hash("ns-after")}; !slices.Equal(got, want) {
		t.Fatalf("RevokeFamily after Sweep = %v, want %v", got, want)
	}
	// A swept hash can be saved again.
	save(t, s, Record("hour-ago", "fam-u", Base.Add(time.Hour)))
	mustGet(t, s, Record("hour-ago", "fam-u", Base.Add(time.Hour)))
}

func testCopies(t *testing.T, s caddyoauth.Store) {
	ctx := context.Background()
	in := fullRecord("copied")
	in.Revoked = false
	in.UsedAt = time.Time{}
	want := clone(in)
	save(t, s, in)
	// Changing what was saved does not change the store.
	in.Scopes[0] = "admin"
	in.SealedSibling[0] ^= 0xff
	in.ClientID = "mallory"
	mustGet(t, s, want)

	mutate := func(r *caddyoauth.TokenRecord) {
		r.Scopes[0] = "admin"
		r.Scopes = append(r.Scopes, "more")
		r.SealedSibling[0] ^= 0xff
		r.Revoked = true
		r.UsedAt = Base
		r.ExpiresAt = Base.Add(1000 * time.Hour)
	}
	got, err := s.GetToken(ctx, want.Hash)
	if err != nil {
		t.Fatal(err)
	}
	mutate(got)
	mustGet(t, s, want)

	got, err = s.ConsumeToken(ctx, want.Hash, Base)
	if err != nil {
		t.Fatal(err)
	}
	mutate(got)
	want.UsedAt = Base
	mustGet(t, s, want)

	got, err = s.ConsumeToken(ctx, want.Hash, Base)
	if !errors.Is(err, caddyoauth.ErrAlreadyUsed) {
		t.Fatalf("second ConsumeToken: %v", err)
	}
	mutate(got)
	mustGet(t, s, want)
}

// Bench runs benchmarks of a store's hot paths: GetToken among stored
// records, SaveTokens of an access/refresh pair in parallel and
// ConsumeToken in parallel.
func Bench(b *testing.B, open func(b *testing.B) caddyoauth.Store) {
	b.Run("GetToken", func(b *testing.B) {
		s := open(b)
		const n = 10_000
		hashes := Fill(b, s, n)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if _, err := s.GetToken(context.Background(), hashes[i%n]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SaveTokensParallel", func(b *testing.B) {
		s := open(b)
		BenchSaveParallel(b, s)
	})
	b.Run("ConsumeTokenParallel", func(b *testing.B) {
		s := open(b)
		hashes := Fill(b, s, b.N)
		var mu sync.Mutex
		next := 0
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mu.Lock()
				h := hashes[next]
				next++
				mu.Unlock()
				if _, err := s.ConsumeToken(context.Background(), h, Base); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchSaveParallel measures SaveTokens of an access/refresh pair from
// parallel goroutines, as concurrent token requests do.
func BenchSaveParallel(b *testing.B, s caddyoauth.Store) {
	var mu sync.Mutex
	next := 0
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i := next
			next++
			mu.Unlock()
			fam := fmt.Sprintf("%032x", i)
			access := Record(fmt.Sprint("bench-a-", i), fam, Base)
			refresh := Record(fmt.Sprint("bench-r-", i), fam, Base.Add(24*time.Hour))
			refresh.Kind = caddyoauth.KindRefresh
			access.SealedSibling = make([]byte, 72)
			refresh.SealedSibling = make([]byte, 72)
			if err := s.SaveTokens(context.Background(), access, refresh); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// Fill saves n access token records, in calls of up to 1000, and returns
// their hashes.
func Fill(tb testing.TB, s caddyoauth.Store, n int) []string {
	tb.Helper()
	hashes := make([]string, 0, n)
	batch := make([]*caddyoauth.TokenRecord, 0, 1000)
	flush := func() {
		if err := s.SaveTokens(context.Background(), batch...); err != nil {
			tb.Fatalf("filling the store: %v", err)
		}
		batch = batch[:0]
	}
	for i := range n {
		r := Record(fmt.Sprint("fill-", i), fmt.Sprintf("%032x", i/2), Base.Add(time.Duration(i)*time.Second))
		r.SealedSibling = make([]byte, 72)
		hashes = append(hashes, r.Hash)
		batch = append(batch, r)
		if len(batch) == cap(batch) {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	return hashes
}
