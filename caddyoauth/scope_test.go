package caddyoauth

import (
	"slices"
	"testing"
)

func TestGrantScopes(t *testing.T) {
	client := &Client{Scopes: []string{"default", "read", "update"}}
	for _, tc := range []struct {
		name      string
		requested string
		user      *User
		want      []string
	}{
		{name: "none requested", requested: "", want: []string{"default"}},
		{name: "allowed", requested: "read update", want: []string{"read", "update"}},
		{name: "unknown dropped", requested: "read admin", want: []string{"read"}},
		{name: "none left", requested: "admin", want: []string{"default"}},
		{name: "case sensitive", requested: "READ", want: []string{"default"}},
		{name: "user limits", requested: "read update", user: &User{Scopes: []string{"read"}}, want: []string{"read"}},
		{name: "user without limits", requested: "read update", user: &User{}, want: []string{"read", "update"}},
		{name: "duplicates once", requested: "read read", want: []string{"read"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := GrantScopes(ParseScope(tc.requested), client, tc.user)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestScopeContains(t *testing.T) {
	for _, tc := range []struct {
		list, scope string
		want        bool
	}{
		{"read update", "read", true},
		{"read update", "update", true},
		{"read update", "rea", false},
		{"read update", "read update", false},
		{"", "read", false},
		{"readwrite", "read", false},
	} {
		if got := scopeContains(tc.list, tc.scope); got != tc.want {
			t.Errorf("scopeContains(%q, %q) = %v, want %v", tc.list, tc.scope, got, tc.want)
		}
	}
}
