package logagent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kstack/kstack/internal/diskqueue"
)

const (
	batchItems = 500
	// stopGrace is how long a delivery in flight when the agent stops may
	// still take: finishing it (and acking) is what keeps a restart from
	// sending its lines again.
	stopGrace       = 5 * time.Second
	deliveryTimeout = 30 * time.Second
	maxBackoff      = 30 * time.Second
)

// deliverer sends a batch to one sink.
type deliverer interface {
	// deliver sends items in order. done is how many from the head are
	// finished (acknowledged by the sink, or refused for good: rejected of
	// them, with rejectErr saying why); err says why the rest was not sent
	// and is retried.
	deliver(ctx context.Context, items []*item) (done, rejected int, rejectErr, err error)
	close()
}

// permanent wraps a sink's refusal that no retry will change (HTTP 4xx):
// the batch is dropped and counted.
type permanent struct{ error }

// sinkEntry is one sink of one rule: its queue, its sender, its counters.
type sinkEntry struct {
	key  string // rule + "\x00" + sink
	rule string
	sink Sink
	dir  string
	q    *diskqueue.Queue
	log  *slog.Logger

	// spec is the sink and its resolved password: a change restarts the
	// sender on the same queue.
	spec     string
	password string
	cancel   context.CancelFunc
	done     chan struct{}
	kick     func() // status changed

	delivered, dropped atomic.Int64

	mu          sync.Mutex
	lastErr     string
	lastErrTime time.Time
	failing     bool
	failedSince time.Time
	failures    int
}

func sinkKey(rule, sink string) string { return rule + "\x00" + sink }

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// queueDir names a sink's queue directory: readable, and unique by a hash
// of the rule and sink names.
func queueDir(stateDir, rule, sink string) string {
	h := sha256.Sum256([]byte(sinkKey(rule, sink)))
	name := unsafeChars.ReplaceAllString(rule+"_"+sink, "_")
	if len(name) > 60 {
		name = name[:60]
	}
	return filepath.Join(stateDir, "queues", name+"-"+hex.EncodeToString(h[:4]))
}

// put queues one line; a full queue drops it, counted.
func (e *sinkEntry) put(b []byte) {
	if err := e.q.Put(b); err != nil {
		e.dropped.Add(1)
		if errors.Is(err, diskqueue.ErrFull) {
			e.setError(fmt.Errorf("queue full (--queue-bytes): lines dropped"), false)
		} else {
			e.setError(fmt.Errorf("queueing: %w", err), false)
		}
	}
}

// setError records err; failing marks the sink unhealthy (a delivery failed).
func (e *sinkEntry) setError(err error, failing bool) {
	e.mu.Lock()
	msg := err.Error()
	changed := e.lastErr != msg || (failing && !e.failing)
	e.lastErr, e.lastErrTime = msg, time.Now()
	if failing {
		e.failures++
		if !e.failing {
			e.failing, e.failedSince = true, time.Now()
			e.log.Warn("sink failing; lines wait in its queue", "rule", e.rule, "sink", e.sink.Name, "type", e.sink.Type, "error", msg)
		}
	}
	e.mu.Unlock()
	if changed && e.kick != nil {
		e.kick()
	}
}

func (e *sinkEntry) recovered() {
	e.mu.Lock()
	was := e.failing
	if was {
		e.log.Info("sink recovered", "rule", e.rule, "sink", e.sink.Name, "after", time.Since(e.failedSince).Round(time.Second).String(), "failedAttempts", e.failures)
	}
	e.failing, e.failures = false, 0
	e.mu.Unlock()
	if was && e.kick != nil {
		e.kick()
	}
}

func (e *sinkEntry) status() SinkStatus {
	st := e.q.Stats()
	e.mu.Lock()
	defer e.mu.Unlock()
	s := SinkStatus{
		Sink: e.sink.Name, Type: e.sink.Type,
		Delivered: e.delivered.Load(), Dropped: e.dropped.Load(),
		Queued: st.Items, QueuedBytes: st.Bytes,
		LastError: e.lastErr, Healthy: !e.failing,
	}
	if !e.lastErrTime.IsZero() {
		t := e.lastErrTime.UTC()
		s.LastErrorTime = &t
	}
	return s
}

// start runs the sender until stop.
func (e *sinkEntry) start(d deliverer) {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() {
		defer close(e.done)
		defer d.close()
		e.send(ctx, d)
	}()
}

// stop ends the sender; a delivery in flight gets stopGrace to finish.
func (e *sinkEntry) stop() {
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel, e.done = nil, nil
	}
}

// send peeks a batch, delivers it and acks it, until ctx ends. A failing
// sink is retried with a backoff doubling up to maxBackoff; its lines wait
// in the queue.
func (e *sinkEntry) send(ctx context.Context, d deliverer) {
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		raw, err := e.q.Peek(batchItems)
		if err != nil {
			e.setError(fmt.Errorf("reading the queue: %w", err), true)
			if !sleep(ctx, maxBackoff) {
				return
			}
			continue
		}
		if len(raw) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-e.q.Ready():
			case <-time.After(time.Second):
			}
			continue
		}
		items := make([]*item, 0, len(raw))
		bad := 0
		for _, b := range raw {
			it := &item{}
			if err := json.Unmarshal(b, it); err != nil {
				// Cannot happen with what put wrote; never let it block the queue.
				bad++
				it = nil
			}
			items = append(items, it)
		}
		done, rejected, rejectErr, err := e.deliverOnce(ctx, d, items, bad)
		if done > 0 {
			if aerr := e.q.Ack(done); aerr != nil {
				e.setError(fmt.Errorf("acknowledging in the queue: %w", aerr), true)
			}
			e.delivered.Add(int64(done - rejected))
			e.dropped.Add(int64(rejected))
		}
		if rejectErr != nil {
			// A sink refusing a whole batch is not healthy, though retrying
			// cannot help (a wrong URL path, limits): the lines are dropped.
			wholeBatch := err == nil && rejected == done
			e.setError(fmt.Errorf("lines refused for good: %w", rejectErr), wholeBatch)
			if wholeBatch {
				continue
			}
		}
		if err != nil {
			e.setError(err, true)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		backoff = 200 * time.Millisecond
		e.recovered()
	}
}

// deliverOnce delivers one batch. Its context is not ctx: stopping the agent
// lets the delivery finish (up to stopGrace) so it can be acked.
func (e *sinkEntry) deliverOnce(ctx context.Context, d deliverer, items []*item, bad int) (done, rejected int, rejectErr, err error) {
	if bad > 0 {
		// Undecodable items (cannot happen with what put wrote) are dropped
		// where they are, so they never block the queue.
		if items[0] == nil {
			n := 0
			for n < len(items) && items[n] == nil {
				n++
			}
			return n, n, errors.New("undecodable queue items"), nil
		}
		for i, it := range items {
			if it == nil {
				items = items[:i]
				break
			}
		}
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deliveryTimeout)
	defer cancel()
	stopped := context.AfterFunc(ctx, func() { time.AfterFunc(stopGrace, cancel) })
	defer stopped()
	return d.deliver(dctx, items)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// openQueue opens (or recovers) a sink's queue.
func openQueue(dir string, maxBytes int64) (*diskqueue.Queue, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	seg := min(max(maxBytes/8, 64<<10), 64<<20)
	// SyncInterval 1s: a Put is in the OS at once (survives a crash of the
	// agent); a power loss may lose the last second.
	return diskqueue.Open(dir, diskqueue.Options{MaxBytes: maxBytes, SegmentBytes: seg, SyncInterval: time.Second})
}

// newDeliverer makes the client of a sink.
func newDeliverer(s Sink, password string) (deliverer, error) {
	switch s.Type {
	case SinkKafka:
		return newKafka(s.Kafka, password)
	case SinkElasticsearch:
		return newES(s.Elasticsearch, password)
	case SinkLoki:
		return newLoki(s.Loki, password)
	}
	return nil, fmt.Errorf("unknown sink type %q", s.Type)
}
