package caddyoauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"golang.org/x/crypto/bcrypt"
)

// Low bcrypt costs keep these tests short (cost 7 is ~8 ms, ~100 ms with
// -race), yet far apart: each step doubles the cost.
const (
	cheapCost  = 4
	middleCost = 6
	costlyCost = 7
)

// timingApp provisions the clients and users of a as Provision does, with
// limits that never slow the test down, seeds the failure floor and waits
// for the seeding to end. The seeding goroutine is stopped and waited for
// when the test ends.
func timingApp(t *testing.T, a *App) *App {
	t.Helper()
	a.grants = map[string]Grant{"client_credentials": nil}
	a.limiter = newFailureLimiter(Limits{MaxFailures: 1 << 20, MaxUserFailures: 1 << 20,
		Window: caddy.Duration(time.Minute)}, time.Now)
	if err := a.provisionUsers(); err != nil {
		t.Fatal(err)
	}
	if err := a.provisionClients(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.seedFailureFloor(ctx)
	t.Cleanup(func() {
		cancel()
		a.failures.wait()
	})
	a.failures.wait()
	return a
}

func bcryptOf(t *testing.T, password string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// mixedApp has a plain and a hashed client, and users whose hashes differ
// in cost, the first one being the cheapest (so that unknown users are
// compared against a cheap dummy).
func mixedApp(t *testing.T) *App {
	return timingApp(t, &App{
		Clients: []*Client{
			{ID: "plain", Secret: "plain-secret", GrantTypes: []string{"client_credentials"}},
			{ID: "hashed", SecretHash: bcryptOf(t, "hashed-secret", middleCost), GrantTypes: []string{"client_credentials"}},
		},
		Users: []*User{
			{Name: "cheap", PasswordHash: bcryptOf(t, "cheap-pw", cheapCost)},
			{Name: "costly", PasswordHash: bcryptOf(t, "costly-pw", costlyCost)},
		},
	})
}

// authenticate reports whether AuthenticateUser accepts name and password.
func authenticate(t *testing.T, a *App, name, password string) bool {
	t.Helper()
	u, e := a.AuthenticateUser(httptest.NewRequest(http.MethodPost, "/token", nil), name, password)
	if e != nil && (e.Code != CodeInvalidGrant || e.Status == http.StatusTooManyRequests) {
		t.Fatalf("AuthenticateUser: %d %s", e.Status, e.Description)
	}
	return u != nil
}

// minDuration runs check rounds times and returns the shortest run, the
// most robust measure on a loaded machine; it fails t if check's result is
// not want.
func minDuration(t *testing.T, rounds int, want bool, check func() bool) time.Duration {
	t.Helper()
	best := time.Duration(1<<63 - 1)
	for range rounds {
		start := time.Now()
		ok := check()
		best = min(best, time.Since(start))
		if ok != want {
			t.Fatalf("check returned %v, want %v", ok, want)
		}
	}
	return best
}

// TestFailedChecksTakeTheSameTime checks that, whatever the cost of the
// configured secrets, every failed credential check takes as long as the
// slowest one (SECURITY.md: unknown client and wrong secret, unknown user
// and wrong password, look the same in time), and that successful checks
// are not slowed down.
func TestFailedChecksTakeTheSameTime(t *testing.T) {
	a := mixedApp(t)
	failures := []struct {
		name  string
		check func() bool
	}{
		{"unknown client", func() bool { return a.verifyClientSecret("ghost", "x") != nil }},
		{"wrong secret, plain client", func() bool { return a.verifyClientSecret("plain", "x") != nil }},
		{"wrong secret, hashed client", func() bool { return a.verifyClientSecret("hashed", "x") != nil }},
		{"unknown user", func() bool { return authenticate(t, a, "ghost", "x") }},
		{"wrong password, cheap hash", func() bool { return authenticate(t, a, "cheap", "x") }},
		{"wrong password, costly hash", func() bool { return authenticate(t, a, "costly", "x") }},
	}
	// Interleaved rounds, so that a change of load hits every check alike;
	// the first is a warm-up.
	const rounds = 3
	took := make([]time.Duration, len(failures))
	for i := range took {
		took[i] = time.Duration(1<<63 - 1)
	}
	for round := range rounds {
		for i, f := range failures {
			d := minDuration(t, 1, false, f.check)
			if round > 0 {
				took[i] = min(took[i], d)
			}
		}
	}
	// Unpadded, the cheap failures take under a third of the costly ones
	// (a plain secret next to nothing); a verification slowed by the load
	// of other tests may raise the floor by a tenth or two mid-run.
	slowest := slices.Max(took)
	for i, f := range failures {
		t.Logf("%-36s %8.2f ms", f.name, float64(took[i].Microseconds())/1000)
		if took[i] < slowest*3/4 {
			t.Errorf("%s took %v, less than 75%% of the slowest failure (%v): it tells what exists", f.name, took[i], slowest)
		}
	}

	successes := []struct {
		name  string
		check func() bool
	}{
		{"right secret, plain client", func() bool { return a.verifyClientSecret("plain", "plain-secret") != nil }},
		// The first match verifies the hash; repeats are cached.
		{"right secret, hashed client, cached", func() bool { return a.verifyClientSecret("hashed", "hashed-secret") != nil }},
		{"right password, cached", func() bool { return authenticate(t, a, "costly", "costly-pw") }},
	}
	for _, s := range successes {
		d := minDuration(t, 5, true, s.check)
		t.Logf("%-36s %8.2f ms", s.name, float64(d.Microseconds())/1000)
		if d > slowest/10 {
			t.Errorf("%s took %v, not far below the failure floor (%v): successes must not be padded", s.name, d, slowest)
		}
	}
}

// TestFailureFloorSeededAtProvision checks that the floor covers the
// costliest hash from the start: the very first failure, with a plain
// secret and before any hash was verified for a request, already takes as
// long as a wrong password of the costliest user.
func TestFailureFloorSeededAtProvision(t *testing.T) {
	a := mixedApp(t)
	first := minDuration(t, 1, false, func() bool { return a.verifyClientSecret("plain", "x") != nil })
	costly := minDuration(t, 2, false, func() bool { return authenticate(t, a, "costly", "x") })
	t.Logf("first failure %v, wrong costly password %v", first, costly)
	// One seeding sample against the fastest of two later runs: a loose bound.
	if first < costly/2 {
		t.Errorf("the first failure took %v, a wrong costly password %v: the floor was not seeded", first, costly)
	}
}

// TestFailureFloorSeedingStops checks that seeding gives up between
// verifications once the provisioning context is done.
func TestFailureFloorSeedingStops(t *testing.T) {
	var hashes []*secretHash
	for cost := cheapCost; cost <= costlyCost+4; cost++ {
		h, err := parseSecretHash(bcryptOf(t, "pw", cheapCost))
		if err != nil {
			t.Fatal(err)
		}
		// Same digest, another cost: a class of its own, never verified.
		h.hashed[4], h.hashed[5] = byte('0'+cost/10), byte('0'+cost%10)
		hashes = append(hashes, h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var f failureFloor
	start := time.Now()
	f.seed(ctx, hashes)
	f.wait()
	if d := time.Since(start); d > time.Second || f.floor() != 0 {
		t.Errorf("cancelled seeding took %v and set the floor to %v", d, f.floor())
	}
}
