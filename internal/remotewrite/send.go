package remotewrite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// defaultClient bounds a request so that a receiver that stops answering
// counts as a failed attempt and is retried.
var defaultClient = &http.Client{Timeout: 30 * time.Second}

// Run sends queued samples until ctx ends, then returns nil; samples not yet
// delivered stay queued. It returns an error at once if URL is unusable or
// another Run is under way.
func (w *Writer) Run(ctx context.Context) error {
	w.init()
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("remotewrite: URL %q is not an http(s) URL", w.URL)
	}
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("remotewrite: Run is already running")
	}
	defer w.running.Store(false)
	target := u.Redacted()
	for {
		w.mu.Lock()
		batch := w.q.pop(w.BatchSize)
		w.inflight = len(batch)
		w.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-w.wake:
			}
			continue
		}
		delivered := w.deliver(ctx, batch, target)
		w.mu.Lock()
		w.inflight = 0
		if delivered {
			w.q.done(batch)
		} else {
			w.q.unpop(batch) // ctx ended: keep them for the next Run
		}
		w.mu.Unlock()
		if !delivered {
			return nil
		}
	}
}

// deliver sends one batch, retrying what may succeed later, until it is
// accepted or refused for good (true), or ctx ends (false).
func (w *Writer) deliver(ctx context.Context, batch []entry, target string) bool {
	body, err := encode(batch)
	if err != nil {
		// Cannot happen for well-formed samples; do not retry it forever.
		w.rejected.Add(uint64(len(batch)))
		w.Log.Error("remote write: encoding a batch failed; dropped", "url", target, "samples", len(batch), "err", err)
		return true
	}
	backoff := w.minBackoff
	for {
		status, wait, err := w.post(ctx, body)
		switch {
		case err == nil:
			w.sent.Add(uint64(len(batch)))
			w.lastRejected = 0
			return true
		case ctx.Err() != nil:
			return false
		case status != 0 && status != http.StatusTooManyRequests && status < 500:
			w.failed.Add(1)
			w.rejected.Add(uint64(len(batch)))
			// A refusal repeats for every batch until someone fixes the cause:
			// say why once, not once per batch.
			if status != w.lastRejected {
				w.lastRejected = status
				w.Log.Warn("remote write: receiver refused a batch; dropped, later refusals with this status are not logged",
					"url", target, "status", status, "samples", len(batch), "err", err)
			}
			return true
		}
		w.failed.Add(1)
		w.Log.Debug("remote write: will retry", "url", target, "status", status, "err", err, "backoff", backoff)
		t := time.NewTimer(max(backoff, min(wait, w.maxBackoff)))
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		backoff = min(2*backoff, w.maxBackoff)
	}
}

// encode builds the WriteRequest: one TimeSeries per series, in the order the
// series first appear, with its samples in timestamp order (receivers refuse
// out-of-order samples) and labels sorted by name, __name__ included.
func encode(batch []entry) ([]byte, error) {
	index := map[*series]int{}
	var req prompb.WriteRequest
	for _, e := range batch {
		i, ok := index[e.s]
		if !ok {
			i = len(req.Timeseries)
			index[e.s] = i
			req.Timeseries = append(req.Timeseries, prompb.TimeSeries{Labels: prompb.FromLabels(e.s.labels, nil)})
		}
		req.Timeseries[i].Samples = append(req.Timeseries[i].Samples, prompb.Sample{Timestamp: e.t, Value: e.v})
	}
	for i := range req.Timeseries {
		ts := &req.Timeseries[i]
		slices.SortStableFunc(ts.Labels, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) })
		slices.SortStableFunc(ts.Samples, func(a, b prompb.Sample) int { return cmpInt(a.Timestamp, b.Timestamp) })
	}
	raw, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	return snappy.Encode(nil, raw), nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// post sends one request. status is 0 when no answer came; wait is the
// receiver's Retry-After, if any.
func (w *Writer) post(ctx context.Context, body []byte) (status int, wait time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "kstack")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	client := w.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
		return resp.StatusCode, 0, nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		wait = time.Duration(s) * time.Second
	}
	return resp.StatusCode, wait, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
}
