package caddyfile

import (
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/caddy-oauth/caddy-oauth/grants"
)

// samlGrantName is the grant module the `saml_idp` blocks configure.
const samlGrantName = "saml2_bearer"

// samlIdP parses one trusted SAML 2.0 identity provider of the
// saml2_bearer grant (RFC 7522):
//
//	saml_idp <entity_id> {
//		certificate <file>        # or: metadata <file>
//		audience <uri>
//		clock_skew <duration>     # optional; default 1m, at most 10m
//	}
//
// `certificate` is a PEM file of the IdP's signing certificates;
// `metadata` is the IdP's SAML metadata, whose IDPSSODescriptor signing
// certificates are trusted: give one of the two. `audience` is required: it
// must appear in the AudienceRestriction of every assertion and be the
// Recipient of its bearer confirmation (usually this server's token
// endpoint URL). The files are read when the config loads.
//
// Every `saml_idp` goes into the one saml2_bearer entry of the app's
// grants. That grant is configured by `saml_idp` only: `grant
// saml2_bearer` as well is an error, whichever comes first.
func (p *optionParser) samlIdP() error {
	d := p.d
	if !d.NextArg() {
		return d.Err("saml_idp: missing entity ID")
	}
	idp := &grants.SAMLIdP{EntityID: d.Val()}
	errf := func(format string, args ...any) error {
		return d.Errf("saml_idp %q: "+format, append([]any{idp.EntityID}, args...)...)
	}
	name := func(field string) string { return fmt.Sprintf("saml_idp %q: %s", idp.EntityID, field) }
	if d.NextArg() {
		return errf("unexpected argument %q; the settings go in a block", d.Val())
	}
	seen := make(map[string]bool)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		field := d.Val()
		if seen[field] {
			return errf("%s: given twice", field)
		}
		seen[field] = true
		var err error
		switch field {
		case "certificate", "metadata":
			if seen["certificate"] && seen["metadata"] {
				return errf("%s: give either certificate or metadata, not both", field)
			}
			if field == "certificate" {
				idp.Certificate, err = oneArg(d, name("certificate"))
			} else {
				idp.Metadata, err = oneArg(d, name("metadata"))
			}
		case "audience":
			idp.Audience, err = oneArg(d, name("audience"))
		case "clock_skew":
			idp.ClockSkew, err = durationArg(d, name("clock_skew"))
		default:
			return errf("unknown setting %q", field)
		}
		if err != nil {
			return err
		}
		if d.NextBlock(d.Nesting()) {
			return errf("%s: unexpected block", field)
		}
	}
	switch {
	case idp.Certificate == "" && idp.Metadata == "":
		return errf("missing certificate (or metadata): the IdP's signing certificate is required")
	case idp.Audience == "":
		return errf("missing audience: give the URI the IdP's assertions are addressed to, usually this server's token endpoint URL")
	}
	return p.addSAMLIdP(idp)
}

// addSAMLIdP appends idp to the saml2_bearer entry of the app's grants,
// creating the entry for the first IdP.
func (p *optionParser) addSAMLIdP(idp *grants.SAMLIdP) error {
	d := p.d
	g := new(grants.SAML2Bearer)
	index := -1
	for i, raw := range p.app.GrantsRaw {
		var entry struct {
			Grant string `json:"grant"`
		}
		if err := json.Unmarshal(raw, &entry); err == nil && entry.Grant == samlGrantName {
			index = i
			break
		}
	}
	if index >= 0 {
		if err := json.Unmarshal(p.app.GrantsRaw[index], g); err != nil {
			return d.Errf("saml_idp %q: reading the %s grant: %v", idp.EntityID, samlGrantName, err)
		}
		if len(g.IdPs) == 0 {
			return d.Errf("saml_idp %q: the %s grant is also configured by `grant %s`; configure its IdPs with saml_idp alone",
				idp.EntityID, samlGrantName, samlGrantName)
		}
	}
	for _, other := range g.IdPs {
		if other.EntityID == idp.EntityID {
			return d.Errf("saml_idp %q: defined twice", idp.EntityID)
		}
	}
	g.IdPs = append(g.IdPs, idp)
	var warnings []caddyconfig.Warning
	raw := caddyconfig.JSONModuleObject(g, "grant", samlGrantName, &warnings)
	if len(warnings) > 0 {
		return d.Errf("saml_idp %q: encoding the %s grant: %s", idp.EntityID, samlGrantName, warnings[0].Message)
	}
	if index >= 0 {
		p.app.GrantsRaw[index] = raw
		return nil
	}
	// A later `grant saml2_bearer` is then refused as configured twice.
	p.grants[samlGrantName] = true
	p.app.GrantsRaw = append(p.app.GrantsRaw, raw)
	return nil
}
