// Command load sends HTTP load to a 127.0.0.1 URL for a fixed time over N
// keep-alive connections and prints requests/s, latency percentiles and the
// error count, as text or as JSON (-json).
//
//	load -c 50 -d 5s -H 'Authorization: Bearer coat_…' http://127.0.0.1:8080/
//	load -c 50 -d 5s -form 'grant_type=client_credentials' -basic bench:benchsecret http://127.0.0.1:8081/token
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/caddy-oauth/caddy-oauth/bench/load"
)

type headerFlags http.Header

func (h headerFlags) String() string { return "" }

func (h headerFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	if !ok {
		return fmt.Errorf("header %q: want 'Name: value'", v)
	}
	http.Header(h).Add(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run() error {
	conns := flag.Int("c", 50, "concurrent keep-alive connections")
	duration := flag.Duration("d", 5*time.Second, "measured duration")
	warmup := flag.Duration("warmup", time.Second, "unmeasured warmup before the measured duration")
	form := flag.String("form", "", "POST this url-encoded form body instead of a GET")
	basic := flag.String("basic", "", "HTTP Basic credentials user:password (with -form)")
	status := flag.Int("status", http.StatusOK, "the status that counts as success")
	asJSON := flag.Bool("json", false, "print the result as JSON")
	headers := headerFlags{}
	flag.Var(headers, "H", "request header 'Name: value' (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		return errors.New("usage: load [flags] URL")
	}
	target := flag.Arg(0)
	if err := checkLoopback(target); err != nil {
		return err
	}
	if *duration > 10*time.Minute {
		return errors.New("-d: at most 10m")
	}

	var req load.RequestFunc
	if *form != "" {
		values, err := url.ParseQuery(*form)
		if err != nil {
			return fmt.Errorf("-form: %w", err)
		}
		user, pass, _ := strings.Cut(*basic, ":")
		req = load.PostForm(target, values, user, pass)
	} else {
		req = load.Get(target, http.Header(headers))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := load.Run(ctx, load.Config{
		Conns: *conns, Duration: *duration, Warmup: *warmup,
		Request: req, WantStatus: *status,
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	fmt.Printf("%d requests in %v, %.0f req/s, p50 %v, p90 %v, p99 %v, max %v, %d errors\n",
		res.Requests, res.Duration, res.RPS, res.P50, res.P90, res.P99, res.Max, res.Errors)
	if res.FirstError != "" {
		fmt.Printf("first error: %s\n", res.FirstError)
	}
	return nil
}

// checkLoopback refuses any target that is not a loopback address.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("target %q: only loopback addresses are allowed", raw)
	}
	return nil
}
