package caddyoauth

import (
	"slices"
	"strings"
)

// DefaultScope is what a token carries when no requested scope is granted.
const DefaultScope = "default"

// ParseScope splits a scope parameter (RFC 6749 §3.3) into its scopes,
// dropping duplicates. It returns nil for an empty parameter.
func ParseScope(s string) []string {
	var scopes []string
	var seen map[string]bool // past a few scopes: a list would make a long parameter quadratic
	for f := range strings.FieldsSeq(s) {
		switch {
		case seen != nil:
			if seen[f] {
				continue
			}
			seen[f] = true
		case slices.Contains(scopes, f):
			continue
		case len(scopes) == maxListedScopes:
			seen = make(map[string]bool)
			for _, s := range scopes {
				seen[s] = true
			}
			seen[f] = true
		}
		scopes = append(scopes, f)
	}
	return scopes
}

// maxListedScopes is how many distinct scopes ParseScope checks for
// duplicates by a linear search.
const maxListedScopes = 16

// GrantScopes returns the requested scopes that the client, and the user if
// any, may have; with none requested or none left, just "default".
func GrantScopes(requested []string, client *Client, user *User) []string {
	var granted []string
	for _, s := range requested {
		if slices.Contains(client.Scopes, s) && (user == nil || user.mayHave(s)) {
			granted = append(granted, s)
		}
	}
	if len(granted) == 0 {
		return []string{DefaultScope}
	}
	return granted
}

// HasScopes reports whether have holds every scope of need.
func HasScopes(have, need []string) bool {
	for _, s := range need {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}

// scopeContains reports whether the space-separated scope list holds s,
// without allocating.
func scopeContains(list, s string) bool {
	for list != "" {
		var field string
		field, list, _ = strings.Cut(list, " ")
		if field == s {
			return true
		}
	}
	return false
}

// joinScopes formats scopes as a scope parameter (RFC 6749 §3.3).
func joinScopes(scopes []string) string { return strings.Join(scopes, " ") }
