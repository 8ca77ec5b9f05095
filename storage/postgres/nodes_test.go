package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/storage/storagetest"
)

// twoNodes returns the stores of two Caddy nodes, each with a pool of its
// own, on one new database.
func twoNodes(t *testing.T) (db *testDB, a, b *Store) {
	db = newTestDB(t)
	a, b = provision(t, db.dsn("a")), provision(t, db.dsn("b"))
	if a.db == b.db {
		t.Fatal("the two nodes share a pool")
	}
	return db, a, b
}

// watcher is a running WatchRevocations and what it has reported.
type watcher struct {
	revoked chan []string // one element per onRevoke call
	resets  chan struct{}
}

// watch runs s.WatchRevocations until the end of the test, which checks
// that it returns nil once its context ends, and waits until it listens.
func watch(t *testing.T, db *testDB, s *Store) *watcher {
	t.Helper()
	w := &watcher{revoked: make(chan []string, 100), resets: make(chan struct{}, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.WatchRevocations(ctx,
			func(hashes []string) {
				select {
				case w.revoked <- hashes:
				case <-ctx.Done():
				}
			},
			func() {
				select {
				case w.resets <- struct{}{}:
				case <-ctx.Done():
				}
			})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("WatchRevocations returned %v after its context ended, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("WatchRevocations did not return after its context ended")
		}
	})
	db.waitListening(t)
	select {
	case <-w.resets: // every start of listening resets, the first included
	case <-time.After(5 * time.Second):
		t.Fatal("onReset not called when the watcher first listened")
	}
	return w
}

// waitListening waits until the revocation watcher's connection to the
// database listens: its last statement is LISTEN, or a ping of the
// heartbeat, which comes after it.
func (db *testDB) waitListening(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		err := db.admin.QueryRow(context.Background(),
			`SELECT count(*) FROM pg_stat_activity
			WHERE datname = $1 AND application_name = $2 AND (query ILIKE 'LISTEN%' OR query = '-- ping')`,
			db.name, watcherApplicationName).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d revocation watchers listen on %s, want 1", n, db.name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// expectRevoked waits up to a second for onRevoke to have received
// exactly the hashes want, and returns how many calls delivered them.
func (w *watcher) expectRevoked(t *testing.T, want []string) int {
	t.Helper()
	wantSet := make(map[string]bool, len(want))
	for _, h := range want {
		wantSet[h] = true
	}
	got := make(map[string]bool)
	calls := 0
	timeout := time.After(time.Second)
	for len(got) < len(wantSet) {
		select {
		case hashes := <-w.revoked:
			calls++
			for _, h := range hashes {
				if !wantSet[h] {
					t.Fatalf("onRevoke received %.12s..., which was not revoked", h)
				}
				got[h] = true
			}
		case <-timeout:
			t.Fatalf("onRevoke received %d of %d revoked hashes within 1s", len(got), len(wantSet))
		}
	}
	return calls
}

// saveFamily saves n records of family on s and returns their hashes.
func saveFamily(t *testing.T, s *Store, family string, n int) []string {
	t.Helper()
	recs := make([]*caddyoauth.TokenRecord, n)
	hashes := make([]string, n)
	for i := range recs {
		recs[i] = storagetest.Record(fmt.Sprint(family, "-", i), family, storagetest.Base)
		hashes[i] = recs[i].Hash
	}
	if err := s.SaveTokens(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	return hashes
}

// revoke revokes family on s and checks that it reports the hashes want.
func revoke(t *testing.T, s *Store, family string, want []string) {
	t.Helper()
	got, err := s.RevokeFamily(context.Background(), family)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("RevokeFamily(%s) = %d hashes, want %d", family, len(got), len(want))
	}
}

func TestTwoNodesShareRecords(t *testing.T) {
	t.Parallel()
	_, a, b := twoNodes(t)
	ctx := context.Background()
	rec := storagetest.Record("issued-on-a", "fam", storagetest.Base)
	rec.SealedSibling = []byte{1, 2, 3}
	if err := a.SaveTokens(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetToken(ctx, rec.Hash)
	if err != nil {
		t.Fatalf("node b does not find the record saved on node a: %v", err)
	}
	if d := storagetest.Equal(got, rec); d != "" {
		t.Fatalf("node b reads %s", d)
	}
	// A single-use insert on one node fails on the other.
	if err := b.SaveTokens(ctx, rec); !errors.Is(err, caddyoauth.ErrExists) {
		t.Fatalf("saving on node b the hash saved on node a = %v, want ErrExists", err)
	}
}

// TestTwoNodesConsumeRace redeems one code from both nodes at once: one
// call of all wins.
func TestTwoNodesConsumeRace(t *testing.T) {
	t.Parallel()
	_, a, b := twoNodes(t)
	const n = 32 // calls, half on each node
	for round := range 5 {
		rec := storagetest.Record(fmt.Sprint("contended-", round), "fam", storagetest.Base)
		rec.Kind = caddyoauth.KindCode
		if err := a.SaveTokens(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		var (
			start, done sync.WaitGroup
			errs        = make([]error, n)
			recs        = make([]*caddyoauth.TokenRecord, n)
		)
		start.Add(1)
		for i := range n {
			node := []*Store{a, b}[i%2]
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				recs[i], errs[i] = node.ConsumeToken(context.Background(), rec.Hash, storagetest.Base.Add(time.Duration(-i)*time.Second))
			}()
		}
		start.Done()
		done.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: calls %d and %d both consumed the record", round, winner, i)
				}
				winner = i
			case errors.Is(err, caddyoauth.ErrAlreadyUsed):
			default:
				t.Fatalf("round %d: call %d: %v", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no call consumed the record", round)
		}
		want := storagetest.Base.Add(time.Duration(-winner) * time.Second)
		for i, r := range recs {
			if i != winner && !r.UsedAt.Equal(want) {
				t.Fatalf("round %d: loser %d saw UsedAt %v, want the winner's %v", round, i, r.UsedAt, want)
			}
		}
		for _, s := range []*Store{a, b} {
			got, err := s.GetToken(context.Background(), rec.Hash)
			if err != nil || !got.UsedAt.Equal(want) {
				t.Fatalf("round %d: stored record %+v, %v; want UsedAt %v", round, got, err, want)
			}
		}
	}
}

func TestRevocationReachesOtherNode(t *testing.T) {
	t.Parallel()
	db, a, b := twoNodes(t)
	ctx := context.Background()
	family := saveFamily(t, a, "fam", 3)
	other := saveFamily(t, a, "other", 2)
	old := storagetest.Record("already-revoked", "fam", storagetest.Base)
	old.Revoked = true
	if err := a.SaveTokens(ctx, old); err != nil {
		t.Fatal(err)
	}
	w := watch(t, db, b)

	revoke(t, a, "fam", family)
	w.expectRevoked(t, family)
	// The other family, revoked next, is all the watcher receives next:
	// it received nothing of it, nor the already revoked record, before.
	revoke(t, a, "other", other)
	w.expectRevoked(t, other)
	revoke(t, a, "fam", nil) // nothing changes: nothing to announce
	select {
	case hashes := <-w.revoked:
		t.Fatalf("onRevoke received %d hashes that were not revoked", len(hashes))
	case <-w.resets:
		t.Fatal("onReset called without a reconnect")
	case <-time.After(100 * time.Millisecond):
	}
}

// TestLargeRevocation revokes a family larger than one notification holds.
func TestLargeRevocation(t *testing.T) {
	t.Parallel()
	db, a, b := twoNodes(t)
	const n = 3*hashesPerNotification + 1
	hashes := saveFamily(t, a, "big", n)
	w := watch(t, db, b)
	revoke(t, a, "big", hashes)
	if calls := w.expectRevoked(t, hashes); calls < 4 {
		t.Fatalf("%d hashes came in %d notifications, want at least 4", n, calls)
	}
}

// TestWatcherReconnects kills the watcher's connection: it reconnects,
// calls onReset, and receives later revocations.
func TestWatcherReconnects(t *testing.T) {
	t.Parallel()
	db, a, b := twoNodes(t)
	w := watch(t, db, b)
	for round := range 2 {
		var killed int
		err := db.admin.QueryRow(context.Background(),
			`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = $1 AND application_name = $2`,
			db.name, watcherApplicationName).Scan(&killed)
		if err != nil || killed != 1 {
			t.Fatalf("round %d: terminated %d watcher connections (%v), want 1", round, killed, err)
		}
		select {
		case <-w.resets:
		case <-time.After(3 * time.Second):
			t.Fatalf("round %d: onReset not called within 3s of losing the connection", round)
		}
		family := fmt.Sprint("after-reconnect-", round)
		hashes := saveFamily(t, a, family, 2)
		revoke(t, a, family, hashes)
		w.expectRevoked(t, hashes)
	}
	if extra := len(w.resets); extra != 0 {
		t.Fatalf("onReset called %d more times than the connection was lost", extra)
	}
}

// TestWatcherFirstConnectFails starts the watcher while the database
// refuses connections: once it connects, it calls onReset, since
// revocations before were missed.
func TestWatcherFirstConnectFails(t *testing.T) {
	t.Parallel()
	db, a, b := twoNodes(t)
	ctx := context.Background()
	if _, err := db.admin.Exec(ctx, "ALTER DATABASE "+db.name+" ALLOW_CONNECTIONS false"); err != nil {
		t.Fatal(err)
	}
	w := &watcher{revoked: make(chan []string, 10), resets: make(chan struct{}, 10)}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.WatchRevocations(wctx,
			func(h []string) { w.revoked <- h },
			func() { w.resets <- struct{}{} })
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("WatchRevocations = %v, want nil", err)
		}
	}()
	time.Sleep(300 * time.Millisecond) // a few failed attempts
	if _, err := db.admin.Exec(ctx, "ALTER DATABASE "+db.name+" ALLOW_CONNECTIONS true"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.resets:
	case <-time.After(3 * time.Second):
		t.Fatal("onReset not called after the watcher connected late")
	}
	hashes := saveFamily(t, a, "late", 2)
	revoke(t, a, "late", hashes)
	w.expectRevoked(t, hashes)
}

// TestWatcherHeartbeat has the watcher ping an idle connection many
// times: the pings neither break nor reset it.
func TestWatcherHeartbeat(t *testing.T) {
	t.Parallel()
	db, a, b := twoNodes(t)
	b.heartbeat = 10 * time.Millisecond
	w := watch(t, db, b)
	time.Sleep(200 * time.Millisecond)
	hashes := saveFamily(t, a, "fam", 2)
	revoke(t, a, "fam", hashes)
	w.expectRevoked(t, hashes)
	if len(w.resets) != 0 {
		t.Fatal("onReset called on an idle connection")
	}
}

func TestParsePayload(t *testing.T) {
	t.Parallel()
	h1, h2 := storagetest.Hash("1"), storagetest.Hash("2")
	tests := []struct {
		payload string
		want    []string
	}{
		{h1, []string{h1}},
		{h1 + "," + h2, []string{h1, h2}},
		{"", nil},
		{",," + h1 + ",", []string{h1}},
	}
	for _, tt := range tests {
		if got := parsePayload(tt.payload); !slices.Equal(got, tt.want) {
			t.Errorf("parsePayload(%.20q) = %v, want %v", tt.payload, got, tt.want)
		}
	}
}
