package caddyoauth

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// setNoStore marks a response that carries a token or credential (RFC 6749
// §5.1), errors included.
func setNoStore(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// writeJSON writes v as a JSON response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err
}

// writeError writes a protocol error as RFC 6749 §5.2 JSON.
// A 401 carries the challenge of the one client authentication scheme
// that uses a header, whichever way the client tried (RFC 6749 §5.2, RFC
// 9110 §15.5.2).
func writeError(w http.ResponseWriter, e *Error) error {
	if e.status() == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth"`)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+999_999_999)/1_000_000_000)))
	}
	return writeJSON(w, e.status(), e)
}

// writeHeadHiding sends a response without a body, then drops the headers
// named in secret, which carry a token or a code, from the header map:
// Caddy's access log, written once the handler has returned, records the
// response headers it finds there, and no log may hold a whole token.
// What is sent keeps them: the head is flushed first, and HTTP/1, 2 and 3
// all send a copy of the headers. A writer that cannot flush keeps them.
func writeHeadHiding(w http.ResponseWriter, status int, secret ...string) {
	h := w.Header()
	h.Set("Content-Length", "0")
	w.WriteHeader(status)
	if http.NewResponseController(w).Flush() != nil {
		return
	}
	for _, k := range secret {
		h.Del(k)
	}
}
