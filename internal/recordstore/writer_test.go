package recordstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kstack/kstack/internal/diskqueue"
)

// fakeStore is an Appender that keeps what it is given and fails on demand.
type fakeStore struct {
	mu        sync.Mutex
	recs      []Record
	batches   []int
	fail      error // Append fails with it while set
	okCalls   int   // when > 0, this many more Appends succeed, then fail with failAfter
	failAfter error
	failures  int
}

func (s *fakeStore) Append(ctx context.Context, recs []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.fail != nil {
		s.failures++
		return s.fail
	}
	if s.failAfter != nil {
		if s.okCalls == 0 {
			s.failures++
			return s.failAfter
		}
		s.okCalls--
	}
	s.recs = append(s.recs, recs...)
	s.batches = append(s.batches, len(recs))
	return nil
}

func (s *fakeStore) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

func (s *fakeStore) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.recs))
	for i, r := range s.recs {
		out[i] = r.Name
	}
	return out
}

func (s *fakeStore) failureCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failures
}

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func openQueue(t *testing.T, dir string, o diskqueue.Options) *diskqueue.Queue {
	t.Helper()
	q, err := diskqueue.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	// A cleanup, not a defer: cleanups run last in first out, so a writer
	// started later is stopped before its queue is closed.
	t.Cleanup(func() { q.Close() })
	return q
}

// newTestWriter returns a writer with short backoffs so tests of outages
// do not wait long.
func newTestWriter(q *diskqueue.Queue, s Appender, log *slog.Logger) *Writer {
	w := NewWriter(q, s, log)
	w.minBackoff = 5 * time.Millisecond
	w.maxBackoff = 50 * time.Millisecond
	w.linger = 10 * time.Millisecond
	return w
}

// start runs w until the test ends and returns a function that stops it
// and waits for Run to return.
func start(t *testing.T, w *Writer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("Run did not return after its context was cancelled")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func flush(t *testing.T, w *Writer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v (stats %+v)", err, w.Stats())
	}
}

func rec(i int) Record {
	return Record{
		Kind: "audit",
		Time: time.Date(2025, 1, 1, 0, 0, 0, i, time.UTC),
		User: "alice",
		Name: fmt.Sprintf("r-%05d", i),
		Verb: "get",
		Code: 200,
		Data: []byte(fmt.Sprintf(`{"n":%d}`, i)),
	}
}

func addN(t *testing.T, w *Writer, from, to int) []string {
	t.Helper()
	var names []string
	for i := from; i < to; i++ {
		if err := w.Add(rec(i)); err != nil {
			t.Fatalf("Add(%d): %v", i, err)
		}
		names = append(names, rec(i).Name)
	}
	return names
}

func sameNames(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("store has %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("record %d is %s, want %s (lost, repeated or out of order)", i, got[i], want[i])
		}
	}
}

func TestWriterWritesInOrder(t *testing.T) {
	q := openQueue(t, t.TempDir(), diskqueue.Options{SyncInterval: -1})
	s := &fakeStore{}
	w := newTestWriter(q, s, nil)
	start(t, w)
	want := addN(t, w, 0, 1234)
	flush(t, w)
	sameNames(t, s.names(), want)
	for _, n := range s.batches {
		if n > 500 {
			t.Fatalf("a batch of %d records, want at most 500", n)
		}
	}
	// The record round-trips through the queue whole.
	s.mu.Lock()
	got, exp := s.recs[7], rec(7)
	s.mu.Unlock()
	if !got.Time.Equal(exp.Time) || got.Kind != exp.Kind || got.User != exp.User || got.Code != exp.Code || string(got.Data) != string(exp.Data) {
		t.Fatalf("record 7 is %+v, want %+v", got, exp)
	}
	st := w.Stats()
	if st.Queued != 0 || st.QueuedBytes != 0 || st.Written != 1234 || st.Failing || st.LastError != "" {
		t.Fatalf("stats %+v", st)
	}
}

func TestWriterAddClearsID(t *testing.T) {
	q := openQueue(t, t.TempDir(), diskqueue.Options{SyncInterval: -1})
	s := &fakeStore{}
	w := newTestWriter(q, s, nil)
	start(t, w)
	r := rec(1)
	r.ID = 42
	if err := w.Add(r); err != nil {
		t.Fatal(err)
	}
	flush(t, w)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recs[0].ID != 0 {
		t.Fatalf("ID %d reached the store; the store assigns IDs", s.recs[0].ID)
	}
}

func TestWriterStoreDownLosesNothing(t *testing.T) {
	q := openQueue(t, t.TempDir(), diskqueue.Options{SyncInterval: -1})
	s := &fakeStore{fail: errors.New("connection refused")}
	var logs logBuffer
	w := newTestWriter(q, s, slog.New(slog.NewTextHandler(&logs, nil)))
	start(t, w)

	want := addN(t, w, 0, 700)
	waitFor(t, "several failed Appends", func() bool { return s.failureCount() >= 4 })
	want = append(want, addN(t, w, 700, 800)...) // Add keeps working during the outage
	waitFor(t, "more failed Appends", func() bool { return s.failureCount() >= 6 })

	st := w.Stats()
	if !st.Failing || !strings.Contains(st.LastError, "connection refused") || st.Queued != 800 || st.Written != 0 {
		t.Fatalf("stats during the outage: %+v", st)
	}
	if n := strings.Count(logs.String(), "record store write failed"); n != 1 {
		t.Fatalf("the outage was logged %d times, want once:\n%s", n, logs.String())
	}
	// Flush cannot finish while the store is down.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := w.Flush(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with the store down: %v, want DeadlineExceeded", err)
	}

	s.setFail(nil)
	flush(t, w)
	sameNames(t, s.names(), want)
	st = w.Stats()
	if st.Failing || st.Written != 800 || st.Queued != 0 {
		t.Fatalf("stats after recovery: %+v", st)
	}
	waitFor(t, "the recovery message", func() bool {
		return strings.Contains(logs.String(), "record store is back, wrote 800 queued records")
	})

	// A second outage is logged again.
	s.setFail(errors.New("timeout"))
	want = append(want, addN(t, w, 800, 810)...)
	waitFor(t, "the second outage", func() bool { return w.Stats().Failing })
	if n := strings.Count(logs.String(), "record store write failed"); n != 2 {
		t.Fatalf("two outages were logged %d times:\n%s", n, logs.String())
	}
	s.setFail(nil)
	flush(t, w)
	sameNames(t, s.names(), want)
}

func TestWriterFullQueueRefuses(t *testing.T) {
	q := openQueue(t, t.TempDir(), diskqueue.Options{MaxBytes: 4096, SyncInterval: -1})
	s := &fakeStore{}
	w := newTestWriter(q, s, nil)
	// No Run yet: the queue fills up.
	var want []string
	refused := 0
	for i := range 200 {
		err := w.Add(rec(i))
		switch {
		case err == nil:
			want = append(want, rec(i).Name)
		case errors.Is(err, diskqueue.ErrFull):
			refused++
		default:
			t.Fatalf("Add(%d): %v", i, err)
		}
	}
	if refused == 0 || len(want) == 0 {
		t.Fatalf("%d accepted, %d refused: the test needs both", len(want), refused)
	}
	if st := w.Stats(); st.Refused != int64(refused) || st.Queued != int64(len(want)) || st.QueuedBytes > 4096 {
		t.Fatalf("stats %+v, want %d refused and %d queued", st, refused, len(want))
	}
	start(t, w)
	flush(t, w)
	sameNames(t, s.names(), want)
	// Room again once written.
	if err := w.Add(rec(1000)); err != nil {
		t.Fatalf("Add after draining: %v", err)
	}
}

func TestWriterRestartResumes(t *testing.T) {
	dir := t.TempDir()
	o := diskqueue.Options{SegmentBytes: 4096, SyncInterval: -1}
	q := openQueue(t, dir, o)
	// The store takes 3 batches of 10, then goes down.
	s := &fakeStore{okCalls: 3, failAfter: errors.New("down")}
	w := newTestWriter(q, s, nil)
	w.batch = 10
	w.drainTimeout = 100 * time.Millisecond
	want := addN(t, w, 0, 100) // before Run, so every batch is full
	stop := start(t, w)
	waitFor(t, "the store to fail after 3 batches", func() bool { return s.failureCount() >= 2 })
	stop()
	if got := s.names(); len(got) != 30 {
		t.Fatalf("before the restart the store has %d records, want 30", len(got))
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	// A new process: the store is back.
	s.mu.Lock()
	s.failAfter = nil
	s.mu.Unlock()
	q = openQueue(t, dir, o)
	if st := q.Stats(); st.Items != 70 {
		t.Fatalf("after reopening %d records are queued, want 70", st.Items)
	}
	w = newTestWriter(q, s, nil)
	start(t, w)
	want = append(want, addN(t, w, 100, 120)...)
	flush(t, w)
	sameNames(t, s.names(), want)
}

func TestWriterFlush(t *testing.T) {
	q := openQueue(t, t.TempDir(), diskqueue.Options{SyncInterval: -1})
	s := &fakeStore{}
	w := newTestWriter(q, s, nil)
	w.linger = time.Hour // only Flush gets a partial batch written soon
	start(t, w)
	flush(t, w) // nothing queued: returns at once
	want := addN(t, w, 0, 3)
	flush(t, w)
	sameNames(t, s.names(), want)
	want = append(want, addN(t, w, 3, 4)...)
	flush(t, w)
	sameNames(t, s.names(), want)
}

func TestWriterFlushWithoutRunTimesOut(t *testing.T) {
	q := openQueue(t, t.TempDir(), diskqueue.Options{SyncInterval: -1})
	w := newTestWriter(q, &fakeStore{}, nil)
	addN(t, w, 0, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := w.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush without Run: %v", err)
	}
}

func TestWriterLingersForABatch(t *testing.T) {
	q := openQueue(t, t.TempDir(), diskqueue.Options{SyncInterval: -1})
	s := &fakeStore{}
	w := newTestWriter(q, s, nil)
	w.linger = time.Hour
	start(t, w)
	// A full batch is written without waiting for the linger.
	want := addN(t, w, 0, 500)
	waitFor(t, "a full batch", func() bool { return len(s.names()) == 500 })
	sameNames(t, s.names(), want)
}

func TestWriterFinalDrainOnStop(t *testing.T) {
	q := openQueue(t, t.TempDir(), diskqueue.Options{SyncInterval: -1})
	s := &fakeStore{}
	w := newTestWriter(q, s, nil)
	w.linger = time.Hour
	stop := start(t, w)
	want := addN(t, w, 0, 42)
	stop() // Run returns only after the final drain
	sameNames(t, s.names(), want)
	if st := w.Stats(); st.Queued != 0 {
		t.Fatalf("stats after stop: %+v", st)
	}
}

func TestWriterDropsUndecodableItems(t *testing.T) {
	q := openQueue(t, t.TempDir(), diskqueue.Options{SyncInterval: -1})
	s := &fakeStore{}
	var logs logBuffer
	w := newTestWriter(q, s, slog.New(slog.NewTextHandler(&logs, nil)))
	start(t, w)
	want := addN(t, w, 0, 1)
	if err := q.Put([]byte("not json")); err != nil {
		t.Fatal(err)
	}
	want = append(want, addN(t, w, 1, 2)...)
	flush(t, w)
	sameNames(t, s.names(), want)
	if !strings.Contains(logs.String(), "does not decode") {
		t.Fatalf("the dropped record was not logged:\n%s", logs.String())
	}
}

func TestWriterQueueClosed(t *testing.T) {
	q := openQueue(t, t.TempDir(), diskqueue.Options{SyncInterval: -1})
	w := newTestWriter(q, &fakeStore{}, nil)
	addN(t, w, 0, 1)
	q.Close()
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	select {
	case err := <-done:
		if !errors.Is(err, diskqueue.ErrClosed) {
			t.Fatalf("Run on a closed queue: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run on a closed queue did not return")
	}
}

func TestWriterBackoffIsCapped(t *testing.T) {
	d := 100 * time.Millisecond
	var seen []time.Duration
	for range 12 {
		seen = append(seen, d)
		d = nextBackoff(d, 30*time.Second)
	}
	if seen[1] != 200*time.Millisecond || seen[2] != 400*time.Millisecond {
		t.Fatalf("backoff does not double: %v", seen)
	}
	if d != 30*time.Second {
		t.Fatalf("backoff after 12 failures is %v, want the cap 30s", d)
	}
}
