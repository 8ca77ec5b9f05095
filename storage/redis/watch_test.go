package redis

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

// TestWatchHeard checks that node B's watcher calls Heard at least every
// HeardInterval (with slack for a busy test machine), with a recent t,
// while the channel is quiet and while node A keeps publishing
// revocations. startWatch checks that t is never in the future and never
// goes back.
func TestWatchHeard(t *testing.T) {
	const (
		watchFor = time.Second
		slack    = 3 * caddyoauth.HeardInterval
	)
	tests := []struct {
		name  string
		flood bool // whether A publishes a revocation every millisecond
	}{
		{"quiet channel", false},
		{"while revocations flow", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b, _ := nodes(t, testURL(), testURL())
			w := startWatch(t, b)
			if tt.flood {
				stop := make(chan struct{})
				var publisher sync.WaitGroup
				publisher.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						case <-time.After(time.Millisecond):
						}
						msg := fmt.Sprintf("flood-%d-a flood-%d-b", i, i)
						if err := a.client.Publish(context.Background(), a.channel(), msg).Err(); err != nil {
							t.Error(err)
							return
						}
					}
				})
				t.Cleanup(func() { close(stop); publisher.Wait() })
			}
			time.Sleep(watchFor)
			end := time.Now()

			log := w.log()
			last := log[0].at // the first Reset
			heard, revoked := 0, 0
			for i, e := range log {
				switch e.kind {
				case "revoked":
					revoked++
				case "heard":
					heard++
					if gap := e.at.Sub(last); gap > slack {
						t.Errorf("no Heard for %v, until %v", gap, e.at)
					}
					if age := e.at.Sub(e.t); age > slack {
						t.Errorf("Heard(%v) came %v later", e.t, age)
					}
					last = e.at
				case "reset":
					if i > 0 {
						t.Errorf("Reset at %v on a live connection", e.at)
					}
				}
			}
			if gap := end.Sub(last); gap > slack {
				t.Errorf("no Heard for the last %v", gap)
			}
			t.Logf("%d Heard and %d Revoked calls in %v", heard, revoked, end.Sub(log[0].at))
			if tt.flood && revoked < 100 {
				t.Fatalf("only %d revocations came in %v: not a flood", revoked, watchFor)
			}
		})
	}
}

// TestWatchHeardAfterRevocations revokes a family on node A every 20 ms,
// while node B's watcher listens through a network that delays everything
// by 100 ms, both ways (once the watcher has subscribed): for each family revoked before a time T
// (RevokeFamily had returned), the first Heard(t) with t > T must come
// after the family's hashes went to Revoked. The delay makes a Heard that
// does not wait for its round trip, or credits it with a later time,
// vouch for revocations still on their way.
func TestWatchHeardAfterRevocations(t *testing.T) {
	const (
		families = 40
		every    = 20 * time.Millisecond
		latency  = 100 * time.Millisecond
	)
	a, b, p := nodesBehindProxy(t)
	type revocation struct {
		fam    string
		hashes []string
		done   time.Time // when RevokeFamily returned
	}
	revs := make([]revocation, families)
	for i := range revs {
		revs[i].fam, revs[i].hashes = family(t, a, fmt.Sprint("ordered ", i), 2, 0)
	}
	w := startWatch(t, b)
	p.Delay(latency)

	for i := range revs {
		revoke(t, a, revs[i].fam, revs[i].hashes)
		revs[i].done = time.Now()
		time.Sleep(every)
	}
	waitFor(t, "a Heard after the last revocation", func() bool {
		for _, e := range w.log() {
			if e.kind == "heard" && e.t.After(revs[len(revs)-1].done) {
				return true
			}
		}
		return false
	})

	got := make(map[string]bool) // the hashes passed to Revoked so far
	next := 0                    // the first revocation not yet vouched for
	early := 0                   // how many revocations a Heard vouched for too early
	for _, e := range w.log() {
		switch e.kind {
		case "revoked":
			for _, h := range e.hashes {
				got[h] = true
			}
		case "heard":
			for ; next < len(revs) && revs[next].done.Before(e.t); next++ {
				if got[revs[next].hashes[0]] && got[revs[next].hashes[1]] {
					continue
				}
				if early++; early == 1 {
					t.Errorf("Heard(%v) came before Revoked got the family revoked at %v",
						e.t, revs[next].done)
				}
			}
		}
	}
	if early > 0 {
		t.Errorf("%d of %d revocations came after a Heard that vouched for them", early, len(revs))
	}
	if next != len(revs) {
		t.Fatalf("%d of %d revocations vouched for by Heard", next, len(revs))
	}
}

// TestWatchMessageInParts makes each message on node B's subscription
// arrive in two parts, further apart than HeardInterval, as a slow or
// congested network may: the watcher must still receive it whole, without
// reconnecting. (go-redis, reading with a timeout that ends between the
// parts, would parse the rest as pongs and lose the message unnoticed.)
func TestWatchMessageInParts(t *testing.T) {
	a, b, p := nodesBehindProxy(t)
	w := startWatch(t, b)
	p.Split("message", 2*caddyoauth.HeardInterval)

	fam, hashes := family(t, a, "in parts", 3, 0)
	revoke(t, a, fam, hashes)
	w.expectRevoked(t, hashes)
	if n := w.count("reset"); n != 1 {
		t.Fatalf("Reset was called %d times, want 1", n)
	}
}

// TestSubscriptionPong checks that a pong is credited with the time of the
// ping it names, and only of a ping awaited; that ping and the earlier
// ones are no longer awaited.
func TestSubscriptionPong(t *testing.T) {
	t0 := time.Now()
	at := func(n uint64) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	tests := []struct {
		name     string
		awaited  []uint64 // the numbers of the pings awaited, ping n sent at at(n)
		payload  string
		want     time.Time // zero: not credited
		awaiting []uint64  // the pings awaited then
	}{
		{"the oldest", []uint64{3, 4, 5}, "3", at(3), []uint64{4, 5}},
		{"a later one", []uint64{3, 4, 5}, "4", at(4), []uint64{5}},
		{"the last", []uint64{3, 4, 5}, "5", at(5), []uint64{}},
		{"one forgotten", []uint64{3, 4, 5}, "2", time.Time{}, []uint64{3, 4, 5}},
		{"none awaited", nil, "2", time.Time{}, []uint64{}},
		{"not a number", []uint64{3}, "PONG", time.Time{}, []uint64{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := new(subscription)
			for _, n := range tt.awaited {
				sub.pings = append(sub.pings, sentPing{n: n, at: at(n)})
			}
			got, ok := sub.pong(tt.payload)
			if ok != !tt.want.IsZero() || !got.Equal(tt.want) {
				t.Errorf("pong(%q) = %v, %v; want %v", tt.payload, got, ok, tt.want)
			}
			awaiting := []uint64{}
			for _, p := range sub.pings {
				awaiting = append(awaiting, p.n)
			}
			if !slices.Equal(awaiting, tt.awaiting) {
				t.Errorf("then awaiting %v, want %v", awaiting, tt.awaiting)
			}
		})
	}
}

// TestSubscriptionDead checks when a subscription is taken for dead.
func TestSubscriptionDead(t *testing.T) {
	now := time.Now()
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	tests := []struct {
		name string
		sub  subscription
		want bool
	}{
		{"subscribed, no ping awaited",
			subscription{subscribed: true, asked: ago(time.Hour)}, false},
		{"subscribed, pings recent",
			subscription{subscribed: true, pings: []sentPing{{1, ago(deadAfter - time.Millisecond)}, {2, now}}}, false},
		{"subscribed, a ping too old",
			subscription{subscribed: true, pings: []sentPing{{1, ago(deadAfter)}, {2, now}}}, true},
		{"confirmation awaited",
			subscription{asked: ago(deadAfter - time.Millisecond)}, false},
		{"confirmation awaited too long",
			subscription{asked: ago(deadAfter)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.sub.dead(now); got != tt.want {
				t.Errorf("dead = %v, want %v", got, tt.want)
			}
		})
	}
}
