package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCountsSuccessesAndErrors(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()

	res, err := Run(context.Background(), Config{
		Conns: 4, Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond,
		Request: Get(srv.URL, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors == 0 {
		t.Fatalf("want both successes and errors, got %+v", res)
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 {
		t.Errorf("percentiles out of order: %+v", res)
	}
	if res.FirstError == "" {
		t.Error("no first error recorded")
	}
}

func TestPostFormSendsBasicAuthAndBody(t *testing.T) {
	f := PostForm("http://127.0.0.1/token", url.Values{"grant_type": {"client_credentials"}}, "a:b", "s&t")
	req, err := f(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	user, pass, ok := req.BasicAuth()
	if !ok || user != "a%3Ab" || pass != "s%26t" {
		t.Errorf("basic auth = %q %q %v, want form-encoded parts", user, pass, ok)
	}
	if err := req.ParseForm(); err != nil || req.PostForm.Get("grant_type") != "client_credentials" {
		t.Errorf("form = %v (%v)", req.PostForm, err)
	}
}

func TestPercentile(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 5}, {99, 10}, {100, 10}, {0, 1}} {
		if got := Percentile(d, tc.p); got != tc.want {
			t.Errorf("Percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("Percentile of nothing is not 0")
	}
}
