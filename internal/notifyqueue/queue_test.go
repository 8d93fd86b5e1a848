package notifyqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/dialcheck"
	"github.com/kstack/kstack/internal/notifychannel"
	"github.com/kstack/kstack/internal/notifymsg"
	"github.com/kstack/kstack/internal/recordstore"
	"github.com/kstack/kstack/internal/testutil/hooktest"
)

// records collects notification records, keeping the last per UID.
type records struct {
	mu   sync.Mutex
	last map[string]recordstore.Record
	all  []recordstore.Record
}

func (r *records) Add(rec recordstore.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]recordstore.Record{}
	}
	r.last[rec.UID] = rec
	r.all = append(r.all, rec)
	return nil
}

func (r *records) status(uid string) (string, map[string]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.last[uid]
	if !ok {
		return "", nil
	}
	var d map[string]any
	_ = json.Unmarshal(rec.Data, &d)
	return d["status"].(string), d
}

func newState(t *testing.T) recordstore.NotifyState {
	t.Helper()
	s, err := recordstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "r.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ns, _ := recordstore.AsNotifyState(s)
	return ns
}

func hookChannel(name, url string, concurrency int) client.Object {
	return &notifyv1.Channel{ObjectMeta: metav1.ObjectMeta{Namespace: "prj-a", Name: name},
		Spec: notifyv1.ChannelSpec{Type: notifyv1.ChannelWebhook, Concurrency: concurrency,
			Webhook: &notifyv1.WebhookChannel{URL: url, TimeoutSeconds: 5}}}
}

func newQueue(t *testing.T, state recordstore.NotifyState, objs ...client.Object) (*Queue, *records) {
	sch := runtime.NewScheme()
	_ = notifyv1.AddToScheme(sch)
	recs := &records{}
	q := &Queue{
		State:   state,
		Sender:  &notifychannel.Sender{Dial: &dialcheck.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}},
		Client:  fake.NewClientBuilder().WithScheme(sch).WithObjects(objs...).Build(),
		Records: recs,
		Owner:   "test",
	}
	return q, recs
}

func start(t *testing.T, q *Queue) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func item(ch, key, body string) Item {
	return Item{Channel: types.NamespacedName{Namespace: "prj-a", Name: ch}, DedupKey: key,
		Message: notifymsg.Message{ChannelType: "webhook", Body: body},
		Record: recordstore.Record{Tenant: "default", Cluster: "cls-1", Project: "prj-a", Verb: "firing",
			Data: json.RawMessage(`{"policy":"prj-a/p","groupKey":"g"}`)}}
}

func TestSlowChannelDoesNotDelayFast(t *testing.T) {
	slow := hooktest.Start(t, hooktest.Options{Delay: time.Second})
	fast := hooktest.Start(t, hooktest.Options{})
	q, recs := newQueue(t, newState(t), hookChannel("slow", slow.URL(), 2), hookChannel("fast", fast.URL(), 0))
	start(t, q)
	ctx := context.Background()
	for i := 0; i < 6; i++ {
		if added, err := q.Enqueue(ctx, item("slow", fmt.Sprint("s", i), `{}`)); err != nil || !added {
			t.Fatalf("enqueue: %v %v", added, err)
		}
	}
	t0 := time.Now()
	if _, err := q.Enqueue(ctx, item("fast", "f", `{"fast":true}`)); err != nil {
		t.Fatal(err)
	}
	fast.Wait(t, 1, 5*time.Second)
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Fatalf("the fast hook waited %s behind the slow one", d)
	}
	// The slow channel runs 2 at a time: 6 take about 3 s, not 1 s.
	got := slow.Wait(t, 6, 10*time.Second)
	if spread := got[5].At.Sub(got[0].At); spread < 1500*time.Millisecond {
		t.Fatalf("the slow channel ran more than 2 at a time: 6 arrived within %s", spread)
	}
	if st, _ := recs.status("f"); st != StatusSent {
		t.Fatalf("fast record %q", st)
	}
	waitFor(t, func() bool { st, _ := recs.status("s5"); return st == StatusSent })
	// Enqueued twice: added once.
	if added, err := q.Enqueue(ctx, item("fast", "f", `{}`)); err != nil || added {
		t.Fatalf("second enqueue: %v %v", added, err)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := len(fast.Received()); n != 1 {
		t.Fatalf("fast hook got %d", n)
	}
}

func waitFor(t *testing.T, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRetryThenFailed(t *testing.T) {
	hook := hooktest.Start(t, hooktest.Options{Status: 503})
	q, recs := newQueue(t, newState(t), hookChannel("h", hook.URL(), 0))
	q.MaxAttempts = 3
	q.backoffBase = 100 * time.Millisecond
	start(t, q)
	if _, err := q.Enqueue(context.Background(), item("h", "k", `{}`)); err != nil {
		t.Fatal(err)
	}
	if st, _ := recs.status("k"); st != StatusPending {
		t.Fatalf("after enqueue %q", st)
	}
	got := hook.Wait(t, 3, 5*time.Second)
	if d := got[2].At.Sub(got[0].At); d < 250*time.Millisecond {
		t.Fatalf("no backoff: 3 attempts within %s", d)
	}
	waitFor(t, func() bool { st, _ := recs.status("k"); return st == StatusFailed })
	_, data := recs.status("k")
	if data["attempts"].(float64) != 3 || !strings.Contains(data["lastError"].(string), "gave up after 3 attempts") ||
		!strings.Contains(data["lastError"].(string), "503") || data["policy"] != "prj-a/p" {
		t.Fatalf("record data %v", data)
	}
	recs.mu.Lock()
	rec := recs.last["k"]
	recs.mu.Unlock()
	if rec.Kind != RecordKind || rec.Resource != "channel" || rec.Name != "prj-a/h" || rec.Code != 503 || rec.Verb != "firing" || rec.Tenant != "default" {
		t.Fatalf("record %+v", rec)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(hook.Received()); n != 3 {
		t.Fatalf("%d attempts after failing", n)
	}
	// A 4xx fails at once.
	hook.SetStatus(400)
	if _, err := q.Enqueue(context.Background(), item("h", "k2", `{}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { st, _ := recs.status("k2"); return st == StatusFailed })
	if n := len(hook.Received()); n != 4 {
		t.Fatalf("%d attempts, want 4", n)
	}
}

func TestLeaseTakenOverAfterCrash(t *testing.T) {
	hook := hooktest.Start(t, hooktest.Options{})
	state := newState(t)
	q, recs := newQueue(t, state, hookChannel("h", hook.URL(), 0))
	// Enqueued, then leased by an owner that crashes before sending.
	if _, err := q.Enqueue(context.Background(), item("h", "k", `{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	leased, err := state.OutboxLease(context.Background(), "prj-a/h", "crashed", 10, time.Now(), time.Second)
	if err != nil || len(leased) != 1 {
		t.Fatalf("lease: %v %v", leased, err)
	}
	t0 := time.Now()
	start(t, q)
	got := hook.Wait(t, 1, 5*time.Second)
	if d := got[0].At.Sub(t0); d < 700*time.Millisecond {
		t.Fatalf("sent %s after start, before the crashed lease ran out", d)
	}
	waitFor(t, func() bool { st, _ := recs.status("k"); return st == StatusSent })
	if _, data := recs.status("k"); data["attempts"].(float64) != 2 {
		t.Fatalf("attempts %v", data["attempts"])
	}
	if err := state.OutboxFinish(context.Background(), leased[0].ID, "crashed", recordstore.OutboxResult{Status: recordstore.OutboxSent}); err == nil {
		t.Fatal("the crashed owner could still finish")
	}
}

func TestSendNow(t *testing.T) {
	hook := hooktest.Start(t, hooktest.Options{})
	q, recs := newQueue(t, newState(t), hookChannel("h", hook.URL(), 0))
	r := q.SendNow(context.Background(), types.NamespacedName{Namespace: "prj-a", Name: "h"}, notifymsg.Message{ChannelType: "webhook", Body: `{"test":1}`},
		recordstore.Record{Tenant: "default", User: "alice"})
	if r.Err != nil || r.Code != 200 || len(hook.Received()) != 1 {
		t.Fatalf("%+v", r)
	}
	r = q.SendNow(context.Background(), types.NamespacedName{Namespace: "prj-a", Name: "gone"}, notifymsg.Message{}, recordstore.Record{})
	if r.Err == nil {
		t.Fatal("sent over a missing channel")
	}
	recs.mu.Lock()
	defer recs.mu.Unlock()
	if len(recs.all) != 2 || recs.all[0].Verb != VerbTest || !strings.Contains(string(recs.all[0].Data), `"status":"sent"`) ||
		!strings.Contains(string(recs.all[1].Data), `"status":"failed"`) || recs.all[0].UID == recs.all[1].UID {
		t.Fatalf("records %+v", recs.all)
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 6: 32 * time.Second, 7: time.Minute, 20: time.Minute} {
		if got := Backoff(n); got != want {
			t.Errorf("Backoff(%d) = %s, want %s", n, got, want)
		}
	}
}

// flakyFinish fails the first n OutboxFinish calls.
type flakyFinish struct {
	recordstore.NotifyState
	mu    sync.Mutex
	n     int
	calls int
}

func (f *flakyFinish) OutboxFinish(ctx context.Context, id int64, owner string, r recordstore.OutboxResult) error {
	f.mu.Lock()
	f.calls++
	fail := f.calls <= f.n
	f.mu.Unlock()
	if fail {
		return fmt.Errorf("database is locked")
	}
	return f.NotifyState.OutboxFinish(ctx, id, owner, r)
}

// TestFinishRetried: a brief store error when settling a sent row does not
// leave it leased (to be sent again when the lease runs out).
func TestFinishRetried(t *testing.T) {
	hook := hooktest.Start(t, hooktest.Options{})
	state := &flakyFinish{NotifyState: newState(t), n: 2}
	q, recs := newQueue(t, state, hookChannel("h", hook.URL(), 0))
	q.finishRetry = 20 * time.Millisecond
	start(t, q)
	if _, err := q.Enqueue(context.Background(), item("h", "k", `{}`)); err != nil {
		t.Fatal(err)
	}
	hook.Wait(t, 1, 5*time.Second)
	deadline := time.Now().Add(2 * time.Second)
	for st, _ := recs.status("k"); st != StatusSent; st, _ = recs.status("k") {
		if time.Now().After(deadline) {
			t.Fatalf("record status %q: the row was not settled", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if chs, err := state.OutboxDueChannels(context.Background(), time.Now().Add(time.Hour)); err != nil || len(chs) != 0 {
		t.Fatalf("the row is still due later: %v %v", chs, err)
	}
}

// TestMaxAgeAtLease: a row older than MaxAge when leased (the queue was
// down) is failed, not sent.
func TestMaxAgeAtLease(t *testing.T) {
	hook := hooktest.Start(t, hooktest.Options{})
	state := newState(t)
	q, recs := newQueue(t, state, hookChannel("h", hook.URL(), 0))
	q.MaxAge = time.Minute
	it := item("h", "old", `{}`)
	it.Record.Time = time.Now().Add(-time.Hour)
	if _, err := q.Enqueue(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(context.Background(), item("h", "new", `{}`)); err != nil {
		t.Fatal(err)
	}
	start(t, q)
	hook.Wait(t, 1, 5*time.Second)
	waitFor(t, func() bool { st, _ := recs.status("old"); return st == StatusFailed })
	if _, data := recs.status("old"); !strings.Contains(data["lastError"].(string), "not delivered within --notify-max-age") {
		t.Fatalf("record data %v", data)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(hook.Received()); n != 1 {
		t.Fatalf("%d deliveries; the old row was sent", n)
	}
}
