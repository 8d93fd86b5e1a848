package metricscollect

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// memStore is a storage.Appendable that keeps every committed batch.
type memStore struct {
	mu      sync.Mutex
	commits [][]appended
}

type appended struct {
	sample
	t int64
}

type memAppender struct {
	storage.Appender // the methods not used here panic
	s                *memStore
	pending          []appended
}

func (m *memStore) Appender(context.Context) storage.Appender { return &memAppender{s: m} }

func (a *memAppender) Append(_ storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	a.pending = append(a.pending, appended{sample{l, v}, t})
	return 0, nil
}

func (a *memAppender) SetOptions(*storage.AppendOptions) {}

func (a *memAppender) Commit() error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.s.commits = append(a.s.commits, a.pending)
	return nil
}

func (a *memAppender) Rollback() error { a.pending = nil; return nil }

// at returns the samples committed with timestamp t whose cluster label is
// cluster ("" for the platform's own).
func (m *memStore) at(t time.Time, cluster string) []sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []sample
	for _, c := range m.commits {
		for _, a := range c {
			if a.t == t.UnixMilli() && a.l.Get("cluster") == cluster {
				out = append(out, a.sample)
			}
		}
	}
	return out
}

// fakeKubelet is what one node's proxy answers.
type fakeKubelet struct {
	metricsPath string // the annotation; "" for the kubelet's own path
	status      int    // of resource metrics; 0 is 200
	hang        bool   // resource metrics never answer
	summary     bool   // serve stats/summary (404 otherwise)
}

// fakeMember stands in for a member's apiserver: lists and watches for the
// informers, and each node's proxy.
type fakeMember struct {
	srv *httptest.Server

	mu       sync.Mutex
	nodes    []*corev1.Node
	pods     []*corev1.Pod
	kubelets map[string]*fakeKubelet
	// cpu is each pod's cumulative CPU seconds, read at sampled.
	cpu      map[string]float64
	rx       map[string]float64
	sampled  time.Time
	watchers []chan []byte
	stop     chan struct{}
}

func newFakeMember(nodes []*corev1.Node, pods []*corev1.Pod, kubelets map[string]*fakeKubelet) *fakeMember {
	m := &fakeMember{nodes: nodes, pods: pods, kubelets: kubelets, cpu: map[string]float64{}, rx: map[string]float64{}, stop: make(chan struct{})}
	for _, n := range nodes {
		if k := kubelets[n.Name]; k != nil && k.metricsPath != "" {
			n.Annotations = map[string]string{"metrics.k8s.io/resource-metrics-path": k.metricsPath}
		}
	}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	return m
}

func (m *fakeMember) close() {
	close(m.stop)
	m.srv.Close()
}

// sample sets the pods' counters as read at t.
func (m *fakeMember) sample(t time.Time, cpu, rx map[string]float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sampled, m.cpu, m.rx = t, cpu, rx
}

// deletePod removes a pod and tells the pod watchers.
func (m *fakeMember) deletePod(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, p := range m.pods {
		if p.Name == name {
			m.pods = append(m.pods[:i], m.pods[i+1:]...)
			gone := p.DeepCopy()
			gone.APIVersion, gone.Kind, gone.ResourceVersion = "v1", "Pod", "2"
			ev, _ := json.Marshal(map[string]any{"type": "DELETED", "object": gone})
			for _, w := range m.watchers {
				w <- ev
			}
			return
		}
	}
}

var listKinds = map[string][2]string{
	"/api/v1/nodes":              {"v1", "NodeList"},
	"/api/v1/pods":               {"v1", "PodList"},
	"/api/v1/resourcequotas":     {"v1", "ResourceQuotaList"},
	"/apis/apps/v1/replicasets":  {"apps/v1", "ReplicaSetList"},
	"/apis/apps/v1/deployments":  {"apps/v1", "DeploymentList"},
	"/apis/apps/v1/statefulsets": {"apps/v1", "StatefulSetList"},
	"/apis/apps/v1/daemonsets":   {"apps/v1", "DaemonSetList"},
	"/apis/batch/v1/jobs":        {"batch/v1", "JobList"},
}

func (m *fakeMember) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/readyz" {
		w.Write([]byte("ok"))
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/nodes/"); ok && strings.Contains(rest, "/proxy/") {
		node, path, _ := strings.Cut(rest, "/proxy")
		m.serveNode(w, r, node, path)
		return
	}
	kind, ok := listKinds[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	q := r.URL.Query()
	if q.Get("watch") == "true" || q.Get("watch") == "1" {
		if q.Get("sendInitialEvents") == "true" {
			// No streaming lists here: the informer falls back to a list.
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"BadRequest","code":400,"message":"sendInitialEvents is not supported"}`))
			return
		}
		m.watch(w, r, r.URL.Path == "/api/v1/pods")
		return
	}
	m.mu.Lock()
	var items []runtime.Object
	switch r.URL.Path {
	case "/api/v1/nodes":
		for _, n := range m.nodes {
			items = append(items, n)
		}
	case "/api/v1/pods":
		for _, p := range m.pods {
			items = append(items, p)
		}
	}
	m.mu.Unlock()
	if items == nil {
		items = []runtime.Object{}
	}
	json.NewEncoder(w).Encode(map[string]any{"apiVersion": kind[0], "kind": kind[1], "metadata": map[string]string{"resourceVersion": "1"}, "items": items})
}

// watch holds a watch open; pod watchers get the deletions.
func (m *fakeMember) watch(w http.ResponseWriter, r *http.Request, pods bool) {
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	ch := make(chan []byte, 16)
	if pods {
		m.mu.Lock()
		m.watchers = append(m.watchers, ch)
		m.mu.Unlock()
	}
	for {
		select {
		case ev := <-ch:
			w.Write(append(ev, '\n'))
			w.(http.Flusher).Flush()
		case <-r.Context().Done():
			return
		case <-m.stop:
			return
		}
	}
}

func (m *fakeMember) serveNode(w http.ResponseWriter, r *http.Request, node, path string) {
	m.mu.Lock()
	k := m.kubelets[node]
	m.mu.Unlock()
	if k == nil {
		http.NotFound(w, r)
		return
	}
	want := k.metricsPath
	if want == "" {
		want = "/metrics/resource"
	}
	switch path {
	case want:
		switch {
		case k.hang:
			select {
			case <-r.Context().Done():
			case <-m.stop:
			}
			return
		case k.status != 0:
			http.Error(w, "kubelet down", k.status)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Write([]byte(m.resourceText(node)))
	case "/stats/summary":
		if !k.summary {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"the server could not find the requested resource"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(m.summaryJSON(node)))
	default:
		http.NotFound(w, r)
	}
}

// resourceText is the node's resource metrics: each pod of the node with
// one container "app" that uses all of the pod's CPU, and 100 MiB each;
// the node's counter is cpu[node].
func (m *fakeMember) resourceText(node string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts := m.sampled.UnixMilli()
	var b strings.Builder
	var names []string
	for _, p := range m.pods {
		if p.Spec.NodeName == node {
			names = append(names, p.Namespace+"/"+p.Name)
		}
	}
	sort.Strings(names)
	fmt.Fprintf(&b, "# TYPE pod_cpu_usage_seconds_total counter\n")
	for _, id := range names {
		ns, name, _ := strings.Cut(id, "/")
		fmt.Fprintf(&b, "pod_cpu_usage_seconds_total{namespace=%q,pod=%q} %g %d\n", ns, name, m.cpu[name], ts)
		fmt.Fprintf(&b, "container_cpu_usage_seconds_total{container=\"app\",namespace=%q,pod=%q} %g %d\n", ns, name, m.cpu[name], ts)
		fmt.Fprintf(&b, "pod_memory_working_set_bytes{namespace=%q,pod=%q} %d %d\n", ns, name, 100<<20, ts)
	}
	fmt.Fprintf(&b, "node_cpu_usage_seconds_total %g %d\n", m.cpu[node], ts)
	fmt.Fprintf(&b, "node_memory_working_set_bytes %d %d\n", 1<<30, ts)
	return b.String()
}

func (m *fakeMember) summaryJSON(node string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	at := m.sampled.UTC().Format(time.RFC3339)
	var pods []string
	for _, p := range m.pods {
		if p.Spec.NodeName == node {
			pods = append(pods, fmt.Sprintf(`{"podRef":{"name":%q,"namespace":%q},"memory":{"time":%q,"usageBytes":%d},"network":{"time":%q,"name":"eth0","rxBytes":%d,"txBytes":0}}`,
				p.Name, p.Namespace, at, 150<<20, at, uint64(m.rx[p.Name])))
		}
	}
	return fmt.Sprintf(`{"node":{"nodeName":%q,"memory":{"time":%q,"usageBytes":%d},"network":{"time":%q,"name":"eth0","rxBytes":1,"txBytes":1}},"pods":[%s]}`,
		node, at, 2<<30, at, strings.Join(pods, ","))
}
