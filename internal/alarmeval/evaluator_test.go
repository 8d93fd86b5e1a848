package alarmeval

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/alarmrule"
	"github.com/kstack/kstack/internal/metricstore"
	"github.com/kstack/kstack/internal/platformscheme"
	"github.com/kstack/kstack/internal/recordstore"
)

// sink is an alert store and a record writer that keep everything.
type sink struct {
	mu      sync.Mutex
	alerts  []*alert.Alert
	records []recordstore.Record
}

func (s *sink) Put(_ context.Context, as ...*alert.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alerts = append(s.alerts, as...)
	return nil
}

func (s *sink) Add(r recordstore.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, r)
	return nil
}

func (s *sink) alertsOf(key string) []*alert.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*alert.Alert
	for _, a := range s.alerts {
		if string(a.Labels[alarmrule.LabelPolicy]) == key {
			out = append(out, a)
		}
	}
	return out
}

func (s *sink) recordsOf(key string) []recordstore.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []recordstore.Record
	for _, r := range s.records {
		if r.Name == key {
			out = append(out, r)
		}
	}
	return out
}

// activeAlerts are the rule manager's alerts of a policy (pending, firing, resolved).
func (e *Evaluator) activeAlerts(key string) []*rules.Alert {
	e.init()
	var out []*rules.Alert
	for _, g := range e.mgr.RuleGroups() {
		if g.File() != key {
			continue
		}
		for _, ar := range g.AlertingRules() {
			ar.ForEachActiveAlert(func(a *rules.Alert) { c := *a; out = append(out, &c) })
		}
	}
	return out
}

func waitFor(t *testing.T, what string, timeout time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func podPolicy(project, name, ns string) *monitorv1.AlarmPolicy {
	return &monitorv1.AlarmPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: name, Generation: 1},
		Spec: monitorv1.AlarmPolicySpec{
			DisplayName:   name,
			ClusterName:   "cls-1",
			Namespace:     ns,
			ProjectName:   project,
			ObjectType:    monitorv1.ObjectPod,
			PeriodMinutes: 1,
		},
	}
}

func bns(project, ns string) *businessv1.Namespace {
	return &businessv1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: businessv1.ObjectName("cls-1", ns)},
		Spec:       businessv1.NamespaceSpec{ProjectName: project, ClusterName: "cls-1", Namespace: ns},
	}
}

// The whole loop on a real metric store: a condition goes pending, fires
// after (periods-1) periods and resolves; records follow the leader; a
// project policy whose expression names another project's namespace never
// fires while its twin in that project does; a bad policy does not stop
// the others.
func TestEvaluate(t *testing.T) {
	store, err := metricstore.Open(metricstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	const unit = 400 * time.Millisecond
	pa := podPolicy("prj-a", "alarm-a", "web")
	pa.Spec.Object.Workload = &monitorv1.WorkloadRef{Kind: "Deployment", Name: "api"}
	pa.Spec.Conditions = []monitorv1.AlarmCondition{{Metric: "k8s_pod_restart_total", Operator: ">", Threshold: "3", Periods: 3}}
	pb := podPolicy("prj-a", "alarm-b", "web") // reads only web
	pb.Spec.Expr = `k8s_pod_restart_total{namespace="other"} > 0`
	pc := podPolicy("prj-b", "alarm-c", "other") // the twin in other's project
	pc.Spec.Expr = pb.Spec.Expr
	pd := podPolicy("prj-a", "alarm-d", "web")
	pd.Spec.Conditions = []monitorv1.AlarmCondition{{Metric: "k8s_pod_restart_total", Operator: ">", Threshold: "abc", Periods: 1}}
	pe := podPolicy("prj-a", "alarm-e", "other") // not prj-a's namespace
	pe.Spec.Expr = `k8s_pod_restart_total > 0`
	pf := &monitorv1.AlarmPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kstack-system", Name: "alarm-f", Generation: 1},
		Spec: monitorv1.AlarmPolicySpec{
			ClusterName: "cls-1", ObjectType: monitorv1.ObjectPod, PeriodMinutes: 1,
			Conditions: []monitorv1.AlarmCondition{{Metric: "k8s_pod_restart_total", Operator: ">", Threshold: "4", Periods: 1}},
		},
	}
	c := fake.NewClientBuilder().WithScheme(platformscheme.New()).
		WithStatusSubresource(&monitorv1.AlarmPolicy{}).
		WithObjects(
			&platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "cls-1"}},
			bns("prj-a", "web"), bns("prj-b", "other"),
			pa, pb, pc, pd, pe, pf,
		).Build()

	// The collector: restarts of a pod in web (5, later 1) and one in other (5).
	var webRestarts atomic.Int64
	webRestarts.Store(5)
	web := labels.FromStrings("__name__", "k8s_pod_restart_total", "cluster", "cls-1", "namespace", "web", "pod", "api-1",
		"node", "n1", "workload_kind", "Deployment", "workload_name", "api")
	other := labels.FromStrings("__name__", "k8s_pod_restart_total", "cluster", "cls-1", "namespace", "other", "pod", "db-0",
		"node", "n1", "workload_kind", "StatefulSet", "workload_name", "db",
		// A forged label must not survive the rule's own.
		"alarm_policy", "prj-a/alarm-a")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var collect sync.WaitGroup
	collect.Add(1)
	go func() {
		defer collect.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			app := store.Appender(ctx)
			ts := time.Now().UnixMilli()
			_, _ = app.Append(0, web, ts, float64(webRestarts.Load()))
			_, _ = app.Append(0, other, ts, 5)
			_ = app.Commit()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()

	s := &sink{}
	var leader atomic.Bool
	leader.Store(true)
	e := &Evaluator{Store: store, Client: c, Unit: unit, Alerts: s, Records: s, IsLeader: leader.Load}
	started := make(chan error, 1)
	go func() { started <- e.Start(ctx) }()

	keyA, keyB, keyC := "prj-a/alarm-a", "prj-a/alarm-b", "prj-b/alarm-c"
	const bound = 30 * time.Second

	// Pending first, then firing once it held for (3-1) periods.
	sawPending := false
	waitFor(t, "alarm-a to fire", bound, func() bool {
		for _, a := range e.activeAlerts(keyA) {
			switch a.State {
			case rules.StatePending:
				sawPending = true
			case rules.StateFiring:
				if d := a.FiredAt.Sub(a.ActiveAt); d < 2*unit {
					t.Errorf("fired %s after it became active, want >= %s", d, 2*unit)
				}
				return true
			}
		}
		return false
	})
	if !sawPending {
		t.Log("did not observe the pending state (the test goroutine was late); the firing delay was checked")
	}
	waitFor(t, "alarm-a's alert in the store", bound, func() bool { return len(s.alertsOf(keyA)) > 0 })
	a := s.alertsOf(keyA)[0]
	want := map[string]string{
		"alertname": "alarm-a", alarmrule.LabelPolicy: keyA, alarmrule.LabelCondition: "0", alarmrule.LabelMetric: "k8s_pod_restart_total",
		"tenant": "default", "cluster": "cls-1", "namespace": "web", "project": "prj-a", "pod": "api-1", "workload_name": "api",
	}
	for k, v := range want {
		if got := string(a.Labels[model.LabelName(k)]); got != v {
			t.Errorf("label %s = %q, want %q (%v)", k, got, v, a.Labels)
		}
	}
	if _, ok := a.Labels["__name__"]; ok {
		t.Error("__name__ in the alert's labels")
	}
	if a.Annotations["value"] != "5" || a.Annotations["threshold"] != "3" || a.Annotations["operator"] != ">" || a.Annotations["metric"] != "k8s_pod_restart_total" {
		t.Errorf("annotations %v", a.Annotations)
	}
	if a.StartsAt.IsZero() || !a.EndsAt.After(time.Now().Add(-time.Second)) || a.Resolved() {
		t.Errorf("firing alert: starts %s ends %s", a.StartsAt, a.EndsAt)
	}

	// The firing record.
	waitFor(t, "alarm-a's firing record", bound, func() bool { return len(s.recordsOf(keyA)) > 0 })
	r := s.recordsOf(keyA)[0]
	if r.Kind != "alarm" || r.Verb != "firing" || r.Tenant != "default" || r.Cluster != "cls-1" || r.Namespace != "web" ||
		r.Project != "prj-a" || r.Resource != "alarmpolicy" || len(r.UID) != 32 || !r.Time.Equal(a.StartsAt) {
		t.Errorf("record %+v", r)
	}
	var d RecordData
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.Policy.Name != "alarm-a" || d.Policy.Namespace != "prj-a" || d.ObjectType != "Pod" || d.Condition != "0" ||
		d.Metric != "k8s_pod_restart_total" || d.Value != "5" || d.Status != "firing" || d.ResolvedAt != nil || d.Labels["pod"] != "api-1" {
		t.Errorf("record data %+v", d)
	}

	// The twin in other's project fires; a cluster policy sees both namespaces.
	waitFor(t, "alarm-c to fire", bound, func() bool { return len(s.alertsOf(keyC)) > 0 })
	waitFor(t, "alarm-f to fire for both pods", bound, func() bool {
		ns := map[string]bool{}
		for _, a := range s.alertsOf("kstack-system/alarm-f") {
			ns[string(a.Labels["namespace"])] = true
		}
		return ns["web"] && ns["other"]
	})
	// The forged label on other's series was overridden: alarm-c's alert is alarm-c's.
	for _, a := range s.alertsOf(keyA) {
		if a.Labels["namespace"] != "web" {
			t.Errorf("alarm-a alert of namespace %s", a.Labels["namespace"])
		}
	}

	// Status as the leader writes it.
	st, ok := e.Status(keyA)
	if !ok || st.Phase != PhaseActive || st.Firing != 1 || len(st.Rules) != 1 || st.Rules[0].For != "800ms" || st.LastEvaluationTime == nil {
		t.Errorf("status A %+v", st)
	}
	if st, _ := e.Status("prj-a/alarm-d"); st.Phase != PhaseError || !strings.Contains(st.Message, `threshold "abc" is not a number`) {
		t.Errorf("status D %+v", st)
	}
	if st, _ := e.Status("prj-a/alarm-e"); st.Phase != PhaseError || !strings.Contains(st.Message, "other is not a namespace of project prj-a") {
		t.Errorf("status E %+v", st)
	}
	rec := &StatusReconciler{E: e, Client: c}
	leader.Store(false)
	if _, err := rec.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(pa)}); err != nil {
		t.Fatal(err)
	}
	var got monitorv1.AlarmPolicy
	_ = c.Get(ctx, client.ObjectKeyFromObject(pa), &got)
	if got.Status.Phase != "" {
		t.Errorf("a follower wrote status %+v", got.Status)
	}
	leader.Store(true)
	for _, p := range []*monitorv1.AlarmPolicy{pa, pd} {
		res, err := rec.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(p)})
		if err != nil || res.RequeueAfter <= 0 {
			t.Fatal(res, err)
		}
	}
	_ = c.Get(ctx, client.ObjectKeyFromObject(pa), &got)
	if got.Status.Phase != PhaseActive || got.Status.Firing != 1 || len(got.Status.Rules) != 1 ||
		!strings.HasPrefix(got.Status.Rules[0].Expr, `k8s_pod_restart_total{cluster="cls-1",namespace="web",workload_kind="Deployment",workload_name="api"} > 3`) {
		t.Errorf("written status A %+v", got.Status)
	}
	_ = c.Get(ctx, client.ObjectKeyFromObject(pd), &got)
	if got.Status.Phase != PhaseError || got.Status.Rules != nil {
		t.Errorf("written status D %+v", got.Status)
	}

	// The condition clears while this replica is not the leader: the alert
	// resolves, but the resolved record waits for leadership.
	leader.Store(false)
	webRestarts.Store(1)
	waitFor(t, "alarm-a to resolve", bound, func() bool {
		as := s.alertsOf(keyA)
		return as[len(as)-1].Resolved()
	})
	if rs := s.recordsOf(keyA); len(rs) != 1 {
		t.Errorf("a follower wrote records: %+v", rs)
	}
	leader.Store(true)
	waitFor(t, "alarm-a's resolved record", bound, func() bool { return len(s.recordsOf(keyA)) > 1 })
	rs := s.recordsOf(keyA)
	res := rs[len(rs)-1]
	if res.Verb != "resolved" || res.UID != r.UID {
		t.Errorf("resolved record %+v, firing UID %s", res, r.UID)
	}
	_ = json.Unmarshal(res.Data, &d)
	if d.Status != "resolved" || d.ResolvedAt == nil || d.ResolvedAt.Before(d.FiredAt) {
		t.Errorf("resolved data %+v", d)
	}
	// Written once: later evaluations re-send the resolved alert, not the record.
	n := len(s.recordsOf(keyA))
	time.Sleep(3 * unit)
	if m := len(s.recordsOf(keyA)); m != n {
		t.Errorf("records written again: %d then %d", n, m)
	}

	// Never: alarm-b reads only web, alarm-e reads nothing.
	if as := s.alertsOf(keyB); len(as) > 0 {
		t.Errorf("alarm-b fired on another project's series: %v", as[0].Labels)
	}
	if as := s.alertsOf("prj-a/alarm-e"); len(as) > 0 {
		t.Errorf("alarm-e fired: %v", as[0].Labels)
	}
	if st, _ := e.Status(keyB); st.Phase != PhaseActive || st.Firing != 0 || st.LastEvaluationTime == nil {
		t.Errorf("status B %+v", st)
	}

	// A deleted policy's group stops, and its alarms resolve at once.
	waitFor(t, "alarm-c's firing record", bound, func() bool { return len(s.recordsOf(keyC)) > 0 })
	if err := c.Delete(ctx, pc); err != nil {
		t.Fatal(err)
	}
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Status(keyC); ok {
		t.Error("deleted policy still known")
	}
	for _, g := range e.mgr.RuleGroups() {
		if g.File() == keyC {
			t.Error("deleted policy's group still runs")
		}
	}
	if as := s.alertsOf(keyC); !as[len(as)-1].Resolved() {
		t.Errorf("deleted policy's alert not resolved: %+v", as[len(as)-1])
	}
	if rs := s.recordsOf(keyC); rs[len(rs)-1].Verb != "resolved" || rs[len(rs)-1].UID != rs[0].UID || rs[len(rs)-1].Project != "prj-b" {
		t.Errorf("deleted policy's records %+v", rs)
	}

	cancel()
	select {
	case err := <-started:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(bound):
		t.Fatal("Start did not return")
	}
	collect.Wait()
}
