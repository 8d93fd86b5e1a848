package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/inprocess"
	"github.com/kstack/kstack/internal/platformscheme"
)

// monitorCall is one request the fake platform served, with who asked.
type monitorCall struct {
	Method, Path, ContentType, Body string
	Query                           url.Values
	User                            *directory.Principal
}

// fakeMonitorAPI stands in for the gateway: the platform's API (a
// Cluster), the monitor group, and a member's pod and node.
type fakeMonitorAPI struct {
	mu      sync.Mutex
	calls   []monitorCall
	cluster platformv1.Cluster
	// status is the monitor group's answer for the cluster's status.
	statusCode int
	status     string
	// query answers the Prometheus API.
	query func(q url.Values) (int, string)
}

func (f *fakeMonitorAPI) serve(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	body, _ := io.ReadAll(r.Body)
	_ = r.ParseForm()
	f.mu.Lock()
	f.calls = append(f.calls, monitorCall{Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"), Body: string(body), Query: r.URL.Query(), User: p})
	f.mu.Unlock()
	reply := func(code int, v string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprint(w, v)
	}
	cls := "/platform/apis/platform.tkestack.io/v1/clusters/" + f.cluster.Name
	switch {
	case r.URL.Path == cls:
		f.cluster.APIVersion, f.cluster.Kind = "platform.tkestack.io/v1", "Cluster"
		data, _ := json.Marshal(&f.cluster)
		reply(200, string(data))
	case r.URL.Path == monitorAPI+"/clusters/"+f.cluster.Name+"/status":
		reply(f.statusCode, f.status)
	case r.URL.Path == promAPI+"/query_range":
		reply(f.query(r.URL.Query()))
	case r.URL.Path == "/member/api/v1/namespaces/web/pods/api-1":
		data, _ := json.Marshal(&corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "api-1", Namespace: "web"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}})
		reply(200, string(data))
	case r.URL.Path == "/member/api/v1/nodes/node-1":
		data, _ := json.Marshal(&corev1.Node{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Node"}, ObjectMeta: metav1.ObjectMeta{Name: "node-1"}})
		reply(200, string(data))
	default:
		reply(404, `{"kind":"Status","apiVersion":"v1","status":"Failure","code":404,"reason":"NotFound","message":"not found"}`)
	}
}

// callsTo are the requests to paths with prefix.
func (f *fakeMonitorAPI) callsTo(prefix string) []monitorCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []monitorCall
	for _, c := range f.calls {
		if strings.HasPrefix(c.Path, prefix) {
			out = append(out, c)
		}
	}
	return out
}

const matrix = `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"k8s_pod_cpu_core_used","pod":"api-1"},"values":[[1767348000,"0.25"]]}]}}`

func monitorServer(t *testing.T) (*Server, *fakeMonitorAPI) {
	s := testServer(t)
	f := &fakeMonitorAPI{cluster: platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "cls-a"}}, statusCode: 200,
		status: `{"enabled":true,"lastScrape":"2026-01-02T10:00:00Z","nodes":2,"series":40}`,
		query:  func(url.Values) (int, string) { return 200, matrix }}
	s.Serve = f.serve
	s.Decider = &decision.Decider{}
	s.Scheme = platformscheme.New()
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(platformv1.GroupVersion.WithKind("Cluster"), meta.RESTScopeRoot)
	s.Mapper = m
	s.PlatformConfig = func(p *directory.Principal) *rest.Config {
		return &rest.Config{Host: inprocess.Host + "/platform", Transport: &inprocess.Transport{Serve: func(w http.ResponseWriter, r *http.Request) { f.serve(w, r, p) }}}
	}
	s.MemberConfig = func(p *directory.Principal, cluster string) *rest.Config {
		return &rest.Config{Host: inprocess.Host + "/member", Transport: &inprocess.Transport{Serve: func(w http.ResponseWriter, r *http.Request) { f.serve(w, r, p) }}}
	}
	return s, f
}

// chartQueries are the queries of each chart of a page, by data-chart,
// as the browser reads them (unescaped).
func chartQueries(t *testing.T, body string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fig := regexp.MustCompile(`(?s)<figure class="chart" data-chart="([^"]+)"[^>]*>(.*?)</figure>`)
	q := regexp.MustCompile(`data-query="([^"]*)"`)
	for _, m := range fig.FindAllStringSubmatch(body, -1) {
		for _, qm := range q.FindAllStringSubmatch(m[2], -1) {
			out[m[1]] = append(out[m[1]], html.UnescapeString(qm[1]))
		}
	}
	return out
}

func TestPodPageHasItsCharts(t *testing.T) {
	s, _ := monitorServer(t)
	r := consoleRequest(s, "GET", "/console/business/cls-a/web/pods/api-1?range=6h&step=5m")
	for k, v := range map[string]string{"cluster": "cls-a", "ns": "web", "kind": "pods", "name": "api-1"} {
		r.SetPathValue(k, v)
	}
	w := httptest.NewRecorder()
	s.objectDetail(w, r)
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("code %d: %s", w.Code, body)
	}
	charts := chartQueries(t, body)
	if got := charts["pod-cpu"]; len(got) != 1 || got[0] != `k8s_pod_cpu_core_used{cluster="cls-a",namespace="web",pod="api-1"}` {
		t.Errorf("pod-cpu queries %q", got)
	}
	if got := charts["pod-memory"]; len(got) != 2 || got[0] != `k8s_pod_mem_no_cache_bytes{cluster="cls-a",namespace="web",pod="api-1"}` ||
		got[1] != `k8s_pod_mem_usage_bytes{cluster="cls-a",namespace="web",pod="api-1"}` {
		t.Errorf("pod-memory queries %q", got)
	}
	if got := charts["container-cpu"]; len(got) != 1 || got[0] != `k8s_container_cpu_core_used{cluster="cls-a",namespace="web",pod="api-1"}` {
		t.Errorf("container-cpu queries %q", got)
	}
	for _, want := range []string{`data-chart="pod-cpu" data-unit="cores" data-cluster="cls-a"`, `data-monitor data-range="6h" data-step="5m"`,
		`<option value="6h" selected>`, `<option value="5m" selected>`, `action="/console/business/cls-a/web/pods/api-1"`,
		`<script src="/console/static/charts.js"></script>`, `<script src="/console/static/vendor/uPlot.iife.min.js"></script>`,
		`data-monitor-status="cls-a"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func TestWorkloadAndNamespaceCharts(t *testing.T) {
	s, _ := monitorServer(t)
	// A workload's, by its kind as the collector labels it.
	if got := chartQueries(t, renderMonitor(t, s, "object", objectData{NS: nsView{Cluster: "cls-a", Namespace: "web", Base: "/x"}, Kind: kinds["deployments"], Name: "shop",
		Monitor: &monitorView{Range: readMonitorRange(nil), Charts: workloadCharts("cls-a", "web", "Deployment", "shop")}}))["workload-restarts"]; len(got) != 1 ||
		got[0] != `k8s_workload_pod_restart_total{cluster="cls-a",namespace="web",workload_kind="Deployment",workload_name="shop"}` {
		t.Errorf("workload-restarts %q", got)
	}
	// The namespace's tab is among its kinds' tabs, and current.
	r := consoleRequest(s, "GET", "/console/business/cls-a/web/monitoring")
	r.SetPathValue("cluster", "cls-a")
	r.SetPathValue("ns", "web")
	w := httptest.NewRecorder()
	s.namespaceMonitoring(w, r)
	body := w.Body.String()
	if !strings.Contains(body, `<a href="/console/business/cls-a/web/monitoring" aria-current="page">Monitoring</a>`) {
		t.Errorf("no current Monitoring tab:\n%s", body)
	}
	if got := chartQueries(t, body)["namespace-cpu"]; len(got) != 2 || got[0] != `sum(k8s_pod_cpu_core_used{cluster="cls-a",namespace="web"})` ||
		got[1] != `k8s_workload_cpu_core_used{cluster="cls-a",namespace="web"}` {
		t.Errorf("namespace-cpu %q", got)
	}
}

func renderMonitor(t *testing.T, s *Server, page string, data any) string {
	t.Helper()
	w := httptest.NewRecorder()
	s.execute(w, 200, page, "layout", view{User: admin, CSRF: "tok", Data: data})
	if w.Code != 200 {
		t.Fatalf("%s: %d %s", page, w.Code, w.Body.String())
	}
	return w.Body.String()
}

// A label value is quoted as PromQL reads it: no way out of the selector.
func TestSelectorQuotes(t *testing.T) {
	if got := selector("m", "pod", `a"}) or up{x="`); got != `m{pod="a\"}) or up{x=\""}` {
		t.Errorf("selector %s", got)
	}
	if got := selector("m"); got != "m" {
		t.Errorf("no labels: %s", got)
	}
}

func TestMonitorRange(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 7, 0, time.UTC)
	for _, c := range []struct {
		query, start, end string
		step              time.Duration
		err               string
	}{
		{"", "2026-01-02T11:00:00Z", "2026-01-02T12:00:07Z", 15 * time.Second, ""},
		{"range=15m&step=auto", "2026-01-02T11:45:00Z", "2026-01-02T12:00:07Z", 15 * time.Second, ""},
		{"range=6h", "2026-01-02T06:00:00Z", "2026-01-02T12:00:07Z", 2 * time.Minute, ""},
		{"range=24h", "2026-01-01T12:00:00Z", "2026-01-02T12:00:07Z", 10 * time.Minute, ""},
		{"range=7d", "2025-12-26T12:00:00Z", "2026-01-02T12:00:07Z", time.Hour, ""},
		{"range=7d&step=1m", "2025-12-26T12:00:00Z", "2026-01-02T12:00:07Z", time.Minute, ""},
		{"range=1h&step=1h", "2026-01-02T11:00:00Z", "2026-01-02T12:00:07Z", time.Hour, ""},
		{"range=custom&start=2026-01-01T08:30&end=2026-01-01T09:30", "2026-01-01T08:30:00Z", "2026-01-01T09:30:00Z", 15 * time.Second, ""},
		{"range=custom&start=2026-01-01T08:30:00Z", "2026-01-01T08:30:00Z", "2026-01-02T12:00:07Z", 10 * time.Minute, ""},
		{"range=custom", "", "", 0, "start"},
		{"range=custom&start=soon", "", "", 0, "start"},
		{"range=custom&start=2026-01-02T10:00&end=2026-01-02T09:00", "", "", 0, "end"},
		{"range=2w", "", "", 0, "range"},
		{"step=7s", "", "", 0, "step"},
	} {
		q, _ := url.ParseQuery(c.query)
		start, end, step, err := readMonitorRange(q).resolve(now)
		if c.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), c.err+":") {
				t.Errorf("%q: error %v, want one about %s", c.query, err, c.err)
			}
			continue
		}
		if err != nil || start.Format(time.RFC3339) != c.start || end.Format(time.RFC3339) != c.end || step != c.step {
			t.Errorf("%q: %s to %s by %s (%v), want %s to %s by %s", c.query, start.Format(time.RFC3339), end.Format(time.RFC3339), step, err, c.start, c.end, c.step)
		}
	}
}

// The charts' data comes from the Prometheus API as the logged-in user,
// with the page's range resolved by the console.
func TestQueryRangeForwardsAsTheUser(t *testing.T) {
	s, f := monitorServer(t)
	alice := &directory.Principal{Username: "alice", Tenant: "default"}
	q := `sum(k8s_pod_cpu_core_used{cluster="cls-a",namespace="web"})`
	r := &request{Request: httptest.NewRequest("GET", "/console/monitor/query_range?"+url.Values{"query": {q}, "range": {"1h"}, "step": {"auto"}}.Encode(), nil), s: s, user: alice}
	w := httptest.NewRecorder()
	s.queryRange(w, r)
	if w.Code != 200 || w.Body.String() != matrix || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("answer %d %q %v", w.Code, w.Body.String(), w.Header())
	}
	calls := f.callsTo(promAPI)
	if len(calls) != 1 {
		t.Fatalf("calls %+v", calls)
	}
	c := calls[0]
	if c.User != alice || c.Method != "GET" || c.Path != promAPI+"/query_range" || c.Query.Get("query") != q || c.Query.Get("step") != "15" {
		t.Errorf("asked %+v", c)
	}
	start, _ := strconv.ParseInt(c.Query.Get("start"), 10, 64)
	end, _ := strconv.ParseInt(c.Query.Get("end"), 10, 64)
	if start%15 != 0 || end-start < 3600 || end-start >= 3615 || time.Since(time.Unix(end, 0)) > time.Minute {
		t.Errorf("range %d to %d", start, end)
	}
	if w.Header().Get("X-Monitor-Start") != c.Query.Get("start") || w.Header().Get("X-Monitor-End") != c.Query.Get("end") || w.Header().Get("X-Monitor-Step") != "15" {
		t.Errorf("range headers %v", w.Header())
	}

	// The API's refusal is passed on as it is (the chart shows it).
	f.query = func(url.Values) (int, string) {
		return 422, `{"status":"error","errorType":"execution","error":"exceeded maximum resolution of 11000 points per timeseries"}`
	}
	w = httptest.NewRecorder()
	s.queryRange(w, &request{Request: httptest.NewRequest("GET", "/console/monitor/query_range?query=up&range=7d&step=15s", nil), s: s, user: alice})
	if w.Code != 422 || !strings.Contains(w.Body.String(), "11000 points") {
		t.Errorf("refusal %d %s", w.Code, w.Body.String())
	}
}

func TestQueryRangeRefusesMissingParams(t *testing.T) {
	s, f := monitorServer(t)
	for _, target := range []string{
		"/console/monitor/query_range?range=1h",
		"/console/monitor/query_range?query=+&range=1h",
		"/console/monitor/query_range?query=up",
		"/console/monitor/query_range?query=up&range=2w",
		"/console/monitor/query_range?query=up&range=1h&step=1s",
		"/console/monitor/query_range?query=up&range=custom",
		"/console/monitor/query_range?query=up&range=custom&start=2026-01-02T10:00&end=2026-01-01T10:00",
	} {
		w := httptest.NewRecorder()
		s.queryRange(w, consoleRequest(s, "GET", target))
		var ans struct{ Status, ErrorType, Error string }
		if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil || w.Code != 400 || ans.Status != "error" || ans.ErrorType != "bad_data" || ans.Error == "" {
			t.Errorf("%s: %d %s", target, w.Code, w.Body.String())
		}
	}
	if calls := f.callsTo("/monitor/"); len(calls) > 0 {
		t.Errorf("asked the API %+v", calls)
	}
}

// sessionServer is a console whose sessions are the access token "at-USER".
func sessionServer(t *testing.T) (*Server, *fakeMonitorAPI, map[string]*directory.Principal) {
	s, f := monitorServer(t)
	users := map[string]*directory.Principal{"alice": {Username: "alice", Tenant: "default"}, "admin": admin}
	s.Authenticate = func(_ context.Context, token string) (*directory.Principal, error) {
		if p := users[strings.TrimPrefix(token, "at-")]; p != nil {
			return p, nil
		}
		return nil, errors.New("no such token")
	}
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	return s, f, users
}

func browserRequest(method, target, user string, form url.Values) *http.Request {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, "https://console.example"+target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		r.AddCookie(&http.Cookie{Name: cookieSID, Value: "sid-" + user})
		r.AddCookie(&http.Cookie{Name: cookieAccess, Value: "at-" + user})
	}
	return r
}

// The routes: the forwarder serves only a session's user, as that user.
func TestMonitorRoutesNeedASession(t *testing.T) {
	s, f, users := sessionServer(t)
	target := "/console/monitor/query_range?query=up&range=1h"
	w := httptest.NewRecorder()
	s.ServeHTTP(w, browserRequest("GET", target, "", nil))
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/console/login") || len(f.callsTo("/monitor/")) > 0 {
		t.Fatalf("without a session: %d %v, calls %+v", w.Code, w.Header(), f.callsTo("/monitor/"))
	}
	w = httptest.NewRecorder()
	s.ServeHTTP(w, browserRequest("GET", target, "alice", nil))
	calls := f.callsTo(promAPI)
	if w.Code != 200 || len(calls) != 1 || calls[0].User != users["alice"] {
		t.Fatalf("as alice: %d, calls %+v", w.Code, calls)
	}
	w = httptest.NewRecorder()
	s.ServeHTTP(w, browserRequest("GET", "/console/monitor/clusters/cls-a/status", "alice", nil))
	st := f.callsTo(monitorAPI + "/clusters/")
	if w.Code != 200 || w.Body.String() != f.status || len(st) != 1 || st[0].User != users["alice"] || st[0].Path != monitorAPI+"/clusters/cls-a/status" {
		t.Errorf("status: %d %s, calls %+v", w.Code, w.Body.String(), st)
	}
}

// The switch patches the Cluster as the user, only from the console's own
// form (its CSRF token), and sends false as such.
func TestMonitoringSwitchPatchesTheCluster(t *testing.T) {
	s, f, users := sessionServer(t)
	path := "/console/platform/clusters/cls-a/monitoring"
	clusterAPI := "/platform/apis/platform.tkestack.io/v1/clusters/cls-a"
	w := httptest.NewRecorder()
	s.ServeHTTP(w, browserRequest("POST", path, "admin", url.Values{"enable": {"true"}}))
	if w.Code != http.StatusForbidden || len(f.callsTo(clusterAPI)) > 0 {
		t.Fatalf("without the CSRF token: %d, calls %+v", w.Code, f.callsTo(clusterAPI))
	}
	for _, on := range []bool{true, false} {
		f.calls = nil
		w = httptest.NewRecorder()
		s.ServeHTTP(w, browserRequest("POST", path, "admin", url.Values{"enable": {strconv.FormatBool(on)}, "csrf": {csrfToken("sid-admin")}}))
		calls := f.callsTo(clusterAPI)
		if w.Code != http.StatusSeeOther || len(calls) != 1 {
			t.Fatalf("on=%t: %d %s, calls %+v", on, w.Code, w.Body.String(), f.calls)
		}
		c := calls[0]
		if c.Method != "PATCH" || c.ContentType != "application/merge-patch+json" || c.User != users["admin"] ||
			c.Body != fmt.Sprintf(`{"spec":{"features":{"monitoring":%t}}}`, on) {
			t.Errorf("on=%t: sent %+v", on, c)
		}
		loc, _ := url.Parse(w.Header().Get("Location"))
		if loc.Path != "/console/platform/clusters/cls-a" || loc.Query().Get("tab") != "monitoring" || !strings.Contains(loc.Query().Get("notice"), "Monitoring is "+map[bool]string{true: "on", false: "off"}[on]) {
			t.Errorf("on=%t: redirected to %s", on, loc)
		}
	}
}

func TestClusterMonitoringTab(t *testing.T) {
	s, f := monitorServer(t)
	get := func() string {
		t.Helper()
		r := consoleRequest(s, "GET", "/console/platform/clusters/cls-a?tab=monitoring&range=24h")
		r.SetPathValue("id", "cls-a")
		w := httptest.NewRecorder()
		s.clusterDetail(w, r)
		if w.Code != 200 {
			t.Fatalf("code %d: %s", w.Code, w.Body.String())
		}
		return w.Body.String()
	}
	// Off: said, with the switch to turn it on, and the status not asked.
	body := get()
	for _, want := range []string{`id="monitoring-off"`, "Monitoring is off", `action="/console/platform/clusters/cls-a/monitoring"`, `name="enable" value="true"`,
		`id="monitoring-toggle"`, `name="csrf" value="tok"`, `<input type="hidden" name="tab" value="monitoring">`, `<option value="24h" selected>`,
		`id="monitoring-tab" aria-current="page"`} {
		if !strings.Contains(body, want) {
			t.Errorf("off: the tab lacks %q", want)
		}
	}
	if n := len(f.callsTo(monitorAPI)); n > 0 {
		t.Errorf("off: the status was asked %d times", n)
	}
	charts := chartQueries(t, body)
	if got := charts["cluster-cpu"]; len(got) != 2 || got[0] != `k8s_cluster_cpu_core_used{cluster="cls-a"}` || got[1] != `k8s_cluster_cpu_core_total{cluster="cls-a"}` {
		t.Errorf("cluster-cpu %q", got)
	}
	for _, id := range []string{"cluster-memory", "cluster-pods", "cluster-nodes"} {
		if len(charts[id]) == 0 {
			t.Errorf("no %s chart", id)
		}
	}
	// The tab says the status itself: charts.js adds no line of its own.
	if strings.Contains(body, "data-monitor-status") {
		t.Error("the tab has a second status line")
	}

	// On and failing: why, in the tab.
	f.cluster.Spec.Features.Monitoring = true
	f.status = fmt.Sprintf(`{"enabled":true,"lastScrape":%q,"lastError":"node-2: context deadline exceeded <b>","nodes":3,"nodesFailed":1,"series":420}`,
		time.Now().Add(-2*time.Minute).UTC().Format(time.RFC3339))
	body = get()
	for _, want := range []string{`class="hint failing" id="monitoring-on"`, "Collection is failing: node-2: context deadline exceeded &lt;b&gt;. Last collected: 2m ago; 1 of 3 nodes failed.",
		`name="enable" value="false"`} {
		if !strings.Contains(body, want) {
			t.Errorf("failing: the tab lacks %q", want)
		}
	}
	// The status the user may not read: said, not hidden.
	f.statusCode, f.status = 403, `{"kind":"Status","code":403,"message":"alice may not see the monitoring of cluster cls-a"}`
	if body = get(); !strings.Contains(body, "its status could not be read: alice may not see the monitoring of cluster cls-a") {
		t.Errorf("forbidden status:\n%s", body)
	}
}

func TestDescribeCollection(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		st      collectionStatus
		want    string
		failing bool
	}{
		{collectionStatus{Enabled: true, LastScrape: "2026-01-02T11:59:30Z", Nodes: 2, Series: 40}, "Monitoring is on. Last collected 30s ago: 40 series from 2 nodes.", false},
		{collectionStatus{Enabled: true}, "Monitoring is on; the first collection has not finished yet.", false},
		{collectionStatus{Enabled: true, LastScrape: "0001-01-01T00:00:00Z"}, "Monitoring is on; the first collection has not finished yet.", false},
		{collectionStatus{Enabled: true, LastError: "timeout.", Nodes: 1, NodesFailed: 1}, "Collection is failing: timeout. Last collected: never; 1 of 1 nodes failed.", true},
		{collectionStatus{Enabled: true, LastScrape: "2026-01-02T11:00:00Z", Nodes: 3, NodesFailed: 1, Series: 9}, "Monitoring is on. Last collected 1h ago: 9 series from 3 nodes, of which 1 failed.", true},
	} {
		got, failing := describeCollection(c.st, now)
		if !strings.HasPrefix(got, c.want) || failing != c.failing {
			t.Errorf("%+v: %q %t, want %q %t", c.st, got, failing, c.want, c.failing)
		}
	}
}

func TestNodePage(t *testing.T) {
	s, f := monitorServer(t)
	r := consoleRequest(s, "GET", "/console/platform/clusters/cls-a/nodes/node-1")
	r.SetPathValue("id", "cls-a")
	r.SetPathValue("node", "node-1")
	w := httptest.NewRecorder()
	s.nodeDetail(w, r)
	body := w.Body.String()
	if w.Code != 200 || len(f.callsTo("/member/api/v1/nodes/node-1")) != 1 {
		t.Fatalf("code %d: %s", w.Code, body)
	}
	if got := chartQueries(t, body)["node-cpu"]; len(got) != 1 || got[0] != `k8s_node_cpu_core_used{cluster="cls-a",node="node-1"}` {
		t.Errorf("node-cpu %q", got)
	}
	if !strings.Contains(body, `action="/console/platform/clusters/cls-a/nodes/node-1"`) {
		t.Error("the picker does not reload the node's page")
	}
	// A node the cluster does not have is the API's 404.
	r = consoleRequest(s, "GET", "/console/platform/clusters/cls-a/nodes/gone")
	r.SetPathValue("id", "cls-a")
	r.SetPathValue("node", "gone")
	w = httptest.NewRecorder()
	s.nodeDetail(w, r)
	if w.Code != 404 {
		t.Errorf("a missing node: %d", w.Code)
	}
}

// The project's charts: usage against quota in each of its clusters.
func TestProjectAndFleetCharts(t *testing.T) {
	var ids, queries []string
	for _, c := range projectCharts("prj-a", []string{"cls-a", "cls-b"}) {
		ids = append(ids, c.ID+"@"+c.Cluster)
		for _, s := range c.Series {
			queries = append(queries, s.Name+"="+s.Query)
		}
	}
	if strings.Join(ids, " ") != "project-cpu@cls-a project-memory@cls-a project-cpu@cls-b project-memory@cls-b" ||
		queries[0] != `used=project_cpu_core_used{cluster="cls-a",project="prj-a"}` || queries[1] != `quota=project_cpu_quota{cluster="cls-a",project="prj-a"}` ||
		queries[7] != `quota=project_mem_quota{cluster="cls-b",project="prj-a"}` {
		t.Errorf("project charts %v %v", ids, queries)
	}
	s, _ := monitorServer(t)
	body := renderMonitor(t, s, "overview", overviewData{Monitor: &monitorView{Range: readMonitorRange(nil), Action: "/console/platform", Charts: fleetCharts()}})
	if got := chartQueries(t, body)["fleet-cpu"]; len(got) != 2 || got[0] != "sum(k8s_cluster_cpu_core_used)" {
		t.Errorf("fleet-cpu %q", got)
	}
}
