package integration

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/caddy-oauth/caddy-oauth/internal/samltest"
)

// The SAML 2.0 bearer grant (RFC 7522) as configured by saml_idp.
const (
	samlGrantType = "urn:ietf:params:oauth:grant-type:saml2-bearer"
	samlIdPEntity = "https://idp.example.com/saml"
	samlAudience  = "https://auth.example.com/token"
	samlClient    = "saml-app"
	samlSecret    = "saml-app-secret-4b1d"
)

// samlIdP signs assertions as a test identity provider.
type samlIdP struct{ *samltest.IdP }

func newSAMLIdP(t *testing.T) *samlIdP {
	now := time.Now()
	return &samlIdP{samltest.NewIdP(t, now.Add(-time.Hour), now.Add(24*time.Hour))}
}

// assertion returns a signed bearer assertion for nameID, valid for five
// minutes from now, as XML.
func (p *samlIdP) assertion(t *testing.T, nameID string) string {
	t.Helper()
	now := time.Now().UTC()
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	doc := etree.NewDocument()
	err := doc.ReadFromString(fmt.Sprintf(`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_%s" Version="2.0" IssueInstant="%s">`+
		`<saml:Issuer>%s</saml:Issuer>`+
		`<saml:Subject><saml:NameID>%s</saml:NameID>`+
		`<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">`+
		`<saml:SubjectConfirmationData NotOnOrAfter="%s" Recipient="%s"/></saml:SubjectConfirmation></saml:Subject>`+
		`<saml:Conditions NotBefore="%s" NotOnOrAfter="%s"><saml:AudienceRestriction><saml:Audience>%s</saml:Audience></saml:AudienceRestriction></saml:Conditions>`+
		`</saml:Assertion>`,
		randomID(t), ts(0), samlIdPEntity, nameID, ts(5*time.Minute), samlAudience, ts(-time.Minute), ts(5*time.Minute), samlAudience))
	if err != nil {
		t.Fatal(err)
	}
	a := doc.Root()
	ctx, err := dsig.NewSigningContext(p.Key, [][]byte{p.Cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	sig, err := ctx.ConstructSignature(a, true)
	if err != nil {
		t.Fatal(err)
	}
	a.InsertChildAt(a.SelectElement("saml:Issuer").Index()+1, sig)
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// samlForm is a token request presenting an assertion (RFC 7522 §2.1).
func samlForm(xml, scope string) url.Values {
	form := url.Values{"grant_type": {samlGrantType}, "assertion": {base64.RawURLEncoding.EncodeToString([]byte(xml))}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return form
}

// TestSAML2BearerGrant configures an IdP with saml_idp, exchanges its
// assertions for tokens at /token and uses them through oauth_bearer.
func TestSAML2BearerGrant(t *testing.T) {
	t.Parallel()
	idp := newSAMLIdP(t)
	c := startCaddy(t, config{ExtraOAuth: fmt.Sprintf(`client %s {
			secret %s
			grant_types %s refresh_token
			scopes default read update PRODUCTION
		}
		saml_idp %s {
			certificate %s
			audience %s
		}`, samlClient, samlSecret, samlGrantType, samlIdPEntity, idp.PEMFile(t), samlAudience)})
	token := func(form url.Values) response {
		return c.post(t, "/token", form.Encode(), withBasic(samlClient, samlSecret))
	}

	// An assertion for a user the IdP vouches for, not a configured one.
	assertion := idp.assertion(t, "carol@example.com")
	r := token(samlForm(assertion, "read"))
	if r.Status != http.StatusOK {
		t.Fatalf("SAML bearer grant: %s", r)
	}
	var tr tokenResponse
	if err := json.Unmarshal(r.Body, &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Scope != "read" || tr.RefreshToken == "" || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token response %s", r)
	}
	path := "/orders/saml-" + randomID(t)
	if g := c.get(t, path, tr.AccessToken); g.Status != http.StatusOK {
		t.Fatalf("the token is refused by oauth_bearer: %s", g)
	}
	if reqs := c.up.find(path); len(reqs) != 1 || reqs[0].Header.Get("X-Auth-User") != "carol@example.com" ||
		reqs[0].Header.Get("X-Auth-Client") != samlClient {
		t.Fatalf("upstream saw %+v", reqs)
	}

	// The assertion is used once, and a tampered one is refused.
	wantError(t, token(samlForm(assertion, "read")), http.StatusBadRequest, "invalid_grant")
	tampered := strings.Replace(idp.assertion(t, "carol@example.com"), "carol@example.com", "admin", 1)
	wantError(t, token(samlForm(tampered, "read")), http.StatusBadRequest, "invalid_grant")
	wantError(t, token(samlForm(`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>`+idp.assertion(t, "carol"), "")), http.StatusBadRequest, "invalid_grant")

	// A configured user's scopes limit the token: admin may have read and
	// update only.
	admin := token(samlForm(idp.assertion(t, "admin"), "read update PRODUCTION"))
	var at tokenResponse
	if err := json.Unmarshal(admin.Body, &at); err != nil || admin.Status != http.StatusOK || at.Scope != "read update" {
		t.Fatalf("token for admin: %s", admin)
	}

	// The refresh token works, for the same user.
	r = c.post(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}.Encode(),
		withBasic(samlClient, samlSecret))
	var refreshed tokenResponse
	if err := json.Unmarshal(r.Body, &refreshed); err != nil || r.Status != http.StatusOK || refreshed.AccessToken == "" {
		t.Fatalf("refresh: %s", r)
	}
	path = "/orders/saml-refreshed-" + randomID(t)
	c.wantActive(t, refreshed.AccessToken)
	if g := c.get(t, path, refreshed.AccessToken); g.Status != http.StatusOK || c.up.find(path)[0].Header.Get("X-Auth-User") != "carol@example.com" {
		t.Fatalf("refreshed token: %s", g)
	}

	// A client that does not list the grant type may not use it.
	r = c.post(t, "/token", samlForm(idp.assertion(t, "carol"), "").Encode(), withBasic(mainClient, mainSecret))
	wantError(t, r, http.StatusBadRequest, "unauthorized_client")

	// An oversized assertion is refused at once and the server keeps serving.
	huge := url.Values{"grant_type": {samlGrantType}, "assertion": {strings.Repeat("A", 80<<10)}}
	if r := token(huge); r.Status != http.StatusRequestEntityTooLarge && r.Status != http.StatusBadRequest {
		t.Fatalf("oversized assertion: %s", r)
	}
	c.wantActive(t, refreshed.AccessToken)

	// The metadata lists the grant type.
	md := c.get(t, "/.well-known/oauth-authorization-server", "")
	var meta struct {
		GrantTypes []string `json:"grant_types_supported"`
	}
	if err := json.Unmarshal(md.Body, &meta); err != nil || !slices.Contains(meta.GrantTypes, samlGrantType) {
		t.Fatalf("metadata: %s", md)
	}
}
