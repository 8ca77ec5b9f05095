package caddyoauth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/storage/memory"
)

// scriptedStore is a shared store whose revocation watcher listens at
// once and then confirms that it hears everything only when the test says
// so (see hear), as one whose connection is slow to come up or dies
// without a word. Revocations made in its store reach the node only as
// they would from another node's: not through the watcher.
type scriptedStore struct {
	*memory.Store
	heard chan time.Time
	acks  chan struct{}
}

func init() { caddy.RegisterModule(new(scriptedStore)) }

func (*scriptedStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID: "oauth.storage.test_scripted_watcher",
		New: func() caddy.Module {
			return &scriptedStore{memory.New(), make(chan time.Time), make(chan struct{})}
		},
	}
}

func (s *scriptedStore) WatchRevocations(ctx context.Context, l caddyoauth.RevocationListener) error {
	l.Reset()
	for {
		select {
		case t := <-s.heard:
			l.Heard(t)
			s.acks <- struct{}{}
		case <-ctx.Done():
			return nil
		}
	}
}

// hear has the watcher confirm that it heard everything until t, and
// returns once the app has been told.
func (s *scriptedStore) hear(t time.Time) {
	s.heard <- t
	<-s.acks
}

// startScripted starts an app on a scriptedStore and returns it with the
// store.
func startScripted(t *testing.T) (*fixture, *scriptedStore) {
	t.Helper()
	f := newFixtureOn(t, `{"backend":"test_scripted_watcher"}`)
	if err := f.app.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.app.Stop() })
	return f, f.app.Store().(*scriptedStore)
}

// TestNoCacheUntilTheWatcherListens revokes a token in the shared store
// behind the node's back, as another node does: until its watcher has
// confirmed that it hears the store, the node must not have cached the
// token.
func TestNoCacheUntilTheWatcherListens(t *testing.T) {
	f, _ := startScripted(t)
	tok := f.passwordToken(t, "read")
	ctx := context.Background()
	for range 2 {
		if _, cached, err := f.app.Validate(ctx, tok.AccessToken); err != nil || cached {
			t.Fatalf("Validate = cached %v, %v; want valid, from the store", cached, err)
		}
	}
	revokeInStore(t, f, tok.AccessToken)
	if _, _, err := f.app.Validate(ctx, tok.AccessToken); !errors.Is(err, caddyoauth.ErrInvalidToken) {
		t.Fatalf("a token revoked by another node is still valid here: %v", err)
	}
}

// TestSilentWatcherStopsTheCache revokes a cached token behind the node's
// back, as another node does, while the node's watcher hears nothing: the
// token may pass from the cache for less than RevocationDelay after the
// watcher's last confirmation, never after.
func TestSilentWatcherStopsTheCache(t *testing.T) {
	f, watcher := startScripted(t)
	heard := time.Now()
	watcher.hear(heard)
	tok := f.passwordToken(t, "read")
	ctx := context.Background()
	if _, _, err := f.app.Validate(ctx, tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	if _, cached, err := f.app.Validate(ctx, tok.AccessToken); err != nil || !cached {
		t.Fatalf("Validate = cached %v, %v; want valid from the cache while the watcher is heard", cached, err)
	}
	revokeInStore(t, f, tok.AccessToken)
	time.Sleep(time.Until(heard.Add(caddyoauth.RevocationDelay)))
	if _, _, err := f.app.Validate(ctx, tok.AccessToken); !errors.Is(err, caddyoauth.ErrInvalidToken) {
		t.Fatalf("a token revoked elsewhere still passes %v after the watcher fell silent: %v", caddyoauth.RevocationDelay, err)
	}
}

// TestWatcherSilenceIsLogged checks that the node warns once its watcher
// has been silent for RevocationDelay, and says when it is heard again.
func TestWatcherSilenceIsLogged(t *testing.T) {
	f := newFixtureOn(t, `{"backend":"test_scripted_watcher"}`)
	core, logs := observer.New(zapcore.InfoLevel)
	f.app.SetLogger(zap.New(core))
	if err := f.app.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.app.Stop() })
	watcher := f.app.Store().(*scriptedStore)

	waitForLog := func(level zapcore.Level, within time.Duration) time.Time {
		t.Helper()
		for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			for _, e := range logs.All() {
				if e.Level == level && strings.Contains(e.Message, "revocation watcher") {
					logs.TakeAll()
					return time.Now()
				}
			}
		}
		t.Fatalf("no %s log about the revocation watcher within %v; logs: %v", level, within, logs.All())
		return time.Time{}
	}

	heard := time.Now()
	watcher.hear(heard)
	if warned := waitForLog(zapcore.WarnLevel, 3*time.Second); warned.Sub(heard) < caddyoauth.RevocationDelay {
		t.Fatalf("warned %v after the watcher was heard, before RevocationDelay", warned.Sub(heard))
	}
	watcher.hear(time.Now())
	waitForLog(zapcore.InfoLevel, time.Second)
}

// revokeInStore revokes token's family in the store alone, behind the
// node's back, as another node does.
func revokeInStore(t *testing.T, f *fixture, token string) {
	t.Helper()
	ctx := context.Background()
	rec, err := f.app.Store().GetToken(ctx, caddyoauth.HashToken(token))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Store().RevokeFamily(ctx, rec.FamilyID); err != nil {
		t.Fatal(err)
	}
}
