package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/jackc/pgx/v5"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/internal/testenv"
	"github.com/caddy-oauth/caddy-oauth/storage/storagetest"
)

// testDB is a database of one test's own on the server that other test
// runs share (see testenv.PostgresDatabase).
type testDB struct {
	name  string
	url   *url.URL
	admin *pgx.Conn // to the admin database; for the test's goroutine only
}

// newTestDB creates an empty database, dropped at the end of the test.
// It skips the test, or fails it under CI=true, if the server is not there.
func newTestDB(tb testing.TB) *testDB {
	tb.Helper()
	dsn := testenv.PostgresDatabase(tb)
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("the test database's DSN: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, testenv.PostgresAdminDSN())
	if err != nil {
		tb.Fatalf("connecting to the admin database: %v", err)
	}
	tb.Cleanup(func() { _ = admin.Close(context.Background()) })
	return &testDB{name: strings.TrimPrefix(u.Path, "/"), url: u, admin: admin}
}

// dsn returns a DSN of the database. Connections of DSNs that differ in
// node are in pools of their own, as those of two Caddy nodes are.
func (db *testDB) dsn(node string) string {
	u := *db.url
	q := u.Query()
	q.Set("application_name", "caddy-oauth test "+node)
	u.RawQuery = q.Encode()
	return u.String()
}

// provision returns a store provisioned as Caddy does, on dsn, cleaned up
// at the end of the test.
func provision(tb testing.TB, dsn string) *Store {
	tb.Helper()
	s := &Store{DSN: dsn}
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

// newStore returns a store on a new database, holding recs.
func newStore(t *testing.T, recs ...*caddyoauth.TokenRecord) *Store {
	t.Helper()
	s := provision(t, newTestDB(t).dsn("a"))
	if err := s.SaveTokens(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	// One database, emptied for every subtest: creating a database takes
	// a quarter of a second.
	dsn := newTestDB(t).dsn("a")
	storagetest.Run(t, func(t *testing.T) caddyoauth.Store {
		s := provision(t, dsn)
		if _, err := s.db.pool.Exec(context.Background(), "TRUNCATE caddy_oauth_tokens"); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestSaveTokensManyRecords saves more records than one INSERT takes:
// still all or nothing.
func TestSaveTokensManyRecords(t *testing.T) {
	t.Parallel()
	existing := storagetest.Record("existing", "other", storagetest.Base)
	s := newStore(t, existing)
	ctx := context.Background()
	const n = 2*maxInsertRows + 1
	recs := make([]*caddyoauth.TokenRecord, n)
	for i := range recs {
		recs[i] = storagetest.Record(strings.Repeat("x", i+1), "fam", storagetest.Base)
	}
	// The duplicate is in the last INSERT: the first two must roll back.
	if err := s.SaveTokens(ctx, append(recs, existing)...); !errors.Is(err, caddyoauth.ErrExists) {
		t.Fatalf("SaveTokens with a duplicate in the last INSERT = %v, want ErrExists", err)
	}
	if _, err := s.GetToken(ctx, recs[0].Hash); !errors.Is(err, caddyoauth.ErrNotFound) {
		t.Fatalf("a record of a failed save was stored: %v", err)
	}
	if err := s.SaveTokens(ctx, recs...); err != nil {
		t.Fatalf("SaveTokens of %d records: %v", n, err)
	}
	for _, i := range []int{0, maxInsertRows, n - 1} {
		got, err := s.GetToken(ctx, recs[i].Hash)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if d := storagetest.Equal(got, recs[i]); d != "" {
			t.Fatalf("record %d: %s", i, d)
		}
	}
}

func TestMalformedHashes(t *testing.T) {
	t.Parallel()
	rec := storagetest.Record("stored", "fam", storagetest.Base)
	s := newStore(t, rec)
	ctx := context.Background()
	tests := []struct{ name, hash string }{
		{"upper case", strings.ToUpper(rec.Hash)},
		{"short", rec.Hash[:62]},
		{"long", rec.Hash + "00"},
		{"not hex", "zz" + rec.Hash[2:]},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.GetToken(ctx, tt.hash); !errors.Is(err, caddyoauth.ErrNotFound) {
				t.Errorf("GetToken = %v, want ErrNotFound", err)
			}
			if _, err := s.ConsumeToken(ctx, tt.hash, storagetest.Base); !errors.Is(err, caddyoauth.ErrNotFound) {
				t.Errorf("ConsumeToken = %v, want ErrNotFound", err)
			}
			bad := storagetest.Record("bad", "fam", storagetest.Base)
			bad.Hash = tt.hash
			err := s.SaveTokens(ctx, storagetest.Record("good", "fam", storagetest.Base), bad)
			if err == nil || errors.Is(err, caddyoauth.ErrExists) {
				t.Errorf("SaveTokens = %v, want a fault", err)
			}
			if _, err := s.GetToken(ctx, storagetest.Hash("good")); !errors.Is(err, caddyoauth.ErrNotFound) {
				t.Errorf("the good record of a failed save was stored: %v", err)
			}
		})
	}
	if got, err := s.GetToken(ctx, rec.Hash); err != nil || got.UsedAt != (time.Time{}) {
		t.Fatalf("the stored record changed: %+v, %v", got, err)
	}
}

func TestConsumeTokenZeroTime(t *testing.T) {
	t.Parallel()
	rec := storagetest.Record("code", "fam", storagetest.Base)
	s := newStore(t, rec)
	ctx := context.Background()
	if _, err := s.ConsumeToken(ctx, rec.Hash, time.Time{}); err == nil {
		t.Fatal("ConsumeToken at the zero time succeeded: the record would stay usable")
	}
	if _, err := s.ConsumeToken(ctx, rec.Hash, storagetest.Base); err != nil {
		t.Fatalf("ConsumeToken after the refused one: %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	rec := storagetest.Record("rec", "fam", storagetest.Base)
	s := newStore(t, rec)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		call func() error
	}{
		{"SaveTokens", func() error { return s.SaveTokens(ctx, storagetest.Record("new", "fam", storagetest.Base)) }},
		{"GetToken", func() error { _, err := s.GetToken(ctx, rec.Hash); return err }},
		{"ConsumeToken", func() error { _, err := s.ConsumeToken(ctx, rec.Hash, storagetest.Base); return err }},
		{"RevokeFamily", func() error { _, err := s.RevokeFamily(ctx, "fam"); return err }},
		{"Sweep", func() error { _, err := s.Sweep(ctx, storagetest.Base.Add(time.Hour)); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, context.Canceled) {
				t.Fatalf("%s with a cancelled context = %v, want context.Canceled", tt.name, err)
			}
		})
	}
	got, err := s.GetToken(context.Background(), rec.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if d := storagetest.Equal(got, rec); d != "" {
		t.Fatalf("the record changed: %s", d)
	}
}

func TestUsagePoolSharesOnePool(t *testing.T) {
	t.Parallel()
	dsn := newTestDB(t).dsn("a")
	ctx := context.Background()
	cctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()

	// The new config is provisioned before the old one is cleaned up.
	old := &Store{DSN: dsn}
	if err := old.Provision(cctx); err != nil {
		t.Fatal(err)
	}
	next := &Store{DSN: dsn}
	if err := next.Provision(cctx); err != nil {
		t.Fatal(err)
	}
	if old.db != next.db {
		t.Fatal("two stores with one DSN opened two pools")
	}
	if n, _ := pools.References(dsn); n != 2 {
		t.Fatalf("pool references = %d, want 2", n)
	}
	pool := old.db.pool
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := old.Cleanup(); err != nil { // a second Cleanup releases nothing
		t.Fatal(err)
	}
	rec := storagetest.Record("after-old-cleanup", "fam", storagetest.Base)
	if err := next.SaveTokens(ctx, rec); err != nil {
		t.Fatalf("the pool closed while a store still used it: %v", err)
	}
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, ok := pools.References(dsn); ok {
		t.Fatal("pool still shared after the last Cleanup")
	}
	if err := pool.Ping(ctx); err == nil {
		t.Fatal("the pool is still open after the last Cleanup")
	}
}

func TestProvisionPlaceholders(t *testing.T) {
	dsn := newTestDB(t).dsn("a")
	t.Setenv("CADDY_OAUTH_TEST_PG_DSN", dsn)
	s := provision(t, "{env.CADDY_OAUTH_TEST_PG_DSN}")
	if s.dsn != dsn {
		t.Fatalf("dsn = %q, want %q", s.dsn, dsn)
	}
	if err := s.SaveTokens(context.Background(), storagetest.Record("r", "f", storagetest.Base)); err != nil {
		t.Fatal(err)
	}
}

// TestSchemaConcurrentProvision starts several nodes at once on a database
// without the table: each creates it, and none fails.
func TestSchemaConcurrentProvision(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	const n = 8
	stores := make([]*Store, n)
	errs := make([]error, n)
	cctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	var wg sync.WaitGroup
	for i := range n {
		stores[i] = &Store{DSN: db.dsn(fmt.Sprint("node-", i))}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = stores[i].Provision(cctx)
		}()
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Errorf("node %d: Provision: %v", i, errs[i])
		}
		if err := s.Cleanup(); err != nil {
			t.Errorf("node %d: Cleanup: %v", i, err)
		}
	}
}

// TestProvisionErrorsHideThePassword provisions bad and unreachable DSNs:
// the errors say what is wrong without the password.
func TestProvisionErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	const pw = "s3cret-pw"
	tests := []struct{ name, dsn string }{
		{"bad port", "postgres://caddy:" + pw + "@127.0.0.1:port/db"},
		{"bad sslmode", "postgres://caddy:" + pw + "@127.0.0.1/db?sslmode=bogus"},
		{"bad escape", "postgres://caddy:" + pw + "%zz@127.0.0.1/db"},
		{"password in the query", "postgres://127.0.0.1:port/db?user=caddy&password=" + pw},
		{"key=value", "host=127.0.0.1 port=x user=caddy password=" + pw},
		{"unreachable", "postgres://caddy:" + pw + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=5"},
		{"empty", ""},
		{"placeholder of nothing", "{env.CADDY_OAUTH_TEST_UNSET}"},
	}
	cctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{DSN: tt.dsn}
			err := s.Provision(cctx)
			if err == nil {
				t.Fatal("Provision succeeded")
			}
			if strings.Contains(err.Error(), pw) {
				t.Fatalf("the error holds the password: %v", err)
			}
			if !strings.Contains(err.Error(), "postgres") {
				t.Fatalf("the error does not say which store failed: %v", err)
			}
			if err := s.Cleanup(); err != nil { // Caddy cleans up after a failed Provision
				t.Fatal(err)
			}
			if _, ok := pools.References(tt.dsn); ok {
				t.Fatal("a failed connection stayed in the pool")
			}
		})
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		input       string
		wantDSN     string
		wantErr     bool
		wantTimeout time.Duration
	}{
		{"postgres postgres://caddy@db/oauth", "postgres://caddy@db/oauth", false, 0},
		{"postgres {env.PG_DSN}", "{env.PG_DSN}", false, 0},
		{`postgres "host=db user=caddy dbname=oauth"`, "host=db user=caddy dbname=oauth", false, 0},
		{"postgres", "", true, 0},
		{"postgres a b", "", true, 0},
		{"postgres {env.PG_DSN} {\n\tpool 4\n}", "", true, 0},
		{"postgres {env.PG_DSN} {\n\tstatement_timeout 2s\n}", "{env.PG_DSN}", false, 2 * time.Second},
		{"postgres {env.PG_DSN} {\n\tstatement_timeout\n}", "", true, 0},
		{"postgres {env.PG_DSN} {\n\tstatement_timeout soon\n}", "", true, 0},
		{"postgres {env.PG_DSN} {\n\tstatement_timeout 0s\n}", "", true, 0},
		{"postgres {env.PG_DSN} {\n\tstatement_timeout 2s 3s\n}", "", true, 0},
		{"postgres {\n\tdsn x\n}", "", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			var s Store
			err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error: %v", err, tt.wantErr)
			}
			if err == nil && (s.DSN != tt.wantDSN || time.Duration(s.StatementTimeout) != tt.wantTimeout) {
				t.Fatalf("DSN = %q, statement_timeout %v; want %q, %v", s.DSN, time.Duration(s.StatementTimeout), tt.wantDSN, tt.wantTimeout)
			}
		})
	}
}

func TestModule(t *testing.T) {
	t.Parallel()
	mi, err := caddy.GetModule("oauth.storage.postgres")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mi.New().(*Store); !ok {
		t.Fatalf("module value is %T, want *Store", mi.New())
	}
}
