package grants

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

// TestSAML2Bearer presents assertions, good and bad, to the grant.
func TestSAML2Bearer(t *testing.T) {
	f := newSAMLFixture(t, nil)
	attacker := validIdP(t)

	// signed returns an assertion for nameID, changed by edit before the
	// test IdP signs it.
	signed := func(nameID string, edit func(a *etree.Element)) string {
		a := newAssertion(t, nameID)
		if edit != nil {
			edit(a)
		}
		return f.idp.sign(t, a, signOptions{})
	}
	setAttr := func(path, key, value string) func(a *etree.Element) {
		return func(a *etree.Element) { find(t, a, path).CreateAttr(key, value) }
	}
	const scd = "saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData"

	tests := []struct {
		name      string
		assertion string // encoded; empty means encode(xml)
		xml       string
		client    string        // default "web"
		scope     string        // requested
		at        time.Duration // after samlNow
		user      string        // the token's user if accepted
		scopes    string        // the token's scopes if accepted
		refresh   bool          // a refresh token if accepted
		refused   string        // a substring of the invalid_grant description
		request   bool          // refused with invalid_request instead
	}{
		{name: "valid, user not configured", xml: signed("carol@example.com", nil), scope: "read update",
			user: "carol@example.com", scopes: "read update", refresh: true},
		{name: "a configured user's scopes limit the token", xml: signed("alice", nil), scope: "read update",
			user: "alice", scopes: "read", refresh: true},
		{name: "scopes the client lacks are dropped", xml: signed("carol", nil), scope: "read admin",
			user: "carol", scopes: "read", refresh: true},
		{name: "no scope requested", xml: signed("carol", nil), user: "carol", scopes: "default", refresh: true},
		{name: "client without refresh_token", client: "norefresh", xml: signed("carol", nil), scope: "read",
			user: "carol", scopes: "read"},
		{name: "padded base64url is tolerated", assertion: padded(signed("carol", nil)), user: "carol", scopes: "default", refresh: true},
		{name: "within the clock skew after expiry", xml: signed("carol", nil), at: 5*time.Minute + 30*time.Second,
			user: "carol", scopes: "default", refresh: true},
		{name: "comment in the NameID: the signed value, whole", user: "admin@example.com.evil.net", scopes: "default", refresh: true,
			xml: strings.Replace(signed("admin@example.com.evil.net", nil), "admin@example.com.evil.net", "admin@example.com<!---->.evil.net", 1)},

		{name: "missing", assertion: "-", request: true},
		{name: "oversize", assertion: strings.Repeat("A", maxAssertionLen+1), refused: "larger than 64 KiB"},
		{name: "not base64url", assertion: "PD94bWwg+/+/", refused: "not base64url"},
		{name: "not XML", assertion: encode("<saml:Assertion"), refused: "not an acceptable XML document"},
		{name: "DOCTYPE", xml: `<!DOCTYPE saml:Assertion [<!ENTITY e "x">]>` + signed("carol", nil), refused: "not an acceptable XML document"},
		{name: "UTF-16 declaration", xml: `<?xml version="1.0" encoding="UTF-16"?>` + signed("carol", nil), refused: "not an acceptable XML document"},
		{name: "unknown issuer", refused: "not a trusted IdP",
			xml: signed("carol", func(a *etree.Element) { find(t, a, "saml:Issuer").SetText("https://other.example.com") })},
		{name: "signed by another key", refused: "signature is not valid",
			xml: attacker.sign(t, newAssertion(t, "carol"), signOptions{})},
		{name: "unsigned", xml: xmlString(t, newAssertion(t, "carol")), refused: "not signed as one enveloped signature"},
		{name: "SHA-1", refused: "refused algorithm",
			xml: f.idp.sign(t, newAssertion(t, "carol"), signOptions{sha1: true})},
		{name: "resigned without changes (control)", user: "carol", scopes: "default", refresh: true,
			xml: f.idp.resign(t, signed("carol", nil), func(*etree.Element) {})},
		{name: "SHA-1 digest under a SHA-256 signature", refused: "refused algorithm",
			xml: sha1Digest(t, f.idp, newAssertion(t, "carol"))},
		{name: "reference to the whole document", refused: "does not reference the assertion's ID",
			xml: f.idp.resign(t, signed("carol", nil), func(si *etree.Element) { find(t, si, "ds:Reference").CreateAttr("URI", "") })},
		{name: "two references", refused: "not signed as one enveloped signature",
			xml: f.idp.resign(t, signed("carol", nil), func(si *etree.Element) { si.AddChild(find(t, si, "ds:Reference").Copy()) })},
		{name: "inclusive canonicalization", refused: "refused algorithm",
			xml: f.idp.sign(t, newAssertion(t, "carol"), signOptions{canonicalizer: dsig.MakeC14N11Canonicalizer()})},
		{name: "expired", xml: signed("carol", nil), at: 7 * time.Minute, refused: "expired"},
		{name: "subject confirmation expired, conditions not", at: 7 * time.Minute, refused: "expired",
			xml: signed("carol", setAttr("saml:Conditions", "NotOnOrAfter", samlNow.Add(time.Hour).Format(time.RFC3339)))},
		{name: "conditions expired, subject confirmation not", at: 7 * time.Minute, refused: "expired",
			xml: signed("carol", setAttr(scd, "NotOnOrAfter", samlNow.Add(time.Hour).Format(time.RFC3339)))},
		{name: "not yet valid", refused: "not valid yet",
			xml: signed("carol", setAttr("saml:Conditions", "NotBefore", samlNow.Add(3*time.Minute).Format(time.RFC3339)))},
		{name: "not yet valid, within the clock skew", user: "carol", scopes: "default", refresh: true,
			xml: signed("carol", setAttr("saml:Conditions", "NotBefore", samlNow.Add(30*time.Second).Format(time.RFC3339)))},
		{name: "issued in the future", refused: "issued in the future",
			xml: signed("carol", setAttr(".", "IssueInstant", samlNow.Add(10*time.Minute).Format(time.RFC3339)))},
		{name: "no expiry anywhere", refused: "no valid NotOnOrAfter",
			xml: signed("carol", func(a *etree.Element) {
				find(t, a, "saml:Conditions").RemoveAttr("NotOnOrAfter")
				find(t, a, scd).RemoveAttr("NotOnOrAfter")
			})},
		{name: "wrong audience", refused: "audience is not this server",
			xml: signed("carol", func(a *etree.Element) {
				find(t, a, "saml:Conditions/saml:AudienceRestriction/saml:Audience").SetText("https://other.example.com/token")
			})},
		{name: "a second audience restriction without us", refused: "audience is not this server",
			xml: signed("carol", func(a *etree.Element) {
				r := find(t, a, "saml:Conditions").CreateElement("saml:AudienceRestriction")
				r.CreateElement("saml:Audience").SetText("https://other.example.com/token")
			})},
		{name: "no audience restriction", refused: "no AudienceRestriction",
			xml: signed("carol", func(a *etree.Element) {
				c := find(t, a, "saml:Conditions")
				c.RemoveChild(find(t, c, "saml:AudienceRestriction"))
			})},
		{name: "no conditions", refused: "no single Conditions",
			xml: signed("carol", func(a *etree.Element) { a.RemoveChild(find(t, a, "saml:Conditions")) })},
		{name: "wrong recipient", refused: "Recipient is not this server",
			xml: signed("carol", setAttr(scd, "Recipient", "https://other.example.com/token"))},
		{name: "no recipient", refused: "Recipient is not this server",
			xml: signed("carol", func(a *etree.Element) { find(t, a, scd).RemoveAttr("Recipient") })},
		{name: "NotBefore on the bearer confirmation", refused: "must not have NotBefore",
			xml: signed("carol", setAttr(scd, "NotBefore", samlNow.Add(-time.Minute).Format(time.RFC3339)))},
		{name: "no bearer confirmation", refused: "no bearer SubjectConfirmation",
			xml: signed("carol", setAttr("saml:Subject/saml:SubjectConfirmation", "Method", "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"))},
		{name: "empty NameID", refused: "no usable NameID", xml: signed("", nil)},
		{name: "version 1.1", refused: "not SAML version 2.0", xml: signed("carol", setAttr(".", "Version", "1.1"))},
		{name: "root is not an Assertion", refused: "not a SAML 2.0 Assertion",
			xml: `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">` + signed("carol", nil) + `</samlp:Response>`},
		{name: "unknown condition", refused: "condition this server does not understand",
			xml: signed("carol", func(a *etree.Element) { find(t, a, "saml:Conditions").CreateElement("saml:Condition") })},

		// Signature wrapping and tampering.
		{name: "Subject changed after signing", refused: "signature is not valid",
			xml: strings.Replace(signed("carol", nil), ">carol<", ">admin<", 1)},
		{name: "unsigned Assertion wrapping the signed one in Advice", refused: "not signed as one enveloped signature",
			xml: wrapInAdvice(t, newAssertion(t, "admin"), signed("carol", nil), false)},
		{name: "unsigned Assertion with the signed one's ID wrapping it in Advice", refused: "not signed as one enveloped signature",
			xml: wrapInAdvice(t, newAssertion(t, "admin"), signed("carol", nil), true)},
		{name: "signature moved to an unsigned Assertion with its ID", refused: "signature is not valid",
			xml: moveSignature(t, newAssertion(t, "admin"), signed("carol", nil))},
		{name: "unsigned Assertion inside the signed one's Advice", refused: "signature is not valid",
			xml: adviceInside(t, signed("carol", nil), newAssertion(t, "admin"))},
		{name: "second root Assertion after the signed one", refused: "not an acceptable XML document",
			xml: signed("carol", nil) + xmlString(t, newAssertion(t, "admin"))},
		{name: "unsigned root Assertion before the signed one", refused: "not an acceptable XML document",
			xml: xmlString(t, newAssertion(t, "admin")) + signed("carol", nil)},
		{name: "signed Assertion in the Extensions of a Response", refused: "not a SAML 2.0 Assertion",
			xml: `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><samlp:Extensions>` + signed("carol", nil) + `</samlp:Extensions></samlp:Response>`},
		{name: "prefixed ID attribute added", refused: "no valid ID",
			xml: strings.Replace(signed("carol", nil), `<saml:Assertion `, `<saml:Assertion xmlns:x="urn:x" x:ID="_evil" `, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertion := tt.assertion
			switch assertion {
			case "":
				assertion = encode(tt.xml)
			case "-":
				assertion = ""
			}
			client := tt.client
			if client == "" {
				client = "web"
			}
			auth, err := f.authorize(client, assertion, tt.scope, samlNow.Add(tt.at))
			switch {
			case tt.request:
				wantProtocolError(t, err, caddyoauth.CodeInvalidRequest, "")
			case tt.refused != "":
				wantProtocolError(t, err, caddyoauth.CodeInvalidGrant, tt.refused)
			case err != nil:
				t.Fatalf("refused: %v", err)
			default:
				if auth.UserID != tt.user || strings.Join(auth.Scopes, " ") != tt.scopes || auth.RefreshToken != tt.refresh {
					t.Fatalf("authorization = user %q scopes %q refresh %v; want %q %q %v",
						auth.UserID, auth.Scopes, auth.RefreshToken, tt.user, tt.scopes, tt.refresh)
				}
			}
		})
	}
}

// wantProtocolError checks that err is an OAuth error with the code and a
// description containing desc.
func wantProtocolError(t *testing.T, err error, code, desc string) {
	t.Helper()
	var e *caddyoauth.Error
	if !errors.As(err, &e) {
		t.Fatalf("want %s (%q), got %v", code, desc, err)
	}
	if e.Code != code || !strings.Contains(e.Description, desc) {
		t.Fatalf("want %s (%q), got %s (%q)", code, desc, e.Code, e.Description)
	}
}

// padded encodes xml as base64url with padding, adding a trailing newline
// if needed so that there is padding.
func padded(xml string) string {
	if len(xml)%3 == 0 {
		xml += "\n"
	}
	return strings.ReplaceAll(strings.ReplaceAll(encodeStd(xml), "+", "-"), "/", "_")
}

// sha1Digest signs a with rsa-sha256 over a SHA-1 digest of it.
func sha1Digest(t *testing.T, idp *testIdP, a *etree.Element) string {
	t.Helper()
	canonical, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(a)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(canonical)
	return idp.resign(t, idp.sign(t, a, signOptions{}), func(si *etree.Element) {
		find(t, si, "ds:Reference/ds:DigestMethod").CreateAttr("Algorithm", "http://www.w3.org/2000/09/xmldsig#sha1")
		find(t, si, "ds:Reference/ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(sum[:]))
	})
}

// wrapInAdvice puts the signed assertion into the Advice of an unsigned
// one (XSW), with the signed one's ID if sameID.
func wrapInAdvice(t *testing.T, evil *etree.Element, signedXML string, sameID bool) string {
	t.Helper()
	signed := parseXML(t, signedXML)
	if sameID {
		evil.CreateAttr("ID", signed.SelectAttrValue("ID", ""))
	}
	evil.CreateElement("saml:Advice").AddChild(signed)
	return xmlString(t, evil)
}

// moveSignature gives an unsigned assertion the ID and the Signature of a
// signed one, and keeps the signed content in its Advice (XSW).
func moveSignature(t *testing.T, evil *etree.Element, signedXML string) string {
	t.Helper()
	signed := parseXML(t, signedXML)
	sig := find(t, signed, "ds:Signature")
	signed.RemoveChild(sig)
	evil.CreateAttr("ID", signed.SelectAttrValue("ID", ""))
	evil.InsertChildAt(find(t, evil, "saml:Issuer").Index()+1, sig)
	evil.CreateElement("saml:Advice").AddChild(signed)
	return xmlString(t, evil)
}

// adviceInside adds an unsigned assertion to the Advice of a signed one.
func adviceInside(t *testing.T, signedXML string, evil *etree.Element) string {
	t.Helper()
	signed := parseXML(t, signedXML)
	signed.CreateElement("saml:Advice").AddChild(evil)
	return xmlString(t, signed)
}

// TestSAML2BearerToken issues the token of an accepted assertion and
// checks what the gate sees.
func TestSAML2BearerToken(t *testing.T) {
	f := newSAMLFixture(t, nil)
	assertion := encode(f.idp.sign(t, newAssertion(t, "alice"), signOptions{}))
	auth, err := f.authorize("web", assertion, "read update", time.Now())
	if err == nil {
		t.Fatal("an assertion valid at samlNow was accepted at the real time")
	}
	auth, err = f.authorize("web", assertion, "read update", samlNow)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tokens, err := f.app.Issue(ctx, f.app.Client("web"), SAML2BearerType, auth)
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := f.app.Validate(ctx, tokens.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if v.UserID != "alice" || v.ClientID != "web" || v.Scope != "read" || tokens.RefreshToken == "" {
		t.Fatalf("token for %q, client %q, scope %q, refresh %v", v.UserID, v.ClientID, v.Scope, tokens.RefreshToken != "")
	}
}

// TestSAML2BearerReplay presents one assertion twice, then twenty times at
// once: exactly one use wins.
func TestSAML2BearerReplay(t *testing.T) {
	f := newSAMLFixture(t, nil)
	assertion := encode(f.idp.sign(t, newAssertion(t, "carol"), signOptions{}))
	if _, err := f.authorize("web", assertion, "", samlNow); err != nil {
		t.Fatal(err)
	}
	_, err := f.authorize("web", assertion, "", samlNow.Add(time.Second))
	wantProtocolError(t, err, caddyoauth.CodeInvalidGrant, "already been used")
	_, err = f.authorize("norefresh", assertion, "", samlNow.Add(time.Second))
	wantProtocolError(t, err, caddyoauth.CodeInvalidGrant, "already been used")

	const n = 20
	assertion = encode(f.idp.sign(t, newAssertion(t, "dave"), signOptions{}))
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = f.authorize("web", assertion, "", samlNow) })
	}
	wg.Wait()
	winners := 0
	for _, err := range errs {
		if err == nil {
			winners++
			continue
		}
		wantProtocolError(t, err, caddyoauth.CodeInvalidGrant, "already been used")
	}
	if winners != 1 {
		t.Fatalf("%d of %d concurrent uses won, want 1", winners, n)
	}
}

// TestSAML2BearerUsedIDRecord checks what the store keeps of a used
// assertion: a single-use record under a hash, kept until the assertion
// is dead, holding nothing of the assertion.
func TestSAML2BearerUsedIDRecord(t *testing.T) {
	f := newSAMLFixture(t, nil)
	a := newAssertion(t, "carol")
	id := a.SelectAttrValue("ID", "")
	if _, err := f.authorize("web", encode(f.idp.sign(t, a, signOptions{})), "", samlNow); err != nil {
		t.Fatal(err)
	}
	rec, err := f.app.Store().GetToken(context.Background(), assertionKey(testEntityID, id))
	if err != nil {
		t.Fatal(err)
	}
	wantExpiry := samlNow.Add(5*time.Minute + DefaultSAMLClockSkew)
	if rec.Kind != caddyoauth.KindOnce || !rec.ExpiresAt.Equal(wantExpiry) || rec.UserID != "" || !caddyoauth.IsTokenHash(rec.Hash) {
		t.Fatalf("record %+v; want kind once, expiring at %v", rec, wantExpiry)
	}
	// The same ID from another issuer is another assertion.
	if assertionKey(testEntityID, id) == assertionKey("https://other.example.com", id) {
		t.Fatal("assertion keys do not depend on the issuer")
	}
}

// TestSAML2BearerStoreFault checks that a store that cannot record the ID
// fails the request as a server fault, never as a success.
func TestSAML2BearerStoreFault(t *testing.T) {
	f := newSAMLFixture(t, nil)
	f.app = newSAMLApp(t, `{"backend":"saml_test_failing"}`)
	_, err := f.authorize("web", encode(f.idp.sign(t, newAssertion(t, "carol"), signOptions{})), "", samlNow)
	var e *caddyoauth.Error
	if err == nil || errors.As(err, &e) || !errors.Is(err, errStoreDown) {
		t.Fatalf("want the store's error, got %v", err)
	}
}
