package caddyoauth

import (
	"fmt"
	"net/http"
	"time"
)

// Error is an OAuth 2.0 protocol error (RFC 6749 §5.2), answered as JSON.
type Error struct {
	// Code is the error code, such as "invalid_grant".
	Code string `json:"error"`
	// Description is a short human-readable explanation for the client
	// developer. It never holds a secret or an internal detail.
	Description string `json:"error_description,omitempty"`
	// Status is the HTTP status; 0 means 400.
	Status int `json:"-"`
	// RetryAfter, if set, is sent as the Retry-After header (with 429).
	RetryAfter time.Duration `json:"-"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

// status returns the HTTP status of the error.
func (e *Error) status() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

// The error codes of RFC 6749 §5.2.
const (
	CodeInvalidRequest       = "invalid_request"
	CodeInvalidClient        = "invalid_client"
	CodeInvalidGrant         = "invalid_grant"
	CodeUnauthorizedClient   = "unauthorized_client"
	CodeUnsupportedGrantType = "unsupported_grant_type"
	CodeInvalidScope         = "invalid_scope"
)

// Errorf returns a protocol error with the given code and description.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}
