package caddyfile

import (
	"strings"
	"testing"
)

// TestAdaptErrors checks that configuration mistakes fail adaptation with a
// message that names the option, the client or user, and the field.
func TestAdaptErrors(t *testing.T) {
	global := func(body string) string {
		return "{\n\toauth {\n" + body + "\n\t}\n}\n\n:8080 {\n\toauth_server\n}\n"
	}
	site := func(body string) string {
		return ":8080 {\n" + body + "\n}\n"
	}
	tests := []struct {
		name  string
		input string
		want  []string // substrings of the error
	}{
		{"unknown subdirective", global("\t\ttoken_ttl 1h"),
			[]string{`oauth: unknown subdirective "token_ttl"`, "Caddyfile:3"}},
		{"argument to oauth", "{\n\toauth memory\n}\n",
			[]string{`oauth: unexpected argument "memory"`}},
		{"missing duration", global("\t\taccess_token_ttl"),
			[]string{"access_token_ttl: expected one value, got 0"}},
		{"two durations", global("\t\trefresh_token_ttl 1h 2h"),
			[]string{"refresh_token_ttl: expected one value, got 2"}},
		{"bad duration", global("\t\tcode_ttl 10x"),
			[]string{`code_ttl: invalid duration "10x"`}},
		{"negative duration", global("\t\tsweep_interval -1m"),
			[]string{`sweep_interval: "-1m" is not a positive duration`}},
		{"given twice", global("\t\taccess_token_ttl 1h\n\t\taccess_token_ttl 2h"),
			[]string{"oauth: access_token_ttl: given twice", "Caddyfile:4"}},
		{"revocation_headers argument", global("\t\trevocation_headers on"),
			[]string{`revocation_headers: unexpected argument "on"`}},
		{"bad cache_size", global("\t\tcache_size many"),
			[]string{`cache_size: "many" is not a positive integer`}},
		{"zero cache_size", global("\t\tcache_size 0"),
			[]string{`cache_size: "0" is not a positive integer`}},
		{"issuer missing", global("\t\tissuer"),
			[]string{"issuer: expected one value, got 0"}},

		{"session_ttl given twice", global("\t\tsession_ttl 5m\n\t\tsession_ttl 10m"),
			[]string{"oauth: session_ttl: given twice", "Caddyfile:4"}},
		{"session_ttl missing value", global("\t\tsession_ttl"),
			[]string{"session_ttl: expected one value, got 0"}},
		{"session_ttl bad duration", global("\t\tsession_ttl soon"),
			[]string{`session_ttl: invalid duration "soon"`}},
		{"session_ttl zero", global("\t\tsession_ttl 0s"),
			[]string{`session_ttl: "0s" is not a positive duration`}},
		{"session_ttl extra argument", global("\t\tsession_ttl 5m 10m"),
			[]string{"session_ttl: expected one value, got 2"}},
		{"session_ttl block", global("\t\tsession_ttl 5m {\n\t\t\tidle 1m\n\t\t}"),
			[]string{"oauth: session_ttl: unexpected block"}},
		{"authorize_template given twice", global("\t\tauthorize_template /a.html\n\t\tauthorize_template /b.html"),
			[]string{"oauth: authorize_template: given twice", "Caddyfile:4"}},
		{"authorize_template given twice, first empty", global("\t\tauthorize_template \"\"\n\t\tauthorize_template /b.html"),
			[]string{"oauth: authorize_template: given twice", "Caddyfile:4"}},
		{"authorize_template missing value", global("\t\tauthorize_template"),
			[]string{"authorize_template: expected one value, got 0"}},
		{"authorize_template extra argument", global("\t\tauthorize_template /a.html /b.html"),
			[]string{"authorize_template: expected one value, got 2"}},

		{"storage without backend", global("\t\tstorage"),
			[]string{"storage: missing backend"}},
		{"unknown storage backend", global("\t\tstorage mongo mongodb://localhost"),
			[]string{`storage: unknown module "mongo"`, "memory"}},
		{"storage backend arguments", global("\t\tstorage memory extra"),
			[]string{"storage memory:", "extra"}},
		{"storage twice", global("\t\tstorage memory\n\t\tstorage memory"),
			[]string{"oauth: storage: given twice"}},

		{"limits unknown setting", global("\t\tlimits {\n\t\t\tmax_tries 3\n\t\t}"),
			[]string{`limits: unknown setting "max_tries"`}},
		{"limits bad window", global("\t\tlimits {\n\t\t\twindow soon\n\t\t}"),
			[]string{`limits: window: invalid duration "soon"`}},
		{"limits bad max_failures", global("\t\tlimits {\n\t\t\tmax_failures -3\n\t\t}"),
			[]string{`limits: max_failures: "-3" is not a positive integer`}},
		{"limits bad max_body_bytes", global("\t\tlimits {\n\t\t\tmax_body_bytes lots\n\t\t}"),
			[]string{`limits: max_body_bytes: "lots" is not a positive size`}},

		{"client without id", global("\t\tclient {\n\t\t\tpublic\n\t\t}"),
			[]string{"client: missing client id"}},
		{"client without id or block", global("\t\tclient"),
			[]string{"client: missing client id"}},
		{"client unknown setting", global("\t\tclient app {\n\t\t\tsecrett abc\n\t\t}"),
			[]string{`client "app": unknown setting "secrett"`, "Caddyfile:4"}},
		{"client secret missing", global("\t\tclient app {\n\t\t\tsecret\n\t\t}"),
			[]string{`client "app": secret: expected one value, got 0`}},
		{"client secret_hash missing", global("\t\tclient app {\n\t\t\tsecret_hash\n\t\t}"),
			[]string{`client "app": secret_hash: expected one value, got 0`}},
		{"client two secrets", global("\t\tclient app {\n\t\t\tsecret abc\n\t\t\tsecret_hash $2a$10$x\n\t\t}"),
			[]string{`client "app": secret_hash: the client already has a secret`}},
		{"client public argument", global("\t\tclient spa {\n\t\t\tpublic yes\n\t\t}"),
			[]string{`client "spa": public: unexpected argument "yes"`}},
		{"client grant_types empty", global("\t\tclient app {\n\t\t\tgrant_types\n\t\t}"),
			[]string{`client "app": grant_types: expected at least one value`}},
		{"client redirect_uri empty", global("\t\tclient app {\n\t\t\tredirect_uri\n\t\t}"),
			[]string{`client "app": redirect_uri: expected at least one value`}},
		{"client argument after id", global("\t\tclient app secret"),
			[]string{`client "app": unexpected argument "secret"`}},
		{"client twice", global("\t\tclient app {\n\t\t\tpublic\n\t\t}\n\t\tclient app {\n\t\t\tpublic\n\t\t}"),
			[]string{`client "app": defined twice`}},
		{"client setting with block", global("\t\tclient app {\n\t\t\tscopes read {\n\t\t\t\tx\n\t\t\t}\n\t\t}"),
			[]string{`client "app": scopes: unexpected block`}},

		{"user without name", global("\t\tuser"),
			[]string{"user: missing user name"}},
		{"user without hash", global("\t\tuser alice"),
			[]string{`user "alice": password_hash: missing`}},
		{"user extra argument", global("\t\tuser alice $2a$10$x read"),
			[]string{`user "alice": unexpected argument "read"`}},
		{"user unknown setting", global("\t\tuser alice $2a$10$x {\n\t\t\tscope read\n\t\t}"),
			[]string{`user "alice": unknown setting "scope"`}},
		{"user scopes empty", global("\t\tuser alice $2a$10$x {\n\t\t\tscopes\n\t\t}"),
			[]string{`user "alice": scopes: expected at least one scope`}},
		{"user twice", global("\t\tuser alice $2a$10$x\n\t\tuser alice $2a$10$y"),
			[]string{`user "alice": defined twice`}},

		{"grant without name", global("\t\tgrant"),
			[]string{"grant: missing grant module name", "password"}},
		{"unknown grant", global("\t\tgrant device_code"),
			[]string{`grant: unknown module "device_code"`}},
		{"grant without Caddyfile support", global("\t\tgrant password {\n\t\t\tcost 3\n\t\t}"),
			[]string{"grant password: unexpected block; the module takes no Caddyfile configuration"}},
		{"grant twice", global("\t\tgrant password\n\t\tgrant password"),
			[]string{`grant "password": configured twice`}},

		{"saml_idp without entity ID", global("\t\tsaml_idp"),
			[]string{"saml_idp: missing entity ID"}},
		{"saml_idp missing audience", global("\t\tsaml_idp https://idp.example.com {\n\t\t\tcertificate /etc/caddy/idp.pem\n\t\t}"),
			[]string{`saml_idp "https://idp.example.com": missing audience`, "Caddyfile:5"}},
		{"saml_idp missing certificate", global("\t\tsaml_idp https://idp.example.com {\n\t\t\taudience https://auth.example.com/token\n\t\t}"),
			[]string{`saml_idp "https://idp.example.com": missing certificate (or metadata)`}},
		{"saml_idp both certificate and metadata", global("\t\tsaml_idp https://idp.example.com {\n\t\t\tcertificate /etc/caddy/idp.pem\n\t\t\tmetadata /etc/caddy/idp.xml\n\t\t\taudience https://auth.example.com/token\n\t\t}"),
			[]string{`saml_idp "https://idp.example.com": metadata: give either certificate or metadata, not both`, "Caddyfile:5"}},
		{"saml_idp unknown subdirective", global("\t\tsaml_idp https://idp.example.com {\n\t\t\tcert /etc/caddy/idp.pem\n\t\t}"),
			[]string{`saml_idp "https://idp.example.com": unknown setting "cert"`, "Caddyfile:4"}},
		{"saml_idp certificate without file", global("\t\tsaml_idp https://idp.example.com {\n\t\t\tcertificate\n\t\t}"),
			[]string{`saml_idp "https://idp.example.com": certificate: expected one value, got 0`}},
		{"saml_idp bad clock_skew", global("\t\tsaml_idp https://idp.example.com {\n\t\t\tclock_skew soon\n\t\t}"),
			[]string{`saml_idp "https://idp.example.com": clock_skew: invalid duration "soon"`}},
		{"saml_idp audience twice", global("\t\tsaml_idp https://idp.example.com {\n\t\t\taudience a\n\t\t\taudience b\n\t\t}"),
			[]string{`saml_idp "https://idp.example.com": audience: given twice`}},
		{"saml_idp argument after entity ID", global("\t\tsaml_idp https://idp.example.com /etc/caddy/idp.pem"),
			[]string{`saml_idp "https://idp.example.com": unexpected argument "/etc/caddy/idp.pem"`}},
		{"saml_idp twice", global("\t\tsaml_idp https://idp.example.com {\n\t\t\tcertificate a.pem\n\t\t\taudience x\n\t\t}\n\t\tsaml_idp https://idp.example.com {\n\t\t\tcertificate b.pem\n\t\t\taudience x\n\t\t}"),
			[]string{`saml_idp "https://idp.example.com": defined twice`}},
		{"grant saml2_bearer before saml_idp", global("\t\tgrant saml2_bearer\n\t\tsaml_idp https://idp.example.com {\n\t\t\tcertificate a.pem\n\t\t\taudience x\n\t\t}"),
			[]string{`saml_idp "https://idp.example.com": the saml2_bearer grant is also configured by ` + "`grant saml2_bearer`"}},
		{"grant saml2_bearer after saml_idp", global("\t\tsaml_idp https://idp.example.com {\n\t\t\tcertificate a.pem\n\t\t\taudience x\n\t\t}\n\t\tgrant saml2_bearer"),
			[]string{`grant "saml2_bearer": configured twice`}},
		{"oauth twice", "{\n\toauth\n\toauth\n}\n",
			[]string{"oauth: the global option is given twice"}},

		{"oauth_server argument", site("\t@api path /api/*\n\toauth_server @api extra"),
			[]string{`oauth_server: unexpected argument "extra"`}},
		{"oauth_server block", site("\toauth_server {\n\t\tissuer x\n\t}"),
			[]string{"oauth_server: unexpected block"}},
		{"oauth_bearer unknown setting", site("\toauth_bearer read {\n\t\tscope write\n\t}"),
			[]string{`oauth_bearer: unknown setting "scope"`}},
		{"oauth_bearer realm missing", site("\toauth_bearer read {\n\t\trealm\n\t}"),
			[]string{"oauth_bearer: realm: expected one value, got 0"}},
		{"oauth_bearer realm twice", site("\toauth_bearer {\n\t\trealm a\n\t\trealm b\n\t}"),
			[]string{"oauth_bearer: realm: given twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := adapt("Caddyfile", []byte(tt.input))
			if err == nil {
				t.Fatalf("adapting succeeded; want an error containing %q\ninput:\n%s", tt.want, tt.input)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}
