package caddyoauth

import (
	"maps"
	"net/url"
	"slices"
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

// parseFormWithParseQuery is the reference parseForm: url.ParseQuery, then
// the empty values dropped and repeated parameters refused.
func parseFormWithParseQuery(body string, maxParams int) (url.Values, *Error) {
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

// checkParseForm compares parseForm with the reference on body.
func checkParseForm(t *testing.T, body string) {
	t.Helper()
	got, gotErr := parseForm(body, 8)
	want, wantErr := parseFormWithParseQuery(body, 8)
	switch {
	case (gotErr == nil) != (wantErr == nil):
		t.Fatalf("parseForm(%q) = %v, %v; want %v, %v", body, got, gotErr, want, wantErr)
	case gotErr != nil:
		// With several repeated parameters, the reference names any one.
		if !strings.Contains(wantErr.Description, "is repeated") && *gotErr != *wantErr ||
			strings.Contains(wantErr.Description, "is repeated") != strings.Contains(gotErr.Description, "is repeated") {
			t.Fatalf("parseForm(%q) error %v, want %v", body, gotErr, wantErr)
		}
	case !maps.EqualFunc(got, want, slices.Equal):
		t.Fatalf("parseForm(%q) = %v, want %v", body, got, want)
	}
}

func TestParseFormMatchesParseQuery(t *testing.T) {
	for _, body := range []string{
		"", "&", "&&a=1&&", "=", "=x", "a", "a=", "a==b", "a=b=c", "a=1&a=", "a=&a=1", "a=1&a=1",
		"a=1;b=2", "a=1&b=2;", ";", "a=%41&%61=1", "a=%zz", "%zz=1", "a=1&a=2&b=%zz", "a=1&a=2&c;d",
		"a=1&a=2&b=1&b=2", "a+b=c+d", "a%20b=%2B", "grant_type=client_credentials&scope=read",
		"1&2&3&4&5&6&7&8", "1&2&3&4&5&6&7&8&9",
	} {
		checkParseForm(t, body)
	}
}

func FuzzParseForm(f *testing.F) {
	f.Add("grant_type=client_credentials&scope=read+update")
	f.Add("a=1&a=2&b=%zz")
	f.Add("a=1;b=2&a=")
	f.Fuzz(checkParseForm)
}

func TestParseFormValuesAreSeparate(t *testing.T) {
	form, e := parseForm("a=1&b=2", 8)
	if e != nil {
		t.Fatal(e)
	}
	form.Add("a", "3")
	if got := form["b"]; len(got) != 1 || got[0] != "2" {
		t.Fatalf("appending to a overwrote b: %v", form)
	}
}
