package load

import (
	"net/http"
	"net/url"
	"strings"
)

// Get returns a RequestFunc for GET url with the given headers.
func Get(rawURL string, header http.Header) RequestFunc {
	return func(int, int) (*http.Request, error) {
		req, err := http.NewRequest(http.MethodGet, rawURL, nil)
		if err != nil {
			return nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		return req, nil
	}
}

// Bearer returns a RequestFunc for GET url with "Authorization: Bearer"
// and the token that token(conn, seq) returns.
func Bearer(rawURL string, token func(conn, seq int) string) RequestFunc {
	return func(conn, seq int) (*http.Request, error) {
		req, err := http.NewRequest(http.MethodGet, rawURL, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token(conn, seq))
		return req, nil
	}
}

// PostForm returns a RequestFunc for POST url with a form body and, if
// user is not empty, HTTP Basic authentication (each part form-encoded, as
// RFC 6749 §2.3.1 asks).
func PostForm(rawURL string, form url.Values, user, password string) RequestFunc {
	body := form.Encode()
	return func(int, int) (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(password))
		}
		return req, nil
	}
}
