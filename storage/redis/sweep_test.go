package redis

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/storage/storagetest"
)

// TestSweepRemovesKeys checks that a sweep leaves nothing of the records it
// deletes, in several batches: no record key, no family membership, no
// index member; and everything of the others.
func TestSweepRemovesKeys(t *testing.T) {
	old := sweepBatch
	t.Cleanup(func() { sweepBatch = old })
	sweepBatch = 7 // several batches, one of them full at the end

	s := newStore(t)
	ctx := context.Background()
	base := storagetest.Base
	groups := []struct {
		family          string
		expired, active int
	}{
		{"mixed", 20, 5},
		{"all-expired", 10, 0}, // its set goes
		{"none-expired", 0, 3}, // untouched
		{"", 5, 2},             // records of no family
	}
	var expired, active []*caddyoauth.TokenRecord
	for _, g := range groups {
		for i := range g.expired + g.active {
			// Expiries a nanosecond apart on both sides of base.
			exp := base.Add(time.Duration(i-g.expired) * time.Nanosecond)
			r := storagetest.Record(fmt.Sprint(g.family, "-", i), g.family, exp)
			if i < g.expired {
				expired = append(expired, r)
			} else {
				active = append(active, r)
			}
		}
	}
	if err := s.SaveTokens(ctx, append(slices.Clone(expired), active...)...); err != nil {
		t.Fatal(err)
	}

	n, err := s.Sweep(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(expired) {
		t.Fatalf("Sweep = %d, want %d", n, len(expired))
	}

	c := admin(t)
	wantKeys := []string{s.indexKey(), s.familyKey("mixed"), s.familyKey("none-expired")}
	wantMembers := map[string][]string{}
	var wantIndex []string
	for _, r := range active {
		wantKeys = append(wantKeys, s.recordKey(r.Hash))
		wantIndex = append(wantIndex, indexMember(r))
		if r.FamilyID != "" {
			wantMembers[r.FamilyID] = append(wantMembers[r.FamilyID], r.Hash)
		}
	}
	slices.Sort(wantKeys)
	if got := keys(t, c, s.prefix); !slices.Equal(got, wantKeys) {
		t.Fatalf("keys after Sweep:\n%v\nwant\n%v", got, wantKeys)
	}
	for fam, want := range wantMembers {
		got, err := c.SMembers(ctx, s.familyKey(fam)).Result()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if slices.Sort(want); !slices.Equal(got, want) {
			t.Fatalf("family %s after Sweep = %v, want %v", fam, got, want)
		}
	}
	index, err := c.ZRange(ctx, s.indexKey(), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Sort(wantIndex); !slices.Equal(index, wantIndex) {
		t.Fatalf("index after Sweep = %v, want %v", index, wantIndex)
	}
	for _, r := range active {
		got, err := s.GetToken(ctx, r.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if d := storagetest.Equal(got, r); d != "" {
			t.Fatal(d)
		}
	}
	if n, err := s.Sweep(ctx, base); err != nil || n != 0 {
		t.Fatalf("second Sweep = %d, %v; want 0", n, err)
	}
	if n, err := s.Sweep(ctx, base.Add(time.Hour)); err != nil || n != len(active) {
		t.Fatalf("Sweep of the rest = %d, %v; want %d", n, err, len(active))
	}
	if got := keys(t, c, s.prefix); len(got) != 0 {
		t.Fatalf("keys after sweeping everything: %v", got)
	}
}

// TestSafetyNet checks the key expiry that deletes records nobody sweeps:
// a day after the record's expiry, or after its save if it was saved
// expired; a family's set lives as long as its longest-lived record.
func TestSafetyNet(t *testing.T) {
	s := newStore(t)
	c := admin(t)
	ctx := context.Background()
	now := time.Now()
	soon := storagetest.Record("soon", "fam", now.Add(time.Hour))
	past := storagetest.Record("past", "fam", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC))
	later := storagetest.Record("later", "fam", now.Add(48*time.Hour))
	early := storagetest.Record("early", "fam", now.Add(time.Minute))

	expiry := func(key string) time.Duration {
		t.Helper()
		ttl, err := c.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return ttl
	}
	check := func(key string, want time.Duration) {
		t.Helper()
		if got := expiry(key); got < want-5*time.Second || got > want+time.Second {
			t.Fatalf("%s expires in %v, want %v", key, got, want)
		}
	}
	for _, batch := range [][]*caddyoauth.TokenRecord{{soon, past}, {later}, {early}} {
		if err := s.SaveTokens(ctx, batch...); err != nil {
			t.Fatal(err)
		}
		if batch[0] == soon {
			check(s.familyKey("fam"), time.Hour+safetyNet)
		}
	}
	check(s.recordKey(soon.Hash), time.Hour+safetyNet)
	check(s.recordKey(past.Hash), safetyNet)
	check(s.recordKey(later.Hash), 48*time.Hour+safetyNet)
	check(s.recordKey(early.Hash), time.Minute+safetyNet)
	check(s.familyKey("fam"), 48*time.Hour+safetyNet) // not shortened by early
	if _, err := s.GetToken(ctx, past.Hash); err != nil {
		t.Fatalf("a record saved expired is not readable: %v", err)
	}
}
