// Command cachemem measures the memory one entry of oauth_bearer's
// validation cache costs: it fills a caddyoauth.NewCache(n) with n tokens,
// built as the gate builds them on a miss, and prints the growth of the
// live heap divided by n, as JSON.
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

type result struct {
	Entries       int     `json:"entries"`
	HeapBefore    uint64  `json:"heap_before"`
	HeapAfter     uint64  `json:"heap_after"`
	BytesPerEntry float64 `json:"bytes_per_entry"`
	WithUser      bool    `json:"with_user"`
}

func main() {
	n := flag.Int("n", 100_000, "entries to add (the cache holds exactly this many)")
	withUser := flag.Bool("user", false, "entries carry a user name (password grant tokens)")
	flag.Parse()
	if err := json.NewEncoder(os.Stdout).Encode(measure(*n, *withUser)); err != nil {
		fmt.Fprintln(os.Stderr, "cachemem:", err)
		os.Exit(1)
	}
}

// liveHeap returns the heap in use after a full collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func measure(n int, withUser bool) result {
	clientID := "bench" // the app interns client IDs: one string per client
	scopes := []string{"default", "read"}
	now := time.Now()
	exp := now.Add(time.Hour).UnixNano()

	before := liveHeap()
	cache, err := caddyoauth.NewCache(n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cachemem:", err)
		os.Exit(1)
	}
	var seed [8]byte
	for i := range n {
		binary.LittleEndian.PutUint64(seed[:], uint64(i))
		key := caddyoauth.TokenKey(sha256.Sum256(seed[:]))
		v := &caddyoauth.ValidToken{
			ClientID:  clientID,
			Scope:     strings.Join(scopes, " "), // a fresh string per entry, as on a miss
			ExpiresAt: exp,
		}
		if withUser {
			v.UserID = fmt.Sprintf("user%06d", i%1000)
		}
		if _, err := cache.Load(key, now, func() (*caddyoauth.ValidToken, error) { return v, nil }); err != nil {
			fmt.Fprintln(os.Stderr, "cachemem:", err)
			os.Exit(1)
		}
	}
	if cache.Len() != n {
		fmt.Fprintf(os.Stderr, "cachemem: cache holds %d entries, want %d\n", cache.Len(), n)
		os.Exit(1)
	}
	after := liveHeap()
	runtime.KeepAlive(cache)
	return result{
		Entries:       n,
		HeapBefore:    before,
		HeapAfter:     after,
		BytesPerEntry: float64(int64(after)-int64(before)) / float64(n),
		WithUser:      withUser,
	}
}
