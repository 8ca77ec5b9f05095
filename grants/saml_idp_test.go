package grants

import (
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-oauth/caddy-oauth/internal/apptest"
)

// writeFile writes a file in a fresh temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// metadataXML is the metadata of the test IdP with a KeyDescriptor per
// use and certificate given.
func metadataXML(entityID string, keys map[string]*testIdP) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="%s">`, entityID)
	b.WriteString(`<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">`)
	for use, idp := range keys {
		attr := ""
		if use != "" {
			attr = fmt.Sprintf(` use="%s"`, use)
		}
		// Wrapped as IdPs write it, on several lines.
		der := base64.StdEncoding.EncodeToString(idp.Cert.Raw)
		fmt.Fprintf(&b, "<md:KeyDescriptor%s><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\n%s\n%s\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
			attr, der[:64], der[64:])
	}
	b.WriteString(`</md:IDPSSODescriptor></md:EntityDescriptor>`)
	return b.String()
}

// idpField is how load errors name the test IdP and a field.
func idpField(field string) string {
	return `saml idp "` + testEntityID + `": ` + field + ": "
}

// TestSAMLIdPConfig checks that every mistake in an IdP's configuration
// fails the load with a message that names the IdP and the field.
func TestSAMLIdPConfig(t *testing.T) {
	idp := validIdP(t)
	cert := idp.PEMFile(t)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not really a key")}))
	tests := []struct {
		name string
		idp  SAMLIdP
		want []string // substrings of the error; none: loads
	}{
		{"certificate", SAMLIdP{EntityID: testEntityID, Certificate: cert, Audience: testAudience}, nil},
		{"placeholders", SAMLIdP{EntityID: "{env.SAML_TEST_ENTITY}", Certificate: "{env.SAML_TEST_CERT}", Audience: testAudience}, nil},
		{"no entity_id", SAMLIdP{Certificate: cert, Audience: testAudience}, []string{"saml idp with empty entity_id"}},
		{"no audience", SAMLIdP{EntityID: testEntityID, Certificate: cert},
			[]string{`saml idp "https://idp.example.com/saml": audience: missing`}},
		{"no certificate or metadata", SAMLIdP{EntityID: testEntityID, Audience: testAudience},
			[]string{`saml idp "https://idp.example.com/saml": certificate: missing`}},
		{"both certificate and metadata", SAMLIdP{EntityID: testEntityID, Certificate: cert, Metadata: cert, Audience: testAudience},
			[]string{`saml idp "https://idp.example.com/saml": certificate: give either certificate or metadata, not both`}},
		{"certificate file missing", SAMLIdP{EntityID: testEntityID, Certificate: "/nonexistent/idp.pem", Audience: testAudience},
			[]string{`saml idp "https://idp.example.com/saml": certificate: open /nonexistent/idp.pem`}},
		{"certificate not PEM", SAMLIdP{EntityID: testEntityID, Certificate: writeFile(t, "idp.pem", "hello"), Audience: testAudience},
			[]string{idpField("certificate"), "/idp.pem holds no PEM data"}},
		{"private key instead of certificate", SAMLIdP{EntityID: testEntityID, Certificate: writeFile(t, "idp.pem", keyPEM), Audience: testAudience},
			[]string{idpField("certificate"), `/idp.pem: unexpected PEM block "PRIVATE KEY"`}},
		{"broken certificate", SAMLIdP{EntityID: testEntityID, Audience: testAudience,
			Certificate: writeFile(t, "idp.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})))},
			[]string{idpField("certificate"), "/idp.pem: certificate 1:"}},
		{"clock_skew too large", SAMLIdP{EntityID: testEntityID, Certificate: cert, Audience: testAudience, ClockSkew: caddy.Duration(time.Hour)},
			[]string{`saml idp "https://idp.example.com/saml": clock_skew: 1h0m0s is not between 0 and the maximum of 10m0s`}},
		{"metadata missing", SAMLIdP{EntityID: testEntityID, Metadata: "/nonexistent/md.xml", Audience: testAudience},
			[]string{`saml idp "https://idp.example.com/saml": metadata: open /nonexistent/md.xml`}},
		{"metadata of another entity", SAMLIdP{EntityID: testEntityID, Audience: testAudience,
			Metadata: writeFile(t, "md.xml", metadataXML("https://other.example.com", map[string]*testIdP{"signing": idp}))},
			[]string{idpField("metadata"), `/md.xml: the metadata describes entity "https://other.example.com", not "https://idp.example.com/saml"`}},
		{"metadata without a signing key", SAMLIdP{EntityID: testEntityID, Audience: testAudience,
			Metadata: writeFile(t, "md.xml", metadataXML(testEntityID, map[string]*testIdP{"encryption": idp}))},
			[]string{idpField("metadata"), `/md.xml: the IDPSSODescriptor has no X509Certificate`}},
		{"metadata with a DOCTYPE", SAMLIdP{EntityID: testEntityID, Audience: testAudience,
			Metadata: writeFile(t, "md.xml", "<!DOCTYPE md>"+metadataXML(testEntityID, map[string]*testIdP{"signing": idp}))},
			[]string{idpField("metadata"), "DOCTYPE and ENTITY declarations are not allowed"}},
		{"metadata not XML", SAMLIdP{EntityID: testEntityID, Audience: testAudience, Metadata: cert}, []string{idpField("metadata"), "text outside the root element"}},
	}
	t.Setenv("SAML_TEST_ENTITY", testEntityID)
	t.Setenv("SAML_TEST_CERT", cert)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.idp
			err := cfg.provision(caddy.NewReplacer(), zap.NewNop(), time.Now())
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("load failed: %v", err)
			case tt.want == nil:
				if cfg.EntityID != testEntityID || len(cfg.certs) != 1 || time.Duration(cfg.ClockSkew) != DefaultSAMLClockSkew {
					t.Fatalf("loaded %q with %d certificates and clock skew %v", cfg.EntityID, len(cfg.certs), time.Duration(cfg.ClockSkew))
				}
			case err == nil:
				t.Fatalf("loaded; want an error containing %q", tt.want)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

// TestSAMLIdPDefinedTwice checks that two IdPs with one entity ID fail.
func TestSAMLIdPDefinedTwice(t *testing.T) {
	cert := validIdP(t).PEMFile(t)
	g := &SAML2Bearer{IdPs: []*SAMLIdP{
		{EntityID: testEntityID, Certificate: cert, Audience: testAudience},
		{EntityID: testEntityID, Certificate: cert, Audience: "https://b.example.com/token"},
	}}
	err := g.Provision(apptest.Context(t))
	if err == nil || !strings.Contains(err.Error(), `saml idp "https://idp.example.com/saml": defined twice`) {
		t.Fatalf("Provision = %v", err)
	}
}

// TestSAMLMetadata loads an IdP from metadata holding its current and
// next signing keys and an encryption key: assertions signed by either
// signing key are accepted, those signed by the encryption key are not.
func TestSAMLMetadata(t *testing.T) {
	current, next, encryption := validIdP(t), validIdP(t), validIdP(t)
	md := metadataXML(testEntityID, map[string]*testIdP{"signing": current, "": next, "encryption": encryption})
	for _, doc := range []struct{ name, xml string }{
		{"EntityDescriptor", md},
		{"EntitiesDescriptor", `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">` +
			metadataXML("https://other.example.com", map[string]*testIdP{"signing": encryption}) +
			`<md:EntitiesDescriptor>` + md + `</md:EntitiesDescriptor></md:EntitiesDescriptor>`},
	} {
		t.Run(doc.name, func(t *testing.T) {
			f := newSAMLFixture(t, current)
			f.grant = provisionGrant(t, &SAML2Bearer{IdPs: []*SAMLIdP{{
				EntityID: testEntityID, Metadata: writeFile(t, "md.xml", doc.xml), Audience: testAudience,
			}}})
			if n := len(f.grant.idps[testEntityID].certs); n != 2 {
				t.Fatalf("%d certificates loaded, want 2", n)
			}
			for _, signer := range []*testIdP{current, next} {
				if _, err := f.authorize("web", encode(signer.sign(t, newAssertion(t, "carol"), signOptions{})), "", samlNow); err != nil {
					t.Fatalf("assertion signed by a signing key: %v", err)
				}
			}
			_, err := f.authorize("web", encode(encryption.sign(t, newAssertion(t, "carol"), signOptions{})), "", samlNow)
			wantProtocolError(t, err, "invalid_grant", "signature is not valid")
		})
	}
}

// TestSAMLExpiredCertificate checks that an expired certificate loads
// with a warning (IdPs rotate late) and verifies nothing while expired.
func TestSAMLExpiredCertificate(t *testing.T) {
	expired := newTestIdP(t, samlNow.Add(-48*time.Hour), samlNow.Add(-time.Hour))
	core, logs := observer.New(zapcore.WarnLevel)
	cfg := &SAMLIdP{EntityID: testEntityID, Certificate: expired.PEMFile(t), Audience: testAudience}
	if err := cfg.provision(caddy.NewReplacer(), zap.New(core), samlNow); err != nil {
		t.Fatalf("an expired certificate failed the load: %v", err)
	}
	if logs.FilterField(zap.String("entity_id", testEntityID)).Len() != 1 {
		t.Fatalf("no warning about the expired certificate: %v", logs.All())
	}
	f := newSAMLFixture(t, expired)
	_, err := f.authorize("web", encode(expired.sign(t, newAssertion(t, "carol"), signOptions{})), "", samlNow)
	wantProtocolError(t, err, "invalid_grant", "signature is not valid")
}
