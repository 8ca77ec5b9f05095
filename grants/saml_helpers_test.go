package grants

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"text/template"
	"time"

	"github.com/beevik/etree"
	"github.com/caddyserver/caddy/v2"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/internal/apptest"
	"github.com/caddy-oauth/caddy-oauth/internal/samltest"
	"github.com/caddy-oauth/caddy-oauth/storage/memory"
)

// The test IdP, and this server as its audience.
const (
	testEntityID = "https://idp.example.com/saml"
	testAudience = "https://auth.example.com/token"
)

// samlNow is the time of the test requests.
var samlNow = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// testIdP is an identity provider's signing key and self-signed
// certificate, made for the test.
type testIdP struct{ *samltest.IdP }

// newTestIdP makes a key and a certificate valid from notBefore to notAfter.
func newTestIdP(t testing.TB, notBefore, notAfter time.Time) *testIdP {
	return &testIdP{samltest.NewIdP(t, notBefore, notAfter)}
}

// validIdP makes a test IdP whose certificate is valid around samlNow and
// around the real time of the test run.
func validIdP(t testing.TB) *testIdP {
	return newTestIdP(t, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC))
}

// assertionTemplate is a bearer assertion as an IdP issues it for RFC 7522.
var assertionTemplate = template.Must(template.New("assertion").Parse(`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{{.ID}}" Version="2.0" IssueInstant="{{.Instant}}">
	<saml:Issuer>{{.Issuer}}</saml:Issuer>
	<saml:Subject>
		<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">{{.NameID}}</saml:NameID>
		<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
			<saml:SubjectConfirmationData NotOnOrAfter="{{.End}}" Recipient="{{.Audience}}"/>
		</saml:SubjectConfirmation>
	</saml:Subject>
	<saml:Conditions NotBefore="{{.Start}}" NotOnOrAfter="{{.End}}">
		<saml:AudienceRestriction>
			<saml:Audience>{{.Audience}}</saml:Audience>
		</saml:AudienceRestriction>
	</saml:Conditions>
	<saml:AuthnStatement AuthnInstant="{{.Instant}}">
		<saml:AuthnContext>
			<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>
		</saml:AuthnContext>
	</saml:AuthnStatement>
</saml:Assertion>`))

var assertionCounter atomic.Int64

// newAssertion returns an unsigned assertion for nameID, issued at
// samlNow by the test IdP, valid for five minutes, with a fresh ID.
func newAssertion(t testing.TB, nameID string) *etree.Element {
	t.Helper()
	var b strings.Builder
	err := assertionTemplate.Execute(&b, map[string]string{
		"ID":       fmt.Sprintf("_a%d", assertionCounter.Add(1)),
		"Instant":  samlNow.Format(time.RFC3339),
		"Start":    samlNow.Add(-time.Minute).Format(time.RFC3339),
		"End":      samlNow.Add(5 * time.Minute).Format(time.RFC3339),
		"Issuer":   testEntityID,
		"NameID":   nameID,
		"Audience": testAudience,
	})
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(b.String()); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

// find returns the element at an etree path below el, failing the test if
// there is none.
func find(t testing.TB, el *etree.Element, path string) *etree.Element {
	t.Helper()
	found := el.FindElement(path)
	if found == nil {
		t.Fatalf("no element %s", path)
	}
	return found
}

// signOptions changes how an assertion is signed.
type signOptions struct {
	// sha1 signs with rsa-sha1 and a sha1 digest.
	sha1 bool
	// canonicalizer replaces exclusive canonicalization.
	canonicalizer dsig.Canonicalizer
}

// sign signs el with an enveloped signature placed after the Issuer, as
// SAML places it, and returns the document as XML.
func (p *testIdP) sign(t testing.TB, el *etree.Element, opts signOptions) string {
	t.Helper()
	ctx, err := dsig.NewSigningContext(p.Key, [][]byte{p.Cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	ctx.Hash = crypto.SHA256
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if opts.canonicalizer != nil {
		ctx.Canonicalizer = opts.canonicalizer
	}
	if opts.sha1 {
		if err := ctx.SetSignatureMethod(dsig.RSASHA1SignatureMethod); err != nil {
			t.Fatal(err)
		}
	}
	sig, err := ctx.ConstructSignature(el, true)
	if err != nil {
		t.Fatal(err)
	}
	signed := el.Copy()
	issuer := find(t, signed, "saml:Issuer")
	signed.InsertChildAt(issuer.Index()+1, sig)
	return xmlString(t, signed)
}

// resign changes the SignedInfo of a signed assertion with edit, then
// signs the changed SignedInfo again with rsa-sha256, as goxmldsig
// canonicalizes it: the signature is valid, whatever edit did.
func (p *testIdP) resign(t testing.TB, signedXML string, edit func(signedInfo *etree.Element)) string {
	t.Helper()
	root := parseXML(t, signedXML)
	sig := find(t, root, "ds:Signature")
	si := find(t, sig, "ds:SignedInfo")
	edit(si)
	find(t, si, "ds:SignatureMethod").CreateAttr("Algorithm", dsig.RSASHA256SignatureMethod)
	nsCtx, err := etreeutils.NSBuildParentContext(si)
	if err != nil {
		t.Fatal(err)
	}
	detached, err := etreeutils.NSDetatch(nsCtx, si)
	if err != nil {
		t.Fatal(err)
	}
	canonical, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(detached)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(canonical)
	value, err := rsa.SignPKCS1v15(rand.Reader, p.Key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	find(t, sig, "ds:SignatureValue").SetText(base64.StdEncoding.EncodeToString(value))
	return xmlString(t, root)
}

// xmlString serializes el as a document.
func xmlString(t testing.TB, el *etree.Element) string {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// parseXML parses a test document and returns its root.
func parseXML(t testing.TB, s string) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

// encode encodes an assertion as the assertion parameter (RFC 7522 §2.1).
func encode(xml string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(xml))
}

// samlFixture is an app on the memory store and a provisioned
// saml2_bearer grant that trusts one test IdP.
type samlFixture struct {
	app   *caddyoauth.App
	grant *SAML2Bearer
	idp   *testIdP
}

// newSAMLFixture provisions an app with client "web" (scopes default, read,
// update; allowed refresh tokens), client "norefresh", and user "alice"
// (scope read), and a grant trusting idp, or a fresh valid IdP if nil.
func newSAMLFixture(t testing.TB, idp *testIdP) *samlFixture {
	t.Helper()
	if idp == nil {
		idp = validIdP(t)
	}
	grant := &SAML2Bearer{IdPs: []*SAMLIdP{{EntityID: testEntityID, Certificate: idp.PEMFile(t), Audience: testAudience}}}
	return &samlFixture{app: newSAMLApp(t, `{"backend":"memory"}`), grant: provisionGrant(t, grant), idp: idp}
}

// newSAMLApp provisions an app on the given storage module config.
func newSAMLApp(t testing.TB, storage string) *caddyoauth.App {
	t.Helper()
	app := &caddyoauth.App{
		StorageRaw: json.RawMessage(storage),
		Clients: []*caddyoauth.Client{
			{ID: "web", Secret: "web-secret", GrantTypes: []string{SAML2BearerType, RefreshTokenType}, Scopes: []string{"default", "read", "update"}},
			{ID: "norefresh", Secret: "secret", GrantTypes: []string{SAML2BearerType}, Scopes: []string{"read"}},
		},
		Users: []*caddyoauth.User{{Name: "alice", PasswordHash: apptest.PasswordHash(t, "alice-pw"), Scopes: []string{"read"}}},
	}
	if err := apptest.Provision(t, app); err != nil {
		t.Fatal(err)
	}
	return app
}

// provisionGrant provisions a grant as Caddy does.
func provisionGrant(t testing.TB, g *SAML2Bearer) *SAML2Bearer {
	t.Helper()
	if err := g.Provision(apptest.Context(t)); err != nil {
		t.Fatal(err)
	}
	return g
}

// authorize presents an encoded assertion for client at time now.
func (f *samlFixture) authorize(client, assertion, scope string, now time.Time) (*caddyoauth.Authorization, error) {
	return f.grant.Authorize(context.Background(), &caddyoauth.TokenRequest{
		Client: f.app.Client(client),
		Form:   url.Values{"grant_type": {SAML2BearerType}, "assertion": {assertion}},
		Scopes: caddyoauth.ParseScope(scope),
		Now:    now,
		Server: f.app,
	})
}

// encodeStd encodes with the standard base64 alphabet and padding.
func encodeStd(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// errStoreDown is the error of failingStore.
var errStoreDown = errors.New("store unreachable")

// failingStore is a memory store whose writes fail, as a store that
// cannot be reached does.
type failingStore struct{ *memory.Store }

func init() { caddy.RegisterModule(new(failingStore)) }

func (*failingStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oauth.storage.saml_test_failing",
		New: func() caddy.Module { return &failingStore{memory.New()} },
	}
}

func (*failingStore) SaveTokens(context.Context, ...*caddyoauth.TokenRecord) error {
	return errStoreDown
}
