package grants

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
)

// XML namespaces of SAML 2.0 and XML Signature.
const (
	samlAssertionNS = "urn:oasis:names:tc:SAML:2.0:assertion"
	samlMetadataNS  = "urn:oasis:names:tc:SAML:2.0:metadata"
	xmlDSigNS       = "http://www.w3.org/2000/09/xmldsig#"
)

// maxXMLDepth bounds the nesting of parsed SAML documents; assertions and
// metadata are a few levels deep.
const maxXMLDepth = 64

// parseSAMLXML parses a SAML document once, refusing what SAML never
// needs and what XML attacks use: a DOCTYPE or ENTITY declaration (no
// entity is ever expanded), an encoding other than UTF-8, duplicate
// attributes, and anything but one root element.
func parseSAMLXML(data []byte) (*etree.Element, error) {
	if bytes.Contains(data, []byte("<!DOCTYPE")) || bytes.Contains(data, []byte("<!ENTITY")) {
		return nil, errors.New("DOCTYPE and ENTITY declarations are not allowed")
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{
		CharsetReader: func(charset string, _ io.Reader) (io.Reader, error) {
			return nil, fmt.Errorf("encoding %q is not UTF-8", clip(charset))
		},
		PreserveDuplicateAttrs: true,
		MaxDepth:               maxXMLDepth,
	}
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("not well-formed XML: %v", err)
	}
	var root *etree.Element
	for _, tok := range doc.Child {
		switch tok := tok.(type) {
		case *etree.Element:
			if root != nil {
				return nil, errors.New("more than one root element")
			}
			root = tok
		case *etree.Directive:
			return nil, errors.New("DOCTYPE and ENTITY declarations are not allowed")
		case *etree.CharData:
			if !tok.IsWhitespace() {
				return nil, errors.New("text outside the root element")
			}
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	if err := checkTree(root); err != nil {
		return nil, err
	}
	return root, nil
}

// checkTree refuses directives anywhere in the tree and elements with an
// attribute given twice.
func checkTree(el *etree.Element) error {
	for i, a := range el.Attr {
		for _, b := range el.Attr[:i] {
			if a.Space == b.Space && a.Key == b.Key {
				return fmt.Errorf("attribute %q given twice", clip(a.FullKey()))
			}
		}
	}
	for _, tok := range el.Child {
		switch tok := tok.(type) {
		case *etree.Directive:
			return errors.New("DOCTYPE and ENTITY declarations are not allowed")
		case *etree.Element:
			if err := checkTree(tok); err != nil {
				return err
			}
		}
	}
	return nil
}

// isElement reports whether el is the element tag of namespace ns.
func isElement(el *etree.Element, ns, tag string) bool {
	return el.Tag == tag && el.NamespaceURI() == ns
}

// children returns the child elements of el named tag in namespace ns.
func children(el *etree.Element, ns, tag string) []*etree.Element {
	var out []*etree.Element
	for c := range el.ChildElementsSeq() {
		if isElement(c, ns, tag) {
			out = append(out, c)
		}
	}
	return out
}

// atMostOneChild returns the child element of el named tag in namespace
// ns, or nil if there is none. Two of them are an error: an element SAML
// allows once is never chosen among several.
func atMostOneChild(el *etree.Element, ns, tag string) (*etree.Element, error) {
	var found *etree.Element
	for c := range el.ChildElementsSeq() {
		if c.Tag != tag {
			continue
		}
		if c.NamespaceURI() != ns || found != nil {
			return nil, fmt.Errorf("more than one %s element, or one in another namespace", tag)
		}
		found = c
	}
	return found, nil
}

// oneChild is atMostOneChild for an element that must be present.
func oneChild(el *etree.Element, ns, tag string) (*etree.Element, error) {
	c, err := atMostOneChild(el, ns, tag)
	if err == nil && c == nil {
		err = fmt.Errorf("no %s element", tag)
	}
	return c, err
}

// attr returns the value of the unprefixed attribute key of el, and
// whether it is present. Unlike etree's SelectAttr it never matches a
// prefixed attribute of the same name.
func attr(el *etree.Element, key string) (string, bool) {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// textOf returns the character data of el, whole: the text on both sides
// of a comment is one value, so "admin<!---->@evil" reads as
// "admin@evil", never "admin". An element with child elements has no text.
func textOf(el *etree.Element) (string, error) {
	var b strings.Builder
	for _, tok := range el.Child {
		switch tok := tok.(type) {
		case *etree.CharData:
			b.WriteString(tok.Data)
		case *etree.Element:
			return "", fmt.Errorf("%s holds an element where text is expected", clip(el.Tag))
		}
	}
	return b.String(), nil
}

// maxLoggedValue bounds the values of an assertion that a refusal's cause
// quotes, so a debug log line stays short whatever the assertion holds.
const maxLoggedValue = 64

// clip returns s, cut to maxLoggedValue bytes.
func clip(s string) string {
	if len(s) <= maxLoggedValue {
		return s
	}
	return strings.ToValidUTF8(s[:maxLoggedValue], "") + "…"
}
