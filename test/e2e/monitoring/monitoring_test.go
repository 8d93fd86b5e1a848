// Package monitoring holds the end-to-end test of monitoring: a real
// platform collects two real local members (kwok nodes serving resource
// metrics, metrics-server beside them), keeps the series in its embedded
// TSDB, answers PromQL scoped to each caller's rights, and remote-writes
// everything to a real Prometheus (Debian's), which must answer the same
// query with the same values.
package monitoring

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kstack/kstack/internal/testutil/promtest"
	"github.com/kstack/kstack/test/e2e/framework"
)

const promAPI = "/monitor/apis/monitor.tkestack.io/v1/prometheus"

// answer is a Prometheus API answer.
type answer struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// sample is one series of a vector or matrix.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
	Values [][]any           `json:"values"`
}

func (a answer) series(t *testing.T) []sample {
	t.Helper()
	var out []sample
	if a.Data.ResultType == "vector" || a.Data.ResultType == "matrix" {
		if err := json.Unmarshal(a.Data.Result, &out); err != nil {
			t.Fatalf("decoding %s: %v", a.Data.Result, err)
		}
	}
	return out
}

func value(t *testing.T, s sample) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s.Value[1].(string), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// client asks one Prometheus API (kstack's or the real one) as one caller.
type client struct {
	hc    *http.Client
	base  string
	token string
}

func (c client) get(t *testing.T, path string, q url.Values) (int, answer, string) {
	t.Helper()
	code, body := framework.Do(t, c.hc, "GET", c.base+path+"?"+q.Encode(), c.token, "", "", "")
	var a answer
	_ = json.Unmarshal([]byte(body), &a)
	return code, a, body
}

func (c client) query(t *testing.T, expr string) []sample {
	t.Helper()
	code, a, body := c.get(t, "/api/v1/query", url.Values{"query": {expr}})
	if code != http.StatusOK || a.Status != "success" {
		t.Fatalf("query %s: %d %s", expr, code, body)
	}
	return a.series(t)
}

func TestMonitoring(t *testing.T) {
	prom := promtest.Start(t)
	k := framework.New(t)
	k.Env = append(k.Env, "KSTACK_ADMIN_PASSWORD=Adm1n-Passw0rd")
	p := k.Up(3*time.Minute, "--listen", framework.FreeAddr(t),
		"--platform-arg=--metrics-interval=2s", "--platform-arg=--metrics-remote-write="+prom+"/api/v1/write")
	hc, adminTok := k.PlatformHTTP()
	c1, kc1 := k.ImportedCluster("m1", 1)
	c2, _ := k.ImportedCluster("m2", 1)
	admin := client{hc, p.ConsoleURL + promAPI, adminTok}

	// Monitoring is off until switched on, per cluster.
	if got := admin.query(t, `count(k8s_node_status_ready{cluster="`+c1+`"})`); len(got) != 0 {
		t.Fatalf("series of %s before its monitoring was switched on: %v", c1, got)
	}
	k.MustRun("cluster", "monitoring", c1, "on")
	k.MustRun("cluster", "monitoring", c2, "on")

	// Project A (alice): namespace web in m1. Project B (bob): namespace web
	// in m2 (the same name in another cluster) and shop-b in m1.
	framework.CreateUser(t, k, "alice", "Passw0rd-Alice1")
	framework.CreateUser(t, k, "bob", "Passw0rd-Bob12")
	prjA := strings.TrimSpace(k.MustRun("project", "create", "team-a", "--cluster", c1, "--cpu", "8", "--memory", "16Gi", "--pods", "20", "-o", "name"))
	prjB := strings.TrimSpace(k.MustRun("project", "create", "team-b", "--cluster", c1, "--cluster", c2, "--cpu", "8", "--memory", "16Gi", "--pods", "20", "-o", "name"))
	k.MustRun("project", "add-member", prjA, "alice")
	k.MustRun("project", "add-member", prjB, "bob")
	k.MustRun("namespace", "create", "web", "--project", prjA, "--cluster", c1, "--cpu", "2", "--memory", "4Gi", "--pods", "10")
	k.MustRun("namespace", "create", "web", "--project", prjB, "--cluster", c2, "--cpu", "2", "--memory", "4Gi", "--pods", "10")
	k.MustRun("namespace", "create", "shop-b", "--project", prjB, "--cluster", c1, "--cpu", "2", "--memory", "4Gi", "--pods", "10")
	aliceK := framework.Login(t, k, "default", "alice", "Passw0rd-Alice1")
	bobK := framework.Login(t, k, "default", "bob", "Passw0rd-Bob12")
	alice := client{hc, admin.base, framework.Token(t, aliceK)}
	bob := client{hc, admin.base, framework.Token(t, bobK)}
	akc := filepath.Join(t.TempDir(), "alice.kubeconfig")
	aliceK.MustRun("kubeconfig", "--cluster", c1, "-f", akc)
	bkc1 := filepath.Join(t.TempDir(), "bob1.kubeconfig")
	bobK.MustRun("kubeconfig", "--cluster", c1, "-f", bkc1)
	bkc2 := filepath.Join(t.TempDir(), "bob2.kubeconfig")
	bobK.MustRun("kubeconfig", "--cluster", c2, "-f", bkc2)

	deploy := func(u *framework.Kstack, kc, ns, name string) string {
		u.MustKubectl(kc, "-n", ns, "create", "deployment", name, "--image=nginx", "--replicas=1")
		u.MustKubectl(kc, "-n", ns, "set", "resources", "deployment", name, "--requests=cpu=500m,memory=256Mi", "--limits=cpu=1,memory=512Mi")
		var pod string
		framework.Eventually(t, 2*time.Minute, name+"'s pod running", func() error {
			out, err := u.Kubectl(kc, "-n", ns, "get", "pods", "-l", "app="+name, "--field-selector=status.phase=Running", "-o", "jsonpath={.items[*].metadata.name}")
			if f := strings.Fields(out); err != nil || len(f) != 1 {
				return fmt.Errorf("%v %q", err, out)
			}
			pod = strings.TrimSpace(out)
			return nil
		})
		return pod
	}
	shop := deploy(aliceK, akc, "web", "shop")
	deploy(bobK, bkc2, "web", "shop")
	deploy(bobK, bkc1, "shop-b", "cart")

	// The test sets shop's usage at run time, with kwok's ResourceUsage.
	usage := filepath.Join(t.TempDir(), "usage.yaml")
	writeFile(t, usage, `apiVersion: kwok.x-k8s.io/v1alpha1
kind: ResourceUsage
metadata:
  name: `+shop+`
  namespace: web
spec:
  usages:
  - usage:
      cpu:
        value: 250m
      memory:
        value: 300Mi
`)
	k.MustKubectl(kc1, "apply", "-f", usage)
	shopSel := `{cluster="` + c1 + `",namespace="web",pod="` + shop + `"}`
	var cores float64
	framework.Eventually(t, 2*time.Minute, "shop's usage in k8s_pod_cpu_core_used", func() error {
		got := admin.query(t, "k8s_pod_cpu_core_used"+shopSel)
		if len(got) != 1 {
			_, st := framework.Do(t, hc, "GET", p.ConsoleURL+"/monitor/apis/monitor.tkestack.io/v1/clusters/"+c1+"/status", adminTok, "", "", "")
			raw, _ := k.Kubectl(kc1, "get", "--raw", "/api/v1/nodes/m1-node-1/proxy/metrics/nodes/m1-node-1/metrics/resource")
			return fmt.Errorf("%d series; collection status %s; names %v; the node's resource metrics:\n%s", len(got), st,
				admin.query(t, `count by (__name__) ({cluster="`+c1+`",namespace="web"})`), raw)
		}
		if cores = value(t, got[0]); !within(cores, 0.25) {
			return fmt.Errorf("%v cores, want 0.25", cores)
		}
		return nil
	})
	framework.Eventually(t, time.Minute, "shop's working set in k8s_pod_mem_no_cache_bytes", func() error {
		got := admin.query(t, "k8s_pod_mem_no_cache_bytes"+shopSel)
		if len(got) != 1 || !within(value(t, got[0]), 300<<20) {
			return fmt.Errorf("%v", got)
		}
		return nil
	})

	t.Run("kubectl top through the platform agrees", func(t *testing.T) {
		// The member's own metrics API (metrics-server), through the
		// platform's proxy, as alice.
		framework.Eventually(t, 2*time.Minute, "kubectl top pod "+shop, func() error {
			out, err := aliceK.Kubectl(akc, "-n", "web", "top", "pod", shop, "--no-headers")
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			f := strings.Fields(out)
			if len(f) < 3 || f[0] != shop {
				return fmt.Errorf("unexpected output %q", out)
			}
			milli, err := strconv.ParseFloat(strings.TrimSuffix(f[1], "m"), 64)
			if err != nil || !within(milli/1000, cores) {
				return fmt.Errorf("kubectl top says %s, kstack %v cores", f[1], cores)
			}
			if f[2] != "300Mi" {
				return fmt.Errorf("kubectl top says memory %s, want 300Mi", f[2])
			}
			return nil
		})
	})

	t.Run("the console draws the pod's usage", func(t *testing.T) {
		b := framework.NewBrowser(t, p.ConsoleURL, "alice")
		b.Login("alice", "Passw0rd-Alice1")
		b.Open("/console/business/" + c1 + "/web/pods/" + shop + "?range=15m")
		framework.Eventually(t, 2*time.Minute, "the pod's CPU chart drawn with points", func() error {
			got := framework.Eval[string](b, `(() => { const f = document.querySelector('[data-chart="pod-cpu"]'); return f ? (f.dataset.state || "") + " " + (f.dataset.points || "") + " " + (f.querySelector("[data-query]") || {dataset: {}}).dataset.query : "no chart"; })()`)
			f := strings.Fields(got)
			if len(f) < 3 || f[0] != "drawn" || f[1] == "0" || !strings.Contains(got, "k8s_pod_cpu_core_used") || !strings.Contains(got, shop) {
				b.Open("/console/business/" + c1 + "/web/pods/" + shop + "?range=15m")
				return fmt.Errorf("chart: %q", got)
			}
			return nil
		})
		// The chart drew the value the API gives: its last point, read again
		// (with the page) until within 2% (see kstack top below).
		framework.Eventually(t, time.Minute, "the chart's last value at 0.25", func() error {
			last := framework.Eval[string](b, `(document.querySelector('[data-chart="pod-cpu"][data-state="drawn"]') || {dataset: {}}).dataset.last || ""`)
			if v, err := strconv.ParseFloat(last, 64); err != nil || !within(v, 0.25) {
				b.Open("/console/business/" + c1 + "/web/pods/" + shop + "?range=15m")
				return fmt.Errorf("last value %q", last)
			}
			return nil
		})
	})

	t.Run("kstack top", func(t *testing.T) {
		// The member's own figures from kstack's store, as kubectl's top
		// prints them (memory is the working set).
		// A rate between two reads of kwok's counter moves with how late each
		// read was: read again until it is within 2%, for a bounded time.
		framework.Eventually(t, time.Minute, "kstack top pods as alice: "+shop+" at about 250m and 300Mi", func() error {
			out := aliceK.MustRun("top", "pods", "--cluster", c1, "-n", "web")
			for _, line := range strings.Split(out, "\n") {
				if f := strings.Fields(line); len(f) == 3 && f[0] == shop {
					milli, err := strconv.ParseFloat(strings.TrimSuffix(f[1], "m"), 64)
					if err == nil && within(milli, 250) && f[2] == "300Mi" {
						return nil
					}
				}
			}
			return fmt.Errorf("%s", out)
		})
		if out := k.MustRun("top", "clusters"); !strings.Contains(out, c1) || !strings.Contains(out, "%") {
			t.Errorf("kstack top clusters:\n%s", out)
		}
	})

	t.Run("project A's member cannot read project B's series", func(t *testing.T) {
		// Bob's series exist (so that an empty answer below means hidden,
		// not missing).
		framework.Eventually(t, time.Minute, "project B's pods collected", func() error {
			got := bob.query(t, `k8s_pod_cpu_core_used`)
			if len(got) != 2 {
				return fmt.Errorf("bob sees %v", keys(got))
			}
			return nil
		})
		own := c1 + "/web"
		for _, tt := range []struct {
			what, expr string
			// twin is the same attempt aimed at alice's own series.
			twin string
		}{
			{"no selector", `k8s_pod_cpu_core_used{namespace!="web"}`, `k8s_pod_cpu_core_used`},
			{"the same namespace name in another cluster", `k8s_pod_cpu_core_used{cluster="` + c2 + `",namespace="web"}`, `k8s_pod_cpu_core_used{cluster="` + c1 + `",namespace="web"}`},
			{"B's namespace in A's cluster", `k8s_pod_cpu_core_used{namespace="shop-b"}`, `k8s_pod_cpu_core_used{namespace="web"}`},
			{"a regular expression", `{__name__=~"k8s_pod_.*",namespace=~"shop.*"}`, `{__name__=~"k8s_pod_.*",namespace=~"w.*"}`},
			{"every series by name", `{__name__=~".+",namespace!="web",namespace!=""}`, `{__name__=~".+",namespace="web"}`},
			{"or", `k8s_pod_cpu_core_used{namespace="nothing"} or k8s_pod_cpu_core_used{namespace="shop-b"}`, `k8s_pod_cpu_core_used{namespace="nothing"} or k8s_pod_cpu_core_used{namespace="web"}`},
			{"label_replace", `label_replace(k8s_pod_cpu_core_used{namespace="shop-b"}, "namespace", "web", "namespace", ".*")`, `label_replace(k8s_pod_cpu_core_used{namespace="web"}, "namespace", "web", "namespace", ".*")`},
			{"a subquery", `max_over_time(k8s_pod_cpu_core_used{namespace="shop-b"}[1m:5s])`, `max_over_time(k8s_pod_cpu_core_used{namespace="web"}[1m:5s])`},
			{"an aggregation over everything", `count by (cluster, namespace) ({__name__=~".+",namespace!="web",namespace!=""})`, `count by (cluster, namespace) ({__name__=~".+",namespace="web"})`},
			{"node series", `k8s_node_cpu_core_used`, `k8s_workload_pod_total{namespace="web"}`},
			{"the platform's own series", `kstack_gateway_requests_total`, `k8s_pod_status_ready{namespace="web"}`},
			{"project B's series", `project_mem_quota{project="` + prjB + `"}`, `project_mem_quota{project="` + prjA + `"}`},
		} {
			if got := alice.query(t, tt.expr); len(got) != 0 {
				t.Errorf("%s: %s gave alice %v", tt.what, tt.expr, got)
			}
			got := alice.query(t, tt.twin)
			if len(got) == 0 {
				t.Errorf("%s (twin): %s gave alice nothing", tt.what, tt.twin)
			}
			for _, s := range got {
				if c, ns := s.Metric["cluster"], s.Metric["namespace"]; (c != "" && c != c1) || (ns != "" && c+"/"+ns != own) || (s.Metric["project"] != "" && s.Metric["project"] != prjA) {
					t.Errorf("%s (twin): %s gave alice a series not hers: %v", tt.what, tt.twin, s.Metric)
				}
			}
		}
		// absent() says B's series are absent: alice cannot tell them from
		// missing ones; her own are present.
		if got := alice.query(t, `absent(k8s_pod_cpu_core_used{namespace="shop-b"})`); len(got) != 1 || value(t, got[0]) != 1 {
			t.Errorf("absent() of B's series gave alice %v, want 1", got)
		}
		if got := alice.query(t, `absent(k8s_pod_cpu_core_used{namespace="web"})`); len(got) != 0 {
			t.Errorf("absent() of her own series gave alice %v, want nothing", got)
		}
		// The series and label endpoints.
		for _, tt := range []struct{ what, path, match, hidden, twinMatch, shown string }{
			{"series", "/api/v1/series", `{namespace="shop-b"}`, "shop-b", `{namespace="web"}`, shop},
			{"label values", "/api/v1/label/namespace/values", `{__name__=~".+"}`, "shop-b", `{__name__=~".+"}`, "web"},
			{"label values of clusters", "/api/v1/label/cluster/values", `{__name__=~".+"}`, c2, `{__name__=~".+"}`, c1},
			{"label names", "/api/v1/labels", `{namespace="shop-b"}`, "namespace", `{namespace="web"}`, "namespace"},
		} {
			code, _, body := alice.get(t, tt.path, url.Values{"match[]": {tt.match}})
			if code != http.StatusOK || strings.Contains(body, tt.hidden) {
				t.Errorf("%s of %s: %d %s", tt.what, tt.match, code, body)
			}
			code, _, body = alice.get(t, tt.path, url.Values{"match[]": {tt.twinMatch}})
			if code != http.StatusOK || !strings.Contains(body, tt.shown) {
				t.Errorf("%s of %s (twin): %d %s, want %q", tt.what, tt.twinMatch, code, body, tt.shown)
			}
		}
		// Bob sees web in m2 and shop-b in m1, never alice's web in m1.
		want := []string{c1 + "/shop-b", c2 + "/web"}
		sort.Strings(want)
		if got := keys(bob.query(t, `k8s_pod_cpu_core_used`)); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("bob sees %v, want %v", got, want)
		}
		// The collection status of a cluster is for those who may list
		// its pods.
		code, body := framework.Do(t, hc, "GET", p.ConsoleURL+"/monitor/apis/monitor.tkestack.io/v1/clusters/"+c1+"/status", alice.token, "", "", "")
		if code != http.StatusForbidden {
			t.Errorf("alice reading %s's collection status: %d %s", c1, code, body)
		}
	})

	t.Run("Grafana's data source", func(t *testing.T) {
		// The health check: query=1+1 by GET and by form POST.
		for _, method := range []string{"GET", "POST"} {
			var code int
			var body string
			if method == "GET" {
				code, body = framework.Do(t, hc, "GET", admin.base+"/api/v1/query?query=1%2B1", adminTok, "", "", "")
			} else {
				code, body = framework.Do(t, hc, "POST", admin.base+"/api/v1/query", adminTok, "", "application/x-www-form-urlencoded", "query=1%2B1")
			}
			var a struct {
				Status string
				Data   struct {
					ResultType string
					Result     []any
				}
			}
			if err := json.Unmarshal([]byte(body), &a); code != http.StatusOK || err != nil || a.Status != "success" || a.Data.ResultType != "scalar" || len(a.Data.Result) != 2 || a.Data.Result[1] != "2" {
				t.Errorf("%s 1+1: %d %s", method, code, body)
			}
		}
	})

	t.Run("remote-write: Prometheus answers the same", func(t *testing.T) {
		real := client{&http.Client{Timeout: 20 * time.Second}, prom, ""}
		var end time.Time
		framework.Eventually(t, 2*time.Minute, "the same query_range answer from kstack and Prometheus", func() error {
			// The last minute but 20 s (remote-write's lag), taken again on
			// each try: a fast run can reach here when shop's series is
			// younger than the window's end.
			end = time.Now().Add(-20 * time.Second).Truncate(time.Second)
			q := url.Values{"query": {"k8s_pod_cpu_core_used" + shopSel}, "start": {fmt.Sprint(end.Add(-time.Minute).Unix())}, "end": {fmt.Sprint(end.Unix())}, "step": {"5"}}
			_, _, mine := admin.get(t, "/api/v1/query_range", q)
			_, _, theirs := real.get(t, "/api/v1/query_range", q)
			if normal(t, mine) != normal(t, theirs) {
				return fmt.Errorf("kstack: %s\nPrometheus: %s", mine, theirs)
			}
			if !strings.Contains(mine, `"values":[[`) {
				return fmt.Errorf("no values yet: %s", mine)
			}
			return nil
		})
		// An instant query of an aggregate, at the end of that window.
		at := fmt.Sprint(end.Unix())
		iq := url.Values{"query": {`sum by (cluster) (k8s_pod_cpu_core_used)`}, "time": {at}}
		framework.Eventually(t, time.Minute, "the same instant answer", func() error {
			_, _, mine := admin.get(t, "/api/v1/query", iq)
			_, _, theirs := real.get(t, "/api/v1/query", iq)
			if normal(t, mine) != normal(t, theirs) || !strings.Contains(mine, c1) {
				return fmt.Errorf("kstack: %s\nPrometheus: %s", mine, theirs)
			}
			return nil
		})
	})

	t.Run("bad input", func(t *testing.T) {
		code, a, body := admin.get(t, "/api/v1/query", url.Values{"query": {"sum(k8s_pod_cpu_core_used"}})
		if code != http.StatusBadRequest || a.ErrorType != "bad_data" || !strings.Contains(a.Error, "parse error") {
			t.Errorf("a query that does not parse: %d %s", code, body)
		}
		code, a, body = admin.get(t, "/api/v1/query_range", url.Values{"query": {"up"}, "start": {"0"}, "end": {fmt.Sprint(time.Now().Unix())}, "step": {"1"}})
		if code != http.StatusBadRequest || a.ErrorType != "bad_data" || !strings.Contains(a.Error, "11,000") {
			t.Errorf("too many points: %d %s", code, body)
		}
		code, a, body = admin.get(t, "/api/v1/query_range", url.Values{"query": {"up"}, "start": {"100"}, "end": {"50"}, "step": {"10"}})
		if code != http.StatusBadRequest || a.ErrorType != "bad_data" {
			t.Errorf("end before start: %d %s", code, body)
		}
	})

	t.Run("a failing member goes stale and says why; the others carry on", func(t *testing.T) {
		k.MustRun("local", "stop", "m2")
		status := p.ConsoleURL + "/monitor/apis/monitor.tkestack.io/v1/clusters/" + c2 + "/status"
		framework.Eventually(t, 2*time.Minute, "m2's collection status says why", func() error {
			code, body := framework.Do(t, hc, "GET", status, adminTok, "", "", "")
			var st struct {
				Enabled   bool
				LastError string
			}
			if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil || !st.Enabled || st.LastError == "" {
				return fmt.Errorf("%d %s", code, body)
			}
			return nil
		})
		framework.Eventually(t, time.Minute, "m2's series stale", func() error {
			if got := admin.query(t, `k8s_node_status_ready{cluster="`+c2+`"}`); len(got) != 0 {
				return fmt.Errorf("still %v", got)
			}
			return nil
		})
		before := admin.query(t, `timestamp(k8s_node_status_ready{cluster="`+c1+`"})`)
		framework.Eventually(t, time.Minute, "m1 still collected", func() error {
			after := admin.query(t, `timestamp(k8s_node_status_ready{cluster="`+c1+`"})`)
			if len(before) != 1 || len(after) != 1 || value(t, after[0]) <= value(t, before[0]) {
				return fmt.Errorf("before %v after %v", before, after)
			}
			return nil
		})
	})

	t.Run("monitoring off: collection stops", func(t *testing.T) {
		k.MustRun("cluster", "monitoring", c1, "off")
		framework.Eventually(t, time.Minute, "m1's series stale", func() error {
			if got := admin.query(t, `k8s_pod_cpu_core_used{cluster="`+c1+`"}`); len(got) != 0 {
				return fmt.Errorf("still %v", got)
			}
			return nil
		})
		// Kept data stays queryable over its time (it ages out with the
		// retention).
		if got := admin.query(t, `max_over_time(k8s_pod_cpu_core_used`+shopSel+`[5m])`); len(got) != 1 {
			t.Errorf("m1's kept samples: %v", got)
		}
	})
}

// within reports whether got is within 2% of want.
func within(got, want float64) bool { return math.Abs(got-want) <= 0.02*math.Abs(want) }

// normal is an answer decoded and printed with its series in a fixed
// order: the two servers may list a result's series in another order, but
// every field, label, timestamp and value must be the same.
func normal(t *testing.T, body string) string {
	t.Helper()
	var a struct {
		Status string         `json:"status"`
		Data   map[string]any `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		return "undecodable: " + body
	}
	if rs, ok := a.Data["result"].([]any); ok && a.Data["resultType"] != "scalar" {
		sort.Slice(rs, func(i, j int) bool { return fmt.Sprint(rs[i]) < fmt.Sprint(rs[j]) })
	}
	return fmt.Sprintf("%s %v", a.Status, a.Data)
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// keys lists the (cluster, namespace) pairs of series.
func keys(ss []sample) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Metric["cluster"]+"/"+s.Metric["namespace"])
	}
	sort.Strings(out)
	return out
}
