package redis

import (
	"fmt"
	"testing"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/storage/storagetest"
)

// BenchmarkStore runs the storagetest benchmarks: GetToken, and SaveTokens
// and ConsumeToken in parallel, each a round trip to the server.
func BenchmarkStore(b *testing.B) {
	storagetest.Bench(b, func(b *testing.B) caddyoauth.Store { return newStore(b) })
}

// BenchmarkSaveTokensParallel saves access/refresh pairs from many
// goroutines, as concurrent token requests do; they share the client's
// connection pool. Run with -cpu to vary the concurrency further.
func BenchmarkSaveTokensParallel(b *testing.B) {
	for _, par := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("goroutines_per_cpu=%d", par), func(b *testing.B) {
			s := newStore(b)
			b.SetParallelism(par)
			storagetest.BenchSaveParallel(b, s)
		})
	}
}
