package alarmeval

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/metricstore"
	"github.com/kstack/kstack/internal/platformscheme"
	"github.com/kstack/kstack/internal/recordstore"
)

// storeWriter writes records straight into a record store and keeps what
// it was given.
type storeWriter struct {
	s    recordstore.Store
	mu   sync.Mutex
	adds []recordstore.Record
}

func (w *storeWriter) Add(r recordstore.Record) error {
	w.mu.Lock()
	w.adds = append(w.adds, r)
	w.mu.Unlock()
	return w.s.Append(context.Background(), []recordstore.Record{r})
}

func (w *storeWriter) added(key string) []recordstore.Record {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []recordstore.Record
	for _, r := range w.adds {
		if r.Name == key {
			out = append(out, r)
		}
	}
	return out
}

// replica is one platform replica's evaluation: its own metric store (fed
// by its own collector), the shared record store, its own leadership.
type replica struct {
	t        *testing.T
	e        *Evaluator
	w        *storeWriter
	leader   atomic.Bool
	values   map[string]*atomic.Int64 // restarts by pod; < 0: no sample
	cancel   context.CancelFunc
	stopped  chan struct{}
	started  bool
	metrics  *metricstore.Store
	evalDone chan error
}

func newReplica(t *testing.T, c client.Reader, records recordstore.Store, unit time.Duration, values map[string]int64) *replica {
	ms, err := metricstore.Open(metricstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{t: t, w: &storeWriter{s: records}, values: map[string]*atomic.Int64{}, metrics: ms, stopped: make(chan struct{})}
	for pod, v := range values {
		r.values[pod] = &atomic.Int64{}
		r.values[pod].Store(v)
	}
	r.e = &Evaluator{Store: ms, Client: c, Unit: unit, Records: r.w, OpenRecords: records, IsLeader: r.leader.Load}
	t.Cleanup(func() {
		r.stop()
		_ = ms.Close()
	})
	return r
}

// start runs the collector and the evaluator.
func (r *replica) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.started = cancel, true
	r.evalDone = make(chan error, 1)
	var collect sync.WaitGroup
	collect.Add(1)
	go func() {
		defer collect.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			app := r.metrics.Appender(ctx)
			ts := time.Now().UnixMilli()
			for pod, v := range r.values {
				if v.Load() < 0 {
					continue // not collected (yet)
				}
				_, _ = app.Append(0, labels.FromStrings("__name__", "k8s_pod_restart_total", "cluster", "cls-1", "namespace", "web", "pod", pod), ts, float64(v.Load()))
			}
			_ = app.Commit()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	go func() {
		r.evalDone <- r.e.Start(ctx)
		collect.Wait()
		close(r.stopped)
	}()
}

// stop ends the replica (as a leader that loses its lease exits).
func (r *replica) stop() {
	if !r.started {
		return
	}
	r.started = false
	r.cancel()
	select {
	case err := <-r.evalDone:
		if err != nil {
			r.t.Error(err)
		}
	case <-time.After(30 * time.Second):
		r.t.Fatal("Start did not return")
	}
	<-r.stopped
}

func (r *replica) alert(key string) *rules.Alert {
	for _, a := range r.e.activeAlerts(key) {
		return a
	}
	return nil
}

// sqliteRecords is a record store of the test's own, closed after the
// replicas started since have stopped.
func sqliteRecords(t *testing.T) recordstore.Store {
	t.Helper()
	s, err := recordstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "records.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// restartPolicy alarms when pod's restarts exceed 3 for periods in a row;
// clusterClient serves it with cluster cls-1 and namespace web of prj-a.
func restartPolicy(name, pod string, periods int) client.Object {
	p := podPolicy("prj-a", name, "web")
	p.Spec.Expr, p.Spec.ExprPeriods = `k8s_pod_restart_total{pod="`+pod+`"} > 3`, periods
	return p
}

func clusterClient(policies ...client.Object) client.Reader {
	objs := append([]client.Object{&platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "cls-1"}}, bns("prj-a", "web")}, policies...)
	return fake.NewClientBuilder().WithScheme(platformscheme.New()).WithObjects(objs...).Build()
}

func alarmRecords(t *testing.T, s recordstore.Store, key string) []recordstore.Record {
	t.Helper()
	p, err := s.Search(context.Background(), recordstore.Query{Kind: RecordKind, Name: key})
	if err != nil {
		t.Fatal(err)
	}
	return p.Records
}

// brief lists records as UID and verb.
func brief(rs []recordstore.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.UID + " " + r.Verb
	}
	return out
}

func recordData(t *testing.T, r recordstore.Record) RecordData {
	t.Helper()
	var d RecordData
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// A failover keeps one record per firing of an alert: the new leader,
// whose own evaluations put the firing at another time, adopts the old
// leader's open record rather than writing a second one, resolves it when
// the alert clears, and resolves at once the open records whose alert does
// not fire on it (another pod's, a deleted policy's). Warm: the new leader
// was a follower evaluating all along; cold: it starts when it becomes the
// leader, its alert pending first (the record stays open meanwhile).
func TestFailoverOneRecordPerFiring(t *testing.T) {
	for _, warm := range []bool{true, false} {
		name := "cold"
		if warm {
			name = "warm"
		}
		t.Run(name, func(t *testing.T) { testFailover(t, warm) })
	}
}

// A new leader whose metric store has no sample of a firing alert yet (it
// has just connected the member) keeps the record it adopted open for
// AdoptGrace, and keeps it when the samples come and the alert fires: one
// record, never resolved in between.
func TestFailoverAdoptGrace(t *testing.T) {
	const (
		unit  = 400 * time.Millisecond
		bound = 30 * time.Second
		key   = "prj-a/alarm-a"
	)
	records := sqliteRecords(t)
	c := clusterClient(restartPolicy("alarm-a", "api-1", 1))

	a := newReplica(t, c, records, unit, map[string]int64{"api-1": 5})
	b := newReplica(t, c, records, unit, map[string]int64{"api-1": -1}) // B's collector has nothing yet
	b.e.AdoptGrace = 10 * unit
	a.leader.Store(true)
	a.start()
	waitFor(t, "A's firing record", bound, func() bool { return len(alarmRecords(t, records, key)) > 0 })
	rec := alarmRecords(t, records, key)[0]

	b.start()
	a.leader.Store(false)
	a.stop()
	b.leader.Store(true)
	// B evaluates (and finds nothing) for half the grace: the record stays open.
	time.Sleep(5 * unit)
	if rs := alarmRecords(t, records, key); len(rs) != 1 || rs[0].Verb != StatusFiring {
		t.Fatalf("within the grace, with no sample: %v", brief(rs))
	}
	b.values["api-1"].Store(5)
	waitFor(t, "B's alarm-a to fire", bound, func() bool {
		al := b.alert(key)
		return al != nil && al.State == rules.StateFiring
	})
	time.Sleep(12 * unit) // past the grace, evaluating on the leader
	if rs := alarmRecords(t, records, key); len(rs) != 1 || rs[0].UID != rec.UID || rs[0].Verb != StatusFiring {
		t.Fatalf("after B fired: %v (A's %s)", brief(rs), rec.UID)
	}
	if rs := b.w.added(key); len(rs) > 0 {
		t.Fatalf("B wrote records of an alert A's record covers: %v", brief(rs))
	}
}

func testFailover(t *testing.T, warm bool) {
	const (
		unit  = 400 * time.Millisecond
		bound = 30 * time.Second
		keyA  = "prj-a/alarm-a"
		keyB  = "prj-a/alarm-b"
		gone  = "prj-a/gone"
	)
	ctx := context.Background()
	records := sqliteRecords(t)
	c := clusterClient(restartPolicy("alarm-a", "api-1", 3), restartPolicy("alarm-b", "api-2", 3))

	// Both pods restart on A; on B only api-1 does (alarm-b does not fire there).
	a := newReplica(t, c, records, unit, map[string]int64{"api-1": 5, "api-2": 5})
	b := newReplica(t, c, records, unit, map[string]int64{"api-1": 5, "api-2": 1})
	a.leader.Store(true)
	a.start()

	waitFor(t, "A's firing records", bound, func() bool {
		return len(alarmRecords(t, records, keyA)) > 0 && len(alarmRecords(t, records, keyB)) > 0
	})
	recA, recB := alarmRecords(t, records, keyA)[0], alarmRecords(t, records, keyB)[0]
	if recA.Verb != StatusFiring || recB.Verb != StatusFiring {
		t.Fatalf("records %+v %+v", recA, recB)
	}
	firedA := recordData(t, recA).FiredAt
	if rs := alarmRecords(t, records, keyA); len(rs) != 1 {
		t.Fatalf("A's records of alarm-a: %v", brief(rs))
	}
	// A deleted policy's record left open (by a replica that died, say).
	stray := recB
	stray.ID, stray.Name, stray.UID = 0, gone, "0123456789abcdef0123456789abcdef"
	if err := records.Append(ctx, []recordstore.Record{stray}); err != nil {
		t.Fatal(err)
	}

	if warm {
		b.start()
		waitFor(t, "B's alarm-a to fire", bound, func() bool {
			al := b.alert(keyA)
			return al != nil && al.State == rules.StateFiring
		})
		if al := b.alert(keyA); al.FiredAt.Equal(firedA) {
			t.Fatalf("B fired at A's time %s: the test shows nothing", firedA)
		}
		if rs := b.w.added(keyA); len(rs) > 0 {
			t.Fatalf("a follower wrote records: %v", brief(rs))
		}
	}

	// The leader goes; B leads.
	a.leader.Store(false)
	a.stop()
	b.leader.Store(true)
	if !warm {
		b.start()
	}

	// Open records of alerts that do not fire on B: resolved, in place.
	for _, k := range []string{keyB, gone} {
		waitFor(t, k+"'s record resolved", bound, func() bool {
			rs := alarmRecords(t, records, k)
			return len(rs) == 1 && rs[0].Verb == StatusResolved
		})
		r := alarmRecords(t, records, k)[0]
		d := recordData(t, r)
		wantUID := recB.UID
		if k == gone {
			wantUID = stray.UID
		}
		if r.UID != wantUID || d.Status != StatusResolved || d.ResolvedAt == nil || !d.FiredAt.Equal(recordData(t, recB).FiredAt) || !r.Time.Equal(recB.Time) {
			t.Errorf("%s resolved: %+v %+v", k, r, d)
		}
	}

	// alarm-a fires on B (after pending, when cold): still A's one record, open.
	waitFor(t, "B's alarm-a to fire", bound, func() bool {
		al := b.alert(keyA)
		return al != nil && al.State == rules.StateFiring
	})
	if al := b.alert(keyA); al.FiredAt.Equal(firedA) {
		t.Fatalf("B fired at A's time %s: the test shows nothing", firedA)
	}
	time.Sleep(4 * unit) // evaluations on the leader
	if rs := alarmRecords(t, records, keyA); len(rs) != 1 || rs[0].UID != recA.UID || rs[0].Verb != StatusFiring {
		t.Fatalf("alarm-a's records after the failover: %v (A's %s)", brief(rs), recA.UID)
	}
	if rs := b.w.added(keyA); len(rs) > 0 {
		t.Fatalf("B wrote alarm-a records while it fires: %v", brief(rs))
	}

	// It clears on B: B resolves A's record.
	b.values["api-1"].Store(1)
	waitFor(t, "alarm-a's record resolved", bound, func() bool {
		rs := alarmRecords(t, records, keyA)
		return len(rs) != 1 || rs[0].Verb == StatusResolved
	})
	rs := alarmRecords(t, records, keyA)
	if len(rs) != 1 || rs[0].UID != recA.UID {
		t.Fatalf("alarm-a's records: %v (A's %s)", brief(rs), recA.UID)
	}
	d := recordData(t, rs[0])
	if d.Status != StatusResolved || !d.FiredAt.Equal(firedA) || !rs[0].Time.Equal(recA.Time) || d.ResolvedAt == nil || !d.ResolvedAt.After(firedA) ||
		rs[0].Project != "prj-a" || rs[0].Namespace != "web" || d.Labels["pod"] != "api-1" {
		t.Errorf("resolved record %+v %+v", rs[0], d)
	}
	if w := b.w.added(keyA); len(w) != 1 {
		t.Errorf("B wrote alarm-a %d times: %v", len(w), brief(w))
	}

	// It fires again: a new firing, a new record.
	b.values["api-1"].Store(6)
	waitFor(t, "alarm-a's second firing", bound, func() bool { return len(alarmRecords(t, records, keyA)) == 2 })
	time.Sleep(2 * unit)
	rs = alarmRecords(t, records, keyA)
	if len(rs) != 2 || rs[0].UID == recA.UID || rs[0].Verb != StatusFiring || rs[1].UID != recA.UID || rs[1].Verb != StatusResolved {
		t.Errorf("after firing again: %v (A's %s)", brief(rs), recA.UID)
	}
}

// A second open record of one alert (the old leader's write reached the
// store after the new leader read it, and it opened its own) is resolved
// when the store is read again; the one this replica knows stays open.
func TestLoadOpenResolvesSecondRecord(t *testing.T) {
	ctx := context.Background()
	records := sqliteRecords(t)
	w := &storeWriter{s: records}
	e := &Evaluator{Records: w, OpenRecords: records}
	e.init()

	ls := map[string]string{"alertname": "a", "alarm_policy": "p/a", "pod": "x"}
	open := func(uid string, at time.Time) recordstore.Record {
		d, _ := json.Marshal(RecordData{Labels: ls, FiredAt: at, Status: StatusFiring})
		return recordstore.Record{Kind: RecordKind, Time: at, Tenant: "default", Resource: RecordResource, Name: "p/a", Verb: StatusFiring, UID: uid, Data: d}
	}
	t0 := time.Now().Add(-time.Minute).UTC()
	mine, late := open("mine", t0.Add(time.Second)), open("late", t0)
	if err := records.Append(ctx, []recordstore.Record{mine, late}); err != nil {
		t.Fatal(err)
	}
	e.recMu.Lock()
	e.leading, e.loaded = true, true // a later read of this leadership
	e.open[openKey("p/a", labelSet(ls).Fingerprint())] = &openRecord{uid: "mine", firedAt: mine.Time, rec: mine, since: t0, own: true}
	e.recMu.Unlock()
	if err := e.loadOpen(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range alarmRecords(t, records, "p/a") {
		got[r.UID] = r.Verb
	}
	if got["mine"] != StatusFiring || got["late"] != StatusResolved || len(got) != 2 {
		t.Errorf("records %v", got)
	}
	if d := recordData(t, alarmRecords(t, records, "p/a")[1]); d.ResolvedAt == nil || !d.FiredAt.Equal(t0) {
		t.Errorf("resolved %+v", d)
	}
}
