package metricscollect

import (
	"math"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appslisters "k8s.io/client-go/listers/apps/v1"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// fakeSource is a cluster cache made of plain indexers.
type fakeSource struct{ nodes, pods, rs, deps, sts, ds, jobs, quotas cache.Indexer }

func newFakeSource(objs ...any) *fakeSource {
	idx := func() cache.Indexer {
		return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	f := &fakeSource{idx(), idx(), idx(), idx(), idx(), idx(), idx(), idx()}
	for _, o := range objs {
		var err error
		switch o.(type) {
		case *corev1.Node:
			err = f.nodes.Add(o)
		case *corev1.Pod:
			err = f.pods.Add(o)
		case *appsv1.ReplicaSet:
			err = f.rs.Add(o)
		case *appsv1.Deployment:
			err = f.deps.Add(o)
		case *appsv1.StatefulSet:
			err = f.sts.Add(o)
		case *appsv1.DaemonSet:
			err = f.ds.Add(o)
		case *batchv1.Job:
			err = f.jobs.Add(o)
		case *corev1.ResourceQuota:
			err = f.quotas.Add(o)
		}
		if err != nil {
			panic(err)
		}
	}
	return f
}

func (f *fakeSource) Nodes() listersv1.NodeLister { return listersv1.NewNodeLister(f.nodes) }
func (f *fakeSource) Pods() listersv1.PodLister   { return listersv1.NewPodLister(f.pods) }
func (f *fakeSource) ReplicaSets() appslisters.ReplicaSetLister {
	return appslisters.NewReplicaSetLister(f.rs)
}
func (f *fakeSource) Deployments() appslisters.DeploymentLister {
	return appslisters.NewDeploymentLister(f.deps)
}
func (f *fakeSource) StatefulSets() appslisters.StatefulSetLister {
	return appslisters.NewStatefulSetLister(f.sts)
}
func (f *fakeSource) DaemonSets() appslisters.DaemonSetLister {
	return appslisters.NewDaemonSetLister(f.ds)
}
func (f *fakeSource) Jobs() batchlisters.JobLister { return batchlisters.NewJobLister(f.jobs) }
func (f *fakeSource) ResourceQuotas() listersv1.ResourceQuotaLister {
	return listersv1.NewResourceQuotaLister(f.quotas)
}

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func owner(kind, name string) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{Kind: kind, Name: name, Controller: &yes}}
}

func testNode(name string, ready corev1.ConditionStatus) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{
			Capacity:    rl("cpu", "4", "memory", "8Gi", "pods", "110"),
			Allocatable: rl("cpu", "3500m", "memory", "7Gi", "pods", "110"),
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}},
		},
	}
}

func testPod(ns, name, node string, phase corev1.PodPhase, owners []metav1.OwnerReference, ready corev1.ConditionStatus, containers ...corev1.Container) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, OwnerReferences: owners},
		Spec:       corev1.PodSpec{NodeName: node, Containers: containers},
		Status:     corev1.PodStatus{Phase: phase},
	}
	if ready != "" {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}
	}
	return p
}

func ctr(name string, req, lim corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}
}

// testCluster: a Deployment with two pods (one running with an app
// container and a sidecar, one pending), a CronJob's finished pod, a
// StatefulSet's pod, a bare pod, a quota, and two nodes (one not ready).
func testCluster() *fakeSource {
	always := corev1.ContainerRestartPolicyAlways
	web1 := testPod("shop", "web-abc-1", "node-1", corev1.PodRunning, owner("ReplicaSet", "web-abc"), corev1.ConditionTrue,
		ctr("app", rl("cpu", "500m", "memory", "256Mi"), rl("cpu", "1", "memory", "512Mi")))
	web1.Spec.InitContainers = []corev1.Container{
		{Name: "init-db", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "2")}},
		{Name: "proxy", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: rl("cpu", "100m")}},
	}
	web1.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", RestartCount: 2, Ready: true}}
	web1.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init-db", RestartCount: 7}, {Name: "proxy", RestartCount: 1, Ready: true}}
	web2 := testPod("shop", "web-abc-2", "", corev1.PodPending, owner("ReplicaSet", "web-abc"), "",
		ctr("app", rl("cpu", "500m", "memory", "256Mi"), rl("cpu", "1", "memory", "512Mi")))
	three := int32(3)
	return newFakeSource(
		testNode("node-1", corev1.ConditionTrue), testNode("node-2", corev1.ConditionFalse),
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}, Spec: appsv1.DeploymentSpec{Replicas: &three}, Status: appsv1.DeploymentStatus{ReadyReplicas: 1}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-abc", OwnerReferences: owner("Deployment", "web")}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}, Status: appsv1.StatefulSetStatus{ReadyReplicas: 1}},
		&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "nightly-28000", OwnerReferences: owner("CronJob", "nightly")}},
		web1, web2,
		testPod("shop", "db-0", "node-1", corev1.PodRunning, owner("StatefulSet", "db"), corev1.ConditionFalse, ctr("db", nil, nil)),
		testPod("ops", "nightly-28000-x", "node-2", corev1.PodSucceeded, owner("Job", "nightly-28000"), corev1.ConditionFalse, ctr("run", rl("cpu", "1"), nil)),
		testPod("ops", "debug", "node-1", corev1.PodRunning, nil, corev1.ConditionTrue, ctr("sh", nil, nil)),
		&corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "kstack"}, Status: corev1.ResourceQuotaStatus{
			Hard: rl("requests.cpu", "4", "requests.memory", "8Gi"), Used: rl("requests.cpu", "1100m", "requests.memory", "512Mi"),
		}},
	)
}

// find returns the value of the one sample of name whose labels include kv.
func find(t *testing.T, samples []sample, name string, kv ...string) (float64, bool) {
	t.Helper()
	var found []float64
	for _, s := range samples {
		if s.l.Get("__name__") != name {
			continue
		}
		match := true
		for i := 0; i+1 < len(kv); i += 2 {
			if s.l.Get(kv[i]) != kv[i+1] {
				match = false
			}
		}
		if match {
			found = append(found, s.v)
		}
	}
	if len(found) > 1 {
		t.Fatalf("%d samples of %s%v", len(found), name, kv)
	}
	if len(found) == 0 {
		return 0, false
	}
	return found[0], true
}

func want(t *testing.T, samples []sample, v float64, name string, kv ...string) {
	t.Helper()
	got, ok := find(t, samples, name, kv...)
	if !ok {
		t.Fatalf("%s%v is absent, want %v", name, kv, v)
	}
	if math.Abs(got-v) > 1e-9*math.Max(1, math.Abs(v)) {
		t.Fatalf("%s%v = %v, want %v", name, kv, got, v)
	}
}

func absent(t *testing.T, samples []sample, name string, kv ...string) {
	t.Helper()
	if v, ok := find(t, samples, name, kv...); ok {
		t.Fatalf("%s%v = %v, want it absent", name, kv, v)
	}
}

func TestStateFromCache(t *testing.T) {
	in := &roundInput{cluster: "cls-a", src: testCluster(), rates: map[string]rateTracker{},
		projects: map[string]string{"shop": "prj-a"},
		quotas:   map[string]corev1.ResourceList{"prj-a": rl("requests.cpu", "8", "memory", "16Gi"), "prj-b": rl("limits.cpu", "2")},
	}
	b, _, err := build(in)
	if err != nil {
		t.Fatal(err)
	}
	s := b.samples
	for _, x := range s {
		if x.l.Get("cluster") != "cls-a" {
			t.Fatalf("%s has no cluster label", x.l)
		}
	}
	web1 := []string{"namespace", "shop", "pod", "web-abc-1"}
	// Owners: ReplicaSet → Deployment, Job → CronJob, StatefulSet, none.
	want(t, s, 1, podPhase, append(web1, "workload_kind", "Deployment", "workload_name", "web", "node", "node-1", "phase", "Running")...)
	want(t, s, 1, podPhase, "pod", "nightly-28000-x", "workload_kind", "CronJob", "workload_name", "nightly", "phase", "Succeeded")
	want(t, s, 0, podStatusReady, "pod", "db-0", "workload_kind", "StatefulSet", "workload_name", "db")
	if v, _ := find(t, s, podStatusReady, "pod", "debug"); v != 1 {
		t.Fatal("the bare pod is not ready")
	}
	for _, x := range s {
		if x.l.Get("pod") == "debug" && (x.l.Has("workload_kind") || x.l.Has("workload_name")) {
			t.Fatalf("a pod without owner has workload labels: %s", x.l)
		}
	}
	// Readiness: absent where the pod has no Ready condition yet.
	absent(t, s, podStatusReady, "pod", "web-abc-2")
	// Restarts: the app container and the sidecar, not the init container.
	want(t, s, 3, podRestarts, web1...)
	want(t, s, 2, containerRestarts, append(web1, "container", "app")...)
	want(t, s, 1, containerRestarts, append(web1, "container", "proxy")...)
	absent(t, s, containerRestarts, "container", "init-db")
	// Requests and limits: the sidecar's request counts; it has no limit,
	// so the pod's CPU limit is unbounded (absent), its memory too.
	want(t, s, 0.6, podCPURequest, web1...)
	want(t, s, 256*1024*1024, podMemRequest, web1...)
	absent(t, s, podCPULimit, web1...)
	absent(t, s, podMemLimit, web1...)
	want(t, s, 1, containerCPULimit, append(web1, "container", "app")...)
	want(t, s, 0.1, containerCPURequest, append(web1, "container", "proxy")...)
	absent(t, s, containerCPULimit, append(web1, "container", "proxy")...)
	absent(t, s, containerCPURequest, "container", "init-db")
	// A finished pod holds nothing.
	absent(t, s, podCPURequest, "pod", "nightly-28000-x")
	// No usage was read: no usage series, no rates.
	for _, name := range []string{podCPUUsed, podMemNoCache, podMemUsage, podCPURateRequest, nodeCPUUsed, clusterCPUUsed, projectCPUUsed, podNetReceiveBW} {
		absent(t, s, name)
	}

	dep := []string{"namespace", "shop", "workload_kind", "Deployment", "workload_name", "web"}
	want(t, s, 2, workloadPodTotal, dep...)
	want(t, s, 3, workloadReplicas, dep...)
	want(t, s, 1, workloadReplicasReady, dep...)
	want(t, s, 1.1, workloadCPURequests, dep...)
	want(t, s, 3, workloadRestarts, dep...)
	absent(t, s, workloadCPULimits, dep...)
	want(t, s, 1, workloadReplicas, "workload_kind", "StatefulSet", "workload_name", "db")
	want(t, s, 0, workloadPodTotal, "workload_kind", "CronJob", "workload_name", "nightly")

	want(t, s, 4, quotaHard, "namespace", "shop", "resourcequota", "kstack", "resource", "requests.cpu")
	want(t, s, 1.1, quotaUsed, "namespace", "shop", "resourcequota", "kstack", "resource", "requests.cpu")
	want(t, s, 512*1024*1024, quotaUsed, "resource", "requests.memory")

	want(t, s, 1, nodeStatusReady, "node", "node-1")
	want(t, s, 0, nodeStatusReady, "node", "node-2")
	want(t, s, 3, nodePodNum, "node", "node-1") // web-abc-1, db-0, debug
	want(t, s, 0, nodePodNum, "node", "node-2") // its pod finished
	want(t, s, 4, nodeCPUCapacity, "node", "node-1")
	want(t, s, 2, clusterNodeTotal)
	want(t, s, 4, clusterPodTotal)
	want(t, s, 7, clusterCPUTotal)

	want(t, s, 8, projectCPUQuota, "project", "prj-a")
	want(t, s, 16*1024*1024*1024, projectMemQuota, "project", "prj-a")
	absent(t, s, projectCPUQuota, "project", "prj-b") // a limits-only quota is not a requests quota
	for _, x := range s {
		if x.l.Get("project") != "" && x.l.Has("namespace") {
			t.Fatalf("a project series has a namespace: %s", x.l)
		}
	}
}

func TestUsageRates(t *testing.T) {
	src := testCluster()
	t0 := time.Unix(1_700_000_000, 0)
	usageAt := func(at time.Time, nodeCPU, app, proxy float64) map[string]*Usage {
		u := newUsage()
		u.Node.CPU = Counter{nodeCPU, at, true}
		u.Node.WorkingSet = Gauge{4 << 30, true}
		p := u.pod("shop", "web-abc-1")
		p.CPU = Counter{app + proxy, at, true}
		p.WorkingSet = Gauge{300 << 20, true}
		p.container("app").CPU = Counter{app, at, true}
		p.container("app").WorkingSet = Gauge{200 << 20, true}
		p.container("proxy").CPU = Counter{proxy, at, true}
		p.container("proxy").WorkingSet = Gauge{100 << 20, true}
		return map[string]*Usage{"node-1": u}
	}
	in := &roundInput{cluster: "cls-a", src: src, rates: map[string]rateTracker{}, projects: map[string]string{"shop": "prj-a"},
		usage: usageAt(t0, 100, 10, 1)}
	b, rates, err := build(in)
	if err != nil {
		t.Fatal(err)
	}
	web1 := []string{"pod", "web-abc-1"}
	absent(t, b.samples, podCPUUsed, web1...) // the first reading gives no rate
	want(t, b.samples, 300<<20, podMemNoCache, web1...)
	want(t, b.samples, 4<<30, nodeMemNoCacheBytes, "node", "node-1")

	in.rates, in.usage = rates, usageAt(t0.Add(10*time.Second), 120, 13, 2)
	b, _, err = build(in)
	if err != nil {
		t.Fatal(err)
	}
	s := b.samples
	want(t, s, 0.4, podCPUUsed, web1...) // (15-11)/10
	want(t, s, 0.3, containerCPUUsed, append(web1, "container", "app")...)
	want(t, s, 0.3*100/0.5, containerCPURateReq, append(web1, "container", "app")...)
	want(t, s, 0.4*100/0.6, podCPURateRequest, web1...)
	want(t, s, 0.4*100/4, podCPURateNode, web1...)
	absent(t, s, podCPURateLimit, web1...) // the sidecar is unbounded
	// Only the app container has a memory request: its share is measured.
	want(t, s, 200.0*100/256, podMemNoCacheRateReq, web1...)
	want(t, s, 2, nodeCPUUsed, "node", "node-1")
	want(t, s, 50, nodeCPUUsage, "node", "node-1")
	want(t, s, 2, clusterCPUUsed)
	want(t, s, 2*100/7.0, clusterCPURate)
	want(t, s, 0.4, workloadCPUUsed, "workload_name", "web")
	want(t, s, 0.4, projectCPUUsed, "project", "prj-a")
	want(t, s, 300<<20, projectMemNoCache, "project", "prj-a")
	// Nothing from stats/summary: memory with cache and network are absent,
	// and so is what is derived from them.
	for _, name := range []string{podMemUsage, podMemRateNode, podMemRateRequest, podNetReceiveBW, podNetTransmitBW,
		nodeMemUsageBytes, nodeMemUsage, nodeNetReceiveBW, clusterMemUsage, clusterMemRate, workloadMemUsage, workloadNetReceiveBW,
		projectMemUsage, containerMemUsage, containerMemRateReq} {
		absent(t, s, name)
	}
	// No source gives disk I/O.
	for _, x := range s {
		if n := x.l.Get("__name__"); strings.Contains(n, "_fs_read") || strings.Contains(n, "_fs_write") {
			t.Fatalf("%s written", x.l)
		}
	}
}
