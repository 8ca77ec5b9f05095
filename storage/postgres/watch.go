package postgres

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"
)

// watcherApplicationName names the revocation watcher's connection in
// pg_stat_activity.
const watcherApplicationName = "caddy-oauth revocation watcher"

// The delays between attempts to reconnect the revocation watcher: the
// first, doubled after every failed attempt up to the last.
const (
	minReconnectDelay = 100 * time.Millisecond
	maxReconnectDelay = 5 * time.Second
)

// defaultHeartbeat is how long the watcher waits for a notification
// before it pings the server, so that it notices a connection that died
// silently; pingTimeout is how long the ping may take.
const (
	defaultHeartbeat = 30 * time.Second
	pingTimeout      = 5 * time.Second
)

// WatchRevocations implements caddyoauth.RevocationWatcher. It listens for
// the notifications of RevokeFamily, from every node, on a connection of
// its own. Each time it starts to listen, the first time included, it
// calls onReset: tokens cached before then may have been revoked unheard,
// while it connected or reconnected. When the connection fails it
// reconnects, with a backoff. It returns nil when ctx ends.
func (s *Store) WatchRevocations(ctx context.Context, onRevoke func(hashes []string), onReset func()) error {
	if s.listen == nil {
		return errors.New("postgres token store: watching revocations: the store is not provisioned")
	}
	heartbeat := cmp.Or(s.heartbeat, defaultHeartbeat)
	delay := minReconnectDelay
	missed := false // whether notifications may have been missed
	for {
		listening := false
		err := listen(ctx, s.listen, heartbeat, onRevoke, func() {
			listening = true
			if missed {
				s.logger.Info("revocation watcher listens again; dropping cached tokens")
			}
			onReset()
		})
		if ctx.Err() != nil {
			return nil
		}
		missed = true
		if listening {
			delay = minReconnectDelay
		}
		s.logger.Warn("revocation watcher has no connection to PostgreSQL; retrying",
			zap.Error(err), zap.Duration("retry_in", delay))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, maxReconnectDelay)
	}
}

// listen connects with cfg, listens on the revocation channel, calls
// onListening, then passes the hashes of every notification to onRevoke
// until the connection fails or ctx ends. It pings the server after every
// heartbeat without a notification.
func listen(ctx context.Context, cfg *pgx.ConnConfig, heartbeat time.Duration, onRevoke func([]string), onListening func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(ctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+revocationChannel); err != nil {
		return err
	}
	onListening()
	for {
		waitCtx, cancel := context.WithTimeout(ctx, heartbeat)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case err == nil:
			if hashes := parsePayload(n.Payload); n.Channel == revocationChannel && len(hashes) > 0 {
				onRevoke(hashes)
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case pgconn.Timeout(err):
			pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
			err = conn.Ping(pingCtx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}
