package caddyoauth

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// readForm reads a POST body of application/x-www-form-urlencoded
// parameters within the app's limits (RFC 6749 §3.2). Parameters without a
// value count as absent; a parameter given twice is invalid_request. The
// query string is never read.
func (a *App) readForm(w http.ResponseWriter, r *http.Request) (url.Values, *Error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &Error{Code: CodeInvalidRequest, Description: "the method must be POST", Status: http.StatusMethodNotAllowed}
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/x-www-form-urlencoded" {
		return nil, Errorf(CodeInvalidRequest, "the body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.Limits.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, &Error{Code: CodeInvalidRequest, Description: "the body is too large", Status: http.StatusRequestEntityTooLarge}
	}
	if err != nil {
		return nil, Errorf(CodeInvalidRequest, "reading the body failed")
	}
	return parseForm(string(body), a.Limits.MaxParams)
}

// parseForm parses a form-urlencoded body into single-valued parameters.
func parseForm(body string, maxParams int) (url.Values, *Error) {
	if strings.Count(body, "&") >= maxParams {
		return nil, Errorf(CodeInvalidRequest, "too many parameters")
	}
	raw, err := url.ParseQuery(body)
	if err != nil {
		return nil, Errorf(CodeInvalidRequest, "the body is not valid form encoding")
	}
	form := make(url.Values, len(raw))
	for name, values := range raw {
		var set []string
		for _, v := range values {
			if v != "" {
				set = append(set, v)
			}
		}
		switch len(set) {
		case 0:
		case 1:
			form[name] = set
		default:
			return nil, Errorf(CodeInvalidRequest, "parameter %q is repeated", name)
		}
	}
	return form, nil
}
