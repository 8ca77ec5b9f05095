package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
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

// defaultPingTimeout is how long the server may take to answer the
// watcher's ping before the watcher gives the connection up for dead and
// reconnects.
const defaultPingTimeout = 5 * time.Second

// WatchRevocations implements caddyoauth.RevocationWatcher. It listens for
// the notifications of RevokeFamily, from every node, on a connection of
// its own. Each time it starts to listen, the first time included, it
// calls l.Reset: tokens cached before then may have been revoked unheard,
// while it connected or reconnected. Every caddyoauth.HeardInterval it
// pings the server on that connection and, once the answer comes, calls
// l.Heard with the time it sent the ping (see listen). When the
// connection fails, or a ping goes unanswered for 5 seconds, it
// reconnects, with a backoff. It returns nil when ctx ends.
func (s *Store) WatchRevocations(ctx context.Context, l caddyoauth.RevocationListener) error {
	if s.listen == nil {
		return errors.New("postgres token store: watching revocations: the store is not provisioned")
	}
	delay := minReconnectDelay
	missed := false // whether notifications may have been missed
	for {
		listening := false
		err := s.listenOnce(ctx, l, func() {
			listening = true
			if missed {
				s.logger.Info("revocation watcher listens again; dropping cached tokens")
			}
			l.Reset()
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

// listenOnce connects, listens on the revocation channel, calls
// onListening, then reports to l until the connection fails or ctx ends.
//
// Notifications reach l.Revoked through the connection's OnNotification,
// which pgconn calls while it reads from the connection, in the goroutine
// reading: so once a ping returns, every notification that the server sent
// before its answer has been passed to l.Revoked. And the server sends
// every notification committed before the ping came before the answer: the
// committing backend signals the listening one before its COMMIT returns,
// and the listening one, idle, sends what it was signalled at once or, at
// the latest, before the ReadyForQuery that ends the ping (see
// ProcessClientReadInterrupt and the notifyInterruptPending check before
// ReadyForQuery in PostgreSQL's postgres.c). Hence l.Heard(start), start
// taken before the ping was sent.
func (s *Store) listenOnce(ctx context.Context, l caddyoauth.RevocationListener, onListening func()) error {
	cfg := s.listen.Config.Copy()
	cfg.OnNotification = func(_ *pgconn.PgConn, n *pgconn.Notification) {
		if hashes := parsePayload(n.Payload); n.Channel == revocationChannel && len(hashes) > 0 {
			l.Revoked(hashes)
		}
	}
	connectCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	conn, err := pgconn.ConnectConfig(connectCtx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(ctx)
	}()
	if err := conn.Exec(connectCtx, "LISTEN "+revocationChannel).Close(); err != nil {
		return err
	}
	onListening()

	interval := cmp.Or(s.heardInterval, caddyoauth.HeardInterval)
	timeout := cmp.Or(s.pingTimeout, defaultPingTimeout)
	for {
		start := time.Now()
		pingCtx, cancel := context.WithTimeout(ctx, timeout)
		err := conn.Ping(pingCtx)
		cancel()
		if err != nil {
			return fmt.Errorf("pinging: %w", err)
		}
		l.Heard(start)
		// Until the next ping, pass on notifications as they come.
		waitCtx, cancel := context.WithDeadline(ctx, start.Add(interval))
		for err == nil {
			err = conn.WaitForNotification(waitCtx)
		}
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !pgconn.Timeout(err) {
			return err
		}
	}
}
