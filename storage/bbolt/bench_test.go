package bbolt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/storage/storagetest"
)

// BenchmarkGetToken is the gate's cache miss: one record looked up among
// 100k stored.
func BenchmarkGetToken(b *testing.B) {
	s := provision(b, filepath.Join(b.TempDir(), "oauth.db"))
	const n = 100_000
	hashes := storagetest.Fill(b, s, n)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.GetToken(ctx, hashes[(i*7919)%n]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetTokenParallel is BenchmarkGetToken from every CPU.
func BenchmarkGetTokenParallel(b *testing.B) {
	s := provision(b, filepath.Join(b.TempDir(), "oauth.db"))
	const n = 100_000
	hashes := storagetest.Fill(b, s, n)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			i := next.Add(7919)
			if _, err := s.GetToken(ctx, hashes[i%n]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSaveTokensParallel saves access/refresh pairs, durably, from
// many goroutines, as concurrent token requests do: group commit makes
// them share transactions and fsyncs. Run with -cpu or SetParallelism to
// vary the concurrency; the default here is 64 goroutines per CPU.
func BenchmarkSaveTokensParallel(b *testing.B) {
	for _, par := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("goroutines_per_cpu=%d", par), func(b *testing.B) {
			s := provision(b, filepath.Join(b.TempDir(), "oauth.db"))
			b.SetParallelism(par)
			storagetest.BenchSaveParallel(b, s)
		})
	}
}

// BenchmarkSaveTokens is the latency of a lone durable issuance.
func BenchmarkSaveTokens(b *testing.B) {
	s := provision(b, filepath.Join(b.TempDir(), "oauth.db"))
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r := storagetest.Record(fmt.Sprint("lone-", i), fmt.Sprintf("%032x", i), storagetest.Base)
		if err := s.SaveTokens(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsumeTokenParallel redeems distinct single-use records from
// many goroutines.
func BenchmarkConsumeTokenParallel(b *testing.B) {
	s := provision(b, filepath.Join(b.TempDir(), "oauth.db"))
	hashes := storagetest.Fill(b, s, b.N)
	var next atomic.Int64
	b.SetParallelism(64)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h := hashes[next.Add(1)-1]
			if _, err := s.ConsumeToken(context.Background(), h, storagetest.Base); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCommit compares the committer (journal, then checkpoints) with
// a bbolt commit per batch (db.Batch) on the same write, alone and from 64
// goroutines per CPU.
func BenchmarkCommit(b *testing.B) {
	for _, mode := range []string{"committer", "db.Batch"} {
		for _, par := range []int{0, 64} {
			b.Run(fmt.Sprintf("%s/goroutines_per_cpu=%d", mode, par), func(b *testing.B) {
				s := provision(b, filepath.Join(b.TempDir(), "oauth.db"))
				var next atomic.Int64
				write := func() error {
					i := next.Add(1)
					r := storagetest.Record(fmt.Sprint("commit-", i), "fam", storagetest.Base)
					var key [hashLen]byte
					hashKey(&key, r.Hash)
					v := encodeRecord(r)
					if mode == "db.Batch" {
						return s.db.db.Batch(func(tx *bolt.Tx) error {
							return tx.Bucket(bucketTokens).Put(key[:], v)
						})
					}
					return s.db.update(func(tx *writeTx) error {
						tx.put(&key, v)
						return nil
					})
				}
				if par == 0 {
					for b.Loop() {
						if err := write(); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				b.SetParallelism(par)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := write(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkMemoryComparison is the same GetToken on a record decoded from
// its encoding, without bbolt: the cost of the encoding alone.
func BenchmarkDecodeRecord(b *testing.B) {
	r := storagetest.Record("decode", "0123456789abcdef0123456789abcdef", storagetest.Base)
	r.SealedSibling = make([]byte, 72)
	var key [hashLen]byte
	hashKey(&key, r.Hash)
	v := encodeRecord(r)
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	var sink *caddyoauth.TokenRecord
	for b.Loop() {
		sink, _ = decodeRecord(key[:], v)
	}
	_ = sink
}

// BenchmarkSaveIssuedParallel saves access tokens keyed as the server keys
// them (time-ordered selectors, see caddyoauth.HashToken) from 50
// goroutines on 2 CPUs, into a store that already holds 100k records: the
// storage side of client_credentials issuance under load.
func BenchmarkSaveIssuedParallel(b *testing.B) {
	s := provision(b, filepath.Join(b.TempDir(), "oauth.db"))
	storagetest.Fill(b, s, 100_000)
	b.SetParallelism(25)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			key := caddyoauth.HashToken(caddyoauth.NewToken(caddyoauth.AccessTokenPrefix))
			now := time.Now()
			r := &caddyoauth.TokenRecord{
				Hash: key, Kind: caddyoauth.KindAccess, FamilyID: key[:32], ClientID: "bench",
				Scopes: []string{"read"}, IssuedAt: now, ExpiresAt: now.Add(time.Hour),
			}
			if err := s.SaveTokens(ctx, r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSweepScan is a sweep that finds nothing to delete in a store of
// 100k records: the price of having no expiry index.
func BenchmarkSweepScan(b *testing.B) {
	s := provision(b, filepath.Join(b.TempDir(), "oauth.db"))
	storagetest.Fill(b, s, 100_000)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if n, err := s.Sweep(ctx, storagetest.Base); err != nil || n != 0 {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkRecover opens a store after a crash that left 20k records in
// the journal (both segments, one of them checkpointed already): the
// start-up time that replaying the journal adds.
func BenchmarkRecover(b *testing.B) {
	const n = 20_000
	dir := b.TempDir()
	path := filepath.Join(dir, "oauth.db")
	db, err := openDatabase(path)
	if err != nil {
		b.Fatal(err)
	}
	s := &Store{path: path, db: db}
	storagetest.Fill(b, s, n)
	db.crash(b)
	files := []string{"oauth.db", "oauth.db-wal0", "oauth.db-wal1"}
	var size int64
	for _, name := range files[1:] {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		size += fi.Size()
	}
	for b.Loop() {
		b.StopTimer()
		run := b.TempDir()
		for _, name := range files {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(run, name), data, 0o600); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		db, err := openDatabase(filepath.Join(run, "oauth.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := db.Destruct(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB_journal")
}
