package caddyoauth_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
)

// customTemplate is a replacement page that uses every field it needs.
const customTemplate = `<!DOCTYPE html><title>Custom {{.Page}}</title>
{{if eq .Page "error"}}<p id="error">{{.ErrorCode}}: {{.Error}}</p>
{{else}}<form method="post" action="{{.Action}}">
<input type="hidden" name="csrf_token" value="{{.CSRFToken}}">
{{range .Params}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
{{if eq .Page "login"}}<p id="client">{{.ClientID}}</p><input name="username" value="{{.Username}}"><input name="password" type="password">
<button name="action" value="login">Go</button>{{with .Error}}<p id="msg">{{.}}</p>{{end}}
{{else}}<p id="who">{{.User}} {{range .Scopes}}[{{.}}]{{end}}</p>
<button name="action" value="approve">Yes</button><button name="action" value="deny">No</button>{{end}}
</form>{{end}}`

func TestAuthorizeCustomTemplate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorize.html")
	if err := os.WriteFile(path, []byte(customTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	f := newAuthorizeFixture(t, func(a *caddyoauth.App) { a.AuthorizeTemplate = path })
	b := newBrowser(t, f)
	page := b.get(spaQuery(`<b>"x"</b>`))
	body := page.Body.String()
	if !strings.Contains(body, "<title>Custom login</title>") || !strings.Contains(body, `<p id="client">spa</p>`) {
		t.Fatalf("the custom template is not used: %s", body)
	}
	if strings.Contains(body, `<b>"x"</b>`) {
		t.Fatalf("a custom template does not escape: %s", body)
	}
	if got := hiddenFields(t, page).Get("state"); got != `<b>"x"</b>` {
		t.Fatalf("hidden state %q", got)
	}
	consent := b.follow(b.submit(page, "login", map[string][]string{"username": {"alice"}, "password": {"alice-pw"}}))
	if !strings.Contains(consent.Body.String(), `<p id="who">alice [read][update]</p>`) {
		t.Fatalf("custom consent page: %s", consent.Body)
	}
	if q := location(t, b.submit(consent, "approve", nil)).Query(); q.Get("code") == "" || q.Get("state") != `<b>"x"</b>` {
		t.Fatalf("approval through the custom page: %v", q)
	}
	if w := b.getRaw("client_id=ghost"); !strings.Contains(w.Body.String(), `<p id="error">invalid_client: the client is unknown</p>`) {
		t.Fatalf("custom error page: %s", w.Body)
	}
}

func TestAuthorizeBadTemplateFailsTheLoad(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, text string
		want       string
	}{
		{"syntax", `{{if .Page}}unclosed`, "authorize_template: "},
		{"unknown field", `{{if eq .Page "consent"}}{{.Nope}}{{end}}`, `authorize_template: page "consent":`},
		{"missing file", "", "authorize_template: open "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".html")
			if tc.text != "" {
				if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := provisionAuthorizeApp(t, func(a *caddyoauth.App) { a.AuthorizeTemplate = path })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
