package recordstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kstack/kstack/internal/diskqueue"
)

// Writer puts records into a disk queue and drains the queue into the
// store, so whoever records something (a request's audit event) never
// waits for the store and loses nothing while it is down: records wait on
// disk (bounded by the queue's MaxBytes) and are written when it is back.
// Delivery is at least once: a crash between Append and the queue's Ack
// appends a batch again (records with a UID replace their row; others may
// repeat).
type Writer struct {
	q     *diskqueue.Queue
	store Appender
	log   *slog.Logger

	// Tunables; fixed by NewWriter, changed only by tests.
	batch        int           // most records per Append
	linger       time.Duration // how long a partial batch waits for more
	minBackoff   time.Duration
	maxBackoff   time.Duration
	drainTimeout time.Duration // the final drain when Run stops

	kick chan struct{} // Flush: write now, do not linger

	mu       sync.Mutex
	progress chan struct{} // closed and replaced after every Ack
	written  int64
	lastErr  string
	failing  bool
	// After an outage: the backlog to write before saying the store is
	// back, and how many records were written since it returned.
	backTarget int64
	backCount  int64
	recovering bool
}

// WriterStats describe a Writer and its queue.
type WriterStats struct {
	Queued      int64  // records waiting in the queue
	QueuedBytes int64  // their size on disk
	Refused     int64  // records refused because the queue was full
	Written     int64  // records appended to the store by this Writer
	LastError   string // the last error from the store (kept after it recovers)
	Failing     bool   // the last write failed; records are kept and retried
}

// NewWriter returns a Writer that queues into q and drains into store;
// call Run to drain. log may be nil.
func NewWriter(q *diskqueue.Queue, store Appender, log *slog.Logger) *Writer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Writer{
		q:            q,
		store:        store,
		log:          log,
		batch:        500,
		linger:       100 * time.Millisecond,
		minBackoff:   100 * time.Millisecond,
		maxBackoff:   30 * time.Second,
		drainTimeout: 5 * time.Second,
		kick:         make(chan struct{}, 1),
		progress:     make(chan struct{}),
	}
}

// Add queues r. It never waits for the store; when the queue is full it
// returns diskqueue.ErrFull (counted in Stats().Refused) and r is dropped.
func (w *Writer) Add(r Record) error {
	r.ID = 0 // the store assigns it
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding record: %w", err)
	}
	return w.q.Put(b)
}

// Run drains the queue into the store until ctx is done, then makes a last
// bounded attempt to write what is queued and returns nil. Records that a
// failing store does not take stay queued for the next Run (also after a
// restart). It returns an error only when the queue is closed under it.
func (w *Writer) Run(ctx context.Context) error {
	backoff := w.minBackoff
	var lingerUntil time.Time
	kicked := false
	for {
		if ctx.Err() != nil {
			w.drain(ctx)
			return nil
		}
		queued := w.q.Stats().Items
		if queued == 0 {
			lingerUntil, kicked = time.Time{}, false
			select {
			case <-ctx.Done():
			case <-w.q.Ready():
			case <-w.kick:
				kicked = true
			}
			continue
		}
		// A partial batch waits up to linger for more, so a trickle of
		// records costs one store transaction per linger, not one each.
		if queued < int64(w.batch) && !kicked {
			if lingerUntil.IsZero() {
				lingerUntil = time.Now().Add(w.linger)
			}
			if d := time.Until(lingerUntil); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
				case <-t.C:
				case <-w.q.Ready(): // count again: the batch may be full
				case <-w.kick:
					kicked = true
				}
				t.Stop()
				continue
			}
		}
		lingerUntil, kicked = time.Time{}, false

		err := w.writeBatch(ctx)
		if err == nil {
			backoff = w.minBackoff
			continue
		}
		if errors.Is(err, diskqueue.ErrClosed) {
			return err
		}
		if ctx.Err() != nil {
			continue // stopping: the store call was cancelled, not failing
		}
		w.fail(err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		backoff = nextBackoff(backoff, w.maxBackoff)
	}
}

func nextBackoff(d, limit time.Duration) time.Duration {
	return min(2*d, limit)
}

// writeBatch appends the oldest queued records and acknowledges them.
func (w *Writer) writeBatch(ctx context.Context) error {
	items, err := w.q.Peek(w.batch)
	if err != nil {
		return fmt.Errorf("reading the record queue: %w", err)
	}
	if len(items) == 0 {
		return nil
	}
	recs := make([]Record, 0, len(items))
	for _, it := range items {
		var r Record
		if err := json.Unmarshal(it, &r); err != nil {
			// It will never decode; keeping it would stop the queue forever.
			w.log.Error("dropping a queued record that does not decode", "err", err, "bytes", len(it))
			continue
		}
		recs = append(recs, r)
	}
	if len(recs) > 0 {
		if err := w.store.Append(ctx, recs); err != nil {
			return err
		}
	}
	if err := w.q.Ack(len(items)); err != nil {
		// Stored but still queued: they will be appended again.
		return fmt.Errorf("acknowledging written records in the queue: %w", err)
	}
	w.succeeded(int64(len(recs)))
	return nil
}

// fail records a failed write; the first failure of an outage is logged.
func (w *Writer) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastErr = err.Error()
	if w.failing {
		return
	}
	w.failing = true
	if w.recovering {
		return // failed again before the backlog was written: same outage
	}
	w.log.Error("record store write failed; records stay queued and are retried", "err", err, "queued", w.q.Stats().Items)
}

func (w *Writer) succeeded(n int64) {
	s := w.q.Stats()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.written += n
	if w.failing {
		w.failing = false
		if !w.recovering {
			// Everything queued now was queued during the outage.
			w.recovering = true
			w.backTarget = s.Acked + s.Items
			w.backCount = 0
		}
	}
	if w.recovering {
		w.backCount += n
		if !w.failing && s.Acked >= w.backTarget {
			w.recovering = false
			w.log.Info(fmt.Sprintf("record store is back, wrote %d queued records", w.backCount))
		}
	}
	close(w.progress)
	w.progress = make(chan struct{})
}

// drain writes what is queued when Run stops, bounded by drainTimeout; what
// it cannot write stays queued for the next start.
func (w *Writer) drain(parent context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), w.drainTimeout)
	defer cancel()
	for ctx.Err() == nil && w.q.Stats().Items > 0 {
		if err := w.writeBatch(ctx); err != nil {
			w.log.Warn("record writer stopped with records queued; they are written after the next start",
				"queued", w.q.Stats().Items, "err", err)
			return
		}
	}
}

// Stats returns the writer's and its queue's counters.
func (w *Writer) Stats() WriterStats {
	s := w.q.Stats()
	w.mu.Lock()
	defer w.mu.Unlock()
	return WriterStats{
		Queued:      s.Items,
		QueuedBytes: s.Bytes,
		Refused:     s.Refused,
		Written:     w.written,
		LastError:   w.lastErr,
		Failing:     w.failing,
	}
}

// Flush waits until every record Added before the call is written to the
// store (or dropped as undecodable), without waiting for a partial batch to
// linger. It needs Run to be running; it returns ctx's error when ctx ends
// first (for example while the store is down).
func (w *Writer) Flush(ctx context.Context) error {
	s := w.q.Stats()
	target := s.Acked + s.Items
	for {
		w.mu.Lock()
		ch := w.progress
		w.mu.Unlock()
		if w.q.Stats().Acked >= target {
			return nil
		}
		select {
		case w.kick <- struct{}{}:
		default:
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
