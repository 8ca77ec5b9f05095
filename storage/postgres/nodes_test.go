package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/internal/testproxy"
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
	revoked chan []string // one element per Revoked call
	resets  chan struct{} // one element per Reset call

	mu     sync.Mutex
	events []event // every call, in order
	busy   atomic.Bool
}

// event is a call to the RevocationListener.
type event struct {
	at      time.Time // when the call came
	revoked []string  // Revoked's hashes
	reset   bool      // whether it is Reset
	heard   time.Time // Heard's t
}

// startWatch runs s.WatchRevocations until the end of the test, which
// checks that it returns nil once its context ends.
func startWatch(t *testing.T, s *Store) *watcher {
	t.Helper()
	w := &watcher{revoked: make(chan []string, 100), resets: make(chan struct{}, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	// record logs a call and checks that it does not overlap another.
	record := func(e event) {
		if w.busy.Swap(true) {
			t.Error("the watcher called the listener from two goroutines at once")
		}
		defer w.busy.Store(false)
		e.at = time.Now()
		w.mu.Lock()
		w.events = append(w.events, e)
		w.mu.Unlock()
	}
	l := caddyoauth.RevocationListener{
		Revoked: func(hashes []string) {
			record(event{revoked: hashes})
			select {
			case w.revoked <- hashes:
			case <-ctx.Done():
			}
		},
		Reset: func() {
			record(event{reset: true})
			select {
			case w.resets <- struct{}{}:
			case <-ctx.Done():
			}
		},
		Heard: func(t time.Time) { record(event{heard: t}) },
	}
	done := make(chan error, 1)
	go func() { done <- s.WatchRevocations(ctx, l) }()
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
	return w
}

// watch starts watching as startWatch does, and waits until the watcher
// listens.
func watch(t *testing.T, db *testDB, s *Store) *watcher {
	t.Helper()
	w := startWatch(t, s)
	db.waitListening(t)
	select {
	case <-w.resets: // every start of listening resets, the first included
	case <-time.After(5 * time.Second):
		t.Fatal("Reset not called when the watcher first listened")
	}
	return w
}

// count returns the number of events so far.
func (w *watcher) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.events)
}

// since returns the events from the i-th on.
func (w *watcher) since(i int) []event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.events[min(i, len(w.events)):])
}

// await waits up to timeout for an event, from the i-th on, for which ok
// holds, and returns its index; it fails the test if none comes.
func (w *watcher) await(t *testing.T, i int, timeout time.Duration, what string, ok func(event) bool) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, e := range w.since(i) {
			if ok(e) {
				return i
			}
			i++
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// heardAfter returns a test of events: whether it is a Heard with a time
// after t.
func heardAfter(t time.Time) func(event) bool {
	return func(e event) bool { return e.heard.After(t) }
}

// waitListening waits until the revocation watcher's connection to the
// database listens: its last statement is LISTEN, or a ping, which comes
// after it.
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

// expectRevoked waits up to a second for Revoked to have received
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
					t.Fatalf("Revoked received %.12s..., which was not revoked", h)
				}
				got[h] = true
			}
		case <-timeout:
			t.Fatalf("Revoked received %d of %d revoked hashes within 1s", len(got), len(wantSet))
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
		t.Fatalf("Revoked received %d hashes that were not revoked", len(hashes))
	case <-w.resets:
		t.Fatal("Reset called without a reconnect")
	case <-time.After(100 * time.Millisecond):
	}
}

// TestTokenRevocationReachesOtherNode revokes a record of no family on
// node A: node B's watcher hears of that one hash.
func TestTokenRevocationReachesOtherNode(t *testing.T) {
	t.Parallel()
	db, a, b := twoNodes(t)
	ctx := context.Background()
	lone := storagetest.Record("lone", "", storagetest.Base)
	if err := a.SaveTokens(ctx, lone); err != nil {
		t.Fatal(err)
	}
	w := watch(t, db, b)
	if got, err := a.RevokeToken(ctx, lone.Hash); err != nil || !slices.Equal(got, []string{lone.Hash}) {
		t.Fatalf("RevokeToken = %v, %v; want [%.8s...]", got, err, lone.Hash)
	}
	w.expectRevoked(t, []string{lone.Hash})
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
// calls Reset, and receives later revocations.
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
			t.Fatalf("round %d: Reset not called within 3s of losing the connection", round)
		}
		family := fmt.Sprint("after-reconnect-", round)
		hashes := saveFamily(t, a, family, 2)
		revoke(t, a, family, hashes)
		w.expectRevoked(t, hashes)
	}
	if extra := len(w.resets); extra != 0 {
		t.Fatalf("Reset called %d more times than the connection was lost", extra)
	}
}

// TestWatcherFirstConnectFails starts the watcher while the database
// refuses connections: once it connects, it calls Reset, since
// revocations before were missed, and Heard, never before.
func TestWatcherFirstConnectFails(t *testing.T) {
	t.Parallel()
	db, a, b := twoNodes(t)
	ctx := context.Background()
	if _, err := db.admin.Exec(ctx, "ALTER DATABASE "+db.name+" ALLOW_CONNECTIONS false"); err != nil {
		t.Fatal(err)
	}
	w := startWatch(t, b)
	time.Sleep(300 * time.Millisecond) // a few failed attempts
	if events := w.since(0); len(events) != 0 {
		t.Fatalf("the watcher reported %+v before it connected", events[0])
	}
	if _, err := db.admin.Exec(ctx, "ALTER DATABASE "+db.name+" ALLOW_CONNECTIONS true"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.resets:
	case <-time.After(3 * time.Second):
		t.Fatal("Reset not called after the watcher connected late")
	}
	w.await(t, 0, time.Second, "Heard after the watcher connected", heardAfter(time.Time{}))
	hashes := saveFamily(t, a, "late", 2)
	revoke(t, a, "late", hashes)
	w.expectRevoked(t, hashes)
}

// TestWatcherHeard watches Heard for a while, with notifications coming
// or not: the time it confirms is never older than a few HeardIntervals,
// never in the future, and never goes back.
func TestWatcherHeard(t *testing.T) {
	t.Parallel()
	const (
		observe = time.Second
		maxAge  = 3 * caddyoauth.HeardInterval // with slack for a busy machine
	)
	tests := []struct {
		name  string
		every time.Duration // between notifications; 0: none
	}{
		{"idle", 0},
		{"notifications every 10ms", 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, a, b := twoNodes(t)
			w := watch(t, db, b)
			from := w.count()
			begin := time.Now()
			var notifying sync.WaitGroup
			stop := make(chan struct{})
			if tt.every > 0 {
				notifying.Go(func() {
					tick := time.NewTicker(tt.every)
					defer tick.Stop()
					for i := 0; ; i++ {
						_, err := a.db.pool.Exec(context.Background(), "SELECT pg_notify($1, $2)",
							revocationChannel, storagetest.Hash(fmt.Sprint(i)))
						if err != nil {
							t.Error(err)
							return
						}
						select {
						case <-tick.C:
						case <-stop:
							return
						}
					}
				})
				notifying.Go(func() { // Revoked would block once w.revoked is full
					for {
						select {
						case <-w.revoked:
						case <-stop:
							return
						}
					}
				})
			}
			time.Sleep(observe)
			end := time.Now()
			close(stop)
			notifying.Wait()

			var last time.Time // the last time heard
			for _, e := range w.since(0)[:from] {
				last = cmp.Or(e.heard, last)
			}
			// age is how old the last time heard is at time at; before
			// anything is heard, it counts from the start of the window.
			age := func(at time.Time) time.Duration { return at.Sub(cmp.Or(last, begin)) }
			heard := 0
			for _, e := range w.since(from) {
				switch {
				case e.at.After(end):
				case e.reset:
					t.Fatalf("Reset called at %v, without a reconnect", e.at.Sub(begin))
				case !e.heard.IsZero():
					heard++
					if age := age(e.at); age > maxAge {
						t.Errorf("at %v, the time heard was %v old, want at most %v", e.at.Sub(begin), age, maxAge)
					}
					if e.heard.After(e.at) {
						t.Errorf("at %v, Heard a time %v in the future", e.at.Sub(begin), e.heard.Sub(e.at))
					}
					if e.heard.Before(last) {
						t.Errorf("at %v, Heard a time %v before the last", e.at.Sub(begin), last.Sub(e.heard))
					} else {
						last = e.heard
					}
				case tt.every == 0:
					t.Fatalf("Revoked called at %v without a revocation", e.at.Sub(begin))
				}
			}
			if age := age(end); age > maxAge {
				t.Errorf("at the end, the time heard was %v old, want at most %v", age, maxAge)
			}
			t.Logf("%d Heard calls in %v", heard, observe)
		})
	}
}

// TestHeardAfterRevoked revokes on node A, many times: every time, the
// first Heard on node B of a time after RevokeFamily returned comes after
// B's Revoked received what it revoked.
func TestHeardAfterRevoked(t *testing.T) {
	t.Parallel()
	db, a, b := twoNodes(t)
	b.heardInterval = time.Nanosecond // ping without a pause: more races to lose
	w := watch(t, db, b)
	for round := range 30 {
		n := 1
		if round%5 == 4 {
			n = 2*hashesPerNotification + 1 // three notifications
		}
		family := fmt.Sprint("fam-", round)
		hashes := saveFamily(t, a, family, n)
		from := w.count()
		revoke(t, a, family, hashes)
		revoked := time.Now()
		i := w.await(t, from, 2*time.Second, "Heard of a time after RevokeFamily returned", heardAfter(revoked))
		got := make(map[string]bool)
		for _, e := range w.since(from)[:i-from] {
			for _, h := range e.revoked {
				got[h] = true
			}
		}
		for _, h := range hashes {
			if !got[h] {
				t.Fatalf("round %d: Heard of a time after RevokeFamily returned came before Revoked received %.12s...", round, h)
			}
		}
		w.expectRevoked(t, hashes)
	}
}

// provisionBehindProxy returns the store of node on db, as provision
// does, its connections going through a testproxy to the server.
func provisionBehindProxy(t *testing.T, db *testDB, node string) (*Store, *testproxy.Proxy) {
	t.Helper()
	p := testproxy.Start(t, net.JoinHostPort(db.url.Hostname(), cmp.Or(db.url.Port(), "5432")))
	u, err := url.Parse(db.dsn(node))
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.Addr()
	s := provision(t, u.String())
	// Closed before the store's cleanup runs, so that the pool does not
	// wait on stalled connections as it closes.
	t.Cleanup(p.Close)
	return s, p
}

// TestStalledIdleConnectionIsReplaced stalls the pool's connection while it
// is idle: the ping pgxpool sends it before handing it out times out after
// idlePingTimeout, and the operation succeeds on a new connection, well
// within its statement timeout.
func TestStalledIdleConnectionIsReplaced(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	s, p := provisionBehindProxy(t, db, "idle")
	s.StatementTimeout = caddy.Duration(5 * idlePingTimeout)
	hashes := saveFamily(t, s, "idle", 1)
	time.Sleep(1100 * time.Millisecond) // pgxpool pings a connection idle for over a second
	p.Stall()
	start := time.Now()
	_, err := s.GetToken(context.Background(), hashes[0])
	if took, within := time.Since(start), 4*idlePingTimeout; err != nil || took > within {
		t.Fatalf("GetToken after the idle connection stalled: %v after %v; want the token within %v", err, took, within)
	}
}

// TestIdlePingTimeout: the pool bounds the ping of an idle connection by
// idlePingTimeout unless the DSN sets pool_ping_timeout.
func TestIdlePingTimeout(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	for _, tc := range []struct {
		name, param string
		want        time.Duration
	}{
		{"default", "", idlePingTimeout},
		{"from the DSN", "&pool_ping_timeout=3s", 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := provision(t, db.dsn("ping "+tc.name)+tc.param)
			if got := s.db.pool.Config().PingTimeout; got != tc.want {
				t.Errorf("PingTimeout = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestWatcherSilentDeath has the watcher's connection swallow everything
// without closing, as a lost network or a frozen server does: Heard
// confirms no time after that; once a ping goes unanswered for the ping
// timeout, the watcher reconnects, calls Reset, and Heard resumes.
func TestWatcherSilentDeath(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	a := provision(t, db.dsn("a"))
	b, p := provisionBehindProxy(t, db, "b")
	b.pingTimeout = 500 * time.Millisecond
	w := watch(t, db, b)
	w.await(t, 0, time.Second, "Heard through the proxy", heardAfter(time.Time{}))

	from := w.count()
	p.Stall()
	stalled := time.Now()
	// A revocation during the stall is lost for the watcher, which must
	// not confirm that it heard it.
	lost := saveFamily(t, a, "lost", 1)
	revoke(t, a, "lost", lost)
	i := w.await(t, from, b.pingTimeout+2*time.Second, "Reset after the stall", func(e event) bool { return e.reset })
	for _, e := range w.since(from)[:i-from] {
		if e.heard.After(stalled) {
			t.Fatalf("Heard a time %v after the connection stalled", e.heard.Sub(stalled))
		}
		if len(e.revoked) > 0 {
			t.Fatal("Revoked called on a stalled connection")
		}
	}
	reset := w.since(i)[0].at
	t.Logf("Reset %v after the stall", reset.Sub(stalled))
	w.await(t, i, time.Second, "Heard after the reconnect", heardAfter(reset))
	<-w.resets
	hashes := saveFamily(t, a, "after", 2)
	revoke(t, a, "after", hashes)
	w.expectRevoked(t, hashes)
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

// TestStalledServerFailsFast has the store's connections swallow
// everything without closing, as a lost network or a frozen server does:
// every operation fails within the statement timeout instead of waiting
// for TCP to notice. Each operation gets a store, a pool and a proxy of its
// own, so that it takes a connection that stalled, not a new one.
func TestStalledServerFailsFast(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	const timeout = 300 * time.Millisecond
	for _, op := range []struct {
		name string
		do   func(s *Store, family, hash string) error
	}{
		{"SaveTokens", func(s *Store, family, _ string) error {
			return s.SaveTokens(ctx, storagetest.Record(family+"-stalled", "", storagetest.Base))
		}},
		{"GetToken", func(s *Store, _, hash string) error { _, err := s.GetToken(ctx, hash); return err }},
		{"ConsumeToken", func(s *Store, _, hash string) error { _, err := s.ConsumeToken(ctx, hash, time.Now()); return err }},
		{"RevokeFamily", func(s *Store, family, _ string) error { _, err := s.RevokeFamily(ctx, family); return err }},
		{"RevokeToken", func(s *Store, _, hash string) error { _, err := s.RevokeToken(ctx, hash); return err }},
	} {
		t.Run(op.name, func(t *testing.T) {
			s, p := provisionBehindProxy(t, db, op.name)
			s.StatementTimeout = caddy.Duration(timeout)
			hashes := saveFamily(t, s, op.name, 1) // through the pool's connection, which then stalls
			p.Stall()
			start := time.Now()
			err := op.do(s, op.name, hashes[0])
			if took := time.Since(start); err == nil || took > 3*timeout {
				t.Errorf("%s on a stalled server: %v after %v; want an error within the statement timeout (%v)", op.name, err, took, timeout)
			}
		})
	}
}
