// Package remotewrite sends the samples the collector stores on to a
// remote-write 1.0 receiver (Prometheus with --web.enable-remote-write-receiver,
// Thanos receive, VictoriaMetrics), for keeping at a scale or for longer than
// the embedded store does.
package remotewrite

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// Defaults for a zero MaxQueue and BatchSize.
const (
	DefaultMaxQueue  = 1_000_000
	DefaultBatchSize = 2000
)

// Writer sends every float sample appended through Tee to the receiver at URL.
// Native histograms are stored locally but not sent: a receiver without
// native histograms enabled (Prometheus 2.x's default) would refuse the whole
// request, floats included.
type Writer struct {
	URL       string
	Headers   map[string]string // e.g. Authorization; never logged
	Client    *http.Client      // nil = a default with timeouts
	MaxQueue  int               // samples held in memory; beyond it the oldest are dropped and counted (default 1_000_000)
	BatchSize int               // samples per request (default 2000)
	Active    func() bool       // nil = always; false = samples are not queued (only the leader replica sends)
	Log       *slog.Logger

	initOnce sync.Once
	mu       sync.Mutex
	q        queue
	inflight int
	wake     chan struct{}
	running  atomic.Bool

	sent, rejected, failed atomic.Uint64

	// Retry pacing; tests shorten it.
	minBackoff, maxBackoff time.Duration

	lastRejected int // status of the last logged rejection, so it is logged once
}

// Stats are the Writer's counters, for the platform's self metrics.
type Stats struct {
	Sent    uint64 // samples the receiver accepted
	Dropped uint64 // samples given up: pushed out of a full queue, or refused by the receiver (4xx)
	Failed  uint64 // requests that failed (each retry counts)
	Queued  int    // samples waiting to be sent, including the batch in flight
}

func (w *Writer) init() {
	w.initOnce.Do(func() {
		w.wake = make(chan struct{}, 1)
		if w.MaxQueue <= 0 {
			w.MaxQueue = DefaultMaxQueue
		}
		if w.BatchSize <= 0 {
			w.BatchSize = DefaultBatchSize
		}
		if w.Log == nil {
			w.Log = slog.New(slog.DiscardHandler)
		}
		if w.minBackoff == 0 {
			w.minBackoff = 50 * time.Millisecond
		}
		if w.maxBackoff == 0 {
			w.maxBackoff = 10 * time.Second
		}
		w.q.max = w.MaxQueue
	})
}

// Stats reads the counters; safe to call at any time.
func (w *Writer) Stats() Stats {
	w.init()
	w.mu.Lock()
	defer w.mu.Unlock()
	return Stats{
		Sent:    w.sent.Load(),
		Dropped: w.q.dropped + w.rejected.Load(),
		Failed:  w.failed.Load(),
		Queued:  w.q.len() + w.inflight,
	}
}

func (w *Writer) active() bool { return w.Active == nil || w.Active() }

// pending is a sample appended but not yet committed.
type pending struct {
	l labels.Labels
	t int64
	v float64
}

// enqueue adds a committed transaction's samples and wakes the sender.
func (w *Writer) enqueue(batch []pending) {
	if len(batch) == 0 {
		return
	}
	w.mu.Lock()
	for _, p := range batch {
		w.q.push(p.l, p.t, p.v)
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Tee returns an Appendable whose appends go to next; when next commits them,
// they are queued for sending too. As with any Appender, the labels passed to
// Append must not be changed before Commit; they are copied when queued.
func (w *Writer) Tee(next storage.Appendable) storage.Appendable {
	w.init()
	return teeAppendable{w: w, next: next}
}

type teeAppendable struct {
	w    *Writer
	next storage.Appendable
}

func (t teeAppendable) Appender(ctx context.Context) storage.Appender {
	app := t.next.Appender(ctx)
	if !t.w.active() {
		return app // a follower stores locally and leaves sending to the leader
	}
	return &teeAppender{Appender: app, w: t.w}
}

// teeAppender remembers what next accepted, to queue it once committed.
type teeAppender struct {
	storage.Appender
	w   *Writer
	buf []pending
}

func (a *teeAppender) Append(ref storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	ref, err := a.Appender.Append(ref, l, t, v)
	if err == nil {
		a.buf = append(a.buf, pending{l, t, v})
	}
	return ref, err
}

func (a *teeAppender) Commit() error {
	err := a.Appender.Commit()
	if err == nil && a.w.active() {
		a.w.enqueue(a.buf)
	}
	a.buf = nil
	return err
}

func (a *teeAppender) Rollback() error {
	a.buf = nil
	return a.Appender.Rollback()
}
