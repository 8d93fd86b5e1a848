package remotewrite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"

	"github.com/kstack/kstack/internal/metricstore"
)

// receiver is a remote-write endpoint that decodes what it gets as a real one
// would, and answers with the statuses it is given, then 204.
type receiver struct {
	t        *testing.T
	mu       sync.Mutex
	answers  []int // status per request, in order; then 204
	requests []prompb.WriteRequest
	headers  []http.Header
	srv      *httptest.Server
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	r := &receiver{t: t, answers: answers}
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		r.t.Errorf("body is not snappy block-encoded: %v", err)
		http.Error(w, err.Error(), 400)
		return
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		r.t.Errorf("body is not a WriteRequest: %v", err)
		http.Error(w, err.Error(), 400)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	status := http.StatusNoContent
	if len(r.answers) > 0 {
		status, r.answers = r.answers[0], r.answers[1:]
	}
	if status == -1 { // a connection that breaks without an answer
		r.headers = append(r.headers, req.Header.Clone())
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
		return
	}
	r.headers = append(r.headers, req.Header.Clone())
	if status/100 == 2 {
		r.requests = append(r.requests, wr)
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, "answer %d", status)
}

// accepted is what the receiver accepted, one "labels t=v" line per sample, in order.
func (r *receiver) accepted() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, wr := range r.requests {
		for _, ts := range wr.Timeseries {
			var b labels.ScratchBuilder
			l := ts.ToLabels(&b, nil)
			for _, s := range ts.Samples {
				out = append(out, fmt.Sprintf("%s %d=%g", l, s.Timestamp, s.Value))
			}
		}
	}
	return out
}

func (r *receiver) attempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.headers)
}

func newWriter(url string) *Writer {
	return &Writer{URL: url, minBackoff: time.Millisecond, maxBackoff: 5 * time.Millisecond}
}

// run starts w.Run and returns a stop that ends it and reports its result.
func run(t *testing.T, w *Writer) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// sink is an Appendable that accepts any sample, in any order.
type sink struct {
	mu        sync.Mutex
	committed int
	failNext  bool // the next Append fails
}

type sinkAppender struct {
	storage.Appender // nil: the tee must not need more than Append, Commit and Rollback
	s                *sink
	n                int
	failCommit       bool
}

func (s *sink) Appender(context.Context) storage.Appender { return &sinkAppender{s: s} }

func (a *sinkAppender) Append(_ storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	if l.Get("reject") != "" {
		return 0, storage.ErrOutOfOrderSample
	}
	a.n++
	return 1, nil
}

func (a *sinkAppender) Commit() error {
	if a.failCommit {
		return errors.New("disk full")
	}
	a.s.mu.Lock()
	a.s.committed += a.n
	a.s.mu.Unlock()
	return nil
}
func (a *sinkAppender) Rollback() error { return nil }

type sample struct {
	l labels.Labels
	t int64
	v float64
}

func appendAll(t *testing.T, app storage.Appendable, samples ...sample) {
	t.Helper()
	a := app.Appender(context.Background())
	for _, s := range samples {
		if _, err := a.Append(0, s.l, s.t, s.v); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestSendsWhatIsStored(t *testing.T) {
	rcv := newReceiver(t)
	w := newWriter(rcv.srv.URL)
	w.Headers = map[string]string{"Authorization": "Bearer s3cret", "X-Scope-OrgID": "kstack"}
	store, err := metricstore.Open(metricstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tee := w.Tee(store)

	cpu := labels.FromStrings("__name__", "k8s_pod_cpu_core_used", "cluster", "c1", "namespace", "a", "pod", "p1")
	mem := labels.FromStrings("__name__", "k8s_pod_mem_usage_bytes", "cluster", "c1", "namespace", "a", "pod", "p1")
	appendAll(t, tee, sample{cpu, 1000, 0.5}, sample{mem, 1000, 1 << 20}, sample{cpu, 2000, 0.25})
	stop := run(t, w)
	eventually(t, "the batch", func() bool { return len(rcv.accepted()) == 3 })
	appendAll(t, tee, sample{cpu, 3000, 0.75})
	eventually(t, "the second batch", func() bool { return len(rcv.accepted()) == 4 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	want := []string{
		`{__name__="k8s_pod_cpu_core_used", cluster="c1", namespace="a", pod="p1"} 1000=0.5`,
		`{__name__="k8s_pod_cpu_core_used", cluster="c1", namespace="a", pod="p1"} 2000=0.25`,
		`{__name__="k8s_pod_mem_usage_bytes", cluster="c1", namespace="a", pod="p1"} 1000=1.048576e+06`,
		`{__name__="k8s_pod_cpu_core_used", cluster="c1", namespace="a", pod="p1"} 3000=0.75`,
	}
	if got := rcv.accepted(); !slices.Equal(got, want) {
		t.Errorf("received\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Labels on the wire are sorted by name, __name__ first.
	first := rcv.requests[0].Timeseries[0].Labels
	if first[0].Name != "__name__" || !slices.IsSortedFunc(first, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("labels not sorted: %v", first)
	}
	h := rcv.headers[0]
	for k, v := range map[string]string{
		"Content-Encoding":                  "snappy",
		"Content-Type":                      "application/x-protobuf",
		"X-Prometheus-Remote-Write-Version": "0.1.0",
		"User-Agent":                        "kstack",
		"Authorization":                     "Bearer s3cret",
		"X-Scope-Orgid":                     "kstack",
	} {
		if h.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, h.Get(k), v)
		}
	}
	if st := w.Stats(); st != (Stats{Sent: 4}) {
		t.Errorf("stats %+v", st)
	}
	// And the local store has them too.
	q, _ := store.Scoped(&metricstore.Scope{All: true}).Querier(0, 10_000)
	defer q.Close()
	names, _, _ := q.LabelValues(context.Background(), "__name__", nil)
	if len(names) != 2 {
		t.Errorf("local store has %v", names)
	}
}

func TestSortsSamplesAndBatches(t *testing.T) {
	rcv := newReceiver(t)
	w := newWriter(rcv.srv.URL)
	w.BatchSize = 4
	tee := w.Tee(&sink{})
	a := labels.FromStrings("__name__", "a", "cluster", "c1")
	b := labels.FromStrings("__name__", "b", "cluster", "c1")
	// Committed in two transactions whose timestamps interleave.
	appendAll(t, tee, sample{a, 3000, 3}, sample{b, 1000, 1}, sample{a, 1000, 1})
	appendAll(t, tee, sample{a, 2000, 2}, sample{b, 500, 0.5})
	run(t, w)
	eventually(t, "all samples", func() bool { return len(rcv.accepted()) == 5 })
	for _, wr := range rcv.requests {
		n := 0
		for _, ts := range wr.Timeseries {
			n += len(ts.Samples)
			if !slices.IsSortedFunc(ts.Samples, func(x, y prompb.Sample) int { return cmpInt(x.Timestamp, y.Timestamp) }) {
				t.Errorf("samples out of order: %v", ts.Samples)
			}
		}
		if n > 4 {
			t.Errorf("a request of %d samples, batch size 4", n)
		}
	}
	if len(rcv.requests) != 2 {
		t.Errorf("%d requests, want 2", len(rcv.requests))
	}
}

func TestOnlyCommittedSamplesAreSent(t *testing.T) {
	rcv := newReceiver(t)
	w := newWriter(rcv.srv.URL)
	s := &sink{}
	tee := w.Tee(s)
	ok := labels.FromStrings("__name__", "ok")

	app := tee.Appender(context.Background())
	app.Append(0, ok, 1, 1)
	app.Rollback()

	app = tee.Appender(context.Background())
	if _, err := app.Append(0, labels.FromStrings("__name__", "bad", "reject", "1"), 2, 2); err == nil {
		t.Fatal("sink accepted a sample it refuses")
	}
	app.Append(0, ok, 3, 3)
	app.Commit()

	app = tee.Appender(context.Background())
	app.Append(0, ok, 4, 4)
	app.(*teeAppender).Appender.(*sinkAppender).failCommit = true
	if err := app.Commit(); err == nil {
		t.Fatal("commit did not fail")
	}
	if st := w.Stats(); st.Queued != 1 {
		t.Fatalf("queued %d, want only the committed, accepted sample", st.Queued)
	}
	run(t, w)
	eventually(t, "the sample", func() bool { return len(rcv.accepted()) == 1 })
	if got := rcv.accepted(); got[0] != `{__name__="ok"} 3=3` {
		t.Errorf("sent %v", got)
	}
}

func TestRetriesUntilAccepted(t *testing.T) {
	// 503, a broken connection, 429 with Retry-After, then 500: all retried.
	rcv := newReceiver(t, 503, -1, 429, 500)
	w := newWriter(rcv.srv.URL)
	tee := w.Tee(&sink{})
	var want []string
	for i := range 10 {
		l := labels.FromStrings("__name__", "x", "i", fmt.Sprint(i))
		appendAll(t, tee, sample{l, int64(i), float64(i)})
		want = append(want, fmt.Sprintf("%s %d=%d", l, i, i))
	}
	run(t, w)
	eventually(t, "delivery", func() bool { return w.Stats().Sent == 10 })
	if got := rcv.accepted(); !slices.Equal(got, want) {
		t.Errorf("accepted %v, want %v", got, want)
	}
	if st := w.Stats(); st != (Stats{Sent: 10, Failed: 4}) {
		t.Errorf("stats %+v", st)
	}
	if n := rcv.attempts(); n != 5 {
		t.Errorf("%d attempts, want 5", n)
	}
}

func TestRefusedBatchIsDroppedAndLoggedOnce(t *testing.T) {
	rcv := newReceiver(t, 400, 400, 400)
	var logs bytes.Buffer
	w := newWriter(rcv.srv.URL)
	w.BatchSize = 2
	w.Headers = map[string]string{"Authorization": "Bearer s3cret"}
	w.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	tee := w.Tee(&sink{})
	for i := range 7 {
		appendAll(t, tee, sample{labels.FromStrings("__name__", "x"), int64(i), 1})
	}
	run(t, w)
	eventually(t, "the rest", func() bool { st := w.Stats(); return st.Sent == 1 && st.Queued == 0 })
	if st := w.Stats(); st != (Stats{Sent: 1, Dropped: 6, Failed: 3}) {
		t.Errorf("stats %+v", st)
	}
	if n := rcv.attempts(); n != 4 {
		t.Errorf("%d attempts: a refused batch must not be retried", n)
	}
	out := logs.String()
	if strings.Count(out, "refused") != 1 || !strings.Contains(out, "status=400") || !strings.Contains(out, "answer 400") {
		t.Errorf("want one log line with the status and the receiver's reason:\n%s", out)
	}
	if strings.Contains(out, "s3cret") {
		t.Error("a header value was logged")
	}
}

func TestQueueBoundDropsOldest(t *testing.T) {
	rcv := newReceiver(t)
	w := newWriter(rcv.srv.URL)
	w.MaxQueue = 5
	tee := w.Tee(&sink{})
	l := labels.FromStrings("__name__", "x")
	for i := range 8 {
		appendAll(t, tee, sample{l, int64(i), float64(i)})
	}
	if st := w.Stats(); st != (Stats{Dropped: 3, Queued: 5}) {
		t.Fatalf("stats %+v", st)
	}
	if n := len(w.q.byHash); n != 1 {
		t.Errorf("%d interned label sets for one series", n)
	}
	run(t, w)
	// The receiver has them before the writer has read its answer: wait
	// for both.
	eventually(t, "the newest five, sent, their label sets released", func() bool {
		w.mu.Lock()
		held := len(w.q.byHash)
		w.mu.Unlock()
		return len(rcv.accepted()) == 5 && w.Stats().Sent == 5 && held == 0
	})
	if got := rcv.accepted(); got[0] != `{__name__="x"} 3=3` || got[4] != `{__name__="x"} 7=7` {
		t.Errorf("sent %v", got)
	}
	if st := w.Stats(); st != (Stats{Sent: 5, Dropped: 3}) {
		t.Errorf("stats %+v", st)
	}
}

func TestInactiveQueuesNothing(t *testing.T) {
	rcv := newReceiver(t)
	w := newWriter(rcv.srv.URL)
	leader := false
	w.Active = func() bool { return leader }
	s := &sink{}
	tee := w.Tee(s)
	appendAll(t, tee, sample{labels.FromStrings("__name__", "x"), 1, 1})
	if st := w.Stats(); st.Queued != 0 || s.committed != 1 {
		t.Fatalf("follower: stats %+v, stored %d", st, s.committed)
	}
	leader = true
	appendAll(t, tee, sample{labels.FromStrings("__name__", "x"), 2, 2})
	run(t, w)
	eventually(t, "the leader's sample", func() bool { return w.Stats().Sent == 1 })
	if got := rcv.accepted(); len(got) != 1 || got[0] != `{__name__="x"} 2=2` {
		t.Errorf("sent %v", got)
	}
}

func TestStopKeepsUndelivered(t *testing.T) {
	rcv := newReceiver(t, slices.Repeat([]int{503}, 1000)...)
	w := newWriter(rcv.srv.URL)
	tee := w.Tee(&sink{})
	for i := range 3 {
		appendAll(t, tee, sample{labels.FromStrings("__name__", "x"), int64(i), 1})
	}
	stop := run(t, w)
	eventually(t, "a few attempts", func() bool { return rcv.attempts() >= 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Queued != 3 || st.Sent != 0 || st.Dropped != 0 {
		t.Errorf("after stop: %+v", st)
	}
}

func TestBadConfig(t *testing.T) {
	for _, u := range []string{"", "localhost:9090", "ftp://x/y", "http://", "://"} {
		if err := (&Writer{URL: u}).Run(context.Background()); err == nil {
			t.Errorf("Run accepted URL %q", u)
		}
	}
	rcv := newReceiver(t)
	w := newWriter(rcv.srv.URL)
	run(t, w)
	eventually(t, "the first Run", func() bool { return w.running.Load() })
	if err := w.Run(context.Background()); err == nil {
		t.Error("a second Run was accepted")
	}
}
