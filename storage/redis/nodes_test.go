package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/internal/testproxy"
	"github.com/caddy-oauth/caddy-oauth/storage/storagetest"
)

// nodes returns two stores on one prefix with clients of their own, as two
// Caddy nodes sharing the server have, A on urlA and B on urlB; B's
// connections are named nameB.
func nodes(t *testing.T, urlA, urlB string) (a, b *Store, nameB string) {
	t.Helper()
	prefix := newPrefix(t)
	nameA, nameB := randomName("caddy-oauth-test-a-"), randomName("caddy-oauth-test-b-")
	a = provision(t, withClientName(t, urlA, nameA), prefix)
	b = provision(t, withClientName(t, urlB, nameB), prefix)
	if a.client == b.client {
		t.Fatal("the nodes share a client")
	}
	return a, b, nameB
}

// watch is a running WatchRevocations and what it has reported.
type watch struct {
	mu      sync.Mutex
	events  []event // every call of the listener, in order
	revoked int     // how many of the Revoked events expectRevoked took
}

// event is one call of the watcher's listener.
type event struct {
	at     time.Time // when the call came
	kind   string    // "revoked", "reset" or "heard"
	hashes []string  // the argument of Revoked
	t      time.Time // the argument of Heard
}

// add records e, called now.
func (w *watch) add(e event) {
	e.at = time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, e)
}

// log returns the events so far.
func (w *watch) log() []event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.events)
}

// count returns how many events of the kind came so far.
func (w *watch) count(kind string) int {
	n := 0
	for _, e := range w.log() {
		if e.kind == kind {
			n++
		}
	}
	return n
}

// next waits up to d for an event of the kind at index from or later, and
// returns its index.
func (w *watch) next(t *testing.T, kind string, from int, d time.Duration) int {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(time.Millisecond) {
		log := w.log()
		for i := from; i < len(log); i++ {
			if log[i].kind == kind {
				return i
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s call within %v", kind, d)
		}
	}
}

// nodesBehindProxy returns the stores of two nodes as nodes does, B's
// connections going through a testproxy to the server.
func nodesBehindProxy(t *testing.T) (a, b *Store, p *testproxy.Proxy) {
	t.Helper()
	u, err := url.Parse(testURL())
	if err != nil {
		t.Fatal(err)
	}
	p = testproxy.Start(t, u.Host)
	u.Host = p.Addr()
	a, b, _ = nodes(t, testURL(), u.String())
	return a, b, p
}

// startWatch runs s.WatchRevocations until the end of the test, when it
// must return nil, and waits until it has subscribed. Then it checks that
// each Heard's t was not in the future and did not go back.
func startWatch(t *testing.T, s *Store) *watch {
	t.Helper()
	w := new(watch)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.WatchRevocations(ctx, caddyoauth.RevocationListener{
			Revoked: func(hashes []string) { w.add(event{kind: "revoked", hashes: hashes}) },
			Reset:   func() { w.add(event{kind: "reset"}) },
			Heard:   func(t time.Time) { w.add(event{kind: "heard", t: t}) },
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("WatchRevocations returned %v, want nil", err)
			}
		case <-time.After(2 * time.Second):
			t.Errorf("WatchRevocations did not return after its context ended")
		}
		var last time.Time
		for _, e := range w.log() {
			if e.kind != "heard" {
				continue
			}
			if e.t.After(e.at) {
				t.Errorf("Heard(%v) was called earlier, at %v", e.t, e.at)
			}
			if e.t.Before(last) {
				t.Errorf("Heard(%v) came after Heard(%v)", e.t, last)
			}
			last = e.t
		}
	})
	waitFor(t, "the watcher's subscription", func() bool {
		n, err := admin(t).PubSubNumSub(context.Background(), s.channel()).Result()
		return err == nil && n[s.channel()] == 1
	})
	w.next(t, "reset", 0, 2*time.Second) // every subscription resets, the first included
	return w
}

// waitFor waits up to 2 seconds for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// expectRevoked waits up to a second for w to receive exactly the hashes
// want in calls of Revoked that no expectRevoked took yet, and returns in
// how many calls they came.
func (w *watch) expectRevoked(t *testing.T, want []string) int {
	t.Helper()
	var got []string
	calls := 0
	for deadline := time.Now().Add(time.Second); len(got) < len(want); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("within 1s the watcher received %d of %d revoked hashes", len(got), len(want))
		}
		w.mu.Lock()
		seen := 0
		for _, e := range w.events {
			if e.kind != "revoked" {
				continue
			}
			if seen++; seen > w.revoked {
				got = append(got, e.hashes...)
				calls++
				w.revoked++
			}
		}
		w.mu.Unlock()
	}
	slices.Sort(got)
	if want = slices.Sorted(slices.Values(want)); !slices.Equal(got, want) {
		t.Fatalf("the watcher received %v, want %v", got, want)
	}
	return calls
}

// family saves n records of a new family on s, the first revoked of them
// already revoked, and returns the family ID and the hashes.
func family(t *testing.T, s *Store, name string, n, revoked int) (string, []string) {
	t.Helper()
	fam := randomName(strings.ReplaceAll(name, " ", "-") + "-")
	var recs []*caddyoauth.TokenRecord
	var hashes []string
	for i := range n {
		r := storagetest.Record(fmt.Sprint(fam, "-", i), fam, storagetest.Base)
		r.Revoked = i < revoked
		recs = append(recs, r)
		hashes = append(hashes, r.Hash)
	}
	if err := s.SaveTokens(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	return fam, hashes
}

// revoke revokes fam on s and checks that it changed exactly want.
func revoke(t *testing.T, s *Store, fam string, want []string) {
	t.Helper()
	got, err := s.RevokeFamily(context.Background(), fam)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want = slices.Sorted(slices.Values(want)); !slices.Equal(got, want) {
		t.Fatalf("RevokeFamily(%s) = %v, want %v", fam, got, want)
	}
}

func TestTwoNodesShareRecords(t *testing.T) {
	a, b, _ := nodes(t, testURL(), testURL())
	ctx := context.Background()
	rec := storagetest.Record("shared", "fam", storagetest.Base)
	if err := a.SaveTokens(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetToken(ctx, rec.Hash)
	if err != nil {
		t.Fatalf("node B does not see node A's record: %v", err)
	}
	if d := storagetest.Equal(got, rec); d != "" {
		t.Fatal(d)
	}
	if err := b.SaveTokens(ctx, rec); !errors.Is(err, caddyoauth.ErrExists) {
		t.Fatalf("node B saved node A's hash again: %v", err)
	}
}

func TestTwoNodesConsumeRace(t *testing.T) {
	a, b, _ := nodes(t, testURL(), testURL())
	ctx := context.Background()
	const rounds, n = 5, 16
	for round := range rounds {
		rec := storagetest.Record(fmt.Sprint("race-", round), "fam", storagetest.Base)
		rec.Kind = caddyoauth.KindCode
		if err := a.SaveTokens(ctx, rec); err != nil {
			t.Fatal(err)
		}
		var (
			start sync.WaitGroup
			done  sync.WaitGroup
			recs  = make([]*caddyoauth.TokenRecord, n)
			errs  = make([]error, n)
		)
		start.Add(1)
		for i := range n {
			node := []*Store{a, b}[i%2]
			done.Go(func() {
				start.Wait()
				recs[i], errs[i] = node.ConsumeToken(ctx, rec.Hash, storagetest.Base.Add(-time.Duration(i+1)*time.Second))
			})
		}
		start.Done()
		done.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Fatalf("round %d: calls %d and %d (on both nodes: %v) both consumed the record", round, winner, i, winner%2 != i%2)
			case !errors.Is(err, caddyoauth.ErrAlreadyUsed):
				t.Fatalf("round %d: call %d: %v", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no call consumed the record", round)
		}
		usedAt := storagetest.Base.Add(-time.Duration(winner+1) * time.Second)
		for i, r := range recs {
			if i != winner && !r.UsedAt.Equal(usedAt) {
				t.Fatalf("round %d: loser %d got UsedAt %v, want the winner's %v", round, i, r.UsedAt, usedAt)
			}
		}
	}
}

func TestRevocationsReachOtherNode(t *testing.T) {
	old := perMessage
	t.Cleanup(func() { perMessage = old })
	perMessage = 100 // the large family takes several messages
	a, b, _ := nodes(t, testURL(), testURL())
	w := startWatch(t, b)

	tests := []struct {
		name      string
		size      int
		revoked   int // how many of the family are saved revoked
		wantCalls int
	}{
		{"one record", 1, 0, 1},
		{"some already revoked", 5, 2, 1},
		{"large family", 300, 0, 3},
		{"large family, one left", 250, 249, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fam, hashes := family(t, a, tt.name, tt.size, tt.revoked)
			want := hashes[tt.revoked:]
			revoke(t, a, fam, want)
			start := time.Now()
			if calls := w.expectRevoked(t, want); calls != tt.wantCalls {
				t.Fatalf("%d hashes came in %d messages, want %d", len(want), calls, tt.wantCalls)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("the revocation took %v to arrive", d)
			}
			revoke(t, a, fam, nil)
		})
	}
	if n := w.count("reset"); n != 1 {
		t.Fatalf("Reset was called %d times without a reconnect, want 1", n)
	}
}

// TestTokenRevocationReachesOtherNode revokes a record of no family on
// node A: node B's watcher hears of that one hash.
func TestTokenRevocationReachesOtherNode(t *testing.T) {
	a, b, _ := nodes(t, testURL(), testURL())
	w := startWatch(t, b)
	ctx := context.Background()
	lone := storagetest.Record("lone", "", storagetest.Base)
	if err := a.SaveTokens(ctx, lone); err != nil {
		t.Fatal(err)
	}
	if got, err := a.RevokeToken(ctx, lone.Hash); err != nil || !slices.Equal(got, []string{lone.Hash}) {
		t.Fatalf("RevokeToken = %v, %v; want [%.8s...]", got, err, lone.Hash)
	}
	w.expectRevoked(t, []string{lone.Hash})
}

// TestWatchReconnect kills the connection of node B's watcher: go-redis
// reconnects and subscribes again, and the watcher calls Reset, since it
// may have missed revocations; Heard resumes, and later revocations
// arrive.
func TestWatchReconnect(t *testing.T) {
	a, b, nameB := nodes(t, testURL(), testURL())
	w := startWatch(t, b)
	ctx := context.Background()
	if n := w.count("reset"); n != 1 {
		t.Fatalf("Reset was called %d times on the first subscription, want 1", n)
	}

	list, err := admin(t).ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for line := range strings.Lines(list) {
		f := clientFields(line)
		if f["name"] == nameB && f["sub"] == "1" {
			ids = append(ids, f["id"])
		}
	}
	if len(ids) != 1 {
		t.Fatalf("found %d subscribed connections named %s, want 1", len(ids), nameB)
	}
	n := len(w.log())
	if err := admin(t).Do(ctx, "CLIENT", "KILL", "ID", ids[0]).Err(); err != nil {
		t.Fatal(err)
	}
	reset := w.next(t, "reset", n, 2*time.Second)
	w.next(t, "heard", reset+1, 3*caddyoauth.HeardInterval)

	fam, hashes := family(t, a, "after-reconnect", 3, 0)
	revoke(t, a, fam, hashes)
	w.expectRevoked(t, hashes)
	if n := w.count("reset"); n != 2 {
		t.Fatalf("Reset was called %d times, want 2", n)
	}
}

// clientFields returns the fields of a line of CLIENT LIST.
func clientFields(line string) map[string]string {
	f := make(map[string]string)
	for _, kv := range strings.Fields(line) {
		k, v, _ := strings.Cut(kv, "=")
		f[k] = v
	}
	return f
}

// TestWatchDeadConnection stalls the connection of node B's watcher without
// closing it, as a lost network or a dead server does. No Heard vouches
// for a time after the stall; the watcher notices that its pings are not
// answered, subscribes on a new connection and calls Reset; then Heard
// resumes, and later revocations arrive.
func TestWatchDeadConnection(t *testing.T) {
	// Restored after the watcher, started later, has stopped.
	old := deadAfter
	t.Cleanup(func() { deadAfter = old })
	deadAfter = 500 * time.Millisecond

	a, b, p := nodesBehindProxy(t)
	w := startWatch(t, b)

	time.Sleep(2 * deadAfter) // pings are answered: nothing happens
	if n := w.count("reset"); n != 1 {
		t.Fatalf("Reset was called %d times on a live connection, want 1", n)
	}
	if w.count("heard") == 0 {
		t.Fatalf("Heard was not called in %v on a live connection", 2*deadAfter)
	}
	n := len(w.log())
	p.Stall()
	stalled := time.Now() // a ping sent after this is never answered

	reset := w.next(t, "reset", n, 2*time.Second)
	log := w.log()
	for _, e := range log[n:reset] {
		if e.kind == "heard" && e.t.After(stalled) {
			t.Errorf("Heard(%v) before the new subscription vouches for a time after the stall, at %v", e.t, stalled)
		}
	}
	// The first ping unanswered goes out within a HeardInterval of the
	// stall; the watcher checks whether it is deadAfter old every
	// HeardInterval, just before it pings, and a little slack.
	if d, most := log[reset].at.Sub(stalled), deadAfter+4*caddyoauth.HeardInterval; d > most {
		t.Errorf("the watcher took %v to subscribe again, want at most %v", d, most)
	}
	heard := w.next(t, "heard", reset+1, 3*caddyoauth.HeardInterval)
	if e := w.log()[heard]; !e.t.After(stalled) {
		t.Errorf("the first Heard after subscribing again is for %v, before the stall at %v", e.t, stalled)
	}

	fam, hashes := family(t, a, "after-stall", 2, 0)
	revoke(t, a, fam, hashes)
	w.expectRevoked(t, hashes)
	if n := w.count("reset"); n != 2 {
		t.Fatalf("Reset was called %d times, want 2", n)
	}
}

// TestStalledIdleConnectionIsReplaced stalls node B's connections while
// they are idle, as a lost network does: a connection idle for over
// maxIdle is not used again, so the next read succeeds at once on a new
// one instead of waiting for its timeout.
func TestStalledIdleConnectionIsReplaced(t *testing.T) {
	a, b, p := nodesBehindProxy(t)
	rec := storagetest.Record("idle", "", storagetest.Base)
	if err := a.SaveTokens(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetToken(context.Background(), rec.Hash); err != nil {
		t.Fatal(err) // b's pool now holds an idle connection
	}
	time.Sleep(maxIdle + 100*time.Millisecond)
	p.Stall()
	start := time.Now()
	_, err := b.GetToken(context.Background(), rec.Hash)
	if took := time.Since(start); err != nil || took > 500*time.Millisecond {
		t.Fatalf("GetToken after the idle connection stalled: %v after %v; want the token at once", err, took)
	}
}
