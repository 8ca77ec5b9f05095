package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
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

// watch is a running WatchRevocations.
type watch struct {
	revoked chan []string // the hashes of each onRevoke
	resets  atomic.Int32  // how many times onReset was called
	reset   chan struct{} // a value per onReset
}

// startWatch runs s.WatchRevocations until the end of the test, when it
// must return nil, and waits until it has subscribed.
func startWatch(t *testing.T, s *Store) *watch {
	t.Helper()
	w := &watch{revoked: make(chan []string, 100), reset: make(chan struct{}, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.WatchRevocations(ctx,
			func(hashes []string) { w.revoked <- hashes },
			func() { w.resets.Add(1); w.reset <- struct{}{} })
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
	})
	waitFor(t, "the watcher's subscription", func() bool {
		n, err := admin(t).PubSubNumSub(context.Background(), s.channel()).Result()
		return err == nil && n[s.channel()] == 1
	})
	select {
	case <-w.reset: // every subscription resets, the first included
		w.resets.Add(-1)
	case <-time.After(2 * time.Second):
		t.Fatal("onReset not called on the first subscription")
	}
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
// want, and returns in how many calls of onRevoke they came.
func (w *watch) expectRevoked(t *testing.T, want []string) int {
	t.Helper()
	var got []string
	calls := 0
	timeout := time.After(time.Second)
	for len(got) < len(want) {
		select {
		case hashes := <-w.revoked:
			got = append(got, hashes...)
			calls++
		case <-timeout:
			t.Fatalf("within 1s the watcher received %d of %d revoked hashes", len(got), len(want))
		}
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
	if n := w.resets.Load(); n != 0 {
		t.Fatalf("onReset was called %d times without a reconnect", n)
	}
}

// TestWatchReconnect kills the connection of node B's watcher: go-redis
// reconnects and subscribes again, and the watcher calls onReset, since it
// may have missed revocations; later ones still arrive.
func TestWatchReconnect(t *testing.T) {
	a, b, nameB := nodes(t, testURL(), testURL())
	w := startWatch(t, b)
	ctx := context.Background()
	if n := w.resets.Load(); n != 0 {
		t.Fatalf("onReset was called %d more times on the first subscription", n)
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
	if err := admin(t).Do(ctx, "CLIENT", "KILL", "ID", ids[0]).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.reset:
	case <-time.After(2 * time.Second):
		t.Fatal("onReset was not called within 2s of the connection's end")
	}

	fam, hashes := family(t, a, "after-reconnect", 3, 0)
	revoke(t, a, fam, hashes)
	w.expectRevoked(t, hashes)
	if n := w.resets.Load(); n != 1 {
		t.Fatalf("onReset was called %d times, want 1", n)
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
// closing it, as a lost network or a dead server does: the watcher notices
// that its ping is not answered, subscribes on a new connection and calls
// onReset; later revocations arrive.
func TestWatchDeadConnection(t *testing.T) {
	// Restored after the watcher, started later, has stopped.
	old := pingInterval
	t.Cleanup(func() { pingInterval = old })
	pingInterval = 100 * time.Millisecond

	u, err := url.Parse(testURL())
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, u.Host)
	u.Host = p.addr()
	a, b, _ := nodes(t, testURL(), u.String())
	w := startWatch(t, b)

	time.Sleep(3 * pingInterval) // pings are answered: nothing happens
	if n := w.resets.Load(); n != 0 {
		t.Fatalf("onReset was called %d times on a live connection", n)
	}
	p.stall()
	select {
	case <-w.reset:
	case <-time.After(2 * time.Second):
		t.Fatal("onReset was not called within 2s of the connection stalling")
	}
	fam, hashes := family(t, a, "after-stall", 2, 0)
	revoke(t, a, fam, hashes)
	w.expectRevoked(t, hashes)
	if n := w.resets.Load(); n != 1 {
		t.Fatalf("onReset was called %d times, want 1", n)
	}
}

// proxy forwards TCP connections to a server until stall makes the
// connections open so far swallow everything, both ways, without closing.
type proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	conns   []net.Conn
	stalled []*atomic.Bool
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			down.Close()
			continue
		}
		stalled := new(atomic.Bool)
		p.mu.Lock()
		p.conns = append(p.conns, down, up)
		p.stalled = append(p.stalled, stalled)
		p.mu.Unlock()
		go forward(up, down, stalled)
		go forward(down, up, stalled)
	}
}

// forward copies from src to dst until either closes, dropping what it
// reads while stalled.
func forward(dst, src net.Conn, stalled *atomic.Bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !stalled.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// stall makes every connection open so far swallow what it carries.
func (p *proxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.stalled {
		s.Store(true)
	}
}
