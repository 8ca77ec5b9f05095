package grants

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// loadMetadataCertificates reads the signing certificates of entityID
// from a SAML 2.0 metadata file: those of the KeyDescriptors of its
// IDPSSODescriptor whose use is "signing" or not given. The file may hold
// the EntityDescriptor itself or an EntitiesDescriptor that contains it.
func loadMetadataCertificates(path, entityID string) ([]*x509.Certificate, error) {
	data, err := readIdPFile(path)
	if err != nil {
		return nil, err
	}
	root, err := parseSAMLXML(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	entity, err := findEntity(root, entityID)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	certs, err := signingCertificates(entity)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return certs, nil
}

// findEntity returns the EntityDescriptor of entityID in a metadata
// document rooted at el.
func findEntity(el *etree.Element, entityID string) (*etree.Element, error) {
	switch {
	case isElement(el, samlMetadataNS, "EntityDescriptor"):
		if id, _ := attr(el, "entityID"); id != entityID {
			return nil, fmt.Errorf("the metadata describes entity %q, not %q", id, entityID)
		}
		return el, nil
	case isElement(el, samlMetadataNS, "EntitiesDescriptor"):
		var found *etree.Element
		var walk func(*etree.Element, int)
		walk = func(el *etree.Element, depth int) {
			for c := range el.ChildElementsSeq() {
				switch {
				case found != nil:
					return
				case isElement(c, samlMetadataNS, "EntityDescriptor"):
					if id, _ := attr(c, "entityID"); id == entityID {
						found = c
					}
				case isElement(c, samlMetadataNS, "EntitiesDescriptor") && depth < maxXMLDepth:
					walk(c, depth+1)
				}
			}
		}
		walk(el, 0)
		if found == nil {
			return nil, fmt.Errorf("no EntityDescriptor for entity %q", entityID)
		}
		return found, nil
	}
	return nil, errors.New("the root element is not an md:EntityDescriptor or md:EntitiesDescriptor")
}

// signingCertificates returns the signing certificates of the
// IDPSSODescriptors of an EntityDescriptor.
func signingCertificates(entity *etree.Element) ([]*x509.Certificate, error) {
	idps := children(entity, samlMetadataNS, "IDPSSODescriptor")
	if len(idps) == 0 {
		return nil, errors.New("the entity has no IDPSSODescriptor")
	}
	var certs []*x509.Certificate
	for _, idp := range idps {
		for _, kd := range children(idp, samlMetadataNS, "KeyDescriptor") {
			if use, ok := attr(kd, "use"); ok && use != "signing" {
				continue
			}
			for _, ki := range children(kd, xmlDSigNS, "KeyInfo") {
				for _, xd := range children(ki, xmlDSigNS, "X509Data") {
					for _, xc := range children(xd, xmlDSigNS, "X509Certificate") {
						c, err := parseBase64Certificate(xc)
						if err != nil {
							return nil, fmt.Errorf("certificate %d: %v", len(certs)+1, err)
						}
						certs = append(certs, c)
					}
				}
			}
		}
	}
	if len(certs) == 0 {
		return nil, errors.New(`the IDPSSODescriptor has no X509Certificate in a KeyDescriptor of use "signing" or of no use`)
	}
	return certs, nil
}

// parseBase64Certificate parses the base64 DER text of an X509Certificate
// element, which may be wrapped on several lines.
func parseBase64Certificate(el *etree.Element) (*x509.Certificate, error) {
	text, err := textOf(el)
	if err != nil {
		return nil, err
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
	if err != nil {
		return nil, fmt.Errorf("not base64: %v", err)
	}
	return x509.ParseCertificate(der)
}
