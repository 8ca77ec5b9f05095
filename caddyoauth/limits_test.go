package caddyoauth

import (
	"fmt"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func TestFailureLimiter(t *testing.T) {
	now := time.Unix(6000, 0)
	limits := Limits{MaxFailures: 3, MaxUserFailures: 5, Window: caddy.Duration(time.Minute)}
	limits.setDefaults()
	l := newFailureLimiter(limits, func() time.Time { return now })

	attacker := authAttempt{Source: "203.0.113.1", User: "alice"}
	for range 3 {
		if ok, _ := l.allow(attacker); !ok {
			t.Fatal("slowed down before the limit")
		}
		l.fail(attacker)
	}
	ok, retry := l.allow(attacker)
	if ok || retry <= 0 || retry > time.Minute {
		t.Fatalf("allow after limit = %v, %v", ok, retry)
	}
	// The right user elsewhere is not locked out.
	if ok, _ := l.allow(authAttempt{Source: "198.51.100.7", User: "alice"}); !ok {
		t.Fatal("a source without failures was locked out")
	}
	// Many sources together exceed the per-user limit: sources that failed
	// for alice are slowed down, a clean source still passes.
	for i := range 5 {
		a := authAttempt{Source: "192.0.2." + string(rune('0'+i)), User: "alice"}
		l.fail(a)
	}
	if ok, _ := l.allow(authAttempt{Source: "192.0.2.0", User: "alice"}); ok {
		t.Fatal("a failing source passed after the per-user limit")
	}
	if ok, _ := l.allow(authAttempt{Source: "198.51.100.7", User: "alice"}); !ok {
		t.Fatal("a clean source was locked out by the per-user limit")
	}
	// A new window forgives.
	now = now.Add(time.Minute)
	if ok, _ := l.allow(attacker); !ok {
		t.Fatal("still slowed down in a new window")
	}
}

func TestLimitedSource(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"203.0.113.9", "203.0.113.9"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::1f4", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::ffff:203.0.113.9", "::ffff:203.0.113.9"},
		{"not an address", "not an address"},
		{"", ""},
	} {
		if got := limitedSource(tc.in); got != tc.want {
			t.Errorf("limitedSource(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Walking through the addresses of one IPv6 /64 does not escape the
// per-source limit.
func TestIPv6SourcesCountByTheirBlock(t *testing.T) {
	limits := Limits{MaxFailures: 3}
	limits.setDefaults()
	l := newFailureLimiter(limits, func() time.Time { return time.Unix(6000, 0) })
	refused := 0
	for i := range 20 {
		a := authAttempt{Source: fmt.Sprintf("2001:db8::%x", i+1), User: "alice"}
		if ok, _ := l.allow(a); !ok {
			refused++
			continue
		}
		l.fail(a)
	}
	if refused != 17 {
		t.Fatalf("%d of 20 attempts from one /64 refused, want 17", refused)
	}
	if ok, _ := l.allow(authAttempt{Source: "2001:db8:0:1::1", User: "alice"}); !ok {
		t.Fatal("the next /64 was refused")
	}
}

// With the table full, the sources already tracked are still counted.
func TestFullLimiterStillCountsWhatItTracks(t *testing.T) {
	defer func(max int) { maxTrackedKeys = max }(maxTrackedKeys)
	maxTrackedKeys = 8
	limits := Limits{MaxFailures: 3}
	limits.setDefaults()
	l := newFailureLimiter(limits, func() time.Time { return time.Unix(6000, 0) })
	attacker := authAttempt{Source: "203.0.113.1", User: "alice"}
	l.fail(attacker) // 3 keys
	for i := range 5 {
		l.fail(authAttempt{Source: fmt.Sprintf("198.51.100.%d", i)}) // fills the table
	}
	if len(l.counts) != maxTrackedKeys {
		t.Fatalf("%d keys tracked, want %d", len(l.counts), maxTrackedKeys)
	}
	l.fail(attacker)
	l.fail(attacker)
	if ok, _ := l.allow(attacker); ok {
		t.Fatal("a tracked source passed its limit once the table was full")
	}
	l.fail(authAttempt{Source: "192.0.2.1"})
	if len(l.counts) != maxTrackedKeys {
		t.Fatalf("the table grew past its bound: %d keys", len(l.counts))
	}
}
