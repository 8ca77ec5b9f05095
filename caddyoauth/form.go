package caddyoauth

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// formMediaType is the media type of endpoint request bodies.
const formMediaType = "application/x-www-form-urlencoded"

// readForm reads a POST body of application/x-www-form-urlencoded
// parameters within the app's limits (RFC 6749 §3.2). Parameters without a
// value count as absent; a parameter given twice is invalid_request. The
// query string is never read.
func (a *App) readForm(w http.ResponseWriter, r *http.Request) (url.Values, *Error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &Error{Code: CodeInvalidRequest, Description: "the method must be POST", Status: http.StatusMethodNotAllowed}
	}
	// The usual header is taken as it is; only others need parsing.
	if ct := r.Header.Get("Content-Type"); ct != formMediaType {
		mediaType, _, err := mime.ParseMediaType(ct)
		if err != nil || mediaType != formMediaType {
			return nil, Errorf(CodeInvalidRequest, "the body must be application/x-www-form-urlencoded")
		}
	}
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer putBodyBuffer(buf)
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, a.Limits.MaxBodyBytes))
	if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
		return nil, &Error{Code: CodeInvalidRequest, Description: "the body is too large", Status: http.StatusRequestEntityTooLarge}
	}
	if err != nil {
		return nil, Errorf(CodeInvalidRequest, "reading the body failed")
	}
	return parseForm(buf.String(), a.Limits.MaxParams)
}

// bodyBuffers holds buffers for reading request bodies, which are copied
// into a string at once and need no buffer of their own afterwards.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody is the capacity above which a body buffer is dropped rather
// than kept for the next request: bodies are small unless abusive.
const maxPooledBody = 64 << 10

func putBodyBuffer(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledBody {
		return
	}
	buf.Reset()
	bodyBuffers.Put(buf)
}

// parseForm parses a form-urlencoded body into single-valued parameters. It
// accepts and rejects what url.ParseQuery does, but builds the single-valued
// form directly: the values of all parameters share one backing array.
func parseForm(body string, maxParams int) (url.Values, *Error) {
	n := strings.Count(body, "&") + 1
	if n > maxParams {
		return nil, Errorf(CodeInvalidRequest, "too many parameters")
	}
	form := make(url.Values, n)
	values := make([]string, 0, n)
	repeated, isRepeated := "", false
	for body != "" {
		var pair string
		pair, body, _ = strings.Cut(body, "&")
		if strings.Contains(pair, ";") {
			return nil, errFormEncoding()
		}
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		name, err1 := url.QueryUnescape(name)
		value, err2 := url.QueryUnescape(value)
		if err1 != nil || err2 != nil {
			return nil, errFormEncoding()
		}
		if value == "" {
			continue
		}
		if _, seen := form[name]; seen {
			// Reported once the whole body is known to be well encoded.
			if !isRepeated {
				repeated, isRepeated = name, true
			}
			continue
		}
		// Capped at its one value, so appending to it cannot overwrite
		// the next parameter's.
		values = append(values, value)
		form[name] = values[len(values)-1 : len(values) : len(values)]
	}
	if isRepeated {
		return nil, Errorf(CodeInvalidRequest, "parameter %q is repeated", repeated)
	}
	return form, nil
}

// errFormEncoding is the answer to a body that url.ParseQuery rejects.
func errFormEncoding() *Error {
	return Errorf(CodeInvalidRequest, "the body is not valid form encoding")
}
