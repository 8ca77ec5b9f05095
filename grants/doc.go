// Package grants holds the grant types of caddy-oauth, one file each. Each
// is a Caddy module in the "oauth.grants" namespace: the `oauth` app loads
// every module registered there, so a third party adds a grant type by
// registering a module that implements caddyoauth.Grant (see
// examples/customgrant) and building Caddy with it.
package grants
