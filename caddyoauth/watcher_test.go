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

// deafStore is a shared store whose revocation watcher never gets to
// listen, as on a node whose connection to the store is still being made.
type deafStore struct{ *memory.Store }

func init() { caddy.RegisterModule(new(deafStore)) }

func (*deafStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oauth.storage.test_deaf_watcher",
		New: func() caddy.Module { return &deafStore{memory.New()} },
	}
}

func (*deafStore) WatchRevocations(ctx context.Context, _ caddyoauth.RevocationListener) error {
	<-ctx.Done()
	return nil
}

// TestNoCacheUntilTheWatcherListens revokes a token in the shared store
// behind the node's back, as another node does: until its watcher listens,
// the node must not have cached the token.
func TestNoCacheUntilTheWatcherListens(t *testing.T) {
	f := newFixtureOn(t, `{"backend":"test_deaf_watcher"}`)
	if err := f.app.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.app.Stop() })
	tok := f.passwordToken(t, "read")
	ctx := context.Background()
	for range 2 {
		if _, cached, err := f.app.Validate(ctx, tok.AccessToken); err != nil || cached {
			t.Fatalf("Validate = cached %v, %v; want valid, from the store", cached, err)
		}
	}
	rec, err := f.app.Store().GetToken(ctx, caddyoauth.HashToken(tok.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Store().RevokeFamily(ctx, rec.FamilyID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.app.Validate(ctx, tok.AccessToken); !errors.Is(err, caddyoauth.ErrInvalidToken) {
		t.Fatalf("a token revoked by another node is still valid here: %v", err)
	}
}

// silentStore is a shared store whose revocation watcher listens, confirms
// once that it hears everything, and then falls silent, as one whose
// connection dies without a word.
type silentStore struct {
	*memory.Store
	heard chan time.Time // the time of its one confirmation
}

func init() { caddy.RegisterModule(new(silentStore)) }

func (*silentStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oauth.storage.test_silent_watcher",
		New: func() caddy.Module { return &silentStore{memory.New(), make(chan time.Time, 1)} },
	}
}

func (s *silentStore) WatchRevocations(ctx context.Context, l caddyoauth.RevocationListener) error {
	l.Reset()
	now := time.Now()
	l.Heard(now)
	s.heard <- now
	<-ctx.Done()
	return nil
}

// TestSilentWatcherStopsTheCache revokes a cached token behind the node's
// back, as another node does, while the node's watcher hears nothing: the
// token may pass from the cache for less than RevocationDelay after the
// watcher's last confirmation, never after.
func TestSilentWatcherStopsTheCache(t *testing.T) {
	f := newFixtureOn(t, `{"backend":"test_silent_watcher"}`)
	if err := f.app.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.app.Stop() })
	heard := <-f.app.Store().(*silentStore).heard
	tok := f.passwordToken(t, "read")
	ctx := context.Background()
	if _, _, err := f.app.Validate(ctx, tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	if _, cached, err := f.app.Validate(ctx, tok.AccessToken); err != nil || !cached {
		t.Fatalf("Validate = cached %v, %v; want valid from the cache while the watcher is heard", cached, err)
	}
	rec, err := f.app.Store().GetToken(ctx, caddyoauth.HashToken(tok.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Store().RevokeFamily(ctx, rec.FamilyID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(heard.Add(caddyoauth.RevocationDelay)))
	if _, _, err := f.app.Validate(ctx, tok.AccessToken); !errors.Is(err, caddyoauth.ErrInvalidToken) {
		t.Fatalf("a token revoked elsewhere still passes %v after the watcher fell silent: %v", caddyoauth.RevocationDelay, err)
	}
}

// scriptedStore is a shared store whose revocation watcher listens and
// confirms that it hears everything whenever the test sends it a time.
type scriptedStore struct {
	*memory.Store
	heard chan time.Time
}

func init() { caddy.RegisterModule(new(scriptedStore)) }

func (*scriptedStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oauth.storage.test_scripted_watcher",
		New: func() caddy.Module { return &scriptedStore{memory.New(), make(chan time.Time)} },
	}
}

func (s *scriptedStore) WatchRevocations(ctx context.Context, l caddyoauth.RevocationListener) error {
	l.Reset()
	for {
		select {
		case t := <-s.heard:
			l.Heard(t)
		case <-ctx.Done():
			return nil
		}
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
	watcher.heard <- heard
	if warned := waitForLog(zapcore.WarnLevel, 3*time.Second); warned.Sub(heard) < caddyoauth.RevocationDelay {
		t.Fatalf("warned %v after the watcher was heard, before RevocationDelay", warned.Sub(heard))
	}
	watcher.heard <- time.Now()
	waitForLog(zapcore.InfoLevel, time.Second)
}
