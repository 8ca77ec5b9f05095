package redis

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

// deadAfter is how long the watcher waits for an answer that its
// connection owes it (a pong, or the confirmation of a subscription) before
// it takes the connection for dead, even if TCP has not noticed, and
// subscribes on a new one.
var deadAfter = 5 * time.Second

// The pause after a failed receive (the server unreachable), doubling up
// to the maximum while the failures last.
const (
	minRetryPause = 50 * time.Millisecond
	maxRetryPause = 2 * time.Second
)

// WatchRevocations implements caddyoauth.RevocationWatcher. It subscribes
// to the store's revocations channel, on which RevokeFamily publishes, and
// passes the hashes of each message to l.Revoked. Each confirmed
// subscription, the first included, calls l.Reset: tokens cached before
// then may have been revoked unheard, while it subscribed or, after a
// connection failed and go-redis reconnected, subscribed again.
//
// While subscribed, it pings the server every caddyoauth.HeardInterval on
// the subscription's connection and calls l.Heard with the time each ping
// was sent when its pong arrives: Redis runs one command at a time and
// answers on a connection in order, so every revocation published before
// the server ran the ping came before the pong, and went to l.Revoked. A
// connection that leaves a ping or a subscription unanswered for deadAfter
// is dropped for a new one. It returns nil when ctx ends.
func (s *Store) WatchRevocations(ctx context.Context, l caddyoauth.RevocationListener) error {
	if s.client == nil {
		return errors.New("redis token store: watching revocations: the store is not provisioned")
	}
	w := &watcher{client: s.client.Client, channel: s.channel(), l: l}
	for ctx.Err() == nil {
		w.listen(ctx)
	}
	return nil
}

// watcher is a running WatchRevocations. It calls l from one goroutine,
// that of WatchRevocations; each of its PubSubs has a goroutine of its own
// that only receives (see read).
type watcher struct {
	client  *redis.Client
	channel string
	l       caddyoauth.RevocationListener

	// lastPing numbers the pings, across PubSubs: each ping carries its
	// number as its payload, which the pong echoes, so a pong is credited
	// only to the ping it answers (see pong).
	lastPing uint64
}

// subscription is one PubSub of the watcher and what the watcher awaits
// on it. go-redis replaces the PubSub's connection when it fails; the
// watcher replaces the whole PubSub when it stays silent for deadAfter.
type subscription struct {
	ps *redis.PubSub

	// subscribed is set by a confirmation of the subscription and cleared
	// by an error, after which go-redis subscribes again on a new
	// connection, if it can.
	subscribed bool

	// asked is when the watcher last started to wait for a confirmation:
	// when it created the PubSub, or last heard of an error.
	asked time.Time

	// pings are the pings sent since the last confirmation and not yet
	// answered, oldest first. A ping is sent every HeardInterval and the
	// connection is dropped once one is deadAfter old, so there are at
	// most deadAfter/HeardInterval+1 of them.
	pings []sentPing
}

// sentPing is a ping awaiting its pong.
type sentPing struct {
	n  uint64    // its number, the ping's payload
	at time.Time // when it was sent; taken before it was written
}

// received is what a PubSub's reader received: a message, a confirmation,
// a pong, or an error.
type received struct {
	msg any
	err error
}

// listen subscribes on a new PubSub and reports what it hears to w.l,
// pinging every HeardInterval, until ctx ends or the PubSub stays silent
// for deadAfter. It closes the PubSub before it returns.
func (w *watcher) listen(ctx context.Context) {
	sub := &subscription{ps: w.client.Subscribe(ctx, w.channel), asked: time.Now()}
	in := make(chan received)
	readCtx, stopReading := context.WithCancel(context.WithoutCancel(ctx))
	var reader sync.WaitGroup
	reader.Go(func() { read(readCtx, sub.ps, in) })
	defer func() {
		stopReading()
		_ = sub.ps.Close() // ends a Receive in progress
		reader.Wait()
	}()

	ticker := time.NewTicker(caddyoauth.HeardInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return

		case r := <-in:
			if r.err != nil {
				sub.subscribed = false
				sub.asked = time.Now()
				continue
			}
			switch msg := r.msg.(type) {
			case *redis.Subscription:
				if msg.Kind != "subscribe" {
					continue
				}
				// The unanswered pings were sent on a connection that
				// is gone, or on this one before this confirmation was
				// read: forgotten, their pongs are ignored (see pong).
				// Every Heard thus follows the Reset of its connection.
				sub.subscribed = true
				sub.pings = nil
				w.l.Reset()
				w.ping(ctx, sub)
				ticker.Reset(caddyoauth.HeardInterval)
			case *redis.Message:
				if hashes := strings.Fields(msg.Payload); len(hashes) > 0 {
					w.l.Revoked(hashes)
				}
			case *redis.Pong:
				if t, ok := sub.pong(msg.Payload); ok {
					w.l.Heard(t)
				}
			}

		case <-ticker.C:
			if sub.dead(time.Now()) {
				return
			}
			if sub.subscribed {
				w.ping(ctx, sub)
			}
		}
	}
}

// ping sends a ping on sub's connection, numbered and timed for pong. A
// ping that fails to be sent is not awaited: the failure is go-redis's to
// handle, and the reader hears of it.
//
// Pinging from this goroutine while the reader waits in Receive is what
// go-redis intends: Receive does not hold the PubSub's lock while it
// waits, so that pings and subscriptions can go out meanwhile (its own
// PubSub.Channel does the same).
func (w *watcher) ping(ctx context.Context, sub *subscription) {
	w.lastPing++
	p := sentPing{n: w.lastPing, at: time.Now()}
	if sub.ps.Ping(ctx, strconv.FormatUint(p.n, 10)) == nil {
		sub.pings = append(sub.pings, p)
	}
}

// pong takes the pong with the given payload and returns when the ping it
// answers was sent, or false if the ping is not awaited.
//
// The pong names its ping, rather than answering the oldest ping awaited,
// so that a ping forgotten on a confirmation, yet answered after it,
// cannot be credited with the time of a later ping, which would vouch for
// revocations that the server published after it ran the earlier one.
// Pings are answered in order: those awaited before the one answered were
// lost with a connection, and are dropped.
func (sub *subscription) pong(payload string) (time.Time, bool) {
	n, err := strconv.ParseUint(payload, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	for i, p := range sub.pings {
		if p.n == n {
			sub.pings = sub.pings[i+1:]
			return p.at, true
		}
	}
	return time.Time{}, false
}

// dead reports whether sub's connection has owed the watcher an answer,
// a pong or a confirmation, for deadAfter by now.
func (sub *subscription) dead(now time.Time) bool {
	if !sub.subscribed {
		return now.Sub(sub.asked) >= deadAfter
	}
	return len(sub.pings) > 0 && now.Sub(sub.pings[0].at) >= deadAfter
}

// read passes what ps receives to in, in order, until ctx ends. After an
// error (go-redis has replaced the connection, or failed to connect) it
// pauses, doubling the pause while the errors last.
//
// It receives without a timeout, and ctx must have no deadline: a read
// that times out halfway through a message leaves go-redis to parse the
// rest as replies of their own, and the hashes of a revocation then come
// out as a pong, lost without an error. Closing ps ends a Receive instead.
func read(ctx context.Context, ps *redis.PubSub, in chan<- received) {
	pause := minRetryPause
	for {
		msg, err := ps.Receive(ctx)
		select {
		case in <- received{msg, err}:
		case <-ctx.Done():
			return
		}
		if err == nil {
			pause = minRetryPause
			continue
		}
		if !sleep(ctx, pause) {
			return
		}
		pause = min(2*pause, maxRetryPause)
	}
}

// sleep waits for d, or until ctx ends; it reports whether ctx is alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
