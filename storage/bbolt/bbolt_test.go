package bbolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	bolt "go.etcd.io/bbolt"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/storage/storagetest"
)

// provision returns a store on path, cleaned up at the end of the test.
func provision(tb testing.TB, path string) *Store {
	tb.Helper()
	s := &Store{Path: path}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(cancel)
	if err := s.Provision(ctx); err != nil {
		tb.Fatalf("Provision: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Cleanup(); err != nil {
			tb.Errorf("Cleanup: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) caddyoauth.Store {
		return provision(t, filepath.Join(t.TempDir(), "oauth.db"))
	})
}

func TestDurableAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dir", "oauth.db")
	ctx := context.Background()
	rec := storagetest.Record("durable", "fam", storagetest.Base)
	rec.SealedSibling = []byte("sealed")

	s := &Store{Path: path}
	cctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := s.Provision(cctx); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveTokens(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeToken(ctx, rec.Hash, storagetest.Base.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, ok := databases.References(s.path); ok {
		t.Fatal("database still in the pool after the last Cleanup")
	}

	for _, p := range []string{path, filepath.Dir(path)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700 | os.ModeDir
		}
		if fi.Mode() != want {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode(), want)
		}
	}

	s2 := provision(t, path)
	got, err := s2.GetToken(ctx, rec.Hash)
	if err != nil {
		t.Fatalf("after reopening: %v", err)
	}
	want := *rec
	want.UsedAt = storagetest.Base.Add(-time.Minute)
	if d := storagetest.Equal(got, &want); d != "" {
		t.Fatalf("after reopening: %s", d)
	}
}

func TestUsagePoolSharesOneDB(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "oauth.db")
	ctx := context.Background()
	cctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()

	// The new config is provisioned before the old one is cleaned up.
	old := &Store{Path: path}
	if err := old.Provision(cctx); err != nil {
		t.Fatal(err)
	}
	// A relative path naming the same file shares it too.
	t.Chdir(dir)
	next := &Store{Path: "oauth.db"}
	if err := next.Provision(cctx); err != nil {
		t.Fatalf("provisioning a second store on the same file: %v", err)
	}
	if old.db != next.db || old.db.db != next.db.db {
		t.Fatal("two stores on one path opened the file twice")
	}
	if n, _ := databases.References(path); n != 2 {
		t.Fatalf("pool references = %d, want 2", n)
	}
	bdb := old.db.db

	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := old.Cleanup(); err != nil { // a second Cleanup releases nothing
		t.Fatal(err)
	}
	rec := storagetest.Record("after-old-cleanup", "fam", storagetest.Base)
	if err := next.SaveTokens(ctx, rec); err != nil {
		t.Fatalf("the file closed while a store still used it: %v", err)
	}
	if _, err := next.GetToken(ctx, rec.Hash); err != nil {
		t.Fatal(err)
	}
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := bdb.View(func(*bolt.Tx) error { return nil }); err == nil {
		t.Fatal("the file is still open after the last Cleanup")
	}
}

func TestLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oauth.db")
	// Another process's lock, as far as bbolt can tell.
	other, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	defer func(d time.Duration) { openTimeout = d }(openTimeout)
	openTimeout = 100 * time.Millisecond

	s := &Store{Path: path}
	cctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	err = s.Provision(cctx)
	if err == nil {
		t.Fatal("Provision opened a locked file")
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "lock") {
		t.Fatalf("error does not name the path and the lock: %v", err)
	}
	if err := s.Cleanup(); err != nil { // Caddy cleans up after a failed Provision
		t.Fatal(err)
	}
	if _, ok := databases.References(path); ok {
		t.Fatal("a failed open stayed in the pool")
	}
}

func TestDefaultPathAndPlaceholders(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	t.Setenv("OAUTH_TEST_DIR", t.TempDir())
	tests := []struct {
		path string
		want string
	}{
		{"", filepath.Join(caddy.AppDataDir(), "oauth", "oauth.db")},
		{"{env.OAUTH_TEST_DIR}/tokens.db", filepath.Join(os.Getenv("OAUTH_TEST_DIR"), "tokens.db")},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			s := provision(t, tt.path)
			if s.path != tt.want {
				t.Fatalf("path = %q, want %q", s.path, tt.want)
			}
			if _, err := os.Stat(tt.want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		input    string
		wantPath string
		wantErr  bool
	}{
		{"bbolt", "", false},
		{"bbolt /var/lib/caddy/oauth.db", "/var/lib/caddy/oauth.db", false},
		{"bbolt {env.DATA}/oauth.db", "{env.DATA}/oauth.db", false},
		{"bbolt a b", "", true},
		{"bbolt {\n\tpath x\n}", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			var s Store
			err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error: %v", err, tt.wantErr)
			}
			if err == nil && s.Path != tt.wantPath {
				t.Fatalf("Path = %q, want %q", s.Path, tt.wantPath)
			}
		})
	}
}

func TestSweepMany(t *testing.T) {
	const n = 10_000
	s := provision(t, filepath.Join(t.TempDir(), "oauth.db"))
	ctx := context.Background()
	base := storagetest.Base
	// Half expire before base, half after; families of 4 straddle it.
	var recs []*caddyoauth.TokenRecord
	for i := range n {
		exp := base.Add(time.Duration(i-n/2) * time.Millisecond)
		recs = append(recs, storagetest.Record(fmt.Sprint("sweep-", i), fmt.Sprint("fam-", i/4), exp))
	}
	for i := 0; i < n; i += 1000 {
		if err := s.SaveTokens(ctx, recs[i:i+1000]...); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Sweep(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if got != n/2 {
		t.Fatalf("Sweep = %d, want %d", got, n/2)
	}
	for i, r := range recs {
		_, err := s.GetToken(ctx, r.Hash)
		if expired := i < n/2; expired != errors.Is(err, caddyoauth.ErrNotFound) {
			t.Fatalf("record %d (expired: %v): %v", i, expired, err)
		}
	}
	// Nothing of the swept records is left in the indexes.
	err = s.db.db.View(func(tx *bolt.Tx) error {
		for name, want := range map[string]int{"tokens": n / 2, "families": n / 2} {
			if got := tx.Bucket([]byte(name)).Stats().KeyN; got != want {
				return fmt.Errorf("bucket %s has %d keys, want %d", name, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Sweep(ctx, base); err != nil || got != 0 {
		t.Fatalf("second Sweep = %d, %v; want 0", got, err)
	}
	if got, err := s.Sweep(ctx, base.Add(time.Hour)); err != nil || got != n/2 {
		t.Fatalf("Sweep of the rest = %d, %v; want %d", got, err, n/2)
	}
}

func TestMalformedHash(t *testing.T) {
	s := provision(t, filepath.Join(t.TempDir(), "oauth.db"))
	ctx := context.Background()
	upper := strings.ToUpper(storagetest.Hash("x"))
	for _, h := range []string{"", "abc", upper, strings.Repeat("g", 64)} {
		rec := storagetest.Record("x", "fam", storagetest.Base)
		rec.Hash = h
		if err := s.SaveTokens(ctx, rec); err == nil || errors.Is(err, caddyoauth.ErrExists) {
			t.Errorf("SaveTokens with hash %q: %v, want an error", h, err)
		}
		if _, err := s.GetToken(ctx, h); !errors.Is(err, caddyoauth.ErrNotFound) {
			t.Errorf("GetToken(%q): %v, want ErrNotFound", h, err)
		}
		if _, err := s.ConsumeToken(ctx, h, storagetest.Base); !errors.Is(err, caddyoauth.ErrNotFound) {
			t.Errorf("ConsumeToken(%q): %v, want ErrNotFound", h, err)
		}
	}
}

// TestBatchFaultIsolated checks the committer's batch semantics: a write
// that fails leaves nothing behind and does not fail the others committed
// with it.
func TestBatchFaultIsolated(t *testing.T) {
	s := provision(t, filepath.Join(t.TempDir(), "oauth.db"))
	fault := errors.New("fault")
	keys := make([][hashLen]byte, 20)
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		keys[i] = [hashLen]byte{byte(i)}
		wg.Go(func() {
			errs[i] = s.db.update(func(tx *writeTx) error {
				tx.put(&keys[i], encodeRecord(storagetest.Record(fmt.Sprint("k", i), "f", storagetest.Base)))
				if i%5 == 0 {
					return fault
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		_, gerr := s.db.get(&keys[i])
		present := gerr == nil
		if i%5 == 0 {
			if !errors.Is(err, fault) || present {
				t.Errorf("failing write %d: error %v, written: %v", i, err, present)
			}
		} else if err != nil || !present {
			t.Errorf("write %d: error %v, written: %v (%v)", i, err, present, gerr)
		}
	}
}

func TestClosedStore(t *testing.T) {
	s := &Store{Path: filepath.Join(t.TempDir(), "oauth.db")}
	cctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := s.Provision(cctx); err != nil {
		t.Fatal(err)
	}
	db := s.db
	if err := s.Cleanup(); err != nil {
		t.Fatal(err)
	}
	// A request still in flight on a store whose file was closed fails
	// cleanly instead of panicking.
	s.db = db
	defer func() { s.db = nil }()
	if err := s.SaveTokens(context.Background(), storagetest.Record("late", "f", storagetest.Base)); err == nil {
		t.Fatal("SaveTokens on a closed database succeeded")
	}
	if _, err := s.GetToken(context.Background(), storagetest.Hash("late")); err == nil || errors.Is(err, caddyoauth.ErrNotFound) {
		t.Fatalf("GetToken on a closed database: %v", err)
	}
}
