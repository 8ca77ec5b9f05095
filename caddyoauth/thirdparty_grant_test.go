package caddyoauth_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

// deviceGrant stands for a grant type a third party adds as a Caddy module:
// registering it in the oauth.grants namespace is all it takes.
type deviceGrant struct{}

func init() { caddy.RegisterModule(deviceGrant{}) }

func (deviceGrant) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "oauth.grants.test_device", New: func() caddy.Module { return new(deviceGrant) }}
}

func (deviceGrant) GrantType() string { return "urn:example:grant-type:device" }

func (deviceGrant) Authorize(_ context.Context, req *caddyoauth.TokenRequest) (*caddyoauth.Authorization, error) {
	if req.Form.Get("device") != "d-1" {
		return nil, caddyoauth.Errorf(caddyoauth.CodeInvalidGrant, "unknown device")
	}
	return &caddyoauth.Authorization{UserID: "device:d-1", Scopes: caddyoauth.GrantScopes(req.Scopes, req.Client, nil)}, nil
}

func TestThirdPartyGrantPlugsIn(t *testing.T) {
	f := newFixture(t)
	client := f.app.Client("web")
	client.GrantTypes = append(client.GrantTypes, "urn:example:grant-type:device")
	w := f.post(t, "/token", url.Values{"grant_type": {"urn:example:grant-type:device"}, "device": {"d-1"}, "scope": {"read"}}, "web", "web-secret")
	if w.Code != 200 {
		t.Fatalf("custom grant: %d %s", w.Code, w.Body)
	}
	tok := decode(t, w)
	v, _, err := f.app.Validate(context.Background(), tok.AccessToken)
	if err != nil || v.UserID != "device:d-1" || v.Scope != "read" {
		t.Fatalf("validate: %+v %v", v, err)
	}
	if w := f.post(t, "/token", url.Values{"grant_type": {"urn:example:grant-type:device"}, "device": {"x"}}, "web", "web-secret"); w.Code != 400 || decode(t, w).Error != "invalid_grant" {
		t.Fatalf("bad device: %d %s", w.Code, w.Body)
	}
}
