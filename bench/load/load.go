// Package load is a closed-loop HTTP load generator: a fixed number of
// keep-alive connections, each sending its next request as soon as the
// previous response is read, for a fixed duration.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// RequestFunc returns the next request to send. It is called concurrently
// from every connection's goroutine; seq is a per-connection counter.
type RequestFunc func(conn, seq int) (*http.Request, error)

// Config describes one load run.
type Config struct {
	// Conns is the number of concurrent keep-alive connections.
	Conns int
	// Duration is how long requests are sent, after Warmup.
	Duration time.Duration
	// Warmup is sent first and not measured (opens the connections, fills caches).
	Warmup time.Duration
	// Request makes each request.
	Request RequestFunc
	// WantStatus is the status that counts as success. Default: 200.
	WantStatus int
	// Timeout bounds one request. Default: 10s.
	Timeout time.Duration
}

// Run sends load as configured and returns what it measured. It stops by
// itself after Warmup+Duration (plus at most one request timeout), or when
// ctx ends.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Conns <= 0 || cfg.Duration <= 0 || cfg.Request == nil {
		return nil, errors.New("load: need conns > 0, duration > 0 and a request func")
	}
	if cfg.WantStatus == 0 {
		cfg.WantStatus = http.StatusOK
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	// Fail early on a request func that cannot build a request.
	if _, err := cfg.Request(0, 0); err != nil {
		return nil, fmt.Errorf("load: building request: %w", err)
	}

	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.Conns,
		MaxIdleConnsPerHost: cfg.Conns,
		MaxConnsPerHost:     cfg.Conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	stopAt := measureFrom.Add(cfg.Duration)

	workers := make([]worker, cfg.Conns)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func(w *worker, conn int) {
			defer wg.Done()
			w.run(ctx, client, cfg, conn, measureFrom, stopAt)
		}(&workers[i], i)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load: interrupted: %w", err)
	}
	return summarize(workers, cfg.Duration), nil
}

// worker is one connection's loop and its measurements.
type worker struct {
	latencies []time.Duration
	errors    int
	firstErr  string
}

func (w *worker) run(ctx context.Context, client *http.Client, cfg Config, conn int, measureFrom, stopAt time.Time) {
	for seq := 0; ; seq++ {
		if ctx.Err() != nil {
			return
		}
		t0 := time.Now()
		if !t0.Before(stopAt) {
			return
		}
		err := do(ctx, client, cfg, conn, seq)
		t1 := time.Now()
		if t0.Before(measureFrom) || t1.After(stopAt) {
			continue // warmup, or straddling the end
		}
		if err != nil {
			w.errors++
			if w.firstErr == "" {
				w.firstErr = err.Error()
			}
			continue
		}
		w.latencies = append(w.latencies, t1.Sub(t0))
	}
}

func do(ctx context.Context, client *http.Client, cfg Config, conn, seq int) error {
	req, err := cfg.Request(conn, seq)
	if err != nil {
		return err
	}
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("reading body: %w", err)
	}
	if resp.StatusCode != cfg.WantStatus {
		return fmt.Errorf("status %d, want %d", resp.StatusCode, cfg.WantStatus)
	}
	return nil
}
