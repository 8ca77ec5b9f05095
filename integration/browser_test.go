package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/caddy-oauth/caddy-oauth/internal/testenv"
)

// callback is the redirect URI of a browser client: it records every
// authorization response that reaches it.
type callback struct {
	srv  *httptest.Server
	got  chan url.Values
	path string
}

func newCallback(t *testing.T) *callback {
	cb := &callback{got: make(chan url.Values, 4), path: "/cb"}
	cb.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != cb.path {
			http.NotFound(w, r)
			return
		}
		cb.got <- r.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>done</title><p id=done>signed in</p>")
	}))
	t.Cleanup(cb.srv.Close)
	return cb
}

func (cb *callback) url() string { return cb.srv.URL + cb.path }

// wait returns the next authorization response the callback received.
func (cb *callback) wait(t *testing.T) url.Values {
	t.Helper()
	select {
	case q := <-cb.got:
		return q
	case <-time.After(20 * time.Second):
		t.Fatal("the browser never reached the redirect URI")
		return nil
	}
}

// newBrowser starts a headless Chromium with a fresh profile, flagged so
// that it opens no connection beyond the ones the test makes.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(testenv.ChromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		testenv.Require(t, "Chromium", err)
	}
	return ctx
}

// TestBrowserSignInAndConsent walks the authorization code flow with PKCE
// in a real browser: the sign-in page, the consent page, the redirect with
// the code, the token exchange through golang.org/x/oauth2, then a second
// authorization in the same browser session that skips the password and is
// denied; and it checks that the page refuses to be framed.
func TestBrowserSignInAndConsent(t *testing.T) {
	t.Parallel()
	cb := newCallback(t)
	c := startCaddy(t, config{
		ExtraOAuth: fmt.Sprintf(`client browser-spa {
			public
			grant_types authorization_code refresh_token
			scopes read update
			redirect_uri %s
		}`, cb.url()),
		ExtraSite: `handle /framed {
		header Content-Type "text/html; charset=utf-8"
		respond "<!doctype html><iframe id=f src='{query.src}'></iframe>"
	}
	handle /plain {
		header Content-Type "text/html; charset=utf-8"
		respond "<!doctype html><p id=plain>plain</p>"
	}`,
	})
	conf := &oauth2.Config{
		ClientID:    "browser-spa",
		RedirectURL: cb.url(),
		Scopes:      []string{"read"},
		Endpoint: oauth2.Endpoint{
			AuthURL:   c.base + "/authorize",
			TokenURL:  c.base + "/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	browser := newBrowser(t)

	verifier := oauth2.GenerateVerifier()
	state := `st"><b>x</b>&é ` + verifier[:8]
	err := chromedp.Do(browser,
		chromedp.Navigate(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(`input[name=username]`),
		chromedp.SendKeys(`input[name=username]`, "admin"),
		chromedp.SendKeys(`input[name=password]`, adminPassword),
		chromedp.Click(`button[name=action][value=login]`),
		chromedp.WaitVisible(`button[name=action][value=approve]`),
	)
	if err != nil {
		t.Fatalf("signing in: %v", err)
	}
	consentText, err := chromedp.Run(browser, chromedp.Text(`body`))
	if err != nil {
		t.Fatalf("reading the consent page: %v", err)
	}
	// The click ends on the callback's page: wait for it, so that the next
	// navigation does not abort this one.
	if err := chromedp.Do(browser, chromedp.Click(`button[name=action][value=approve]`), chromedp.WaitVisible(`#done`)); err != nil {
		t.Fatalf("approving: %v", err)
	}
	for _, want := range []string{"browser-spa", "read", "admin"} {
		if !strings.Contains(consentText, want) {
			t.Errorf("the consent page does not show %q:\n%s", want, consentText)
		}
	}
	got := cb.wait(t)
	if got.Get("state") != state {
		t.Errorf("state = %q, want %q byte for byte", got.Get("state"), state)
	}
	if got.Get("iss") == "" {
		t.Error("the authorization response has no iss (RFC 9207)")
	}
	code := got.Get("code")
	if code == "" {
		t.Fatalf("no code in the authorization response: %v", got)
	}
	tok, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}
	if r := c.get(t, "/orders/1", tok.AccessToken); r.Status != http.StatusOK {
		t.Fatalf("the token from the browser flow: GET /orders/1 = %s", r)
	}

	// The browser session is remembered: no password the second time.
	verifier2 := oauth2.GenerateVerifier()
	err = chromedp.Do(browser,
		chromedp.Navigate(conf.AuthCodeURL("second", oauth2.S256ChallengeOption(verifier2))),
		chromedp.WaitVisible(`button[name=action][value=deny]`),
	)
	if err != nil {
		t.Fatalf("second authorization: %v", err)
	}
	askedAgain, err := chromedp.Run(browser, chromedp.Evaluate[bool](`document.querySelector("input[name=password]") !== null`))
	if err != nil {
		t.Fatalf("second authorization: %v", err)
	}
	if err := chromedp.Do(browser, chromedp.Click(`button[name=action][value=deny]`), chromedp.WaitVisible(`#done`)); err != nil {
		t.Fatalf("denying: %v", err)
	}
	if askedAgain {
		t.Error("the second authorization asked for the password again within the session")
	}
	denied := cb.wait(t)
	if denied.Get("error") != "access_denied" || denied.Get("state") != "second" || denied.Has("code") {
		t.Errorf("denial = %v, want error=access_denied, state=second and no code", denied)
	}

	// Framing: a same-origin page that frames /authorize sees nothing of it,
	// while it does see a page without the anti-framing headers.
	framed := func(src string) bool {
		t.Helper()
		err := chromedp.Do(browser,
			chromedp.Navigate(c.base+"/framed?src="+url.QueryEscape(src)),
			chromedp.Sleep(500*time.Millisecond),
		)
		if err != nil {
			t.Fatalf("framing %s: %v", src, err)
		}
		visible, err := chromedp.Run(browser, chromedp.Evaluate[bool](`(() => {
			try {
				const d = document.getElementById("f").contentDocument;
				return !!d && !!d.body && d.body.innerHTML.length > 0;
			} catch (e) { return false; }
		})()`))
		if err != nil {
			t.Fatalf("framing %s: %v", src, err)
		}
		return visible
	}
	if !framed("/plain") {
		t.Fatal("control: a same-origin page without anti-framing headers did not render in the frame")
	}
	if framed(conf.AuthCodeURL("framed", oauth2.S256ChallengeOption(verifier2))) {
		t.Error("/authorize rendered inside a frame")
	}
}
