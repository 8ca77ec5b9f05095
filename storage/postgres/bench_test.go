package postgres

import (
	"fmt"
	"testing"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/storage/storagetest"
)

// BenchmarkStore runs the hot paths of the conformance suite's benchmarks:
// GetToken, SaveTokens of a pair in parallel, ConsumeToken in parallel.
func BenchmarkStore(b *testing.B) {
	storagetest.Bench(b, func(b *testing.B) caddyoauth.Store {
		return provision(b, newTestDB(b).dsn("bench"))
	})
}

// BenchmarkSaveTokensParallel saves access/refresh pairs from many
// goroutines, as concurrent token requests do; each save is a durable
// INSERT of its own.
func BenchmarkSaveTokensParallel(b *testing.B) {
	for _, par := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("goroutines_per_cpu=%d", par), func(b *testing.B) {
			s := provision(b, newTestDB(b).dsn("bench"))
			b.SetParallelism(par)
			storagetest.BenchSaveParallel(b, s)
		})
	}
}
