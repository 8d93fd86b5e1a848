// Package hooktest is a real HTTP webhook receiver for tests: it listens on
// 127.0.0.1, records every request it gets, and can be made slow or failing
// on demand.
package hooktest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options set how the hook answers at first; SetStatus and SetDelay change it.
type Options struct {
	// Delay is how long each request waits before it is answered.
	Delay time.Duration
	// Status is the answer's status code (default 200).
	Status int
}

// Req is one request the hook received.
type Req struct {
	At     time.Time
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// Hook is a running webhook receiver; it is closed when the test ends.
type Hook struct {
	srv *http.Server
	url string

	mu     sync.Mutex
	status int
	delay  time.Duration
	reqs   []Req
	notify chan struct{} // closed and replaced on every request
	done   chan struct{}
}

// Start starts a hook on 127.0.0.1 and stops it when t ends.
func Start(t testing.TB, o Options) *Hook {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("hooktest: listen: %v", err)
	}
	if o.Status == 0 {
		o.Status = http.StatusOK
	}
	h := &Hook{
		url:    "http://" + l.Addr().String() + "/hook",
		status: o.Status,
		delay:  o.Delay,
		notify: make(chan struct{}),
		done:   make(chan struct{}),
	}
	h.srv = &http.Server{Handler: http.HandlerFunc(h.serve), ReadHeaderTimeout: 10 * time.Second}
	go h.srv.Serve(l) //nolint:errcheck // ends with Close
	t.Cleanup(func() {
		close(h.done) // release slow handlers first
		h.srv.Close()
	})
	return h
}

func (h *Hook) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	h.mu.Lock()
	h.reqs = append(h.reqs, Req{At: time.Now(), Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	close(h.notify)
	h.notify = make(chan struct{})
	status, delay := h.status, h.delay
	h.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		case <-h.done:
		}
	}
	w.WriteHeader(status)
}

// URL is the address to post to (http://127.0.0.1:port/hook; any path is accepted).
func (h *Hook) URL() string { return h.url }

// Received returns a copy of the requests so far, in order of arrival.
func (h *Hook) Received() []Req {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Req(nil), h.reqs...)
}

// SetStatus changes the status code of the following answers.
func (h *Hook) SetStatus(code int) {
	h.mu.Lock()
	h.status = code
	h.mu.Unlock()
}

// SetDelay changes how long the following requests wait.
func (h *Hook) SetDelay(d time.Duration) {
	h.mu.Lock()
	h.delay = d
	h.mu.Unlock()
}

// Wait waits until at least n requests arrived and returns them all; after
// timeout it fails the test, listing what did arrive.
func (h *Hook) Wait(t testing.TB, n int, timeout time.Duration) []Req {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		got, ch := append([]Req(nil), h.reqs...), h.notify
		h.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("hooktest: waited %s for %d requests, got %d:%s", timeout, n, len(got), describe(got))
			return got
		}
	}
}

func describe(rs []Req) string {
	var b strings.Builder
	for i, r := range rs {
		body := string(r.Body)
		if len(body) > 300 {
			body = body[:300] + "…"
		}
		fmt.Fprintf(&b, "\n  %d. %s %s %s %s", i+1, r.At.Format(time.RFC3339Nano), r.Method, r.Path, body)
	}
	return b.String()
}
