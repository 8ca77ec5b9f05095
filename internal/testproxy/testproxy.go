// Package testproxy is a TCP proxy for tests that simulates a bad network:
// one that delays what it carries, splits it, or stops carrying it without
// a word (a lost network or a frozen server, which TCP does not report for
// minutes).
package testproxy

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards TCP connections to a server, in order, both ways.
type Proxy struct {
	ln     net.Listener
	target string

	// delay is how long each read takes to be forwarded, in nanoseconds.
	delay atomic.Int64
	// split is a pause, in nanoseconds, after the first line of each read
	// from the server that contains splitMarker; 0 for none.
	split       atomic.Int64
	splitMarker atomic.Pointer[[]byte]

	mu      sync.Mutex
	conns   []net.Conn
	stalled []*atomic.Bool
}

// Start starts a proxy to target (host:port) on 127.0.0.1, closed with
// every connection it carries at the end of the test.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Stall makes every connection open so far swallow what it carries, both
// ways, without closing. New connections are forwarded.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.stalled {
		s.Store(true)
	}
}

// Delay makes what the proxy reads, both ways, reach the other side d
// later, as on a slow network.
func (p *Proxy) Delay(d time.Duration) { p.delay.Store(int64(d)) }

// Split makes each read from the server that contains marker reach the
// client in two parts, pause apart: its first line, then the rest.
func (p *Proxy) Split(marker string, pause time.Duration) {
	m := []byte(marker)
	p.splitMarker.Store(&m)
	p.split.Store(int64(pause))
}

// Close stops the proxy and closes every connection it carries.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func (p *Proxy) serve() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			down.Close()
			continue
		}
		stalled := new(atomic.Bool)
		p.mu.Lock()
		p.conns = append(p.conns, down, up)
		p.stalled = append(p.stalled, stalled)
		p.mu.Unlock()
		go p.forward(up, down, stalled, false)
		go p.forward(down, up, stalled, true)
	}
}

// forward copies from src to dst until either closes, each read delay
// after it was read, dropping what it reads while stalled; fromServer says
// whether src is the server.
func (p *Proxy) forward(dst, src net.Conn, stalled *atomic.Bool, fromServer bool) {
	type chunk struct {
		b   []byte
		due time.Time
	}
	chunks := make(chan chunk, 1024)
	go func() {
		defer close(chunks)
		for {
			b := make([]byte, 32<<10)
			n, err := src.Read(b)
			if n > 0 && !stalled.Load() {
				chunks <- chunk{b[:n], time.Now().Add(time.Duration(p.delay.Load()))}
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		dst.Close()
		src.Close()
		for range chunks { // until the reader stops
		}
	}()
	for c := range chunks {
		time.Sleep(time.Until(c.due))
		if stalled.Load() {
			continue
		}
		if first, rest, ok := p.splitPoint(c.b, fromServer); ok {
			if _, err := dst.Write(first); err != nil {
				return
			}
			time.Sleep(time.Duration(p.split.Load()))
			c.b = rest
		}
		if _, err := dst.Write(c.b); err != nil {
			return
		}
	}
}

// splitPoint returns the two parts a read from the server is split into,
// if Split applies to it.
func (p *Proxy) splitPoint(b []byte, fromServer bool) (first, rest []byte, ok bool) {
	m := p.splitMarker.Load()
	if !fromServer || m == nil || p.split.Load() == 0 || !bytes.Contains(b, *m) {
		return nil, nil, false
	}
	i := bytes.Index(b, []byte("\n"))
	if i < 0 || i == len(b)-1 {
		return nil, nil, false
	}
	return b[:i+1], b[i+1:], true
}
