package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"

	"github.com/caddy-oauth/caddy-oauth/bench/load"
)

// Names of the issuance comparisons' targets.
const (
	issueBbolt       = "caddy-oauth bbolt"
	issueMemory      = "caddy-oauth memory"
	issueFosite      = "fosite"
	issueFositePlain = "fosite plain secret"
	issueGoOAuth2    = "go-oauth2"

	// issueNoDatasync is caddy-oauth on bbolt with the journal's flush
	// compiled out: not durable, so not a contender, but the same run's
	// measure of what the flush costs.
	issueNoDatasync = "caddy-oauth bbolt, no fdatasync (reference)"
)

// tokenServers are the token endpoints of the issuance comparisons.
type tokenServers map[string]string

// startTokenServers starts caddy-oauth on memory and on bbolt storage (and
// the reference build without the flush), and the fosite (bcrypt and plain
// secret) and go-oauth2 peers.
func startTokenServers(ctx context.Context, e *env, bcryptCost int) (tokenServers, error) {
	ts := tokenServers{}
	for _, s := range []struct{ name, proc, bin, storage string }{
		{issueMemory, "caddy-issue-memory", "caddy", "memory"},
		{issueBbolt, "caddy-issue-bbolt", "caddy", "bbolt " + filepath.Join(e.dir, "issuance.db")},
		{issueNoDatasync, "caddy-issue-nodatasync", caddyNoDatasync, "bbolt " + filepath.Join(e.dir, "issuance-nodatasync.db")},
	} {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cfg := caddyConfig{Storage: s.storage, UserHash: e.userHash, TokenPort: port}
		if err := e.startCaddyBuild(ctx, s.proc, s.bin, cfg); err != nil {
			return nil, fmt.Errorf("issuance: %w", err)
		}
		ts[s.name] = baseURL(port) + "/token"
	}
	for _, p := range []struct {
		name, bin string
		extra     []string
	}{
		{issueFosite, "fosite", []string{"-bcrypt-cost", strconv.Itoa(bcryptCost)}},
		{issueFositePlain, "fosite", []string{"-plain-secrets"}},
		{issueGoOAuth2, "gooauth2", nil},
	} {
		port, err := e.startPeer(ctx, p.bin+"-"+strconv.Itoa(len(ts)), p.bin, p.extra...)
		if err != nil {
			return nil, fmt.Errorf("issuance: %w", err)
		}
		ts[p.name] = baseURL(port) + "/token"
	}
	return ts, nil
}

// issuanceBench compares client_credentials and password token requests.
// Every server issues an access and, for password, a refresh token: fosite
// only issues refresh tokens for the "offline" scope, so it is asked for it.
func issuanceBench(ctx context.Context, rc runConfig, ts tokenServers) ([]*comparison, error) {
	order := []string{issueBbolt, issueMemory, issueFosite, issueFositePlain, issueGoOAuth2, issueNoDatasync}
	var out []*comparison
	for _, grant := range []string{"client_credentials", "password"} {
		var targets []target
		for _, name := range order {
			form := url.Values{"grant_type": {grant}, "scope": {"read"}}
			if grant == "password" {
				form.Set("username", userName)
				form.Set("password", userPassword)
				if name == issueFosite || name == issueFositePlain {
					form.Set("scope", "read offline")
				}
			}
			targets = append(targets, target{Name: name, Request: load.PostForm(ts[name], form, clientID, clientSecret)})
		}
		c, err := compare(ctx, rc, "issuance "+grant, targets)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// checkIssuance records the issuance target: caddy-oauth on bbolt issues
// client_credentials tokens at least as fast as fosite and go-oauth2 in
// memory. It notes where the build without the flush stands against the
// same peers, which tells the flush's share of any gap.
func checkIssuance(r *report, cc *comparison) {
	bbolt := cc.summary(issueBbolt).RPS
	noSync := cc.summary(issueNoDatasync).RPS
	for _, peer := range []string{issueFosite, issueFositePlain, issueGoOAuth2} {
		r.checkRatio("issuance client_credentials: caddy-oauth bbolt ≥ "+peer+" (in memory)",
			bbolt, cc.summary(peer).RPS, 1.0, 0, "req/s")
		r.note("issuance client_credentials, %s ÷ %s: %.3f (paired %.3f); durable bbolt: %.3f (paired %.3f)",
			issueNoDatasync, peer, noSync/cc.summary(peer).RPS, cc.pairedRatio(issueNoDatasync, peer),
			bbolt/cc.summary(peer).RPS, cc.pairedRatio(issueBbolt, peer))
	}
}
