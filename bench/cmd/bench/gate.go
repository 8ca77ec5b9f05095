package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/caddy-oauth/caddy-oauth/bench/load"
)

// Names of the gate comparison's targets.
const (
	gateNone   = "no auth"
	gateBearer = "oauth_bearer (cached)"
	gateBasic  = "basic_auth"
)

// gateBench compares three reverse-proxy sites of one Caddy: no auth (the
// limit), oauth_bearer with a cached token, and basic_auth for reference.
// The upstream transport is the same on all three, and so is the request
// of the first two.
func gateBench(ctx context.Context, e *env, rc runConfig, upstream int) (*comparison, error) {
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	cfg := caddyConfig{
		Storage:      "memory",
		UserHash:     e.userHash,
		TokenPort:    ports[0],
		UpstreamPort: upstream,
		Gates: []gateSite{
			{Port: ports[1]},
			{Port: ports[2], Auth: "oauth_bearer read"},
			{Port: ports[3], Auth: basicAuth(userName, e.userHash)},
		},
	}
	if err := e.startCaddy(ctx, "caddy-gate", cfg); err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	token, err := fetchToken(ctx, baseURL(ports[0])+"/token", "read")
	if err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	bearer := http.Header{"Authorization": {"Bearer " + token}}
	basicReq, err := http.NewRequest(http.MethodGet, baseURL(ports[3])+"/", nil)
	if err != nil {
		return nil, err
	}
	basicReq.SetBasicAuth(userName, userPassword)
	basic := http.Header{"Authorization": basicReq.Header.Values("Authorization")}

	// The no-auth site gets the very request the oauth_bearer site gets,
	// token included, so that the two differ by the handler alone, not by
	// the bytes of a header that every side writes, parses and forwards.
	return compare(ctx, rc, "gate", []target{
		{Name: gateNone, Request: load.Get(baseURL(ports[1])+"/", bearer)},
		{Name: gateBearer, Request: load.Get(baseURL(ports[2])+"/", bearer)},
		{Name: gateBasic, Request: load.Get(baseURL(ports[3])+"/", basic)},
	})
}

// checkGate records the gate targets: oauth_bearer keeps at least 95% of
// the no-auth throughput and its p99 within 10%.
func checkGate(r *report, c *comparison) {
	none, bearer := c.summary(gateNone), c.summary(gateBearer)
	r.checkRatio("gate: oauth_bearer ≥ 95% of no-auth throughput", bearer.RPS, none.RPS, 0.95, 0, "req/s")
	r.checkRatio("gate: oauth_bearer p99 within 10% of no-auth", ms(bearer.P99), ms(none.P99), 0, 1.10, "ms")
}
