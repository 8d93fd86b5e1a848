package metricscollect

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/value"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/clustercache"
	"github.com/kstack/kstack/internal/platformscheme"
)

func monitored(name string, on bool) *platformv1.Cluster {
	return &platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: platformv1.ClusterSpec{Features: platformv1.ClusterFeatures{Monitoring: on}}}
}

func memberPod(ns, name, node string) *corev1.Pod {
	return testPod(ns, name, node, corev1.PodRunning, nil, corev1.ConditionTrue, ctr("app", rl("cpu", "200m"), nil))
}

func isStale(v float64) bool { return value.IsStaleNaN(v) }

// TestCollectorRounds drives rounds against two fake members: cls-a, whose
// nodes are kwok-like (annotated path, no summary) and one of which fails
// and one hangs, and cls-b, a kubelet-like member with a summary.
func TestCollectorRounds(t *testing.T) {
	a := newFakeMember(
		[]*corev1.Node{testNode("a-1", corev1.ConditionTrue), testNode("a-2", corev1.ConditionTrue), testNode("a-3", corev1.ConditionTrue)},
		[]*corev1.Pod{memberPod("shop", "p1", "a-1"), memberPod("shop", "p2", "a-1"), memberPod("shop", "p3", "a-2")},
		map[string]*fakeKubelet{
			"a-1": {metricsPath: "/metrics/nodes/a-1/metrics/resource"},
			"a-2": {metricsPath: "/metrics/nodes/a-2/metrics/resource", status: 500},
			"a-3": {hang: true},
		})
	b := newFakeMember(
		[]*corev1.Node{testNode("b-1", corev1.ConditionTrue)},
		[]*corev1.Pod{memberPod("web", "q1", "b-1")},
		map[string]*fakeKubelet{"b-1": {summary: true}})
	cache := clustercache.New(nil)
	defer func() {
		cache.Remove("cls-a")
		cache.Remove("cls-b")
		a.close()
		b.close()
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for name, m := range map[string]*fakeMember{"cls-a": a, "cls-b": b} {
		e, err := cache.Ensure(name, &rest.Config{Host: m.srv.URL}, "fp", "")
		if err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		ok := e.WaitSynced(wctx)
		wcancel()
		if !ok {
			t.Fatalf("the cache of %s did not fill", name)
		}
	}

	reader := fake.NewClientBuilder().WithScheme(platformscheme.New()).WithObjects(
		monitored("cls-a", true), monitored("cls-b", true), monitored("cls-off", false), monitored("cls-gone", true),
		&businessv1.Namespace{ObjectMeta: metav1.ObjectMeta{Namespace: "prj-a", Name: "cls-a-shop"}, Spec: businessv1.NamespaceSpec{ProjectName: "prj-a", ClusterName: "cls-a", Namespace: "shop"}},
		&businessv1.Project{ObjectMeta: metav1.ObjectMeta{Name: "prj-a"}, Spec: businessv1.ProjectSpec{Clusters: []businessv1.ClusterQuota{{Name: "cls-a", Hard: rl("requests.cpu", "4")}}}},
	).Build()
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kstack_gateway_requests_total"}, []string{"code"})
	latency := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kstack_gateway_request_seconds", Buckets: []float64{0.1, 1}})
	reg.MustRegister(requests, latency)
	requests.WithLabelValues("200").Add(7)
	latency.Observe(0.5)

	store := &memStore{}
	c := &Collector{Cache: cache, Reader: reader, Store: store, Timeout: 500 * time.Millisecond, Self: []prometheus.Gatherer{reg}, Log: slog.New(slog.DiscardHandler)}
	t0 := time.Now().Truncate(time.Second)
	round := func(i int, cpu, rx map[string]float64) time.Time {
		at := t0.Add(time.Duration(i) * 15 * time.Second)
		sampled := at.Add(-2 * time.Second) // the kubelet's own sample time
		a.sample(sampled, cpu, rx)
		b.sample(sampled, cpu, rx)
		c.tick(ctx, at)
		c.wait()
		return at
	}

	// Round 1: no CPU yet (one reading), memory at once.
	r1 := round(0, map[string]float64{"p1": 10, "p2": 20, "p3": 5, "q1": 1, "a-1": 1030, "b-1": 1001}, map[string]float64{"q1": 1000})
	sa := store.at(r1, "cls-a")
	absent(t, sa, podCPUUsed, "pod", "p1")
	want(t, sa, 100<<20, podMemNoCache, "pod", "p1", "node", "a-1", "namespace", "shop")
	if st := c.Status("cls-a"); !st.Enabled || st.Nodes != 3 || st.NodesFailed != 2 ||
		!strings.Contains(st.LastError, "a-2: resource metrics:") || !strings.Contains(st.LastError, "kubelet down") ||
		!strings.Contains(st.LastError, "a-3: resource metrics: no answer within 500ms") || !st.LastScrape.Equal(r1) {
		t.Fatalf("status of cls-a: %+v", st)
	}

	// Round 2: Δcounter/Δt of the kubelet's own timestamps.
	r2 := round(1, map[string]float64{"p1": 13, "p2": 26, "p3": 9, "q1": 2.5, "a-1": 1039, "b-1": 1002.5}, map[string]float64{"q1": 4000})
	sa, sb := store.at(r2, "cls-a"), store.at(r2, "cls-b")
	want(t, sa, 0.2, podCPUUsed, "pod", "p1", "node", "a-1")
	want(t, sa, 0.4, podCPUUsed, "pod", "p2")
	want(t, sa, 0.2*100/0.2, podCPURateRequest, "pod", "p1")
	want(t, sa, 0.6, nodeCPUUsed, "node", "a-1")
	want(t, sa, 0.6, projectCPUUsed, "project", "prj-a")
	want(t, sa, 4, projectCPUQuota, "project", "prj-a")
	want(t, sb, 0.1, podCPUUsed, "pod", "q1")
	// kwok-like nodes serve no summary: no network, no memory with cache;
	// the kubelet-like member's are there.
	absent(t, sa, podNetReceiveBW)
	absent(t, sa, podMemUsage)
	want(t, sb, 200, podNetReceiveBW, "pod", "q1") // 3000 B over 15 s
	want(t, sb, 150<<20, podMemUsage, "pod", "q1")
	// The failing node's pod has its state, not its usage.
	want(t, sa, 1, podStatusReady, "pod", "p3", "node", "a-2")
	absent(t, sa, podMemNoCache, "pod", "p3")
	if st := c.Status("cls-b"); st.LastError != "" || st.NodesFailed != 0 || st.Series == 0 {
		t.Fatalf("the healthy member's status: %+v", st)
	}
	if st := c.Status("cls-gone"); !st.Enabled || !strings.Contains(st.LastError, "no verified connection") || st.Series != 0 {
		t.Fatalf("a monitored cluster the platform cannot reach: %+v", st)
	}
	if st := c.Status("cls-off"); st.Enabled {
		t.Fatalf("a cluster without monitoring: %+v", st)
	}
	for _, s := range store.at(r2, "") {
		if strings.HasPrefix(s.l.Get("__name__"), "k8s_") || strings.HasPrefix(s.l.Get("__name__"), "project_") {
			t.Fatalf("a member's series without its cluster label: %s", s.l)
		}
	}
	self := store.at(r2, "")
	want(t, self, 7, "kstack_gateway_requests_total", "code", "200")
	want(t, self, 0, "kstack_gateway_request_seconds_bucket", "le", "0.1")
	want(t, self, 1, "kstack_gateway_request_seconds_bucket", "le", "1.0")
	want(t, self, 1, "kstack_gateway_request_seconds_bucket", "le", "+Inf")
	want(t, self, 0.5, "kstack_gateway_request_seconds_sum")
	want(t, self, 1, "kstack_gateway_request_seconds_count")

	// One commit per cluster per round, one timestamp per commit.
	store.mu.Lock()
	for _, batch := range store.commits {
		for _, s := range batch {
			if s.t != batch[0].t || s.l.Get("cluster") != batch[0].l.Get("cluster") {
				t.Fatalf("a commit mixes rounds or clusters: %s@%d and %s@%d", batch[0].l, batch[0].t, s.l, s.t)
			}
		}
	}
	if n := len(store.commits); n != 8 { // self, cls-a, cls-b, cls-gone (nothing), twice
		t.Fatalf("%d commits in two rounds, want 8", n)
	}
	store.mu.Unlock()

	// p2 goes away: its series get stale markers, p1's go on.
	a.deletePod("p2")
	e, _ := cache.Get("cls-a")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := e.Pods().Pods("shop").Get("p2"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cache never saw p2 go")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r3 := round(2, map[string]float64{"p1": 16, "p3": 9, "q1": 4, "a-1": 1042, "b-1": 1004}, map[string]float64{"q1": 7000})
	sa = store.at(r3, "cls-a")
	for _, name := range []string{podCPUUsed, podMemNoCache, podStatusReady, podCPURequest} {
		v, ok := find(t, sa, name, "pod", "p2")
		if !ok || !isStale(v) {
			t.Fatalf("%s of the deleted pod: %v %v, want a stale marker", name, v, ok)
		}
	}
	want(t, sa, 0.2, podCPUUsed, "pod", "p1")
	want(t, sa, 0.2, projectCPUUsed, "project", "prj-a")
	want(t, sa, 0.2, clusterCPUUsed) // only a-1 answers
	for _, s := range sa {
		if isStale(s.v) && s.l.Get("pod") != "p2" {
			t.Fatalf("stale marker for a series still there: %s", s.l)
		}
	}
	want(t, store.at(r3, "cls-b"), 0.1, podCPUUsed, "pod", "q1")

	// Monitoring off for cls-b: every series of it is marked stale, and
	// nothing more is read from it.
	var clsB platformv1.Cluster
	if err := reader.Get(ctx, client.ObjectKey{Name: "cls-b"}, &clsB); err != nil {
		t.Fatal(err)
	}
	clsB.Spec.Features.Monitoring = false
	if err := reader.Update(ctx, &clsB); err != nil {
		t.Fatal(err)
	}
	r4 := round(3, map[string]float64{"p1": 19, "p3": 9, "q1": 5, "a-1": 1045, "b-1": 1005}, nil)
	sb = store.at(r4, "cls-b")
	if len(sb) == 0 {
		t.Fatal("no stale markers for a cluster turned off")
	}
	for _, s := range sb {
		if !isStale(s.v) {
			t.Fatalf("cls-b still written after monitoring was turned off: %s = %v", s.l, s.v)
		}
	}
	if st := c.Status("cls-b"); st.Enabled {
		t.Fatalf("status of a cluster turned off: %+v", st)
	}
	want(t, store.at(r4, "cls-a"), 0.2, podCPUUsed, "pod", "p1")
	r5 := round(4, map[string]float64{"p1": 22, "p3": 9, "q1": 6, "a-1": 1048, "b-1": 1006}, nil)
	if n := len(store.at(r5, "cls-b")); n != 0 {
		t.Fatalf("%d samples of cls-b after it was retired", n)
	}
}
