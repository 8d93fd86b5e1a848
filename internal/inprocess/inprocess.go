// Package inprocess is an http.RoundTripper that serves client requests
// with a handler in the same process: client-go talks to the gateway's own
// routing as an already authenticated caller, with the same decision point
// and proxy as the caller's own requests, without a network hop or a token.
package inprocess

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
)

// Host is the base URL of in-process requests; it never reaches a network.
const Host = "http://kstack.in-process"

// Transport serves each request with Serve. Responses stream (watches,
// logs -f): the handler runs in its own goroutine and writes into a pipe.
type Transport struct {
	Serve func(w http.ResponseWriter, r *http.Request)
	Log   *slog.Logger
}

func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	req = req.Clone(ctx)
	if req.Body == nil {
		req.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	rw := &pipeWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			// httputil.ReverseProxy aborts a response it cannot finish
			// with a panic, which a server would recover; so do we.
			if v := recover(); v != nil && v != http.ErrAbortHandler && t.Log != nil {
				t.Log.Error("in-process API request panicked", "path", req.URL.Path, "panic", v)
			}
			rw.WriteHeader(http.StatusOK) // no-op when already written
			_ = pw.Close()
		}()
		t.Serve(rw, req)
	}()
	select {
	case <-rw.ready:
	case <-ctx.Done():
		cancel()
		return nil, ctx.Err()
	}
	return &http.Response{
		Status:        http.StatusText(rw.code),
		StatusCode:    rw.code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rw.sent,
		Body:          &cancelBody{ReadCloser: pr, cancel: cancel},
		ContentLength: -1,
		Request:       req,
	}, nil
}

// cancelBody ends the handler when the reader is done with the body.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	b.cancel()
	return b.ReadCloser.Close()
}

// pipeWriter is the handler's side of an in-process response.
type pipeWriter struct {
	header http.Header
	pw     *io.PipeWriter
	once   sync.Once
	ready  chan struct{}
	code   int
	sent   http.Header
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	w.once.Do(func() {
		// The caller reads the header map once ready is closed; the
		// handler no longer touches it after writing the header.
		w.sent = w.header.Clone()
		w.code = code
		close(w.ready)
	})
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(p)
}

// Flush is a no-op: pipe writes are not buffered.
func (w *pipeWriter) Flush() {}
