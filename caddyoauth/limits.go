package caddyoauth

import (
	"math"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Limits bounds request sizes and slows down repeated failed
// authentication. Failures are counted per source address (an IPv6
// address as its /64), per client and source, per user and source, and per
// user across all sources; a source that has not failed is never slowed
// down by the failures of others, so an attacker cannot lock out the right
// credentials used from elsewhere.
type Limits struct {
	// MaxFailures is how many failed authentications a source may make in a
	// Window before it gets 429 responses. Default: 10.
	MaxFailures int `json:"max_failures,omitempty"`

	// MaxUserFailures is how many failed authentications for one user or
	// client, from all sources together, are allowed in a Window before any
	// source that has itself failed for that user is slowed down. Default: 100.
	MaxUserFailures int `json:"max_user_failures,omitempty"`

	// Window is the period over which failures are counted. Default: 1m.
	Window caddy.Duration `json:"window,omitempty"`

	// MaxBodyBytes bounds the body of endpoint requests. Default: 64 KiB.
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`

	// MaxParams bounds the number of form parameters. Default: 64.
	MaxParams int `json:"max_params,omitempty"`
}

func (l *Limits) setDefaults() {
	if l.MaxFailures <= 0 {
		l.MaxFailures = 10
	}
	if l.MaxUserFailures <= 0 {
		l.MaxUserFailures = 100
	}
	if l.Window <= 0 {
		l.Window = caddy.Duration(time.Minute)
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = 64 << 10
	}
	if l.MaxParams <= 0 {
		l.MaxParams = 64
	}
}

// failureLimiter counts failures in fixed windows.
type failureLimiter struct {
	limits Limits
	now    func() time.Time

	mu      sync.Mutex
	windowN int64
	counts  map[string]int
}

// maxTrackedKeys bounds the limiter's memory under a spray of sources; a
// variable for the tests.
var maxTrackedKeys = 1 << 20

func newFailureLimiter(limits Limits, now func() time.Time) *failureLimiter {
	return &failureLimiter{limits: limits, now: now, counts: make(map[string]int)}
}

// authAttempt names who is authenticating: the source address and, where
// known, the client and the user.
type authAttempt struct {
	Source string
	Client string
	User   string
}

func (a authAttempt) keys() []string {
	keys := []string{"src\x00" + a.Source}
	if a.Client != "" {
		keys = append(keys, "client\x00"+a.Client+"\x00"+a.Source, "client\x00"+a.Client)
	}
	if a.User != "" {
		keys = append(keys, "user\x00"+a.User+"\x00"+a.Source, "user\x00"+a.User)
	}
	return keys
}

// limitedSource is what the limiter counts a source address as: an IPv4
// address as it is, an IPv6 address as its /64, the block a single host
// or site usually has to itself (RFC 6177), so that walking through its
// addresses does not make new sources.
func limitedSource(source string) string {
	if !strings.Contains(source, ":") {
		return source
	}
	ip, err := netip.ParseAddr(source)
	if err != nil || ip.Is4In6() {
		return source
	}
	block, err := ip.WithZone("").Prefix(64)
	if err != nil {
		return source
	}
	return block.String()
}

// allow reports whether the attempt may proceed, and if not, after how long
// it may be retried.
func (l *failureLimiter) allow(a authAttempt) (bool, time.Duration) {
	a.Source = limitedSource(a.Source)
	l.mu.Lock()
	defer l.mu.Unlock()
	retry := l.roll()
	if l.counts["src\x00"+a.Source] >= l.limits.MaxFailures {
		return false, retry
	}
	for _, pair := range [][2]string{{"client", a.Client}, {"user", a.User}} {
		if pair[1] == "" {
			continue
		}
		own := l.counts[pair[0]+"\x00"+pair[1]+"\x00"+a.Source]
		all := l.counts[pair[0]+"\x00"+pair[1]]
		if own >= l.limits.MaxFailures || (own > 0 && all >= l.limits.MaxUserFailures) {
			return false, retry
		}
	}
	return true, 0
}

// fail records a failed attempt. Once it tracks maxTrackedKeys, it counts
// only for the sources, clients and users it tracks already.
func (l *failureLimiter) fail(a authAttempt) {
	a.Source = limitedSource(a.Source)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll()
	full := len(l.counts) >= maxTrackedKeys
	for _, k := range a.keys() {
		if n, tracked := l.counts[k]; (tracked || !full) && n < math.MaxInt32 {
			l.counts[k] = n + 1
		}
	}
}

// roll starts a new window when the current one has passed and returns the
// time left in the window.
func (l *failureLimiter) roll() time.Duration {
	window := time.Duration(l.limits.Window)
	now := l.now().UnixNano()
	if n := now / int64(window); n != l.windowN {
		l.windowN = n
		clear(l.counts)
	}
	return time.Duration((l.windowN+1)*int64(window) - now)
}
