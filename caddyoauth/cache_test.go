package caddyoauth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestCacheEntryNeverOutlivesToken(t *testing.T) {
	c, _ := NewCache(10)
	now := time.Unix(1000, 0)
	key := TokenKey(sha256.Sum256([]byte("t")))
	v := &ValidToken{ClientID: "c", Scope: "read", ExpiresAt: now.Add(time.Minute).UnixNano()}
	got, err := c.Load(key, now, func() (*ValidToken, error) { return v, nil })
	if err != nil || got != v {
		t.Fatalf("Load = %v, %v", got, err)
	}
	if _, ok := c.Get(key, now.Add(59*time.Second)); !ok {
		t.Fatal("entry missing before expiry")
	}
	if _, ok := c.Get(key, now.Add(time.Minute)); ok {
		t.Fatal("entry served at its expiry")
	}
	if c.Len() != 0 {
		t.Fatal("expired entry kept")
	}
}

func TestCacheEvictAndNegativeAnswers(t *testing.T) {
	c, _ := NewCache(10)
	now := time.Unix(1000, 0)
	sum := sha256.Sum256([]byte("t"))
	key := TokenKey(sum)
	fetches := 0
	fetch := func() (*ValidToken, error) {
		fetches++
		return &ValidToken{ExpiresAt: now.Add(time.Hour).UnixNano()}, nil
	}
	c.Load(key, now, fetch)
	c.Load(key, now, fetch)
	if fetches != 1 {
		t.Fatalf("fetched %d times, want 1", fetches)
	}
	c.Evict([]string{hex.EncodeToString(sum[:]), "not hex"})
	if _, ok := c.Get(key, now); ok {
		t.Fatal("evicted entry still served")
	}
	// Invalid tokens and faults are not cached.
	if v, err := c.Load(key, now, func() (*ValidToken, error) { return nil, nil }); v != nil || err != nil {
		t.Fatalf("Load = %v, %v", v, err)
	}
	fault := errors.New("store down")
	if _, err := c.Load(key, now, func() (*ValidToken, error) { return nil, fault }); !errors.Is(err, fault) {
		t.Fatalf("fault = %v", err)
	}
	if c.Len() != 0 {
		t.Fatal("negative answer cached")
	}
}

// A revocation that lands while a miss is being fetched must win: the
// fetched (now stale) answer is not cached.
func TestCacheEvictDuringFetchWins(t *testing.T) {
	c, _ := NewCache(10)
	now := time.Unix(1000, 0)
	sum := sha256.Sum256([]byte("t"))
	key := TokenKey(sum)
	v, err := c.Load(key, now, func() (*ValidToken, error) {
		c.Evict([]string{hex.EncodeToString(sum[:])}) // the revocation races the read
		return &ValidToken{ExpiresAt: now.Add(time.Hour).UnixNano()}, nil
	})
	if err != nil || v == nil {
		t.Fatalf("Load = %v, %v", v, err)
	}
	if _, ok := c.Get(key, now); ok {
		t.Fatal("a token revoked during its lookup was cached")
	}
}

func TestCacheConcurrentMissesShareOneFetch(t *testing.T) {
	c, _ := NewCache(10)
	now := time.Unix(1000, 0)
	key := TokenKey(sha256.Sum256([]byte("t")))
	var mu sync.Mutex
	fetches := 0
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Load(key, now, func() (*ValidToken, error) {
				mu.Lock()
				fetches++
				mu.Unlock()
				<-release
				return &ValidToken{ExpiresAt: now.Add(time.Hour).UnixNano()}, nil
			})
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if fetches > 2 { // goroutines that start after the first fetch ends hit the cache
		t.Fatalf("%d fetches for one key", fetches)
	}
}

func TestCacheIsBounded(t *testing.T) {
	c, _ := NewCache(100)
	now := time.Unix(1000, 0)
	for i := range 1000 {
		key := TokenKey(sha256.Sum256([]byte{byte(i), byte(i >> 8)}))
		c.Load(key, now, func() (*ValidToken, error) { return &ValidToken{ExpiresAt: now.Add(time.Hour).UnixNano()}, nil })
	}
	if c.Len() != 100 {
		t.Fatalf("Len = %d, want 100", c.Len())
	}
}

// TestCacheWatched checks that a cache that depends on a revocation
// watcher answers from the store until the watcher has heard everything up
// to less than RevocationDelay ago, and again once it falls silent for
// that long.
func TestCacheWatched(t *testing.T) {
	c, _ := NewCache(10)
	t0 := time.Now()
	key := TokenKey(sha256.Sum256([]byte("t")))
	v := &ValidToken{ClientID: "c", ExpiresAt: t0.Add(time.Minute).UnixNano()}
	fetches := 0
	fetch := func() (*ValidToken, error) { fetches++; return v, nil }
	if _, err := c.Load(key, t0, fetch); err != nil {
		t.Fatal(err)
	}
	c.Watch()
	if c.Len() != 0 {
		t.Fatal("Watch kept what the cache held")
	}
	steps := []struct {
		name   string
		heard  time.Duration // Heard(t0+heard) before the lookup; <0: none
		at     time.Duration // the lookup's now, after t0
		cached bool
	}{
		{"nothing heard yet", -1, 0, false},
		{"just heard", 0, 0, true},
		{"heard less than RevocationDelay ago", -1, RevocationDelay - time.Millisecond, true},
		{"silent for RevocationDelay", -1, RevocationDelay, false},
		{"heard again", 2 * time.Second, 2 * time.Second, true},
		{"an older confirmation does not move it back", 1500 * time.Millisecond, 2900 * time.Millisecond, true},
		{"a confirmation that comes late counts from its time", 2500 * time.Millisecond, 3600 * time.Millisecond, false},
	}
	for _, s := range steps {
		if s.heard >= 0 {
			c.Heard(t0.Add(s.heard))
		}
		c.now = func() time.Time { return t0.Add(s.at) }
		before := fetches
		if got, err := c.Load(key, t0, fetch); err != nil || got != v {
			t.Fatalf("%s: Load = %v, %v", s.name, got, err)
		}
		if cached := fetches == before; cached != s.cached {
			t.Errorf("%s: served from the cache %v, want %v", s.name, cached, s.cached)
		}
	}
}
