package redis

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// pingInterval is how long the watcher waits for a message before it pings
// the server; a ping unanswered for as long again means the connection is
// dead, even if TCP has not noticed.
var pingInterval = 5 * time.Second

// The pause after a failed receive (the server unreachable), doubling up
// to the maximum while the failures last.
const (
	minRetryPause = 50 * time.Millisecond
	maxRetryPause = 2 * time.Second
)

// errDeadConn is the receive error of a connection that did not answer a ping.
var errDeadConn = errors.New("redis token store: no answer to a ping on the revocations channel")

// WatchRevocations implements caddyoauth.RevocationWatcher: it subscribes
// to the store's revocations channel, on which RevokeFamily publishes, and
// calls onRevoke with the hashes of each message. Each confirmed
// subscription, the first included, calls onReset: tokens cached before
// then may have been revoked unheard, while it subscribed or, after a
// connection failed and go-redis reconnected, subscribed again. It returns
// nil when ctx ends.
func (s *Store) WatchRevocations(ctx context.Context, onRevoke func(hashes []string), onReset func()) error {
	if s.client == nil {
		return errors.New("redis token store: watching revocations: the store is not provisioned")
	}
	sub := &subscription{client: s.client.Client, channel: s.channel()}
	stop := context.AfterFunc(ctx, sub.close)
	defer stop()
	defer sub.close()

	pause := minRetryPause
	for {
		msg, err := sub.receive(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if !sleep(ctx, pause) {
				return nil
			}
			pause = min(2*pause, maxRetryPause)
			continue
		}
		pause = minRetryPause
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			onReset()
		case *redis.Message:
			if hashes := strings.Fields(m.Payload); len(hashes) > 0 {
				onRevoke(hashes)
			}
		}
	}
}

// subscription is the watcher's subscription to the revocations channel.
// It replaces its PubSub when the connection stops answering pings; go-redis
// replaces connections that fail on their own.
type subscription struct {
	client  *redis.Client
	channel string

	mu     sync.Mutex
	ps     *redis.PubSub // nil until subscribed, or after a dead connection
	closed bool

	pinged bool // a ping is unanswered; used by receive only
}

// current returns the PubSub, subscribing if there is none, or nil once
// the subscription is closed.
func (sub *subscription) current(ctx context.Context) *redis.PubSub {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.closed {
		return nil
	}
	if sub.ps == nil {
		// A failure to connect is left to the first receive, which
		// connects again.
		sub.ps = sub.client.Subscribe(ctx, sub.channel)
		sub.pinged = false
	}
	return sub.ps
}

// receive returns the next message, subscription confirmation or pong, or
// nil and no error when none came within pingInterval.
func (sub *subscription) receive(ctx context.Context) (any, error) {
	ps := sub.current(ctx)
	if ps == nil {
		return nil, context.Canceled
	}
	msg, err := ps.ReceiveTimeout(ctx, pingInterval)
	if err == nil {
		sub.pinged = false
		return msg, nil
	}
	if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
		return nil, err
	}
	if sub.pinged {
		sub.drop(ps)
		return nil, errDeadConn
	}
	sub.pinged = true
	return nil, ps.Ping(ctx)
}

// drop closes ps, so that the next receive subscribes on a new connection.
func (sub *subscription) drop(ps *redis.PubSub) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.ps == ps {
		_ = ps.Close()
		sub.ps = nil
	}
}

// close ends the subscription, interrupting a receive in progress.
func (sub *subscription) close() {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sub.closed = true
	if sub.ps != nil {
		_ = sub.ps.Close()
		sub.ps = nil
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
