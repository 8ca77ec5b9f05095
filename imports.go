// Package caddyoauth registers every module and directive of caddy-oauth
// with Caddy: build with `xcaddy build --with github.com/caddy-oauth/caddy-oauth`.
package caddyoauth

import (
	// The oauth app, oauth_server and oauth_bearer handlers.
	_ "github.com/caddy-oauth/caddy-oauth/caddyoauth"
	// The Caddyfile: the oauth global option, oauth_server and oauth_bearer.
	_ "github.com/caddy-oauth/caddy-oauth/caddyfile"
	// The grant types.
	_ "github.com/caddy-oauth/caddy-oauth/grants"
	// The token stores.
	_ "github.com/caddy-oauth/caddy-oauth/storage/bbolt"
	_ "github.com/caddy-oauth/caddy-oauth/storage/memory"
	_ "github.com/caddy-oauth/caddy-oauth/storage/postgres"
	_ "github.com/caddy-oauth/caddy-oauth/storage/redis"
)
