package grants

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/beevik/etree"
)

// SAML 2.0 identifiers the checks of an assertion use.
const (
	samlBearerMethod = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	samlEntityFormat = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
)

// maxNameIDLen bounds the NameID that becomes a token's user.
const maxNameIDLen = 1024

// samlAssertion is what a verified assertion says.
type samlAssertion struct {
	// Issuer is the entity ID of the IdP that issued and signed it.
	Issuer string
	// ID is the assertion's ID, used once.
	ID string
	// NameID is the subject: the token's user.
	NameID string
	// Expires is when the assertion can no longer be used, clock skew
	// included; its ID must be remembered until then.
	Expires time.Time
}

// unverifiedIssuer returns the Issuer of an assertion that is not verified
// yet. It only selects the IdP whose certificates verify the signature;
// the verified assertion's Issuer is checked again.
func unverifiedIssuer(root *etree.Element) (string, error) {
	if !isElement(root, samlAssertionNS, "Assertion") {
		return "", refuse("root", "the assertion's root element is not a SAML 2.0 Assertion", fmt.Errorf("root element %s", clip(root.FullTag())))
	}
	issuer, err := oneChild(root, samlAssertionNS, "Issuer")
	if err != nil {
		return "", refuse("issuer", "the assertion has no single Issuer", err)
	}
	text, err := textOf(issuer)
	if err != nil {
		return "", refuse("issuer", "the assertion has no single Issuer", err)
	}
	return strings.TrimSpace(text), nil
}

// checkAssertion checks a verified assertion (RFC 7522 §3, SAML core §2)
// issued by idp, whose signature referenced id, at time now.
func checkAssertion(el *etree.Element, idp *SAMLIdP, id string, now time.Time) (*samlAssertion, error) {
	skew := time.Duration(idp.ClockSkew)
	if !isElement(el, samlAssertionNS, "Assertion") {
		return nil, refuse("root", "the assertion's root element is not a SAML 2.0 Assertion", errors.New("the signed element is not an Assertion"))
	}
	if got, _ := attr(el, "ID"); got != id {
		return nil, refuse("id", "the assertion has no valid ID", errors.New("the signed element's ID differs from the reference"))
	}
	if v, _ := attr(el, "Version"); v != "2.0" {
		return nil, refuse("version", "the assertion is not SAML version 2.0", fmt.Errorf("version %q", clip(v)))
	}
	instant, err := timeAttr(el, "IssueInstant", true)
	if err != nil {
		return nil, refuse("issue_instant", "the assertion's IssueInstant is missing or malformed", err)
	}
	if instant.After(now.Add(skew)) {
		return nil, refuse("issue_instant", "the assertion is issued in the future", nil)
	}
	if err := checkIssuer(el, idp.EntityID); err != nil {
		return nil, err
	}
	a := &samlAssertion{Issuer: idp.EntityID, ID: id}
	subject, err := oneChild(el, samlAssertionNS, "Subject")
	if err != nil {
		return nil, refuse("subject", "the assertion has no single Subject", err)
	}
	if a.NameID, err = nameID(subject); err != nil {
		return nil, err
	}
	if a.Expires, err = checkBearer(subject, idp.Audience, now, skew); err != nil {
		return nil, err
	}
	conditionsEnd, err := checkConditions(el, idp.Audience, now, skew)
	if err != nil {
		return nil, err
	}
	if !conditionsEnd.IsZero() && conditionsEnd.Before(a.Expires) {
		a.Expires = conditionsEnd
	}
	a.Expires = a.Expires.Add(skew)
	return a, nil
}

// checkIssuer checks that the verified Issuer is the IdP's entity ID.
func checkIssuer(el *etree.Element, entityID string) error {
	issuer, err := oneChild(el, samlAssertionNS, "Issuer")
	if err != nil {
		return refuse("issuer", "the assertion has no single Issuer", err)
	}
	if f, ok := attr(issuer, "Format"); ok && f != samlEntityFormat {
		return refuse("issuer", "the assertion's Issuer is not an entity ID", fmt.Errorf("format %q", clip(f)))
	}
	text, err := textOf(issuer)
	if err != nil || strings.TrimSpace(text) != entityID {
		return refuse("issuer", "the assertion's Issuer is not the IdP that signed it", err)
	}
	return nil
}

// nameID returns the subject's NameID: it must be there (not a BaseID or
// an EncryptedID), without control characters, and not too long.
func nameID(subject *etree.Element) (string, error) {
	invalid := func(err error) (string, error) {
		return "", refuse("name_id", "the assertion's Subject has no usable NameID", err)
	}
	n, err := oneChild(subject, samlAssertionNS, "NameID")
	if err != nil {
		return invalid(err)
	}
	text, err := textOf(n)
	if err != nil {
		return invalid(err)
	}
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return invalid(errors.New("empty NameID"))
	case len(text) > maxNameIDLen:
		return invalid(fmt.Errorf("NameID longer than %d bytes", maxNameIDLen))
	case strings.ContainsFunc(text, unicode.IsControl):
		return invalid(errors.New("control character in NameID"))
	}
	return text, nil
}

// checkBearer finds a bearer SubjectConfirmation whose data has the
// audience as Recipient, no NotBefore and a NotOnOrAfter that has not
// passed (SAML profiles §4.1.4.2, RFC 7522 §3). It returns the latest
// NotOnOrAfter of those that qualify.
func checkBearer(subject *etree.Element, audience string, now time.Time, skew time.Duration) (time.Time, error) {
	var end time.Time
	var reason error
	for _, sc := range children(subject, samlAssertionNS, "SubjectConfirmation") {
		if m, _ := attr(sc, "Method"); m != samlBearerMethod {
			continue
		}
		notOnOrAfter, err := checkConfirmationData(sc, audience, now, skew)
		if err != nil {
			if reason == nil {
				reason = err
			}
			continue
		}
		if notOnOrAfter.After(end) {
			end = notOnOrAfter
		}
	}
	switch {
	case !end.IsZero():
		return end, nil
	case reason != nil:
		return time.Time{}, reason
	}
	return time.Time{}, refuse("subject_confirmation", "the assertion has no bearer SubjectConfirmation", nil)
}

// checkConfirmationData checks the SubjectConfirmationData of one bearer
// SubjectConfirmation and returns its NotOnOrAfter.
func checkConfirmationData(sc *etree.Element, audience string, now time.Time, skew time.Duration) (time.Time, error) {
	data, err := oneChild(sc, samlAssertionNS, "SubjectConfirmationData")
	if err != nil {
		return time.Time{}, refuse("subject_confirmation", "the bearer SubjectConfirmation has no single SubjectConfirmationData", err)
	}
	if r, _ := attr(data, "Recipient"); r != audience {
		return time.Time{}, refuse("recipient", "the assertion's Recipient is not this server", nil)
	}
	if _, ok := attr(data, "NotBefore"); ok {
		return time.Time{}, refuse("subject_confirmation", "a bearer SubjectConfirmationData must not have NotBefore", nil)
	}
	end, err := timeAttr(data, "NotOnOrAfter", true)
	if err != nil {
		return time.Time{}, refuse("expiry", "the bearer SubjectConfirmationData has no valid NotOnOrAfter", err)
	}
	if !now.Add(-skew).Before(end) {
		return time.Time{}, refuse("expiry", "the assertion has expired", nil)
	}
	return end, nil
}

// checkConditions checks the Conditions: their time window and that every
// AudienceRestriction (there must be one) names the audience. It returns
// their NotOnOrAfter, zero if none.
func checkConditions(el *etree.Element, audience string, now time.Time, skew time.Duration) (time.Time, error) {
	cond, err := oneChild(el, samlAssertionNS, "Conditions")
	if err != nil {
		return time.Time{}, refuse("conditions", "the assertion has no single Conditions", err)
	}
	notBefore, err := timeAttr(cond, "NotBefore", false)
	if err != nil {
		return time.Time{}, refuse("conditions", "the assertion's Conditions have a malformed NotBefore", err)
	}
	if !notBefore.IsZero() && now.Add(skew).Before(notBefore) {
		return time.Time{}, refuse("not_before", "the assertion is not valid yet", nil)
	}
	end, err := timeAttr(cond, "NotOnOrAfter", false)
	if err != nil {
		return time.Time{}, refuse("conditions", "the assertion's Conditions have a malformed NotOnOrAfter", err)
	}
	if !end.IsZero() && !now.Add(-skew).Before(end) {
		return time.Time{}, refuse("expiry", "the assertion has expired", nil)
	}
	restrictions := 0
	for c := range cond.ChildElementsSeq() {
		switch {
		case isElement(c, samlAssertionNS, "AudienceRestriction"):
			restrictions++
			if !hasAudience(c, audience) {
				return time.Time{}, refuse("audience", "the assertion's audience is not this server", nil)
			}
		case isElement(c, samlAssertionNS, "OneTimeUse"), isElement(c, samlAssertionNS, "ProxyRestriction"):
			// Every assertion is used once; a proxy restriction limits
			// assertions the server would issue, and it issues none.
		default:
			return time.Time{}, refuse("conditions", "the assertion has a condition this server does not understand", fmt.Errorf("condition %s", clip(c.Tag)))
		}
	}
	if restrictions == 0 {
		return time.Time{}, refuse("audience", "the assertion has no AudienceRestriction", nil)
	}
	return end, nil
}

// hasAudience reports whether an AudienceRestriction names audience.
func hasAudience(restriction *etree.Element, audience string) bool {
	for _, a := range children(restriction, samlAssertionNS, "Audience") {
		if text, err := textOf(a); err == nil && strings.TrimSpace(text) == audience {
			return true
		}
	}
	return false
}

// timeAttr parses a SAML time attribute (xs:dateTime in UTC). A missing
// attribute is zero, or an error if required.
func timeAttr(el *etree.Element, key string, required bool) (time.Time, error) {
	v, ok := attr(el, key)
	if !ok {
		if required {
			return time.Time{}, fmt.Errorf("no %s", key)
		}
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		// xs:dateTime without a time zone; SAML times are UTC.
		t, err = time.ParseInLocation("2006-01-02T15:04:05.999999999", v, time.UTC)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an xs:dateTime", key, clip(v))
	}
	return t, nil
}
