// Command prefill fills a bbolt token store with n access tokens through the
// plugin's own store (storage/bbolt, SaveTokens), for the scale benchmark.
// Token i is tokens.Access(i), issued at tokens.IssuedAt(i), valid until a
// day from now, for client "bench" with scopes "default read", in no
// family, as the server issues client_credentials tokens. Records are
// written in key order (the keys of tokens ascend with their issue time),
// as a server that issued them one after the other would have; filling 1M
// tokens over HTTP would take far longer.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-oauth/caddy-oauth/bench/tokens"
	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/storage/bbolt"
)

func main() {
	db := flag.String("db", "", "bbolt database file to fill (created if missing)")
	n := flag.Int("n", 10_000, "number of access tokens to store")
	batch := flag.Int("batch", 1000, "records per SaveTokens call")
	flag.Parse()
	if err := run(*db, *n, *batch); err != nil {
		fmt.Fprintln(os.Stderr, "prefill:", err)
		os.Exit(1)
	}
}

func run(path string, n, batch int) error {
	if path == "" || n < 1 || batch < 1 {
		return fmt.Errorf("need -db, -n ≥ 1 and -batch ≥ 1")
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	store := &bbolt.Store{Path: path}
	if err := store.Provision(ctx); err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer store.Cleanup()

	expires := time.Now().Add(24 * time.Hour)
	records := make([]*caddyoauth.TokenRecord, 0, batch)
	for start := 0; start < n; start += batch {
		records = records[:0]
		for i := start; i < min(start+batch, n); i++ {
			h := caddyoauth.HashToken(tokens.Access(i))
			records = append(records, &caddyoauth.TokenRecord{
				Hash:      h,
				Kind:      caddyoauth.KindAccess,
				ClientID:  "bench",
				Scopes:    []string{"default", "read"},
				IssuedAt:  tokens.IssuedAt(i),
				ExpiresAt: expires,
			})
		}
		if err := store.SaveTokens(ctx, records...); err != nil {
			return fmt.Errorf("saving records %d..%d: %w", start, start+len(records), err)
		}
	}
	return nil
}
