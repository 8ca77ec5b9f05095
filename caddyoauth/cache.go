package caddyoauth

import (
	"encoding/hex"
	"math"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// ValidToken is what the gate needs to know about a valid access token.
type ValidToken struct {
	ClientID string
	UserID   string
	// Scope is the token's scopes, space-separated (RFC 6749 §3.3).
	Scope string
	// ExpiresAt is the token's expiry in Unix nanoseconds.
	ExpiresAt int64
}

// Subject is the user the token was issued for, or the client for a token
// a client obtained for itself.
func (v *ValidToken) Subject() string {
	if v.UserID != "" {
		return v.UserID
	}
	return v.ClientID
}

// HasScopes reports whether the token carries every scope of need.
func (v *ValidToken) HasScopes(need []string) bool {
	for _, s := range need {
		if !scopeContains(v.Scope, s) {
			return false
		}
	}
	return true
}

// Cache holds recently validated access tokens, keyed by their hash. An
// entry never outlives its token, and revocations evict entries at once.
// It is safe for concurrent use.
type Cache struct {
	entries *lru.Cache[TokenKey, *ValidToken]
	misses  singleflight.Group
	// epoch counts evictions, so a lookup that raced with a revocation does
	// not put back what the revocation removed.
	epoch atomic.Uint64
	// watched makes the cache serve entries only while heard, the time up
	// to which a revocation watcher has heard every revocation (see Watch).
	watched atomic.Bool
	heard   atomic.Int64 // monotonic, see sinceStart
	// now is the real clock that heard is compared with, time.Now but in
	// tests: the app's clock, which tests set, is for expiry only.
	now func() time.Time
}

// Watch makes the cache depend on a revocation watcher: it drops what it
// holds and from then on serves an entry only while the watcher has
// confirmed, through Heard, that it heard every revocation until less than
// RevocationDelay ago. Until the first Heard, and whenever the watcher
// falls silent, every lookup goes to the store.
func (c *Cache) Watch() {
	c.heard.Store(math.MinInt64 / 2)
	c.watched.Store(true)
	c.Purge()
}

// Heard records that the watcher heard every revocation completed before t.
func (c *Cache) Heard(t time.Time) {
	at := sinceStart(t)
	for {
		old := c.heard.Load()
		if at <= old || c.heard.CompareAndSwap(old, at) {
			return
		}
	}
}

// fresh reports whether the cache may serve what it holds.
func (c *Cache) fresh() bool {
	return !c.watched.Load() || sinceStart(c.now())-c.heard.Load() < int64(RevocationDelay)
}

// start is the reference of sinceStart.
var start = time.Now()

// sinceStart returns the nanoseconds from start to t, on the monotonic
// clock when t carries its reading (time.Now does), so that a change of
// the wall clock does not stretch RevocationDelay.
func sinceStart(t time.Time) int64 { return int64(t.Sub(start)) }

// NewCache returns a cache holding at most size tokens.
func NewCache(size int) (*Cache, error) {
	entries, err := lru.New[TokenKey, *ValidToken](size)
	if err != nil {
		return nil, err
	}
	return &Cache{entries: entries, now: time.Now}, nil
}

// Get returns the cached token if it has not expired at now.
func (c *Cache) Get(key TokenKey, now time.Time) (*ValidToken, bool) {
	if !c.fresh() {
		return nil, false
	}
	v, ok := c.entries.Get(key)
	if !ok {
		return nil, false
	}
	if now.UnixNano() >= v.ExpiresAt {
		c.entries.Remove(key)
		return nil, false
	}
	return v, true
}

// Load returns the token for key from the cache or, on a miss, from fetch,
// which concurrent misses of the same key share. A fetched token is cached
// unless an eviction happened while it was fetched. fetch returns nil for a
// token that is not valid; that answer is not cached.
func (c *Cache) Load(key TokenKey, now time.Time, fetch func() (*ValidToken, error)) (*ValidToken, error) {
	if v, ok := c.Get(key, now); ok {
		return v, nil
	}
	res, err, _ := c.misses.Do(string(key[:]), func() (any, error) {
		epoch := c.epoch.Load()
		v, err := fetch()
		if err != nil || v == nil {
			return v, err
		}
		if c.epoch.Load() == epoch {
			c.entries.Add(key, v)
			// An eviction between the check and the Add removed nothing:
			// take the entry back out. (Evict counts before it removes, so
			// one that comes later removes the entry itself.)
			if c.epoch.Load() != epoch {
				c.entries.Remove(key)
			}
		}
		return v, nil
	})
	if err != nil {
		return nil, err
	}
	return res.(*ValidToken), nil
}

// Evict removes the tokens with the given hex hashes (as the store returns
// them). Hashes that are not cached are ignored.
func (c *Cache) Evict(hashes []string) {
	c.epoch.Add(1)
	for _, h := range hashes {
		var key TokenKey
		if n, err := hex.Decode(key[:], []byte(h)); err == nil && n == len(key) {
			c.entries.Remove(key)
		}
	}
}

// Purge drops every entry, for when revocations may have been missed.
func (c *Cache) Purge() {
	c.epoch.Add(1)
	c.entries.Purge()
}

// Len returns the number of cached tokens.
func (c *Cache) Len() int { return c.entries.Len() }
