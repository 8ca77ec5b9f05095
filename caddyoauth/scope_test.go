package caddyoauth

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
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

func TestParseScope(t *testing.T) {
	many := make([]string, 40)
	for i := range many {
		many[i] = fmt.Sprintf("s%d", i)
	}
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"empty", "", nil},
		{"spaces only", "   ", nil},
		{"one", "read", []string{"read"}},
		{"duplicates keep the first", "read update read  update", []string{"read", "update"}},
		{"many, duplicates on both sides of the switch to a set",
			strings.Join(many, " ") + " s0 s15 s16 s39 " + strings.Join(many[:20], " "), many},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseScope(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("ParseScope(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// A scope parameter as long as a body may be costs time linear in its
// length, as splitting it does: a public client can send one without a
// secret. Measured against strings.Fields on the same parameter, the best
// of nine runs each, taken in turns so that a slow spell of a busy machine
// (or -race) slows both alike.
func TestParseScopeOfALongParameterIsQuick(t *testing.T) {
	words := make([]string, 12000) // about what a 64 KiB body holds
	for i := range words {
		words[i] = fmt.Sprintf("s%d", i)
	}
	param := strings.Join(words, " ")
	timed := func(f func()) time.Duration {
		start := time.Now()
		f()
		return time.Since(start)
	}
	split, parse := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	for range 9 {
		split = min(split, timed(func() { strings.Fields(param) }))
		parse = min(parse, timed(func() {
			if got := ParseScope(param); len(got) != len(words) {
				t.Fatalf("%d scopes, want %d", len(got), len(words))
			}
		}))
	}
	t.Logf("splitting %v, parsing %v", split, parse)
	if parse > 40*split {
		t.Fatalf("parsing took %v, splitting %v", parse, split)
	}
}
