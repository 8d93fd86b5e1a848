package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/kstack/kstack/internal/apiclient"
)

// promFake answers the monitor group's API for the CLI's tests: each
// instant query from a table of vectors by query (none: an empty vector),
// range queries with one series, and clusters' collection status.
type promFake struct {
	mu       sync.Mutex
	requests []*url.URL
	vectors  map[string]string
	status   map[string]string
	// refuse, when set, is the error every query gets (400, bad_data).
	refuse string
}

func (p *promFake) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests = append(p.requests, r.URL)
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if cl, ok := strings.CutPrefix(r.URL.Path, monitorPath+"/clusters/"); ok {
		st, found := p.status[strings.TrimSuffix(cl, "/status")]
		if !found {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"kind":"Status","code":404,"message":"no status"}`)
			return
		}
		fmt.Fprint(w, st)
		return
	}
	if p.refuse != "" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"status":"error","errorType":"bad_data","error":%q}`, p.refuse)
		return
	}
	q := r.URL.Query().Get("query")
	switch r.URL.Path {
	case promPath + "/query":
		v, ok := p.vectors[q]
		if !ok {
			v = "[]"
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":%s},"warnings":["from the fake"]}`, v)
	case promPath + "/query_range":
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","cluster":"cls-a"},"values":[[1767348000,"1"],[1767348060,"0.5"]]}]}}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"status":"error","errorType":"not_found","error":"no such endpoint"}`)
	}
}

// queries are the PromQL expressions asked, in order.
func (p *promFake) queries() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, u := range p.requests {
		if q := u.Query().Get("query"); q != "" {
			out = append(out, q)
		}
	}
	return out
}

func (p *promFake) last() *url.URL {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests[len(p.requests)-1]
}

func (p *promFake) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = nil
}

// monitorPlatform is the fake platform with the monitor group in front.
type monitorPlatform struct {
	*fakePlatform
	prom *promFake
	url  string
}

func newMonitorPlatform(t *testing.T) *monitorPlatform {
	f := newFakePlatform(t)
	p := &promFake{vectors: map[string]string{}, status: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, monitorPath+"/") {
			p.serve(w, r)
			return
		}
		f.serve(w, r)
	}))
	t.Cleanup(srv.Close)
	cluster := func(name string, on bool) {
		f.put(clustersPath+"/"+name, map[string]any{"metadata": map[string]any{"name": name},
			"spec": map[string]any{"type": "Imported", "features": map[string]any{"monitoring": on}}})
	}
	cluster("cls-a", true)
	cluster("cls-b", false)
	cluster("cls-c", true)
	return &monitorPlatform{fakePlatform: f, prom: p, url: srv.URL}
}

// run runs the CLI against the platform, as fakePlatform.kstack does.
func (m *monitorPlatform) run(args ...string) result {
	var out, errOut bytes.Buffer
	o := &Options{
		IOStreams: IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		NewClient: func() (*apiclient.Client, error) {
			return apiclient.NewWithToken(m.url, nil, func(context.Context) (string, error) { return "test-token", nil }), nil
		},
	}
	pflag.CommandLine = pflag.NewFlagSet("kstack", pflag.ContinueOnError)
	err := run(context.Background(), newRoot(o), append(args, "--data-dir="+filepath.Join(m.t.TempDir(), "data")))
	return result{Out: out.String(), Err: errOut.String(), Error: err}
}

func (m *monitorPlatform) must(args ...string) result {
	m.t.Helper()
	r := m.run(args...)
	if r.Error != nil {
		m.t.Fatalf("kstack %s: %v\nstderr: %s", strings.Join(args, " "), r.Error, r.Err)
	}
	return r
}

// vec is a vector's result of (labels, value) pairs: "pod=api-1,namespace=web" "0.25".
func vec(pairs ...string) string {
	var items []string
	for i := 0; i+1 < len(pairs); i += 2 {
		m := map[string]string{}
		for _, kv := range strings.Split(pairs[i], ",") {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		data, _ := json.Marshal(m)
		items = append(items, fmt.Sprintf(`{"metric":%s,"value":[1767348000.5,%q]}`, data, pairs[i+1]))
	}
	return "[" + strings.Join(items, ",") + "]"
}

// lines are the output's lines with their columns' spacing made one space.
func lines(out string) []string {
	var l []string
	for _, s := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		l = append(l, strings.Join(strings.Fields(s), " "))
	}
	return l
}

func TestTopPods(t *testing.T) {
	m := newMonitorPlatform(t)
	const cpuQ, memQ = `k8s_pod_cpu_core_used{cluster="cls-a",namespace="web"}`, `k8s_pod_mem_no_cache_bytes{cluster="cls-a",namespace="web"}`
	m.prom.vectors[cpuQ] = vec("cluster=cls-a,namespace=web,pod=api-1", "0.0101", "cluster=cls-a,namespace=web,pod=api-2", "0.5")
	m.prom.vectors[memQ] = vec("cluster=cls-a,namespace=web,pod=api-1", "52428800")
	r := m.must("top", "pods", "--cluster", "cls-a", "-n", "web")
	if got := strings.Join(lines(r.Out), "\n"); got != "NAME CPU(cores) MEMORY(bytes)\napi-1 10m 50Mi\napi-2 500m <unknown>" {
		t.Errorf("top pods printed:\n%s", r.Out)
	}
	if q := m.prom.queries(); strings.Join(q, " ") != cpuQ+" "+memQ {
		t.Errorf("asked %q", q)
	}
	if !strings.Contains(r.Err, "warning: from the fake") {
		t.Errorf("the API's warnings are not on stderr: %q", r.Err)
	}
	// Sorted by a value, the largest first; a row without it last.
	if l := lines(m.must("top", "pods", "--cluster", "cls-a", "-n", "web", "--sort-by", "cpu").Out); l[1] != "api-2 500m <unknown>" {
		t.Errorf("--sort-by cpu: %q", l)
	}
	if l := lines(m.must("top", "pods", "--cluster", "cls-a", "-n", "web", "--sort-by", "memory").Out); l[1] != "api-1 10m 50Mi" {
		t.Errorf("--sort-by memory: %q", l)
	}
	// -o json: the values as numbers, the unknown one absent.
	r = m.must("top", "pods", "--cluster", "cls-a", "-n", "web", "-o", "json")
	var list struct{ Items []map[string]any }
	if err := json.Unmarshal([]byte(r.Out), &list); err != nil || len(list.Items) != 2 {
		t.Fatalf("-o json: %v\n%s", err, r.Out)
	}
	if a, b := list.Items[0], list.Items[1]; a["name"] != "api-1" || a["namespace"] != "web" || a["cluster"] != "cls-a" || a["cpuCores"] != 0.0101 ||
		a["memoryBytes"] != 52428800.0 || b["cpuCores"] != 0.5 || b["memoryBytes"] != nil {
		t.Errorf("-o json items %v", list.Items)
	}

	// -A: every namespace, with its column; without -n: "default".
	m.prom.reset()
	m.prom.vectors[`k8s_pod_cpu_core_used{cluster="cls-a"}`] = vec("cluster=cls-a,namespace=web,pod=api-1", "1.5", "cluster=cls-a,namespace=db,pod=pg-0", "0.25")
	r = m.must("top", "pods", "--cluster", "cls-a", "-A")
	if got := strings.Join(lines(r.Out), "\n"); got != "NAMESPACE NAME CPU(cores) MEMORY(bytes)\ndb pg-0 250m <unknown>\nweb api-1 1500m <unknown>" {
		t.Errorf("-A printed:\n%s", r.Out)
	}
	m.prom.reset()
	r = m.must("top", "pods", "--cluster", "cls-a")
	if q := m.prom.queries(); len(q) != 2 || q[0] != `k8s_pod_cpu_core_used{cluster="cls-a",namespace="default"}` {
		t.Errorf("without -n asked %q", q)
	}
	if r.Out != "" || !strings.Contains(r.Err, "No metrics found in namespace default of cluster cls-a") {
		t.Errorf("no pods: out %q err %q", r.Out, r.Err)
	}
	// One pod's containers.
	m.prom.reset()
	m.prom.vectors[`k8s_container_cpu_core_used{cluster="cls-a",namespace="web",pod="api-1"}`] = vec("cluster=cls-a,namespace=web,pod=api-1,container=app", "0.2",
		"cluster=cls-a,namespace=web,pod=api-1,container=proxy", "0.01")
	r = m.must("top", "pods", "--cluster", "cls-a", "-n", "web", "api-1", "--containers")
	if got := strings.Join(lines(r.Out), "\n"); got != "POD NAME CPU(cores) MEMORY(bytes)\napi-1 app 200m <unknown>\napi-1 proxy 10m <unknown>" {
		t.Errorf("--containers printed:\n%s", r.Out)
	}
}

func TestTopNodesAndClusters(t *testing.T) {
	m := newMonitorPlatform(t)
	m.prom.vectors[`k8s_node_cpu_core_used{cluster="cls-a"}`] = vec("cluster=cls-a,node=node-1", "1.25")
	m.prom.vectors[`k8s_node_cpu_usage{cluster="cls-a"}`] = vec("cluster=cls-a,node=node-1", "31.2")
	m.prom.vectors[`k8s_node_mem_no_cache_bytes{cluster="cls-a"}`] = vec("cluster=cls-a,node=node-1", "2147483648")
	m.prom.vectors[`k8s_node_rate_mem_no_cache{cluster="cls-a"}`] = vec("cluster=cls-a,node=node-1", "49.6")
	// node-2 has state but no usage yet: listed, unknown.
	m.prom.vectors[`k8s_node_status_ready{cluster="cls-a"}`] = vec("cluster=cls-a,node=node-1", "1", "cluster=cls-a,node=node-2", "1")
	r := m.must("top", "nodes", "--cluster", "cls-a")
	if got := strings.Join(lines(r.Out), "\n"); got != "NAME CPU(cores) CPU% MEMORY(bytes) MEMORY%\nnode-1 1250m 31% 2048Mi 50%\nnode-2 <unknown> <unknown> <unknown> <unknown>" {
		t.Errorf("top nodes printed:\n%s", r.Out)
	}

	// Clusters: the monitored ones, unknown without metrics; those off on stderr.
	m.prom.vectors["k8s_cluster_cpu_core_used"] = vec("cluster=cls-a", "3.5")
	m.prom.vectors["k8s_cluster_rate_cpu_core_used_cluster"] = vec("cluster=cls-a", "43.75")
	m.prom.vectors["k8s_cluster_mem_no_cache_bytes"] = vec("cluster=cls-a", "8589934592")
	m.prom.vectors["k8s_cluster_rate_mem_no_cache_bytes_cluster"] = vec("cluster=cls-a", "25")
	r = m.must("top", "clusters")
	if got := strings.Join(lines(r.Out), "\n"); got != "NAME CPU(cores) CPU% MEMORY(bytes) MEMORY%\ncls-a 3500m 44% 8192Mi 25%\ncls-c <unknown> <unknown> <unknown> <unknown>" {
		t.Errorf("top clusters printed:\n%s", r.Out)
	}
	if !strings.Contains(r.Err, "monitoring is off for cls-b: turn it on with `kstack cluster monitoring ID on`") {
		t.Errorf("top clusters stderr: %q", r.Err)
	}
	m.prom.reset()
	m.must("top", "clusters", "--cluster", "cls-a", "-o", "yaml")
	if q := m.prom.queries(); len(q) != 4 || q[0] != `k8s_cluster_cpu_core_used{cluster="cls-a"}` {
		t.Errorf("--cluster asked %q", q)
	}
}

// A cluster whose monitoring is off is said to be, with how to turn it
// on, before anything is queried.
func TestTopSaysMonitoringIsOff(t *testing.T) {
	m := newMonitorPlatform(t)
	for _, args := range [][]string{{"top", "pods", "--cluster", "cls-b", "-n", "web"}, {"top", "nodes", "--cluster", "cls-b"}, {"top", "clusters", "--cluster", "cls-b"}} {
		m.prom.reset()
		r := m.run(args...)
		if r.Error == nil || !strings.Contains(r.Error.Error(), "monitoring is off for cluster cls-b") ||
			!strings.Contains(r.Error.Error(), "`kstack cluster monitoring cls-b on`") {
			t.Errorf("%v: %v", args, r.Error)
		}
		if q := m.prom.queries(); len(q) > 0 {
			t.Errorf("%v asked %q", args, q)
		}
	}
	if r := m.run("top", "nodes", "--cluster", "cls-nope"); r.Error == nil || !strings.Contains(r.Error.Error(), "not found") {
		t.Errorf("a cluster that is not there: %v", r.Error)
	}
	// On, but nothing collected: why, from the status.
	m.prom.status["cls-c"] = `{"enabled":true,"lastScrape":"2026-01-02T10:00:00Z","lastError":"cls-c: dial tcp 10.0.0.9:6443: i/o timeout","nodes":0,"nodesFailed":0,"series":0}`
	r := m.run("top", "nodes", "--cluster", "cls-c")
	if r.Error == nil || r.Error.Error() != "no node metrics of cluster cls-c yet; collection is failing: cls-c: dial tcp 10.0.0.9:6443: i/o timeout" {
		t.Errorf("an empty cluster: %v", r.Error)
	}
}

func TestTopFlagsAreChecked(t *testing.T) {
	m := newMonitorPlatform(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"top", "pods", "--cluster", "cls-a", "--sort-by", "name"}, `--sort-by "name": use cpu or memory`},
		{[]string{"top", "pods", "--cluster", "cls-a", "-n", "web", "-A"}, "give only one of --namespace, --all-namespaces"},
		{[]string{"top", "pods", "--cluster", "cls-a", "-A", "api-1"}, "give -n, not -A"},
		{[]string{"top", "pods", "-n", "web"}, "--cluster is required: cluster ID"},
		{[]string{"top", "nodes"}, "--cluster is required: cluster ID"},
		{[]string{"top", "clusters", "-o", "name"}, `unknown output format "name"`},
		{[]string{"top", "nodes", "--cluster", "cls-a", "-o", "wide"}, `unknown output format "wide"`},
		{[]string{"metrics", "query", "up", "--time", "yesterday"}, `--time "yesterday" is not a time`},
		{[]string{"metrics", "query"}, "accepts 1 arg(s)"},
		{[]string{"metrics", "query-range", "up", "--step", "often"}, `--step "often" is not a duration`},
		{[]string{"metrics", "query-range", "up", "--step", "-1m"}, `--step "-1m" is not a duration`},
		{[]string{"metrics", "query-range", "up", "--since", "soon"}, `--since "soon" is not a duration`},
		{[]string{"metrics", "query-range", "up", "--since", "1h", "--start", "2026-01-02T10:00:00Z"}, "give only one of --since, --start"},
		{[]string{"metrics", "query-range", "up", "--start", "2026-01-02T10:00:00Z", "--end", "2026-01-02T09:00:00Z"}, "--end 2026-01-02T09:00:00Z is not after --start 2026-01-02T10:00:00Z"},
		{[]string{"cluster", "monitoring", "cls-a"}, "say on or off"},
		{[]string{"cluster", "monitoring", "cls-a", "maybe"}, `"maybe": say on or off`},
		{[]string{"cluster", "monitoring", "cls-a", "on", "--disable"}, "not both"},
		{[]string{"cluster", "monitoring", "cls-a", "--enable", "--disable"}, "give only one of --enable, --disable"},
	} {
		m.prom.reset()
		m.fakePlatform.reset()
		r := m.run(c.args...)
		if r.Error == nil || !strings.Contains(r.Error.Error(), c.want) {
			t.Errorf("kstack %v: %v, want %q", c.args, r.Error, c.want)
		}
		if len(m.prom.requests) > 0 || len(m.fakePlatform.all()) > 0 {
			t.Errorf("kstack %v sent %v %v", c.args, m.prom.requests, m.fakePlatform.all())
		}
	}
}

func TestMetricsQuery(t *testing.T) {
	m := newMonitorPlatform(t)
	q := `k8s_pod_cpu_core_used{cluster="cls-a"}`
	m.prom.vectors[q] = vec("__name__=k8s_pod_cpu_core_used,cluster=cls-a,pod=b", "0.5", "__name__=k8s_pod_cpu_core_used,cluster=cls-a,pod=a", "0.25")
	r := m.must("metrics", "query", q, "--time", "2026-01-02T10:00:00Z")
	want := `SERIES VALUE
k8s_pod_cpu_core_used{cluster="cls-a",pod="a"} 0.25
k8s_pod_cpu_core_used{cluster="cls-a",pod="b"} 0.5`
	if got := strings.Join(lines(r.Out), "\n"); got != want {
		t.Errorf("metrics query printed:\n%s", r.Out)
	}
	if u := m.prom.last(); u.Path != promPath+"/query" || u.Query().Get("query") != q || u.Query().Get("time") != "1767348000" {
		t.Errorf("asked %v", u)
	}
	// -o json: the answer's data, as Prometheus gives it.
	r = m.must("metrics", "query", q, "-o", "json")
	var data struct {
		ResultType string
		Result     []struct {
			Metric map[string]string
			Value  []any
		}
	}
	if err := json.Unmarshal([]byte(r.Out), &data); err != nil || data.ResultType != "vector" || len(data.Result) != 2 ||
		data.Result[0].Metric["pod"] != "b" || data.Result[0].Value[1] != "0.5" || data.Result[0].Value[0] != 1767348000.5 {
		t.Errorf("-o json: %v\n%s", err, r.Out)
	}
	if r := m.must("metrics", "query", q, "-o", "yaml"); !strings.Contains(r.Out, "resultType: vector") {
		t.Errorf("-o yaml:\n%s", r.Out)
	}
	// Nothing matched: said on stderr, nothing on stdout.
	if r := m.must("metrics", "query", "nothing"); r.Out != "" || !strings.Contains(r.Err, "no series") {
		t.Errorf("no series: %q %q", r.Out, r.Err)
	}
	// A refusal is the API's own message.
	m.prom.refuse = "1:4: parse error: unexpected end of input"
	if r := m.run("metrics", "query", "sum("); r.Error == nil || r.Error.Error() != "the platform refused the query: 1:4: parse error: unexpected end of input" {
		t.Errorf("a bad query: %v", r.Error)
	}
}

func TestMetricsQueryRange(t *testing.T) {
	m := newMonitorPlatform(t)
	r := m.must("metrics", "query-range", "up", "--since", "2h", "--step", "1m")
	want := `SERIES TIME VALUE
up{cluster="cls-a"} 2026-01-02T10:00:00Z 1
up{cluster="cls-a"} 2026-01-02T10:01:00Z 0.5`
	if got := strings.Join(lines(r.Out), "\n"); got != want {
		t.Errorf("query-range printed:\n%s", r.Out)
	}
	q := m.prom.last().Query()
	start, _ := strconv.ParseFloat(q.Get("start"), 64)
	end, _ := strconv.ParseFloat(q.Get("end"), 64)
	if m.prom.last().Path != promPath+"/query_range" || q.Get("query") != "up" || q.Get("step") != "60" || end-start != 7200 || time.Since(time.Unix(int64(end), 0)) > time.Minute {
		t.Errorf("asked %v", q)
	}
	// The defaults: the last hour, about 250 points; and a fixed range.
	m.must("metrics", "query-range", "up")
	if q := m.prom.last().Query(); q.Get("step") != "15" {
		t.Errorf("default step: %v", q)
	}
	m.must("metrics", "query-range", "up", "--start", "2026-01-02T10:00:00Z", "--end", "1767355200", "-o", "json")
	if q := m.prom.last().Query(); q.Get("start") != "1767348000" || q.Get("end") != "1767355200" || q.Get("step") != "30" {
		t.Errorf("a fixed range asked %v", q)
	}
}

func TestMetricsStatusAndClusterMonitoring(t *testing.T) {
	m := newMonitorPlatform(t)
	m.prom.status["cls-b"] = `{"enabled":false,"lastScrape":"0001-01-01T00:00:00Z","nodes":0,"nodesFailed":0,"series":0}`
	r := m.must("metrics", "status", "cls-b")
	if !regexp.MustCompile(`(?m)^Monitoring\s+off$`).MatchString(r.Out) || !regexp.MustCompile(`(?m)^Last collected\s+never$`).MatchString(r.Out) ||
		!strings.Contains(r.Err, "monitoring is off for cls-b: turn it on with `kstack cluster monitoring cls-b on`") {
		t.Errorf("status printed %q, stderr %q", r.Out, r.Err)
	}

	features := func() map[string]any {
		return m.get(clustersPath + "/cls-b")["spec"].(map[string]any)["features"].(map[string]any)
	}
	for _, c := range []struct {
		args []string
		on   bool
	}{{[]string{"on"}, true}, {[]string{"off"}, false}, {[]string{"--enable"}, true}, {[]string{"--disable"}, false}} {
		m.fakePlatform.reset()
		r := m.must(append([]string{"cluster", "monitoring", "cls-b"}, c.args...)...)
		state := map[bool]string{true: "enabled", false: "disabled"}[c.on]
		if r.Out != "cluster cls-b: monitoring "+state+"\n" {
			t.Errorf("%v printed %q", c.args, r.Out)
		}
		w := m.writes()
		if len(w) != 1 || w[0].Method != "PATCH" || w[0].Path != clustersPath+"/cls-b" {
			t.Fatalf("%v sent %v", c.args, w)
		}
		if v, ok := features()["monitoring"]; !ok || v != c.on {
			t.Errorf("%v: features %v", c.args, features())
		}
	}
}
