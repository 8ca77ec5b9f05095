// Package samltest is a SAML identity provider's signing key and
// certificate for tests: the grant's unit tests and the integration tests
// sign assertions with it.
package samltest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// IdP is an identity provider's RSA signing key and its self-signed
// certificate, made for one test.
type IdP struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
}

// NewIdP makes a key and a certificate valid from notBefore to notAfter.
func NewIdP(tb testing.TB, notBefore, notAfter time.Time) *IdP {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "test idp"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return &IdP{Key: key, Cert: cert}
}

// PEMFile writes the certificate to a PEM file in a temporary directory of
// the test and returns its path.
func (p *IdP) PEMFile(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "idp.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Cert.Raw})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}
