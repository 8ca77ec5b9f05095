package grants

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// The XML Signature algorithms accepted on assertions. SHA-1 is refused
// as signature and as digest; SAML asks for exclusive canonicalization
// and the enveloped-signature transform only (SAML core §5.4).
var (
	allowedSignatureMethods = map[string]bool{
		dsig.RSASHA256SignatureMethod:   true,
		dsig.RSASHA384SignatureMethod:   true,
		dsig.RSASHA512SignatureMethod:   true,
		dsig.ECDSASHA256SignatureMethod: true,
		dsig.ECDSASHA384SignatureMethod: true,
		dsig.ECDSASHA512SignatureMethod: true,
	}
	allowedDigestMethods = map[string]bool{
		"http://www.w3.org/2001/04/xmlenc#sha256":       true,
		"http://www.w3.org/2001/04/xmldsig-more#sha384": true,
		"http://www.w3.org/2001/04/xmlenc#sha512":       true,
	}
	allowedCanonicalizations = map[string]bool{
		string(dsig.CanonicalXML10ExclusiveAlgorithmId):             true,
		string(dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId): true,
	}
)

// verifySignature checks the enveloped signature of the assertion root
// against the IdP's certificates at time now, and returns the element the
// signature covers, rebuilt by goxmldsig from the signed bytes, and the ID
// the signature references. Nothing of root may be read after this: only
// the returned element is verified.
//
// Before goxmldsig runs, the signature's shape is pinned down so that
// what is checked here is what goxmldsig verifies: exactly one Signature
// element in the whole document, a direct child of the root, with one
// Reference, to the root's ID, and accepted algorithms. Its KeyInfo is
// dropped: the certificate it names is never trusted, each configured
// certificate is tried instead (an IdP rolling its key has two).
func verifySignature(root *etree.Element, certs []*x509.Certificate, now time.Time) (*etree.Element, string, error) {
	id, err := assertionID(root)
	if err != nil {
		return nil, "", refuse("id", "the assertion has no valid ID", err)
	}
	sig, err := theSignature(root)
	if err != nil {
		return nil, "", refuse("signature_shape", "the assertion is not signed as one enveloped signature of the assertion itself", err)
	}
	if err := checkSignedInfo(sig, id); err != nil {
		return nil, "", err
	}
	for _, ki := range sig.ChildElements() {
		if ki.Tag == dsig.KeyInfoTag {
			sig.RemoveChild(ki)
		}
	}
	var lastErr error
	for _, cert := range certs {
		vc := &dsig.ValidationContext{
			CertificateStore: &dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}},
			IdAttribute:      dsig.DefaultIdAttr,
			Clock:            dsig.NewFakeClockAt(now),
		}
		verified, err := vc.Validate(root)
		if err == nil {
			return verified, id, nil
		}
		lastErr = err
	}
	return nil, "", refuse("signature", "the assertion's signature is not valid for the issuer's certificate", lastErr)
}

// assertionID returns the ID attribute of the root, which must be the only
// attribute named ID on it, whatever its prefix: goxmldsig would take a
// prefixed one too.
func assertionID(root *etree.Element) (string, error) {
	var id string
	n := 0
	for _, a := range root.Attr {
		if a.Key == dsig.DefaultIdAttr {
			n++
			if a.Space == "" {
				id = a.Value
			}
		}
	}
	switch {
	case n > 1:
		return "", errors.New("more than one ID attribute")
	case id == "":
		return "", errors.New("no ID attribute")
	}
	return id, nil
}

// theSignature returns the one Signature element of the document rooted
// at root, which must be a ds:Signature child of root. Elements named
// Signature in any namespace count, so that goxmldsig, which resolves
// namespaces its own way, cannot find another.
func theSignature(root *etree.Element) (*etree.Element, error) {
	var sigs []*etree.Element
	var walk func(*etree.Element)
	walk = func(el *etree.Element) {
		for c := range el.ChildElementsSeq() {
			if c.Tag == dsig.SignatureTag {
				sigs = append(sigs, c)
			}
			walk(c)
		}
	}
	walk(root)
	switch {
	case len(sigs) == 0:
		return nil, errors.New("no Signature element")
	case len(sigs) > 1:
		return nil, fmt.Errorf("%d Signature elements", len(sigs))
	case sigs[0].Parent() != root:
		return nil, errors.New("the Signature is not a child of the Assertion")
	case sigs[0].NamespaceURI() != xmlDSigNS:
		return nil, errors.New("the Signature is not in the XML Signature namespace")
	}
	return sigs[0], nil
}

// checkSignedInfo checks that the signature has one Reference, to the
// assertion's ID, with the enveloped-signature transform, and algorithms
// that are accepted. goxmldsig verifies this very SignedInfo, so the
// algorithms it checks are the signed ones.
func checkSignedInfo(sig *etree.Element, id string) error {
	shape := func(err error) error {
		return refuse("signature_shape", "the assertion is not signed as one enveloped signature of the assertion itself", err)
	}
	algorithm := func(err error) error {
		return refuse("signature_algorithm", "the assertion's signature uses a refused algorithm (SHA-1 or non-exclusive canonicalization)", err)
	}
	si, err := oneChild(sig, xmlDSigNS, dsig.SignedInfoTag)
	if err != nil {
		return shape(err)
	}
	alg := func(parent *etree.Element, tag string) (string, error) {
		el, err := oneChild(parent, xmlDSigNS, tag)
		if err != nil {
			return "", err
		}
		a, _ := attr(el, dsig.AlgorithmAttr)
		return a, nil
	}
	c14n, err := alg(si, dsig.CanonicalizationMethodTag)
	if err != nil {
		return shape(err)
	}
	if !allowedCanonicalizations[c14n] {
		return algorithm(fmt.Errorf("canonicalization %q", clip(c14n)))
	}
	method, err := alg(si, dsig.SignatureMethodTag)
	if err != nil {
		return shape(err)
	}
	if !allowedSignatureMethods[method] {
		return algorithm(fmt.Errorf("signature method %q", clip(method)))
	}
	ref, err := oneChild(si, xmlDSigNS, dsig.ReferenceTag)
	if err != nil {
		return shape(err)
	}
	if uri, _ := attr(ref, dsig.URIAttr); uri != "#"+id {
		return refuse("signature_reference", "the signature does not reference the assertion's ID", fmt.Errorf("reference URI %q", clip(uri)))
	}
	digest, err := alg(ref, dsig.DigestMethodTag)
	if err != nil {
		return shape(err)
	}
	if !allowedDigestMethods[digest] {
		return algorithm(fmt.Errorf("digest method %q", clip(digest)))
	}
	transforms, err := oneChild(ref, xmlDSigNS, dsig.TransformsTag)
	if err != nil {
		return shape(err)
	}
	enveloped, canonical := false, false
	for _, t := range transforms.ChildElements() {
		if !isElement(t, xmlDSigNS, dsig.TransformTag) {
			return shape(fmt.Errorf("unexpected element %s in Transforms", clip(t.Tag)))
		}
		switch a, _ := attr(t, dsig.AlgorithmAttr); {
		case a == string(dsig.EnvelopedSignatureAltorithmId):
			enveloped = true
		case allowedCanonicalizations[a]:
			canonical = true
		default:
			return algorithm(fmt.Errorf("transform %q", clip(a)))
		}
	}
	if !enveloped || !canonical {
		return shape(errors.New("the transforms are not enveloped-signature and exclusive canonicalization"))
	}
	return nil
}
