package alarmdispatch

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/provider/mem"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/alarmsilence"
	"github.com/kstack/kstack/internal/dialcheck"
	"github.com/kstack/kstack/internal/notifychannel"
	"github.com/kstack/kstack/internal/notifyqueue"
	"github.com/kstack/kstack/internal/recordstore"
	"github.com/kstack/kstack/internal/testutil/hooktest"
	"github.com/kstack/kstack/internal/testutil/pgtest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeQueue adds to the outbox as the real queue does (so the dedup key
// decides), and keeps what it added.
type fakeQueue struct {
	state recordstore.NotifyState
	mu    sync.Mutex
	items []notifyqueue.Item
	calls int
}

func (q *fakeQueue) Enqueue(ctx context.Context, it notifyqueue.Item) (bool, error) {
	added, err := q.state.OutboxAdd(ctx, recordstore.OutboxItem{DedupKey: it.DedupKey, Channel: it.Channel.String(), Payload: []byte("x")})
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls++
	if added {
		q.items = append(q.items, it)
	}
	return added, err
}

func (q *fakeQueue) list() []notifyqueue.Item {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]notifyqueue.Item(nil), q.items...)
}

// waitItems waits until the queue holds n items, then checks for a while
// that no more come.
func (q *fakeQueue) waitItems(t *testing.T, n int, settle time.Duration) []notifyqueue.Item {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(q.list()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("waited for %d notifications, got %d: %s", n, len(q.list()), describe(q.list()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(settle)
	got := q.list()
	if len(got) != n {
		t.Fatalf("want %d notifications, got %d: %s", n, len(got), describe(got))
	}
	return got
}

func describe(items []notifyqueue.Item) string {
	var b strings.Builder
	for _, it := range items {
		b.WriteString("\n  " + it.Channel.String() + " " + it.Record.Verb + " to=" + strings.Join(it.Message.To, ",") + " " + it.Message.Body)
	}
	return b.String()
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

func policy(name string, repeat time.Duration, methods ...monitorv1.NotifyMethod) *monitorv1.AlarmPolicy {
	p := &monitorv1.AlarmPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "prj-a", Name: name},
		Spec: monitorv1.AlarmPolicySpec{TenantID: "default", DisplayName: "CPU high " + name, ClusterName: "cls-1", Namespace: "web",
			ProjectName: "prj-a", ObjectType: monitorv1.ObjectPod, Receivers: []monitorv1.ObjectRef{{Name: "r1"}},
			Notifications: methods}}
	if repeat > 0 {
		p.Spec.RepeatInterval = &metav1.Duration{Duration: repeat}
	}
	return p
}

var (
	hookMethod = monitorv1.NotifyMethod{Channel: monitorv1.ObjectRef{Name: "hook"}, Template: monitorv1.ObjectRef{Name: "t-hook"}}
	mailMethod = monitorv1.NotifyMethod{Channel: monitorv1.ObjectRef{Name: "mail"}}
)

func newClient(objs ...client.Object) client.Reader {
	sch := runtime.NewScheme()
	_ = monitorv1.AddToScheme(sch)
	_ = notifyv1.AddToScheme(sch)
	base := []client.Object{
		&notifyv1.Channel{ObjectMeta: metav1.ObjectMeta{Namespace: "prj-a", Name: "hook"},
			Spec: notifyv1.ChannelSpec{Type: notifyv1.ChannelWebhook, Webhook: &notifyv1.WebhookChannel{URL: "http://hook.example/"}}},
		&notifyv1.Channel{ObjectMeta: metav1.ObjectMeta{Namespace: "prj-a", Name: "mail"},
			Spec: notifyv1.ChannelSpec{Type: notifyv1.ChannelEmail, Email: &notifyv1.EmailChannel{SMTPHost: "smtp.example", SMTPPort: 587, TLS: "starttls", From: "a@example.com"}}},
		&notifyv1.Template{ObjectMeta: metav1.ObjectMeta{Namespace: "prj-a", Name: "t-hook"},
			Spec: notifyv1.TemplateSpec{ChannelType: notifyv1.ChannelWebhook, ContentType: "application/json",
				Body: `{"status":"{{ .Status }}","policy":"{{ .Policy.Name }}","alerts":{{ len .Alerts }}{{ range .Alerts }},"object":"{{ .Object }}"{{ end }}}`}},
		&notifyv1.Receiver{ObjectMeta: metav1.ObjectMeta{Namespace: "prj-a", Name: "r1"},
			Spec: notifyv1.ReceiverSpec{DisplayName: "Ops", Email: "ops@example.com"}},
	}
	return fake.NewClientBuilder().WithScheme(sch).WithObjects(append(base, objs...)...).Build()
}

func newAlerts(t *testing.T) *mem.Alerts {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a, err := mem.NewAlerts(ctx, time.Minute, 0, nil, quiet, eventrecorder.NopRecorder(), prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func firing(policyName, pod string) *alert.Alert {
	now := time.Now()
	return alert.New(model.Alert{
		Labels: model.LabelSet{"alertname": model.LabelValue(policyName), "alarm_policy": model.LabelValue("prj-a/" + policyName),
			"tenant": "default", "cluster": "cls-1", "namespace": "web", "pod": model.LabelValue(pod), "alarm_condition": "0", "alarm_metric": "k8s_pod_restart_total"},
		Annotations: model.LabelSet{"metric": "k8s_pod_restart_total", "operator": ">", "threshold": "2", "value": "5"},
		StartsAt:    now,
		EndsAt:      now.Add(time.Hour),
	}, now, false)
}

func resolved(a *alert.Alert) *alert.Alert {
	now := time.Now()
	m := a.Alert
	m.EndsAt = now
	return alert.New(m, now, false)
}

var fast = Timing{GroupWait: 200 * time.Millisecond, GroupInterval: 300 * time.Millisecond, RepeatInterval: time.Hour}

func run(t *testing.T, d *Dispatcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Start(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func TestGroupWaitDedupAndResolved(t *testing.T) {
	state := newState(t)
	q := &fakeQueue{state: state}
	alerts := newAlerts(t)
	d := &Dispatcher{Alerts: alerts, Client: newClient(policy("p1", 0, hookMethod, mailMethod)), State: state, Queue: q, Timing: fast, Log: quiet,
		ConsoleURL: "https://console.example/"}
	run(t, d)
	a := firing("p1", "web-1")
	t0 := time.Now()
	if err := alerts.Put(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(q.list()); n != 0 {
		t.Fatalf("%d notifications before group_wait", n)
	}
	// One message per target: the webhook, and the email to r1. Several
	// group intervals later, still one each (dedup).
	got := q.waitItems(t, 2, time.Second)
	if d := time.Since(t0); d < 200*time.Millisecond {
		t.Fatalf("sent after %s, before group_wait", d)
	}
	var hook, mail notifyqueue.Item
	for _, it := range got {
		switch it.Channel.Name {
		case "hook":
			hook = it
		case "mail":
			mail = it
		}
	}
	if hook.Message.Body != `{"status":"firing","policy":"p1","alerts":1,"object":"web/web-1"}` || hook.Message.ChannelType != "webhook" ||
		hook.Message.ContentType != "application/json" || len(hook.Message.To) != 0 {
		t.Fatalf("webhook message %+v", hook.Message)
	}
	if len(mail.Message.To) != 1 || mail.Message.To[0] != "ops@example.com" || mail.Message.ChannelType != "email" || mail.Message.Subject == "" {
		t.Fatalf("email message %+v", mail.Message)
	}
	if r := mail.Record; r.Verb != "firing" || r.Tenant != "default" || r.Cluster != "cls-1" || r.Namespace != "web" || r.Project != "prj-a" || r.User != "r1" ||
		!strings.Contains(string(r.Data), `"policy":"prj-a/p1"`) {
		t.Fatalf("record %+v", r)
	}
	// The built-in mail template links to the console's records of the policy.
	if !strings.Contains(mail.Message.Body, "https://console.example/console/business/projects/prj-a/alarms/records?cluster=cls-1&policy=prj-a%2Fp1") {
		t.Fatalf("the mail does not link to the policy's records: %s", mail.Message.Body)
	}

	// Resolved: one message per target, once.
	if err := alerts.Put(context.Background(), resolved(a)); err != nil {
		t.Fatal(err)
	}
	got = q.waitItems(t, 4, time.Second)
	for _, it := range got[2:] {
		if it.Record.Verb != "resolved" {
			t.Fatalf("after resolving: %s", describe(got[2:]))
		}
		if it.Channel.Name == "hook" && it.Message.Body != `{"status":"resolved","policy":"p1","alerts":1,"object":"web/web-1"}` {
			t.Fatalf("resolved webhook body %s", it.Message.Body)
		}
	}
	// Firing again is a new notification.
	if err := alerts.Put(context.Background(), firing("p1", "web-1")); err != nil {
		t.Fatal(err)
	}
	q.waitItems(t, 6, 500*time.Millisecond)
}

func TestSendResolvedOff(t *testing.T) {
	state := newState(t)
	q := &fakeQueue{state: state}
	alerts := newAlerts(t)
	p := policy("p1", 0, hookMethod)
	off := false
	p.Spec.SendResolved = &off
	run(t, &Dispatcher{Alerts: alerts, Client: newClient(p), State: state, Queue: q, Timing: fast, Log: quiet})
	a := firing("p1", "web-1")
	alerts.Put(context.Background(), a)
	q.waitItems(t, 1, 200*time.Millisecond)
	alerts.Put(context.Background(), resolved(a))
	time.Sleep(time.Second)
	if n := len(q.list()); n != 1 {
		t.Fatalf("%d notifications; the resolution was sent", n)
	}
	// Firing again after the resolution was logged is a first notification.
	alerts.Put(context.Background(), firing("p1", "web-1"))
	q.waitItems(t, 2, 300*time.Millisecond)
}

func TestRepeat(t *testing.T) {
	state := newState(t)
	q := &fakeQueue{state: state}
	alerts := newAlerts(t)
	run(t, &Dispatcher{Alerts: alerts, Client: newClient(policy("p2", time.Second, hookMethod)), State: state, Queue: q, Timing: fast, Log: quiet})
	alerts.Put(context.Background(), firing("p2", "web-1"))
	q.waitItems(t, 1, 0)
	// The policy's repeatInterval (1s) elapses: the same alert again, a
	// new notification (another dedup key).
	got := q.waitItems(t, 2, 0)
	if got[0].DedupKey == got[1].DedupKey || got[1].Record.Verb != "firing" {
		t.Fatalf("repeat: %s", describe(got))
	}
	// A new alert in the group is notified at the next group interval.
	alerts.Put(context.Background(), firing("p2", "web-2"))
	got = q.waitItems(t, 3, 0)
	if !strings.Contains(got[2].Message.Body, `"alerts":2`) {
		t.Fatalf("new alert: %s", got[2].Message.Body)
	}
}

func TestSilencedGroup(t *testing.T) {
	state := newState(t)
	q := &fakeQueue{state: state}
	alerts := newAlerts(t)
	now := time.Now()
	sil := func(ns, name string, ends time.Time) *monitorv1.AlarmSilence {
		return &monitorv1.AlarmSilence{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: monitorv1.AlarmSilenceSpec{TenantID: "default", Matchers: []monitorv1.Matcher{{Name: "alarm_policy", Value: "prj-a/p1"}},
				StartsAt: &metav1.Time{Time: now.Add(-time.Minute)}, EndsAt: metav1.Time{Time: ends}}}
	}
	c := newClient(policy("p1", 0, hookMethod), policy("p3", 0, hookMethod),
		sil("prj-a", "quiet", now.Add(time.Hour)))
	run(t, &Dispatcher{Alerts: alerts, Client: c, State: state, Queue: q, Timing: fast, Log: quiet, Muter: &alarmsilence.Muter{Client: c}})
	alerts.Put(context.Background(), firing("p1", "web-1"), firing("p3", "web-1"))
	got := q.waitItems(t, 1, time.Second)
	if !strings.Contains(got[0].Message.Body, `"policy":"p3"`) {
		t.Fatalf("the silenced policy was notified: %s", describe(got))
	}
}

func TestTwoDispatchersEnqueueOnce(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testTwoDispatchers(t, newState(t)) })
	t.Run("postgres", func(t *testing.T) {
		s, err := recordstore.Open(context.Background(), pgtest.Start(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		ns, _ := recordstore.AsNotifyState(s)
		testTwoDispatchers(t, ns)
	})
}

func testTwoDispatchers(t *testing.T, state recordstore.NotifyState) {
	q := &fakeQueue{state: state}
	c := newClient(policy("p1", 0, hookMethod, mailMethod))
	a1, a2 := newAlerts(t), newAlerts(t)
	run(t, &Dispatcher{Alerts: a1, Client: c, State: state, Queue: q, Timing: fast, Log: quiet})
	run(t, &Dispatcher{Alerts: a2, Client: c, State: state, Queue: q, Timing: fast, Log: quiet})
	a := firing("p1", "web-1")
	a1.Put(context.Background(), a)
	a2.Put(context.Background(), a)
	q.waitItems(t, 2, time.Second)
	r := resolved(a)
	a1.Put(context.Background(), r)
	a2.Put(context.Background(), r)
	q.waitItems(t, 4, time.Second)
}

func TestNewLeaderDoesNotRepeat(t *testing.T) {
	state := newState(t)
	q := &fakeQueue{state: state}
	c := newClient(policy("p1", 0, hookMethod))
	a1 := newAlerts(t)
	stop := run(t, &Dispatcher{Alerts: a1, Client: c, State: state, Queue: q, Timing: fast, Log: quiet})
	a := firing("p1", "web-1")
	a1.Put(context.Background(), a)
	q.waitItems(t, 1, 100*time.Millisecond)
	stop()
	// The new leader has the same firing alert in its own store, and an
	// empty in-memory log: the shared log says it was sent.
	a2 := newAlerts(t)
	run(t, &Dispatcher{Alerts: a2, Client: c, State: state, Queue: q, Timing: fast, Log: quiet})
	a2.Put(context.Background(), a)
	time.Sleep(time.Second)
	q.mu.Lock()
	n, calls := len(q.items), q.calls
	q.mu.Unlock()
	if n != 1 || calls != 1 {
		t.Fatalf("the new leader enqueued again: %d added, %d calls", n, calls)
	}
	a2.Put(context.Background(), resolved(a))
	got := q.waitItems(t, 2, 300*time.Millisecond)
	if got[1].Record.Verb != "resolved" {
		t.Fatalf("%s", describe(got))
	}
}

func TestDedupKey(t *testing.T) {
	t0 := time.Unix(100, 0)
	k := DedupKey("g:r", t0, []uint64{2, 1}, nil)
	if k != DedupKey("g:r", t0, []uint64{1, 2}, nil) {
		t.Fatal("order matters")
	}
	for _, other := range []string{
		DedupKey("g:r2", t0, []uint64{1, 2}, nil),
		DedupKey("g:r", t0.Add(1), []uint64{1, 2}, nil),
		DedupKey("g:r", t0, []uint64{1}, []uint64{2}),
	} {
		if other == k {
			t.Fatal("collision")
		}
	}
}

// TestThroughTheQueue runs the pipeline as the platform wires it: the
// dispatcher enqueues into the real queue, which delivers to a webhook with
// the default (Alertmanager v4) template.
func TestThroughTheQueue(t *testing.T) {
	state := newState(t)
	hook := hooktest.Start(t, hooktest.Options{})
	sch := runtime.NewScheme()
	_ = monitorv1.AddToScheme(sch)
	_ = notifyv1.AddToScheme(sch)
	p := policy("p1", 0, monitorv1.NotifyMethod{Channel: monitorv1.ObjectRef{Name: "real"}})
	c := fake.NewClientBuilder().WithScheme(sch).WithObjects(p,
		&notifyv1.Channel{ObjectMeta: metav1.ObjectMeta{Namespace: "prj-a", Name: "real"},
			Spec: notifyv1.ChannelSpec{Type: notifyv1.ChannelWebhook, Webhook: &notifyv1.WebhookChannel{URL: hook.URL()}}}).Build()
	q := &notifyqueue.Queue{State: state, Client: c, Owner: "me", Log: quiet,
		Sender: &notifychannel.Sender{Dial: &dialcheck.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	alerts := newAlerts(t)
	run(t, &Dispatcher{Alerts: alerts, Client: c, State: state, Queue: q, Timing: Timing{GroupInterval: 300 * time.Millisecond, RepeatInterval: time.Hour}, Log: quiet})
	t0 := time.Now()
	a := firing("p1", "web-1")
	alerts.Put(context.Background(), a)
	got := hook.Wait(t, 1, 5*time.Second)
	t.Logf("alert to webhook: %s", got[0].At.Sub(t0))
	var body struct {
		Version, Status string
		Alerts          []struct{ Status string }
	}
	if err := json.Unmarshal(got[0].Body, &body); err != nil || body.Status != "firing" || len(body.Alerts) != 1 {
		t.Fatalf("body %s: %v", got[0].Body, err)
	}
	alerts.Put(context.Background(), resolved(a))
	got = hook.Wait(t, 2, 5*time.Second)
	if err := json.Unmarshal(got[1].Body, &body); err != nil || body.Status != "resolved" {
		t.Fatalf("resolved body %s: %v", got[1].Body, err)
	}
	time.Sleep(time.Second)
	if n := len(hook.Received()); n != 2 {
		t.Fatalf("%d deliveries", n)
	}
}

// TestRefiringAfterTheLogEntryExpired: an alert fires, resolves, its log
// entry expires (and is dropped from memory), and it fires again: a new
// notification, not the first one's dedup key again (whose outbox row is
// still there).
func TestRefiringAfterTheLogEntryExpired(t *testing.T) {
	for _, newLeader := range []bool{false, true} {
		name := map[bool]string{false: "same dispatcher", true: "new leader"}[newLeader]
		t.Run(name, func(t *testing.T) {
			state := newState(t)
			q := &fakeQueue{state: state}
			// repeatInterval 1s: entries expire 2s after they are logged.
			c := newClient(policy("p1", time.Second, hookMethod))
			alerts := newAlerts(t)
			stop := run(t, &Dispatcher{Alerts: alerts, Client: c, State: state, Queue: q, Timing: fast, Log: quiet, gcEvery: 100 * time.Millisecond})
			a := firing("p1", "web-1")
			alerts.Put(context.Background(), a)
			q.waitItems(t, 1, 0)
			alerts.Put(context.Background(), resolved(a))
			got := q.waitItems(t, 2, 0)
			if got[1].Record.Verb != "resolved" {
				t.Fatalf("%s", describe(got))
			}
			time.Sleep(2500 * time.Millisecond) // the entry expires
			if newLeader {
				stop()
				alerts = newAlerts(t)
				run(t, &Dispatcher{Alerts: alerts, Client: c, State: state, Queue: q, Timing: fast, Log: quiet})
			}
			alerts.Put(context.Background(), firing("p1", "web-1"))
			// After group_wait (200ms), not only as the repeat a second later.
			time.Sleep(800 * time.Millisecond)
			got = q.list()
			if len(got) != 3 || got[2].Record.Verb != "firing" || got[2].DedupKey == got[0].DedupKey {
				t.Fatalf("firing again was not notified: %s", describe(got))
			}
		})
	}
}

// TestDeletedPolicyResolves: a policy deleted while its alert fires; the
// alert times out (resolved): the receivers hear it, through the targets
// the policy had.
func TestDeletedPolicyResolves(t *testing.T) {
	state := newState(t)
	q := &fakeQueue{state: state}
	p := policy("p1", 0, hookMethod, mailMethod)
	c := newClient(p).(client.Client)
	alerts := newAlerts(t)
	run(t, &Dispatcher{Alerts: alerts, Client: c, State: state, Queue: q, Timing: fast, Log: quiet})
	a := firing("p1", "web-1")
	alerts.Put(context.Background(), a)
	q.waitItems(t, 2, 0)
	if err := c.Delete(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	alerts.Put(context.Background(), resolved(a))
	got := q.waitItems(t, 4, time.Second)
	for _, it := range got[2:] {
		if it.Record.Verb != "resolved" || it.Record.Project != "prj-a" {
			t.Fatalf("after deleting the policy: %s", describe(got[2:]))
		}
	}
	// Firing again under the deleted policy's name is not notified.
	alerts.Put(context.Background(), firing("p1", "web-2"))
	time.Sleep(time.Second)
	if n := len(q.list()); n != 4 {
		t.Fatalf("%d notifications: %s", n, describe(q.list()))
	}
}
