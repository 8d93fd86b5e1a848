package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/provider/mem"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"
	crfake "sigs.k8s.io/controller-runtime/pkg/client/fake"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/alarmdispatch"
	"github.com/kstack/kstack/internal/alarmeval"
	"github.com/kstack/kstack/internal/alarmrule"
	"github.com/kstack/kstack/internal/dialcheck"
	"github.com/kstack/kstack/internal/metricstore"
	"github.com/kstack/kstack/internal/notifychannel"
	"github.com/kstack/kstack/internal/notifymsg"
	"github.com/kstack/kstack/internal/notifyqueue"
	"github.com/kstack/kstack/internal/platformscheme"
	"github.com/kstack/kstack/internal/recordstore"
	"github.com/kstack/kstack/internal/testutil/hooktest"
)

// BenchmarkAlarmToWebhook: the time from a threshold crossed to a webhook
// receiving the message, p50/p99, through the platform's own pipeline run in
// process: a real metric store, the alarm evaluator (Prometheus's rule
// manager) with a short period unit, Alertmanager's alert store and
// dispatcher (group_wait 0), the outbox on a SQLite record store, its
// delivery workers, and a real HTTP webhook. The objects (AlarmPolicy,
// Channel, Template, Receiver, the project's Namespace, the Cluster) come
// from a fake client, as the manager's cache would serve them.
//
// KSTACK_BENCH_ALARM_CROSSINGS (50) pods each cross their own policy's
// threshold one after another (each policy has "k8s_pod_restart_total > 3
// for 1 period" of KSTACK_BENCH_ALARM_UNIT_MS (1000) ms, so it fires at the
// first evaluation that sees the sample); the next crossing comes after the
// message of the one before arrived and a random pause of up to one unit,
// so the crossings fall at all phases of the groups' evaluation ticks. It
// prints the total and its parts: crossing → firing (the alert put into
// the alert store: waiting for the group's next evaluation, then the query),
// firing → enqueue (dispatch, rendering, the outbox insert) and enqueue →
// receipt (lease, send). The first part is bounded by the unit, which is 1
// minute in production (--alarm-period-unit), and --alarm-group-wait (30 s
// by default) adds to the second: the figures here are the pipeline's own
// cost plus one short period.
func BenchmarkAlarmToWebhook(b *testing.B) {
	if os.Getenv("KSTACK_BENCH") == "" {
		b.Skip("set KSTACK_BENCH=1 (make bench)")
	}
	n := envInt("KSTACK_BENCH_ALARM_CROSSINGS", 50)
	periodUnit := time.Duration(envInt("KSTACK_BENCH_ALARM_UNIT_MS", 1000)) * time.Millisecond
	for i := 0; i < b.N; i++ {
		runAlarmToWebhook(b, n, periodUnit)
	}
}

func runAlarmToWebhook(b *testing.B, n int, periodUnit time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := b.TempDir()
	fmt.Printf("alarm → webhook bench: %s; %d CPUs, GOMAXPROCS %d; load average %s\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), loadAvg())

	store, err := metricstore.Open(metricstore.Options{Dir: filepath.Join(dir, "metrics")})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	state := openNotifyState(b, filepath.Join(dir, "records.db"))

	hook := hooktest.Start(b, hooktest.Options{})
	const project, ns, cluster = "prj-a", "web", "cls-1"
	objs := []crclient.Object{
		&platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: cluster}},
		&businessv1.Namespace{
			ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: businessv1.ObjectName(cluster, ns)},
			Spec:       businessv1.NamespaceSpec{ProjectName: project, ClusterName: cluster, Namespace: ns},
		},
		&notifyv1.Channel{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "hook"},
			Spec: notifyv1.ChannelSpec{Type: notifyv1.ChannelWebhook,
				Webhook: &notifyv1.WebhookChannel{URL: hook.URL(), TimeoutSeconds: 10}}},
		&notifyv1.Template{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "t-hook"},
			Spec: notifyv1.TemplateSpec{ChannelType: notifyv1.ChannelWebhook, ContentType: notifymsg.ContentJSON,
				Body: `{"status":"{{ .Status }}","policy":"{{ .Policy.Name }}","alerts":[{{ range $i, $a := .Alerts }}{{ if $i }},{{ end }}{"object":"{{ $a.Object }}","value":"{{ $a.Value }}"}{{ end }}]}`}},
		&notifyv1.Receiver{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "ops"},
			Spec: notifyv1.ReceiverSpec{DisplayName: "Ops", Email: "ops@example.com"}},
	}
	// One policy per pod: "restarts > 3 for 1 period" on its own workload.
	series := make([]labels.Labels, n)
	for i := range n {
		w := fmt.Sprintf("w-%03d", i)
		series[i] = labels.FromStrings("__name__", "k8s_pod_restart_total", "cluster", cluster, "namespace", ns,
			"pod", w+"-0", "node", "n1", "workload_kind", "Deployment", "workload_name", w)
		objs = append(objs, &monitorv1.AlarmPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: "alarm-" + w, Generation: 1},
			Spec: monitorv1.AlarmPolicySpec{
				DisplayName: "restarts of " + w, ClusterName: cluster, Namespace: ns, ProjectName: project,
				ObjectType: monitorv1.ObjectPod, PeriodMinutes: 1,
				Object:     monitorv1.AlarmObject{Workload: &monitorv1.WorkloadRef{Kind: "Deployment", Name: w}},
				Conditions: []monitorv1.AlarmCondition{{Metric: "k8s_pod_restart_total", Operator: ">", Threshold: "3", Periods: 1}},
				Receivers:  []monitorv1.ObjectRef{{Name: "ops"}},
				Notifications: []monitorv1.NotifyMethod{{Channel: monitorv1.ObjectRef{Name: "hook"},
					Template: monitorv1.ObjectRef{Name: "t-hook"}}},
			},
		})
	}
	c := crfake.NewClientBuilder().WithScheme(platformscheme.New()).
		WithStatusSubresource(&monitorv1.AlarmPolicy{}).WithObjects(objs...).Build()

	// The collector: every pod's restart count, once a second; a crossing
	// appends the pod's new count at once (as the scrape that saw it would).
	col := &collector{store: store, series: series, vals: make([]float64, n)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if err := col.appendAll(ctx); err != nil && ctx.Err() == nil {
				b.Error(err)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()

	alerts, err := mem.NewAlerts(ctx, 30*time.Minute, 0, nil, quietLog(), eventrecorder.NopRecorder(), prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer alerts.Close()
	puts := &putTimes{next: alerts, first: map[string]time.Time{}, evals: map[string]time.Time{}}
	eval := &alarmeval.Evaluator{Store: store, Client: c, Unit: periodUnit, Alerts: puts, Records: discardRecords{}}
	queue := &notifyqueue.Queue{State: state, Client: c, Records: discardRecords{}, Owner: "bench",
		Sender: &notifychannel.Sender{Dial: &dialcheck.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}}
	enq := &enqueueTimes{next: queue, first: map[string]time.Time{}}
	disp := &alarmdispatch.Dispatcher{Alerts: alerts, Client: c, State: state, Queue: enq,
		Timing: alarmdispatch.Timing{GroupWait: 0, GroupInterval: 5 * time.Minute, RepeatInterval: 4 * time.Hour}}
	for _, run := range []func(context.Context) error{eval.Start, disp.Start, queue.Start} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && ctx.Err() == nil {
				b.Error(err)
			}
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	// Let every group run its first evaluations before the first crossing.
	time.Sleep(3 * periodUnit)
	if st, ok := eval.Status(alarmrule.PolicyKey(project, "alarm-w-000")); !ok || st.Phase != alarmeval.PhaseActive {
		b.Fatalf("policy alarm-w-000 is not active: %+v", st)
	}

	var total, toFiring, toEval, evalToPut, toEnqueue, toReceipt []time.Duration
	rng := rand.New(rand.NewPCG(18, 18))
	for i := range n {
		time.Sleep(time.Duration(rng.Int64N(int64(periodUnit))))
		name := fmt.Sprintf("alarm-w-%03d", i)
		key := alarmrule.PolicyKey(project, name)
		t0, err := col.cross(ctx, i, 5)
		if err != nil {
			b.Fatal(err)
		}
		got := waitForPolicy(b, hook, name, 30*time.Second)
		fired, evalAt, ok1 := puts.get(key)
		queued, ok2 := enq.get(key)
		if !ok1 || !ok2 {
			b.Fatalf("%s: the hook got %s, but the alert was put %v, enqueued %v", name, got.Body, ok1, ok2)
		}
		total = append(total, got.At.Sub(t0))
		toFiring = append(toFiring, fired.Sub(t0))
		toEval = append(toEval, evalAt.Sub(t0))
		evalToPut = append(evalToPut, fired.Sub(evalAt))
		toEnqueue = append(toEnqueue, queued.Sub(fired))
		toReceipt = append(toReceipt, got.At.Sub(queued))
	}
	// Nothing more should come: each policy fired once (group_interval 5m).
	time.Sleep(2 * periodUnit)
	extra := len(hook.Received()) - n

	fmt.Printf("threshold crossed → webhook received, %d crossings (one pod and one policy each, \"restarts > 3\" for 1 period),\n"+
		"  period unit %s (production: 1m), group_wait 0 (production default: 30s), SQLite outbox, loopback webhook:\n", n, periodUnit)
	fmt.Printf("  total              %s\n", durStats(total))
	fmt.Printf("  crossing → firing  %s   (the alert put into the alert store), of which\n", durStats(toFiring))
	fmt.Printf("    → eval tick      %s   (waiting for the group's next evaluation, ≤ 1 unit)\n", durStats(toEval))
	fmt.Printf("    tick → put       %s   (query, rule, alert conversion)\n", durStats(evalToPut))
	fmt.Printf("  firing → enqueue   %s   (alert store, dispatcher flush, targets, render, outbox insert)\n", durStats(toEnqueue))
	fmt.Printf("  enqueue → receipt  %s   (outbox lease, channel read, HTTP POST)\n", durStats(toReceipt))
	fmt.Printf("  messages beyond one per crossing: %d; load average now %s\n", extra, loadAvg())
	b.ReportMetric(percentile(total, 0.5).Seconds(), "s-p50-cross-to-hook")
	b.ReportMetric(percentile(total, 0.99).Seconds(), "s-p99-cross-to-hook")
}

// BenchmarkNotifySlowWebhook: deliveries per second to a webhook that takes
// 1 s to answer each request (channel concurrency 4), while a fast webhook
// on another channel keeps its latency. KSTACK_BENCH_NOTIFY_MESSAGES (200)
// messages to each are enqueued at once (interleaved) through the
// notification queue on a SQLite record store; it prints the slow channel's
// deliveries/s and the fast hook's enqueue → receipt p50/p99, next to a
// baseline run with the fast hook alone. A burst of 200 waits mostly behind
// itself (the fast channel's own concurrency of 4), so each run then sends
// 50 single messages to the fast hook, one at a time, while the slow
// channel's backlog is still draining: their latency is the one a fast
// channel "keeps".
func BenchmarkNotifySlowWebhook(b *testing.B) {
	if os.Getenv("KSTACK_BENCH") == "" {
		b.Skip("set KSTACK_BENCH=1 (make bench)")
	}
	n := envInt("KSTACK_BENCH_NOTIFY_MESSAGES", 200)
	fmt.Printf("notify queue bench: %s; %d CPUs, GOMAXPROCS %d; load average %s\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), loadAvg())
	for i := 0; i < b.N; i++ {
		base := runNotifyQueue(b, n, false)
		fmt.Printf("baseline, fast hook alone: %d messages enqueued at once in %s; fast %.1f deliveries/s;\n"+
			"  fast enqueue → receipt, the burst:                  %s\n"+
			"  fast enqueue → receipt, then %d single messages:    %s\n",
			n, base.enqueued.Round(time.Millisecond), base.fastRate, durStats(base.fast), singles, durStats(base.single))
		mixed := runNotifyQueue(b, n, true)
		fmt.Printf("with a slow hook (1 s per request, concurrency 4): %d + %d messages enqueued in %s;\n"+
			"  slow %.2f deliveries/s (%d delivered in %s; the ceiling is 4/s);\n"+
			"  fast %.1f deliveries/s;\n"+
			"  fast enqueue → receipt, the burst:                  %s\n"+
			"  fast enqueue → receipt, then %d single messages:    %s (slow backlog %d → %d meanwhile)\n",
			n, n, mixed.enqueued.Round(time.Millisecond), mixed.slowRate, n, mixed.slowTook.Round(time.Millisecond),
			mixed.fastRate, durStats(mixed.fast), singles, durStats(mixed.single), mixed.slowBacklog[0], mixed.slowBacklog[1])
		b.ReportMetric(mixed.slowRate, "slow-deliveries/s")
		b.ReportMetric(percentile(mixed.fast, 0.5).Seconds(), "s-p50-fast-with-slow")
		b.ReportMetric(percentile(mixed.fast, 0.99).Seconds(), "s-p99-fast-with-slow")
		b.ReportMetric(percentile(base.fast, 0.99).Seconds(), "s-p99-fast-alone")
		b.ReportMetric(percentile(mixed.single, 0.99).Seconds(), "s-p99-single-fast-with-slow")
		b.ReportMetric(percentile(base.single, 0.99).Seconds(), "s-p99-single-fast-alone")
	}
}

// singles is how many single messages the fast hook gets after the burst.
const singles = 50

type queueRun struct {
	enqueued           time.Duration // enqueueing all messages took
	fast               []time.Duration
	single             []time.Duration // one message at a time, after the burst
	slowBacklog        [2]int          // slow messages not yet sent when the singles began and ended
	fastRate, slowRate float64
	slowTook           time.Duration
}

func runNotifyQueue(b *testing.B, n int, withSlow bool) queueRun {
	ctx, cancel := context.WithCancel(context.Background())
	dir := b.TempDir()
	state := openNotifyState(b, filepath.Join(dir, "records.db"))
	fast := hooktest.Start(b, hooktest.Options{})
	slow := hooktest.Start(b, hooktest.Options{Delay: time.Second})
	const project = "prj-a"
	channel := func(name, url string) *notifyv1.Channel {
		return &notifyv1.Channel{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: name},
			Spec: notifyv1.ChannelSpec{Type: notifyv1.ChannelWebhook, Concurrency: 4,
				Webhook: &notifyv1.WebhookChannel{URL: url, TimeoutSeconds: 10}}}
	}
	c := crfake.NewClientBuilder().WithScheme(platformscheme.New()).
		WithObjects(channel("fast", fast.URL()), channel("slow", slow.URL())).Build()
	recs := &sentTimes{at: map[string]time.Time{}}
	q := &notifyqueue.Queue{State: state, Client: c, Records: recs, Owner: "bench",
		Sender: &notifychannel.Sender{Dial: &dialcheck.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}}
	done := make(chan struct{})
	go func() { _ = q.Start(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	item := func(ch, id string) notifyqueue.Item {
		return notifyqueue.Item{Channel: types.NamespacedName{Namespace: project, Name: ch}, DedupKey: id,
			Message: notifymsg.Message{ChannelType: notifyv1.ChannelWebhook, ContentType: notifymsg.ContentJSON,
				Body: `{"id":"` + id + `","status":"firing","policy":"bench"}`},
			Record: recordstore.Record{Tenant: "default", Cluster: "cls-1", Project: project, Verb: "firing",
				Data: json.RawMessage(`{"policy":"prj-a/bench","groupKey":"g"}`)}}
	}
	enqAt := map[string]time.Time{}
	start := time.Now()
	for i := range n {
		if withSlow {
			if _, err := q.Enqueue(ctx, item("slow", fmt.Sprintf("s-%d", i))); err != nil {
				b.Fatal(err)
			}
		}
		id := fmt.Sprintf("f-%d", i)
		enqAt[id] = time.Now()
		if _, err := q.Enqueue(ctx, item("fast", id)); err != nil {
			b.Fatal(err)
		}
	}
	var r queueRun
	r.enqueued = time.Since(start)

	got := fast.Wait(b, n, 2*time.Minute)
	var lastFast time.Time
	for _, req := range got {
		var m struct{ ID string }
		if err := json.Unmarshal(req.Body, &m); err != nil {
			b.Fatalf("fast hook got %q: %v", req.Body, err)
		}
		t, ok := enqAt[m.ID]
		if !ok {
			b.Fatalf("fast hook got an unknown message %q", req.Body)
		}
		r.fast = append(r.fast, req.At.Sub(t))
		lastFast = req.At
	}
	if len(got) != n {
		b.Errorf("fast hook got %d messages, want %d", len(got), n)
	}
	r.fastRate = float64(n) / lastFast.Sub(start).Seconds()

	// Then single messages to the fast hook, one at a time, while the slow
	// channel's backlog drains (with the slow hook) or with nothing else
	// queued (baseline).
	r.slowBacklog[0] = n - recs.count("prj-a/slow")
	for k := range singles {
		id := fmt.Sprintf("g-%d", k)
		t := time.Now()
		if _, err := q.Enqueue(ctx, item("fast", id)); err != nil {
			b.Fatal(err)
		}
		got := fast.Wait(b, n+k+1, time.Minute)
		last := got[len(got)-1]
		if !strings.Contains(string(last.Body), `"`+id+`"`) {
			b.Fatalf("fast hook got %q, want message %s", last.Body, id)
		}
		r.single = append(r.single, last.At.Sub(t))
		time.Sleep(50 * time.Millisecond)
	}
	r.slowBacklog[1] = n - recs.count("prj-a/slow")
	if !withSlow {
		r.slowBacklog = [2]int{}
	}
	if withSlow {
		// Delivered = the queue recorded it sent (after the 1 s answer).
		deadline := time.Now().Add(time.Duration(n)*time.Second + time.Minute)
		for recs.count("prj-a/slow") < n {
			if time.Now().After(deadline) {
				b.Fatalf("slow channel: %d of %d sent after %s", recs.count("prj-a/slow"), n, time.Since(start))
			}
			time.Sleep(50 * time.Millisecond)
		}
		r.slowTook = recs.last("prj-a/slow").Sub(start)
		r.slowRate = float64(n) / r.slowTook.Seconds()
		if got := len(slow.Received()); got != n {
			b.Errorf("slow hook got %d requests, want %d", got, n)
		}
	}
	return r
}

func openNotifyState(b *testing.B, path string) recordstore.NotifyState {
	s, err := recordstore.Open(context.Background(), "sqlite:"+path, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ns, ok := recordstore.AsNotifyState(s)
	if !ok {
		b.Fatal("the SQLite record store keeps no notification state")
	}
	return ns
}

// collector appends the pods' restart counts in time order.
type collector struct {
	store  *metricstore.Store
	series []labels.Labels
	mu     sync.Mutex
	vals   []float64
	last   int64 // ms of the last sample appended: each is later
}

func (c *collector) ts(now time.Time) int64 {
	t := max(now.UnixMilli(), c.last+1)
	c.last = t
	return t
}

func (c *collector) appendAll(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	app := c.store.Appender(ctx)
	t := c.ts(time.Now())
	for i, l := range c.series {
		if _, err := app.Append(0, l, t, c.vals[i]); err != nil {
			_ = app.Rollback()
			return err
		}
	}
	return app.Commit()
}

// cross sets pod i's count to v and appends it now; it returns when the
// sample was appended (the crossing's time).
func (c *collector) cross(ctx context.Context, i int, v float64) (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vals[i] = v
	now := time.Now()
	t := c.ts(now)
	app := c.store.Appender(ctx)
	if _, err := app.Append(0, c.series[i], t, v); err != nil {
		_ = app.Rollback()
		return now, err
	}
	return now, app.Commit()
}

// putTimes passes alerts on to the alert store and notes when each
// policy's first firing alert was put.
type putTimes struct {
	next  *mem.Alerts
	mu    sync.Mutex
	first map[string]time.Time
	evals map[string]time.Time // the firing alert's StartsAt: its evaluation's timestamp
}

func (p *putTimes) Put(ctx context.Context, as ...*alert.Alert) error {
	now := time.Now()
	p.mu.Lock()
	for _, a := range as {
		k := string(a.Labels[alarmrule.LabelPolicy])
		if _, ok := p.first[k]; !ok && !a.Resolved() {
			p.first[k] = now
			p.evals[k] = a.StartsAt
		}
	}
	p.mu.Unlock()
	return p.next.Put(ctx, as...)
}

func (p *putTimes) get(k string) (put, eval time.Time, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	put, ok = p.first[k]
	return put, p.evals[k], ok
}

// enqueueTimes passes items on to the queue and notes when each policy's
// first item was enqueued.
type enqueueTimes struct {
	next  *notifyqueue.Queue
	mu    sync.Mutex
	first map[string]time.Time
}

func (e *enqueueTimes) Enqueue(ctx context.Context, it notifyqueue.Item) (bool, error) {
	now := time.Now()
	var d struct{ Policy string }
	_ = json.Unmarshal(it.Record.Data, &d)
	e.mu.Lock()
	if _, ok := e.first[d.Policy]; !ok {
		e.first[d.Policy] = now
	}
	e.mu.Unlock()
	return e.next.Enqueue(ctx, it)
}

func (e *enqueueTimes) get(k string) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.first[k]
	return t, ok
}

// sentTimes keeps when each notification record said "sent", per channel.
type sentTimes struct {
	mu sync.Mutex
	at map[string]time.Time // by UID
	n  map[string]int
	lt map[string]time.Time
}

func (s *sentTimes) Add(r recordstore.Record) error {
	var d struct{ Status string }
	_ = json.Unmarshal(r.Data, &d)
	if d.Status != notifyqueue.StatusSent {
		return nil
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n, s.lt = map[string]int{}, map[string]time.Time{}
	}
	if _, ok := s.at[r.UID]; !ok {
		s.at[r.UID] = now
		s.n[r.Name]++
		s.lt[r.Name] = now
	}
	return nil
}

func (s *sentTimes) count(ch string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[ch]
}

func (s *sentTimes) last(ch string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lt[ch]
}

type discardRecords struct{}

func (discardRecords) Add(recordstore.Record) error { return nil }

// waitForPolicy waits for the hook's message about policy name.
func waitForPolicy(b *testing.B, h *hooktest.Hook, name string, timeout time.Duration) hooktest.Req {
	deadline := time.Now().Add(timeout)
	for {
		for _, r := range h.Received() {
			var m struct{ Policy, Status string }
			if json.Unmarshal(r.Body, &m) == nil && m.Policy == name && m.Status == "firing" {
				return r
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("no message about %s after %s (%d messages in all)", name, timeout, len(h.Received()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// durStats prints p50, p99 and max of ds.
func durStats(ds []time.Duration) string {
	if len(ds) == 0 {
		return "(none)"
	}
	r := func(d time.Duration) time.Duration {
		if d < 10*time.Millisecond {
			return d.Round(10 * time.Microsecond)
		}
		return d.Round(time.Millisecond)
	}
	return fmt.Sprintf("p50 %-9s p99 %-9s max %-9s (n=%d)", r(percentile(ds, 0.5)), r(percentile(ds, 0.99)), r(percentile(ds, 1)), len(ds))
}
