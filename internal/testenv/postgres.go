package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresAdminDSN is the server the tests use: the machine's PostgreSQL,
// or CADDY_OAUTH_TEST_POSTGRES.
func PostgresAdminDSN() string {
	if dsn := os.Getenv("CADDY_OAUTH_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// PostgresDatabase creates a database of its own for the test, on a server
// other test runs share, drops it when the test ends, and returns its DSN.
// Without a reachable server it ends the test as Require does.
func PostgresDatabase(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := PostgresAdminDSN()
	conn, err := pgx.Connect(ctx, admin)
	Require(tb, "PostgreSQL at "+admin, err)
	defer conn.Close(context.Background())
	name := "caddy_oauth_test_" + randomHex(tb, 8)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("creating database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Errorf("dropping database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("dropping database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("admin DSN: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(tb testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}
