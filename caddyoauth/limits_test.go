package caddyoauth

import (
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
