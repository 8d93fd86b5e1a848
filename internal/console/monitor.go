package console

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/inprocess"
)

// Monitoring: charts drawn in the browser (static/charts.js with the
// vendored uPlot) from the platform's Prometheus-shaped API. The console
// forwards the charts' queries to that API as the logged-in user, so a
// chart shows only what the API's scoping lets that user read.
const (
	monitorAPI = "/monitor/apis/monitor.tkestack.io/v1"
	promAPI    = monitorAPI + "/prometheus/api/v1"
	// maxQueryBytes bounds one forwarded answer (the API bounds its points).
	maxQueryBytes = 32 << 20
	// autoPoints is about how many points an automatic step gives a range.
	autoPoints = 240
)

func (s *Server) monitorRoutes(mux *http.ServeMux) {
	mux.Handle("GET /console/monitor/query_range", s.authed(s.queryRange))
	mux.Handle("GET /console/monitor/clusters/{cluster}/status", s.authed(s.monitorStatus))
	mux.Handle("POST /console/platform/clusters/{id}/monitoring", s.authed(s.setMonitoring))
	mux.Handle("GET /console/platform/clusters/{id}/nodes/{node}", s.authed(s.nodeDetail))
	mux.Handle("GET /console/business/{cluster}/{ns}/monitoring", s.authed(s.namespaceMonitoring))
}

// choice is one option of a select.
type choice struct {
	Value, Label string
	d            time.Duration
}

var monitorRanges = []choice{
	{"15m", "Last 15 minutes", 15 * time.Minute},
	{"1h", "Last hour", time.Hour},
	{"6h", "Last 6 hours", 6 * time.Hour},
	{"24h", "Last 24 hours", 24 * time.Hour},
	{"7d", "Last 7 days", 7 * 24 * time.Hour},
	{"custom", "Custom (UTC)", 0},
}

var monitorSteps = []choice{
	{"auto", "Auto", 0},
	{"15s", "15 seconds", 15 * time.Second},
	{"1m", "1 minute", time.Minute},
	{"5m", "5 minutes", 5 * time.Minute},
	{"1h", "1 hour", time.Hour},
}

// autoSteps are the steps an automatic step is rounded up to; the
// smallest is the collector's default interval.
var autoSteps = []time.Duration{15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// monitorRange is the charts' time range and step as the page's query
// gives them (range, step, start, end), so that a link keeps them.
type monitorRange struct {
	Range, Step, Start, End string
	// Errors are the fields' errors, by parameter name.
	Errors map[string]string
	Ranges []choice
	Steps  []choice
}

// readMonitorRange reads the range from a query; a missing range is the
// last hour with an automatic step.
func readMonitorRange(q url.Values) monitorRange {
	m := monitorRange{Range: q.Get("range"), Step: q.Get("step"), Start: strings.TrimSpace(q.Get("start")), End: strings.TrimSpace(q.Get("end")),
		Errors: map[string]string{}, Ranges: monitorRanges, Steps: monitorSteps}
	if m.Range == "" {
		m.Range = "1h"
	}
	if m.Step == "" {
		m.Step = "auto"
	}
	if findChoice(monitorRanges, m.Range) == nil {
		m.Errors["range"] = "choose one of the ranges"
	}
	if findChoice(monitorSteps, m.Step) == nil {
		m.Errors["step"] = "choose one of the steps"
	}
	if m.Range == "custom" {
		if m.Start == "" {
			m.Errors["start"] = "give the start of a custom range"
		}
		for _, f := range []struct{ name, val string }{{"start", m.Start}, {"end", m.End}} {
			if f.val == "" {
				continue
			}
			if _, ok := parseCustomTime(f.val); !ok {
				m.Errors[f.name] = fmt.Sprintf("%q is not a time: use 2026-01-02T10:00 (UTC) or RFC 3339", f.val)
			}
		}
	}
	return m
}

func findChoice(cs []choice, v string) *choice {
	for i := range cs {
		if cs[i].Value == v {
			return &cs[i]
		}
	}
	return nil
}

// resolve is the range as the API takes it at now: start is a multiple
// of the step, so that the queries of one chart give the same times.
func (m monitorRange) resolve(now time.Time) (start, end time.Time, step time.Duration, err error) {
	if len(m.Errors) > 0 {
		var msgs []string
		for _, k := range []string{"range", "step", "start", "end"} {
			if e := m.Errors[k]; e != "" {
				msgs = append(msgs, k+": "+e)
			}
		}
		return start, end, 0, fmt.Errorf("%s", strings.Join(msgs, "; "))
	}
	end = now
	if m.Range == "custom" {
		start, _ = parseCustomTime(m.Start)
		if m.End != "" {
			end, _ = parseCustomTime(m.End)
		}
		if !end.After(start) {
			return start, end, 0, fmt.Errorf("end: the end of the range must be after its start")
		}
	} else {
		start = end.Add(-findChoice(monitorRanges, m.Range).d)
	}
	step = findChoice(monitorSteps, m.Step).d
	if step == 0 {
		step = autoStep(end.Sub(start))
	}
	s := step.Milliseconds() / 1000
	start = time.Unix(start.Unix()-start.Unix()%s, 0)
	return start.UTC(), end.UTC(), step, nil
}

// autoStep is the smallest of autoSteps that draws d in about autoPoints.
func autoStep(d time.Duration) time.Duration {
	for _, s := range autoSteps {
		if d/s <= autoPoints {
			return s
		}
	}
	return autoSteps[len(autoSteps)-1]
}

// params are the range as the page's query (and the charts' requests).
func (m monitorRange) params() url.Values {
	v := url.Values{"range": {m.Range}, "step": {m.Step}}
	if m.Range == "custom" {
		v.Set("start", m.Start)
		if m.End != "" {
			v.Set("end", m.End)
		}
	}
	return v
}

// chart is one chart: its series' queries, drawn by static/charts.js.
type chart struct {
	// ID is the chart's data-chart: stable, for tests and the e2e.
	ID, Title string
	// Unit formats the values: cores, bytes, Bps, percent or count.
	Unit string
	// Cluster, when set, is the cluster whose collection status explains
	// an empty chart.
	Cluster string
	Series  []chartSeries
}

// chartSeries is one query of a chart; each series it answers is a line,
// named by Name and the labels that tell the chart's lines apart.
type chartSeries struct{ Name, Query string }

// monitorView is a page's monitoring section: the range picker and charts.
type monitorView struct {
	Range monitorRange
	// Action is the page the picker reloads; Keep are its other query
	// parameters (the tab), kept as hidden fields.
	Action string
	Keep   [][2]string
	Charts []chart
	// Cluster is the cluster whose failing collection the section says
	// (empty on pages of several clusters).
	Cluster string
}

// monitorView is the monitoring section of the page at action.
func (r *request) monitorView(action string, keep [][2]string, cluster string, charts []chart) *monitorView {
	return &monitorView{Range: readMonitorRange(r.URL.Query()), Action: action, Keep: keep, Charts: charts, Cluster: cluster}
}

// selector is metric{k="v",...} with the labels in the order given; the
// values are quoted as PromQL's (Go's) string literals.
func selector(metric string, kv ...string) string {
	var b strings.Builder
	b.WriteString(metric)
	if len(kv) == 0 {
		return metric
	}
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i] + "=" + strconv.Quote(kv[i+1]))
	}
	b.WriteByte('}')
	return b.String()
}

func clusterCharts(cl string) []chart {
	c := []string{"cluster", cl}
	return []chart{
		{ID: "cluster-cpu", Title: "CPU used and total", Unit: "cores", Cluster: cl, Series: []chartSeries{
			{"used", selector("k8s_cluster_cpu_core_used", c...)}, {"total", selector("k8s_cluster_cpu_core_total", c...)}}},
		{ID: "cluster-memory", Title: "Memory used and total", Unit: "bytes", Cluster: cl, Series: []chartSeries{
			{"working set", selector("k8s_cluster_mem_no_cache_bytes", c...)}, {"with cache", selector("k8s_cluster_mem_usage_bytes", c...)}, {"total", selector("k8s_cluster_mem_total_bytes", c...)}}},
		{ID: "cluster-usage", Title: "Usage of the cluster's capacity", Unit: "percent", Cluster: cl, Series: []chartSeries{
			{"CPU", selector("k8s_cluster_rate_cpu_core_used_cluster", c...)}, {"memory", selector("k8s_cluster_rate_mem_no_cache_bytes_cluster", c...)}}},
		{ID: "cluster-pods", Title: "Pods", Unit: "count", Cluster: cl, Series: []chartSeries{{"pods", selector("k8s_cluster_pod_total", c...)}}},
		{ID: "cluster-nodes", Title: "Nodes ready and total", Unit: "count", Cluster: cl, Series: []chartSeries{
			{"ready", "sum(" + selector("k8s_node_status_ready", c...) + ")"}, {"total", selector("k8s_cluster_node_total", c...)}}},
		{ID: "cluster-node-cpu", Title: "CPU usage by node", Unit: "percent", Cluster: cl, Series: []chartSeries{{"", selector("k8s_node_cpu_usage", c...)}}},
		{ID: "cluster-node-memory", Title: "Memory usage by node", Unit: "percent", Cluster: cl, Series: []chartSeries{{"", selector("k8s_node_rate_mem_no_cache", c...)}}},
	}
}

func nodeCharts(cl, node string) []chart {
	n := []string{"cluster", cl, "node", node}
	return []chart{
		{ID: "node-cpu", Title: "CPU used", Unit: "cores", Cluster: cl, Series: []chartSeries{{"used", selector("k8s_node_cpu_core_used", n...)}}},
		{ID: "node-memory", Title: "Memory used", Unit: "bytes", Cluster: cl, Series: []chartSeries{{"working set", selector("k8s_node_mem_no_cache_bytes", n...)}, {"with cache", selector("k8s_node_mem_usage_bytes", n...)}}},
		{ID: "node-usage", Title: "Usage of the node's capacity", Unit: "percent", Cluster: cl, Series: []chartSeries{
			{"CPU", selector("k8s_node_cpu_usage", n...)}, {"memory", selector("k8s_node_rate_mem_no_cache", n...)}}},
		{ID: "node-pods", Title: "Pods", Unit: "count", Cluster: cl, Series: []chartSeries{{"pods", selector("k8s_node_pod_num", n...)}}},
		{ID: "node-ready", Title: "Ready (1) or not (0)", Unit: "count", Cluster: cl, Series: []chartSeries{{"ready", selector("k8s_node_status_ready", n...)}}},
	}
}

// projectCharts are a project's usage against its quota, per cluster.
func projectCharts(project string, clusters []string) []chart {
	var out []chart
	for _, cl := range clusters {
		p := []string{"cluster", cl, "project", project}
		out = append(out,
			chart{ID: "project-cpu", Title: "CPU in " + cl + ": used and quota", Unit: "cores", Cluster: cl, Series: []chartSeries{
				{"used", selector("project_cpu_core_used", p...)}, {"quota", selector("project_cpu_quota", p...)}}},
			chart{ID: "project-memory", Title: "Memory in " + cl + ": used and quota", Unit: "bytes", Cluster: cl, Series: []chartSeries{
				{"used", selector("project_mem_no_cache_bytes", p...)}, {"quota", selector("project_mem_quota", p...)}}})
	}
	return out
}

// namespaceCharts: the namespace's total and each workload's line.
func namespaceCharts(cl, ns string) []chart {
	n := []string{"cluster", cl, "namespace", ns}
	return []chart{
		{ID: "namespace-cpu", Title: "CPU used", Unit: "cores", Cluster: cl, Series: []chartSeries{
			{"total", "sum(" + selector("k8s_pod_cpu_core_used", n...) + ")"}, {"", selector("k8s_workload_cpu_core_used", n...)}}},
		{ID: "namespace-memory", Title: "Memory used (working set)", Unit: "bytes", Cluster: cl, Series: []chartSeries{
			{"total", "sum(" + selector("k8s_pod_mem_no_cache_bytes", n...) + ")"}, {"", selector("k8s_workload_mem_no_cache_bytes", n...)}}},
		{ID: "namespace-pods", Title: "Pods by workload", Unit: "count", Cluster: cl, Series: []chartSeries{{"", selector("k8s_workload_pod_total", n...)}}},
		{ID: "namespace-restarts", Title: "Container restarts by workload", Unit: "count", Cluster: cl, Series: []chartSeries{{"", selector("k8s_workload_pod_restart_total", n...)}}},
		{ID: "namespace-network", Title: "Network", Unit: "Bps", Cluster: cl, Series: []chartSeries{
			{"received", "sum(" + selector("k8s_pod_network_receive_bytes_bw", n...) + ")"}, {"sent", "sum(" + selector("k8s_pod_network_transmit_bytes_bw", n...) + ")"}}},
	}
}

// monitoredWorkloads are the kinds the collector counts pods to
// (workload_kind is the Kind; a CronJob's Jobs' pods count to the CronJob).
var monitoredWorkloads = map[string]bool{"deployments": true, "statefulsets": true, "daemonsets": true, "jobs": true, "cronjobs": true}

func workloadCharts(cl, ns, kind, name string) []chart {
	w := []string{"cluster", cl, "namespace", ns, "workload_kind", kind, "workload_name", name}
	return []chart{
		{ID: "workload-cpu", Title: "CPU used", Unit: "cores", Cluster: cl, Series: []chartSeries{{"used", selector("k8s_workload_cpu_core_used", w...)}}},
		{ID: "workload-memory", Title: "Memory used (working set)", Unit: "bytes", Cluster: cl, Series: []chartSeries{{"working set", selector("k8s_workload_mem_no_cache_bytes", w...)}}},
		{ID: "workload-pods", Title: "Pods", Unit: "count", Cluster: cl, Series: []chartSeries{{"pods", selector("k8s_workload_pod_total", w...)}}},
		{ID: "workload-restarts", Title: "Container restarts", Unit: "count", Cluster: cl, Series: []chartSeries{{"restarts", selector("k8s_workload_pod_restart_total", w...)}}},
	}
}

// podCharts: the pod's own, then its containers' (a line each).
func podCharts(cl, ns, pod string) []chart {
	p := []string{"cluster", cl, "namespace", ns, "pod", pod}
	return []chart{
		{ID: "pod-cpu", Title: "CPU used", Unit: "cores", Cluster: cl, Series: []chartSeries{{"used", selector("k8s_pod_cpu_core_used", p...)}}},
		// Usage with cache may be absent; the chart then says so for it.
		{ID: "pod-memory", Title: "Memory used", Unit: "bytes", Cluster: cl, Series: []chartSeries{
			{"working set", selector("k8s_pod_mem_no_cache_bytes", p...)}, {"with cache", selector("k8s_pod_mem_usage_bytes", p...)}}},
		{ID: "pod-network", Title: "Network", Unit: "Bps", Cluster: cl, Series: []chartSeries{
			{"received", selector("k8s_pod_network_receive_bytes_bw", p...)}, {"sent", selector("k8s_pod_network_transmit_bytes_bw", p...)}}},
		{ID: "pod-restarts", Title: "Container restarts", Unit: "count", Cluster: cl, Series: []chartSeries{{"restarts", selector("k8s_pod_restart_total", p...)}}},
		{ID: "pod-ready", Title: "Ready (1) or not (0)", Unit: "count", Cluster: cl, Series: []chartSeries{{"ready", selector("k8s_pod_status_ready", p...)}}},
		{ID: "container-cpu", Title: "CPU used by container", Unit: "cores", Cluster: cl, Series: []chartSeries{{"", selector("k8s_container_cpu_core_used", p...)}}},
		{ID: "container-memory", Title: "Memory used by container (working set)", Unit: "bytes", Cluster: cl, Series: []chartSeries{{"", selector("k8s_container_mem_no_cache_bytes", p...)}}},
	}
}

// fleetCharts: every cluster the user may see, summed; and each cluster's
// share of its capacity.
func fleetCharts() []chart {
	return []chart{
		{ID: "fleet-cpu", Title: "CPU used and total", Unit: "cores", Series: []chartSeries{
			{"used", "sum(k8s_cluster_cpu_core_used)"}, {"total", "sum(k8s_cluster_cpu_core_total)"}}},
		{ID: "fleet-memory", Title: "Memory used and total", Unit: "bytes", Series: []chartSeries{
			{"used", "sum(k8s_cluster_mem_no_cache_bytes)"}, {"total", "sum(k8s_cluster_mem_total_bytes)"}}},
		{ID: "fleet-pods", Title: "Pods", Unit: "count", Series: []chartSeries{{"pods", "sum(k8s_cluster_pod_total)"}}},
		{ID: "fleet-cluster-cpu", Title: "CPU usage by cluster", Unit: "percent", Series: []chartSeries{{"", "k8s_cluster_rate_cpu_core_used_cluster"}}},
		{ID: "fleet-cluster-memory", Title: "Memory usage by cluster", Unit: "percent", Series: []chartSeries{{"", "k8s_cluster_rate_mem_no_cache_bytes_cluster"}}},
	}
}

// promError answers as the Prometheus API does, so that charts.js reads
// one shape of error.
func promError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "bad_data", "error": msg})
}

// queryRange forwards one chart query to the Prometheus API's query_range
// as the user, with the page's range (range, step, start, end) resolved
// here. The range used is in the answer's X-Monitor-Start, -End and -Step
// (Unix seconds), so that the chart spans all of it, gaps included.
func (s *Server) queryRange(w http.ResponseWriter, r *request) {
	q := r.URL.Query()
	query := strings.TrimSpace(q.Get("query"))
	if query == "" {
		promError(w, http.StatusBadRequest, "query: give a PromQL expression")
		return
	}
	if !q.Has("range") {
		promError(w, http.StatusBadRequest, "range: give the range (15m, 1h, 6h, 24h, 7d, or custom with start and end)")
		return
	}
	start, end, step, err := readMonitorRange(q).resolve(time.Now())
	if err != nil {
		promError(w, http.StatusBadRequest, err.Error())
		return
	}
	api := url.Values{"query": {query}, "start": {unix(start)}, "end": {unix(end)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	h := w.Header()
	h.Set("X-Monitor-Start", unix(start))
	h.Set("X-Monitor-End", unix(end))
	h.Set("X-Monitor-Step", strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
	r.forward(w, promAPI+"/query_range?"+api.Encode())
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// monitorStatus forwards a cluster's collection status (why its charts are
// empty or stale) as the user.
func (s *Server) monitorStatus(w http.ResponseWriter, r *request) {
	r.forward(w, monitorAPI+"/clusters/"+url.PathEscape(r.PathValue("cluster"))+"/status")
}

// forward GETs path from the platform's API as the user and copies the
// answer: its status, type and body.
func (r *request) forward(w http.ResponseWriter, path string) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, inprocess.Host+path, nil)
	if err != nil {
		promError(w, http.StatusBadRequest, err.Error())
		return
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.transport().RoundTrip(req)
	if err != nil {
		promError(w, http.StatusBadGateway, err.Error())
		return
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, maxQueryBytes))
}

// collectionStatus is the API's collection status of one cluster.
type collectionStatus struct {
	Enabled     bool   `json:"enabled"`
	LastScrape  string `json:"lastScrape"`
	LastError   string `json:"lastError"`
	Nodes       int    `json:"nodes"`
	NodesFailed int    `json:"nodesFailed"`
	Series      int    `json:"series"`
}

// clusterMonitor is the cluster page's Monitoring tab.
type clusterMonitor struct {
	// On is the cluster's switch; CanToggle: the user may flip it.
	On, CanToggle bool
	// Status says how collection goes; Failing marks it as a problem.
	Status  string
	Failing bool
	View    *monitorView
}

// clusterMonitoring reads the cluster's collection status as the user and
// says it in a sentence.
func (r *request) clusterMonitoring(cls *platformv1.Cluster) *clusterMonitor {
	id := cls.Name
	m := &clusterMonitor{On: cls.Spec.Features.Monitoring, CanToggle: r.can("", "patchCluster", "cluster:"+id),
		// The tab says the status itself: no status line from charts.js.
		View: r.monitorView(Prefix+"/platform/clusters/"+url.PathEscape(id), [][2]string{{"tab", "monitoring"}}, "", clusterCharts(id))}
	if !m.On {
		m.Status = "Monitoring is off: the platform collects no metrics of this cluster. The charts show what was kept while it was on, until it ages out."
		return m
	}
	code, body := r.call(http.MethodGet, monitorAPI+"/clusters/"+url.PathEscape(id)+"/status", nil)
	if code != http.StatusOK {
		m.Status, m.Failing = "Monitoring is on, but its status could not be read: "+statusMessage(code, body), true
		return m
	}
	var st collectionStatus
	if err := json.Unmarshal(body, &st); err != nil {
		m.Status, m.Failing = "Monitoring is on, but its status could not be read: "+err.Error(), true
		return m
	}
	m.Status, m.Failing = describeCollection(st, time.Now())
	return m
}

// describeCollection says how a monitored cluster's collection goes.
func describeCollection(st collectionStatus, now time.Time) (string, bool) {
	last := "never"
	if t, err := time.Parse(time.RFC3339, st.LastScrape); err == nil && t.Year() > 1 {
		last = age(now.Sub(t)) + " ago"
	}
	switch {
	case st.LastError != "":
		return fmt.Sprintf("Collection is failing: %s. Last collected: %s; %d of %d nodes failed. The charts stop where collection stopped.",
			strings.TrimSuffix(st.LastError, "."), last, st.NodesFailed, st.Nodes), true
	case last == "never":
		return "Monitoring is on; the first collection has not finished yet.", false
	case st.NodesFailed > 0:
		return fmt.Sprintf("Monitoring is on. Last collected %s: %d series from %d nodes, of which %d failed.", last, st.Series, st.Nodes, st.NodesFailed), true
	}
	return fmt.Sprintf("Monitoring is on. Last collected %s: %d series from %d nodes.", last, st.Series, st.Nodes), false
}

// setMonitoring switches a cluster's monitoring through the platform's API
// as the user, which decides whether they may (as event persistence's).
func (s *Server) setMonitoring(w http.ResponseWriter, r *request) {
	id := r.PathValue("id")
	on := r.PostFormValue("enable") == "true"
	c, err := r.platform()
	if err != nil {
		r.fail(w, err)
		return
	}
	// false is sent as such: the field is omitempty in Go.
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"features": map[string]any{"monitoring": on}}})
	cls := &platformv1.Cluster{}
	cls.Name = id
	if err := c.Patch(r.Context(), cls, client.RawPatch(types.MergePatchType, patch)); err != nil {
		r.fail(w, err)
		return
	}
	done := "Monitoring is off: the platform collects no new metrics of " + id + "; what it kept ages out"
	if on {
		done = "Monitoring is on: the platform collects the metrics of " + id + " from now on"
	}
	s.Log.Info("console monitoring", "cluster", id, "on", on, "by", r.user.Name())
	redirect(w, r.Request, Prefix+"/platform/clusters/"+url.PathEscape(id)+"?tab=monitoring&notice="+url.QueryEscape(done))
}

// nodeDetailData is a node's page: what the cluster's nodes tab shows of
// it, and its charts.
type nodeDetailData struct {
	Cluster string
	Node    nodeRow
	Monitor *monitorView
}

func (s *Server) nodeDetail(w http.ResponseWriter, r *request) {
	id, name := r.PathValue("id"), r.PathValue("node")
	cs, err := r.member(id)
	if err != nil {
		r.fail(w, err)
		return
	}
	ctx, cancel := r.timeout()
	defer cancel()
	n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		r.fail(w, err)
		return
	}
	d := nodeDetailData{Cluster: id, Node: nodeRowOf(n),
		Monitor: r.monitorView(Prefix+"/platform/clusters/"+url.PathEscape(id)+"/nodes/"+url.PathEscape(name), nil, id, nodeCharts(id, name))}
	r.page(w, "node", "platform", "Node "+name, d, crumb{"Clusters", Prefix + "/platform/clusters"}, crumb{id, Prefix + "/platform/clusters/" + url.PathEscape(id)})
}

// nsMonitorData is a namespace's Monitoring tab.
type nsMonitorData struct {
	NS      nsView
	Monitor *monitorView
}

func (s *Server) namespaceMonitoring(w http.ResponseWriter, r *request) {
	d := nsMonitorData{NS: r.nsView("monitoring")}
	d.Monitor = r.monitorView(d.NS.Base+"/monitoring", nil, d.NS.Cluster, namespaceCharts(d.NS.Cluster, d.NS.Namespace))
	r.page(w, "nsmonitor", "business", "Monitoring of "+d.NS.Namespace, d, r.crumbs()...)
}
