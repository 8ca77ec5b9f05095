package integration

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
)

// TestBruteForceSlowdown shows repeated failed client and password
// authentication gets 429 with Retry-After, while the right credentials
// used from another source still work (SPEC §6, SECURITY "Token endpoint").
func TestBruteForceSlowdown(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{Storage: "memory"})
	attacker := c.fromSource("127.0.0.1")
	victim := c.fromSource("127.0.0.2")

	hammer := func(t *testing.T, name string, send func() response) {
		t.Helper()
		var limited *response
		for i := range 40 {
			r := send()
			if r.Status >= 500 {
				t.Fatalf("%s attempt %d: %s", name, i, r)
			}
			if r.Status == http.StatusTooManyRequests {
				limited = &r
				break
			}
		}
		if limited == nil {
			t.Fatalf("%s: 40 failed attempts were never slowed down with 429", name)
		}
		ra := limited.Header.Get("Retry-After")
		if n, err := strconv.Atoi(ra); err != nil || n <= 0 {
			t.Errorf("%s: 429 with Retry-After %q, want a positive number of seconds", name, ra)
		}
	}

	t.Run("client secret", func(t *testing.T) {
		hammer(t, "wrong client secret", func() response {
			return attacker.post(t, "/token", "grant_type=client_credentials", withBasic(otherClient, "guess"))
		})
		// The right client from elsewhere is not locked out.
		r := victim.post(t, "/token", "grant_type=client_credentials", withBasic(otherClient, otherSecret))
		if r.Status != http.StatusOK {
			t.Errorf("right credentials from another source: want 200, got %s", r)
		}
	})

	t.Run("user password", func(t *testing.T) {
		// A fresh source, so the client-secret failures above don't count.
		attacker := c.fromSource("127.0.0.3")
		form := url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"guess"}}
		hammer(t, "wrong password", func() response {
			return attacker.post(t, "/token", form.Encode(), withBasic(mainClient, mainSecret))
		})
		form.Set("password", adminPassword)
		r := victim.post(t, "/token", form.Encode(), withBasic(mainClient, mainSecret))
		if r.Status != http.StatusOK {
			t.Errorf("right password from another source: want 200, got %s", r)
		}
	})

	t.Run("spoofed X-Forwarded-For does not reset the count", func(t *testing.T) {
		attacker := c.fromSource("127.0.0.4")
		i := 0
		hammer(t, "wrong secret with rotating X-Forwarded-For", func() response {
			i++
			return attacker.post(t, "/token", "grant_type=client_credentials",
				withBasic(mainClient, "guess"), withHeader("X-Forwarded-For", "10.0.0."+strconv.Itoa(i)))
		})
	})
}
