package caddyoauth

import (
	"strings"
	"testing"
)

func TestParseForm(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		want    map[string]string
		wantErr string
	}{
		{name: "simple", body: "grant_type=password&username=a", want: map[string]string{"grant_type": "password", "username": "a"}},
		{name: "empty value is absent", body: "scope=&grant_type=x", want: map[string]string{"grant_type": "x"}},
		{name: "empty duplicate is absent", body: "grant_type=x&grant_type=", want: map[string]string{"grant_type": "x"}},
		{name: "repeated", body: "grant_type=x&grant_type=y", wantErr: `parameter "grant_type" is repeated`},
		{name: "bad encoding", body: "a=%zz", wantErr: "not valid form encoding"},
		{name: "too many", body: strings.Repeat("a=1&", 64) + "b=2", wantErr: "too many parameters"},
		{name: "plus is space", body: "scope=read+update", want: map[string]string{"scope": "read update"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form, e := parseForm(tc.body, 64)
			if tc.wantErr != "" {
				if e == nil || e.Code != CodeInvalidRequest || !strings.Contains(e.Description, tc.wantErr) {
					t.Fatalf("got %v, want invalid_request containing %q", e, tc.wantErr)
				}
				return
			}
			if e != nil {
				t.Fatalf("unexpected error %v", e)
			}
			if len(form) != len(tc.want) {
				t.Fatalf("got %v, want %v", form, tc.want)
			}
			for k, v := range tc.want {
				if form.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, form.Get(k), v)
				}
			}
		})
	}
}
