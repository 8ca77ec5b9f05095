package caddyoauth

import (
	"encoding/hex"
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
	// suspended makes every lookup a miss that caches nothing: for a node
	// whose revocation watcher does not listen yet (see Suspend).
	suspended atomic.Bool
}

// Suspend stops the cache from holding anything until Resume: every lookup
// goes to the store. A node that shares its store with others suspends its
// cache until its revocation watcher listens, since a revocation on
// another node before then would go unheard.
func (c *Cache) Suspend() {
	c.suspended.Store(true)
	c.Purge()
}

// Resume lets the cache hold tokens again.
func (c *Cache) Resume() { c.suspended.Store(false) }

// NewCache returns a cache holding at most size tokens.
func NewCache(size int) (*Cache, error) {
	entries, err := lru.New[TokenKey, *ValidToken](size)
	if err != nil {
		return nil, err
	}
	return &Cache{entries: entries}, nil
}

// Get returns the cached token if it has not expired at now.
func (c *Cache) Get(key TokenKey, now time.Time) (*ValidToken, bool) {
	if c.suspended.Load() {
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
		if c.epoch.Load() == epoch && !c.suspended.Load() {
			c.entries.Add(key, v)
			// An eviction between the check and the Add removed nothing:
			// take the entry back out. (Evict counts before it removes, so
			// one that comes later removes the entry itself.)
			if c.epoch.Load() != epoch || c.suspended.Load() {
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
