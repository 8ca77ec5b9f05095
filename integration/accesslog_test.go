package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// Caddy's access log records the response headers, and two responses carry
// credentials in theirs: the authorization response its code in Location,
// a revocation with WSO2's headers the revoked tokens. The client gets
// them; the log must not (SECURITY.md: "Logs never contain a secret, a
// password or a whole token").
func TestAccessLogHoldsNoToken(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, config{ExtraOAuth: authzClientConfig, ExtraSite: "log"})
	conf := &oauth2.Config{
		ClientID: "authz-spa",
		Endpoint: oauth2.Endpoint{
			AuthURL:   c.base + "/authorize",
			TokenURL:  c.base + "/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
		RedirectURL: authzRedirect,
		Scopes:      []string{"read"},
	}
	b := newAuthzBrowser(t)
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))
	signedIn := b.submit(authURL, b.get(authURL), "login", url.Values{"username": {"admin"}, "password": {adminPassword}})
	consentURL, err := url.Parse(authURL)
	if err == nil {
		consentURL, err = consentURL.Parse(signedIn.Header.Get("Location"))
	}
	if err != nil || signedIn.Status != http.StatusSeeOther {
		t.Fatalf("sign-in: %s (%v)", signedIn, err)
	}
	consent := b.get(consentURL.String())
	code := clientRedirect(t, b.submit(consentURL.String(), consent, "approve", nil)).Get("code")
	tok, err := conf.Exchange(c.oauth2Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}
	revoked := c.post(t, "/revoke", url.Values{"client_id": {"authz-spa"}, "token": {tok.AccessToken}}.Encode())
	if revoked.Status != http.StatusOK || revoked.Header.Get("RevokedAccessToken") != tok.AccessToken ||
		revoked.Header.Get("RevokedRefreshToken") != tok.RefreshToken {
		t.Fatalf("revocation: want 200 with WSO2's headers, got %s", revoked)
	}

	// The access log is written once a response is sent: wait for the
	// revocation's entry, which must still record the headers that are
	// not credentials.
	var logs string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		logs = c.logs.String()
		if strings.Contains(logs, `"uri":"/revoke"`) || time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(logs, `"uri":"/revoke"`) || !strings.Contains(logs, `"Authorizeduser":["admin"]`) {
		t.Fatalf("no access log entry of the revocation with its headers:\n%s", logs)
	}
	for name, secret := range map[string]string{"code": code, "access token": tok.AccessToken, "refresh token": tok.RefreshToken} {
		if strings.Contains(logs, secret) {
			t.Errorf("the access log holds the %s", name)
		}
	}
}
