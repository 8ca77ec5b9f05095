package grants

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
)

// Clock skew tolerated on the time windows of SAML assertions.
const (
	DefaultSAMLClockSkew = time.Minute
	MaxSAMLClockSkew     = 10 * time.Minute
)

// maxIdPFileBytes bounds the certificate and metadata files read at load;
// federation metadata can be large, but not larger than this.
const maxIdPFileBytes = 32 << 20

// SAMLIdP is a SAML 2.0 identity provider whose assertions the
// saml2_bearer grant accepts (RFC 7522). In the Caddyfile it is a
// `saml_idp` block of the `oauth` global option.
type SAMLIdP struct {
	// EntityID is the IdP's entity ID: the value of the Issuer of its
	// assertions. Required.
	EntityID string `json:"entity_id"`

	// Certificate is the path of a PEM file holding the certificate or
	// certificates whose keys sign the IdP's assertions. Give either
	// Certificate or Metadata. An expired certificate is loaded with a
	// warning, but the signatures it verifies are refused while it is
	// expired.
	Certificate string `json:"certificate,omitempty"`

	// Metadata is the path of the IdP's SAML 2.0 metadata file: the
	// certificates of the KeyDescriptors of its IDPSSODescriptor whose use
	// is "signing" or not given are trusted. The file is trusted as it is
	// (its own signature is not checked). Give either Certificate or
	// Metadata.
	Metadata string `json:"metadata,omitempty"`

	// Audience identifies this authorization server to the IdP: every
	// AudienceRestriction of an assertion must contain it, and the
	// Recipient of its bearer SubjectConfirmationData must equal it (RFC
	// 7522 §3 says the token endpoint URL, such as
	// https://auth.example.com/token). Required.
	Audience string `json:"audience"`

	// ClockSkew is how far the clocks of the IdP and this server may
	// differ: the time windows of assertions are widened by it. Default:
	// 1m; at most 10m.
	ClockSkew caddy.Duration `json:"clock_skew,omitempty"`

	certs []*x509.Certificate
}

// provision replaces placeholders, checks the fields and reads the
// certificates. Errors name the IdP and the field.
func (idp *SAMLIdP) provision(repl *caddy.Replacer, logger *zap.Logger, now time.Time) error {
	idp.EntityID = repl.ReplaceKnown(idp.EntityID, "")
	if idp.EntityID == "" {
		return errors.New("saml idp with empty entity_id")
	}
	wrap := func(field string, err error) error {
		return fmt.Errorf("saml idp %q: %s: %v", idp.EntityID, field, err)
	}
	idp.Certificate = repl.ReplaceKnown(idp.Certificate, "")
	idp.Metadata = repl.ReplaceKnown(idp.Metadata, "")
	idp.Audience = repl.ReplaceKnown(idp.Audience, "")
	if idp.Audience == "" {
		return wrap("audience", errors.New("missing; give the URI the IdP puts in AudienceRestriction and Recipient, usually this server's token endpoint URL"))
	}
	if idp.ClockSkew == 0 {
		idp.ClockSkew = caddy.Duration(DefaultSAMLClockSkew)
	}
	if idp.ClockSkew < 0 || time.Duration(idp.ClockSkew) > MaxSAMLClockSkew {
		return wrap("clock_skew", fmt.Errorf("%s is not between 0 and the maximum of %s", time.Duration(idp.ClockSkew), MaxSAMLClockSkew))
	}
	var err error
	switch {
	case idp.Certificate != "" && idp.Metadata != "":
		return wrap("certificate", errors.New("give either certificate or metadata, not both"))
	case idp.Certificate != "":
		idp.certs, err = loadPEMCertificates(idp.Certificate)
		if err != nil {
			return wrap("certificate", err)
		}
	case idp.Metadata != "":
		idp.certs, err = loadMetadataCertificates(idp.Metadata, idp.EntityID)
		if err != nil {
			return wrap("metadata", err)
		}
	default:
		return wrap("certificate", errors.New("missing; give the IdP's signing certificate or its metadata"))
	}
	for _, c := range idp.certs {
		if now.After(c.NotAfter) || now.Before(c.NotBefore) {
			logger.Warn("SAML IdP certificate is not valid now: assertions it signs are refused until it is, or until the IdP's current certificate is configured",
				zap.String("entity_id", idp.EntityID),
				zap.String("subject", c.Subject.String()),
				zap.Time("not_before", c.NotBefore),
				zap.Time("not_after", c.NotAfter))
		}
	}
	return nil
}

// readIdPFile reads a certificate or metadata file within maxIdPFileBytes.
func readIdPFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIdPFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxIdPFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxIdPFileBytes)
	}
	return data, nil
}

// loadPEMCertificates reads every CERTIFICATE block of a PEM file. Any
// other block (a private key given by mistake) is an error.
func loadPEMCertificates(path string) ([]*x509.Certificate, error) {
	data, err := readIdPFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if len(bytes.TrimSpace(rest)) > 0 && len(certs) == 0 {
				return nil, fmt.Errorf("%s holds no PEM data", path)
			}
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: unexpected PEM block %q; give the IdP's certificates only", path, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %v", path, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s holds no CERTIFICATE block", path)
	}
	return certs, nil
}
