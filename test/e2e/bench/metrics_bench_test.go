package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"

	"github.com/kstack/kstack/internal/metricstore"
	"github.com/kstack/kstack/internal/promapi"
	"github.com/kstack/kstack/internal/remotewrite"
	"github.com/kstack/kstack/internal/testutil/promtest"
)

// BenchmarkMetricStore feeds kstack's embedded TSDB and Debian's Prometheus
// the same synthetic fleet, side by side: 100 clusters, KSTACK_BENCH_SERIES
// (100,000) active series named and labelled as the collector writes them,
// one sample every 15 s for KSTACK_BENCH_ROUNDS (245, just over an hour)
// rounds in the last 3 hours. It prints the ingestion rate (kstack: in-process
// Appender/Commit, one per cluster per round, as the collector writes;
// Prometheus: remote-write 1.0 over loopback HTTP, snappy+protobuf, in
// KSTACK_BENCH_RW_SHARDS (4) in-order shards of remotewrite.DefaultBatchSize
// samples), the memory the stores hold per 100,000 active series, and
// p50/p95 latency of one-hour range queries over all 100 clusters, asked
// KSTACK_BENCH_QUERIES (30) times of each over HTTP.
// It needs no kstack binary, only Debian's prometheus (hack/install-deps.sh test).
func BenchmarkMetricStore(b *testing.B) {
	if os.Getenv("KSTACK_BENCH") == "" {
		b.Skip("set KSTACK_BENCH=1 (make bench): this ingests 24 million samples twice")
	}
	nSeries := envInt("KSTACK_BENCH_SERIES", 100_000)
	rounds := envInt("KSTACK_BENCH_ROUNDS", 245)
	nQueries := envInt("KSTACK_BENCH_QUERIES", 30)
	shards := envInt("KSTACK_BENCH_RW_SHARDS", 4)
	ctx := context.Background()

	f := newFleet(nSeries)
	total := int64(f.series) * int64(rounds)
	// The rounds start on the TSDB's 2 h block grid, the latest start that
	// still ends before now (so samples are 1 to 3 h old). A head chunk's end
	// is planned from the time left in its block, so where the hour falls in
	// the block decides how full each series' open chunk is at the end, and
	// with it the memory measured; on the grid both heads cut chunks of 120
	// samples (30 min), and 245 rounds end with 5 samples in the open chunk. An empty
	// head takes samples of any age; after that it refuses those older than
	// its newest sample minus 1 h (checked at the end), so both are fed in
	// time order per series.
	span := int64(rounds-1) * metricStep.Milliseconds()
	const blockMs = int64(2 * time.Hour / time.Millisecond)
	t0 := (time.Now().UnixMilli() - span) / blockMs * blockMs
	ts := func(r int) int64 { return t0 + int64(r)*metricStep.Milliseconds() }
	fmt.Printf("metric store bench: %s; %d CPUs, GOMAXPROCS %d; load average %s\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), loadAvg())
	fmt.Printf("fleet: %d clusters x %d nodes x %d pods (%d namespaces, %d workloads per cluster), %d series per pod = %d active series;\n"+
		"       %d rounds at 15 s (%s .. %s) = %d samples per store\n",
		f.clusters, f.nodes, f.pods, f.namespaces, f.workloads, seriesPerPod, f.series, rounds,
		time.UnixMilli(ts(0)).UTC().Format("15:04:05"), time.UnixMilli(ts(rounds-1)).UTC().Format("15:04:05 UTC"), total)

	// ---- kstack: the embedded TSDB, appended to in process. ----
	dir := b.TempDir()
	st, err := metricstore.Open(metricstore.Options{Dir: filepath.Join(dir, "metrics")})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ks := &storeResult{}
	workers := runtime.GOMAXPROCS(0)
	vals := f.newValues()
	ks.before = selfMemory()
	cpu0 := selfCPU()
	start := time.Now()
	var appendErr atomic.Value
	for r := range rounds {
		t := ts(r)
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var sb labels.ScratchBuilder
				for c := int(next.Add(1) - 1); c < f.clusters; c = int(next.Add(1) - 1) {
					// One Appender and one Commit per cluster per round, labels
					// built afresh each round, as the collector's write does.
					app := st.Appender(ctx)
					for i := c * f.perCluster; i < (c+1)*f.perCluster; i++ {
						l := f.labels(&sb, i)
						if _, err := app.Append(0, l, t, vals.next(i, r)); err != nil {
							appendErr.Store(fmt.Errorf("append %s: %w", l, err))
						}
					}
					if err := app.Commit(); err != nil {
						appendErr.Store(fmt.Errorf("commit: %w", err))
					}
				}
			}()
		}
		wg.Wait()
		if err, _ := appendErr.Load().(error); err != nil {
			b.Fatal(err)
		}
	}
	ks.wall = time.Since(start)
	ks.cpu = selfCPU() - cpu0
	// The TSDB (since Prometheus 2.45) keeps a head chunk that is full in
	// memory until its once-a-minute job memory-maps it; Prometheus 2.42
	// maps it when it is cut. An hour of 15 s samples fed in a minute or two
	// cuts a chunk for every series at its end, which a live collector does
	// for 1/30 of them at a time: wait (at most a minute) for that job.
	ingestEnd := time.Now()
	ks.after = selfMemory()
	ks.unsettled = ks.after
	for time.Since(ingestEnd) < 65*time.Second {
		time.Sleep(5 * time.Second)
		ks.after = selfMemory()
		if float64(ks.after.heap-ks.before.heap) < 0.85*float64(ks.unsettled.heap-ks.before.heap) {
			break
		}
	}
	ks.settle = time.Since(ingestEnd)
	// What the process keeps once its runtime gives back all free memory:
	// the store's share of RSS without the runtime's headroom (Prometheus
	// has no handle for this, so kstack only).
	debug.FreeOSMemory()
	ks.released, _ = procStatus("self")
	if got := st.HeadSeries(); got != uint64(f.series) {
		b.Fatalf("kstack: %d series in the head, want %d", got, f.series)
	}
	ks.load = loadAvg()
	fmt.Printf("kstack: %d samples appended in %.1f s; load average now %s\n", total, ks.wall.Seconds(), ks.load)

	// ---- Prometheus: remote-write to Debian's binary. ----
	promURL := promtest.Start(b)
	pid := pidListeningOn(b, promURL)
	pr := &storeResult{}
	promLabels := f.promLabels()
	vals = f.newValues()
	pr.before = promMemory(b, promURL, pid)
	m0 := promMetrics(b, promURL)
	appended0 := m0["prometheus_tsdb_head_samples_appended_total"]
	cpu0 = selfCPU()
	start = time.Now()
	sendErr := remoteWriteAll(promURL+"/api/v1/write", f, promLabels, vals, rounds, ts, shards)
	if sendErr != nil {
		b.Fatal(sendErr)
	}
	// The receiver answers once it has appended; wait for the counter anyway.
	var appended float64
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		appended = promMetrics(b, promURL)["prometheus_tsdb_head_samples_appended_total"] - appended0
		if appended >= float64(total) || time.Now().After(deadline) {
			break
		}
	}
	pr.wall = time.Since(start)
	senderCPU := selfCPU() - cpu0
	if appended != float64(total) {
		b.Fatalf("prometheus: %.0f samples appended, want %d", appended, total)
	}
	m1 := promMetrics(b, promURL)
	pr.cpu = time.Duration((m1["process_cpu_seconds_total"] - m0["process_cpu_seconds_total"]) * float64(time.Second))
	if got := m1["prometheus_tsdb_head_series"]; got != float64(f.series) {
		b.Fatalf("prometheus: %.0f series in the head, want %d", got, f.series)
	}
	// The same time after ingest as kstack had, so that both Go runtimes
	// have returned (or not) as much freed memory to the system.
	pr.unsettled = promMemory(b, promURL, pid)
	time.Sleep(ks.settle - time.Since(start.Add(pr.wall)))
	pr.after = promMemory(b, promURL, pid)
	pr.settle = time.Since(start.Add(pr.wall))
	version, goVersion := "?", "?"
	info := promMetricsText(b, promURL)
	if m := regexp.MustCompile(`prometheus_build_info\{.*[{,]version="([^"]*)"`).FindStringSubmatch(info); m != nil {
		version = m[1]
	}
	if m := regexp.MustCompile(`prometheus_build_info\{.*goversion="([^"]*)"`).FindStringSubmatch(info); m != nil {
		goVersion = m[1]
	}
	pr.load = loadAvg()
	fmt.Printf("prometheus %s: %d samples remote-written and appended in %.1f s; load average now %s\n", version, total, pr.wall.Seconds(), pr.load)

	// ---- Queries, both over HTTP. ----
	api := &promapi.API{Store: st}
	serve := func(sc *metricstore.Scope) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.Serve(w, r, r.URL.Path, sc) }))
	}
	ksAll := serve(&metricstore.Scope{All: true})
	defer ksAll.Close()
	tenScope := &metricstore.Scope{Clusters: map[string]bool{}}
	var ten []string
	for _, c := range f.clusterNames[:10] {
		tenScope.Clusters[c] = true
		ten = append(ten, c)
	}
	ksTen := serve(tenScope)
	defer ksTen.Close()

	q1 := "sum by (cluster) (k8s_pod_cpu_core_used)"
	q2 := "topk(10, sum by (cluster, namespace) (k8s_container_mem_no_cache_bytes))"
	q1ten := fmt.Sprintf(`sum by (cluster) (k8s_pod_cpu_core_used{cluster=~"%s"})`, strings.Join(ten, "|"))
	type probe struct {
		row, base, query string
		lat              []time.Duration
		body             []byte
	}
	probes := []*probe{
		{row: "A kstack", base: ksAll.URL, query: q1},
		{row: "A prometheus", base: promURL, query: q1},
		{row: "B kstack", base: ksAll.URL, query: q2},
		{row: "B prometheus", base: promURL, query: q2},
		{row: "C kstack scope", base: ksTen.URL, query: q1},
		{row: "C kstack matcher", base: ksAll.URL, query: q1ten},
		{row: "C prometheus", base: promURL, query: q1ten},
	}
	qEnd := time.UnixMilli(ts(rounds - 1))
	form := func(q string) string {
		return url.Values{"query": {q}, "start": {strconv.FormatInt(qEnd.Add(-time.Hour).Unix(), 10)},
			"end": {strconv.FormatInt(qEnd.Unix(), 10)}, "step": {"60"}}.Encode()
	}
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	ask := func(p *probe) (time.Duration, []byte) {
		t0 := time.Now()
		resp, err := hc.Get(p.base + "/api/v1/query_range?" + form(p.query))
		if err != nil {
			b.Fatalf("%s: %v", p.row, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(t0)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%s: %s %v: %.300s", p.row, resp.Status, err, body)
		}
		return took, body
	}
	for _, p := range probes { // warm up: one untimed answer each
		_, p.body = ask(p)
	}
	for range nQueries {
		for _, p := range probes {
			took, _ := ask(p)
			p.lat = append(p.lat, took)
		}
	}
	// The same data went in: the answers must agree.
	agree := func(x, y *probe, wantSeries int) string {
		n, err := sameMatrix(x.body, y.body)
		if err != nil {
			b.Errorf("%s and %s answer differently: %v", x.row, y.row, err)
			return "DIFFER: " + err.Error()
		}
		if wantSeries >= 0 && n.series != wantSeries {
			b.Errorf("%s: %d series, want %d", x.row, n.series, wantSeries)
		}
		return fmt.Sprintf("%d series x %d points, equal", n.series, n.points/max(n.series, 1))
	}
	agreeA := agree(probes[0], probes[1], f.clusters)
	agreeB := agree(probes[2], probes[3], -1) // topk picks per step: 10 or more series
	agreeC := agree(probes[4], probes[6], len(ten))
	if s := agree(probes[5], probes[6], len(ten)); !strings.HasSuffix(s, "equal") {
		agreeC = s
	}

	qLoad := loadAvg()

	// The head's window: the oldest timestamp fed, accepted while the heads
	// were filling in time order, is refused now that the newest sample is
	// over an hour later (both heads take [newest - 1 h, ...)).
	probeL := labels.FromStrings(labels.MetricName, "bench_window_probe", "cluster", f.clusterNames[0])
	app := st.Appender(ctx)
	_, kWindow := app.Append(0, probeL, ts(0), 1)
	app.Rollback()
	var raw, body []byte
	pWindow := postWrite(http.DefaultClient, promURL+"/api/v1/write", &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: prompb.FromLabels(probeL, nil), Samples: []prompb.Sample{{Timestamp: ts(0), Value: 1}}}}}, &raw, &body)

	// ---- The table. ----
	per := func(d int64) float64 { return float64(d) / (1 << 20) * 100_000 / float64(f.series) }
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	fmt.Printf("\nmetric store: %d clusters, %d active series, %d samples each, %d CPUs\n", f.clusters, f.series, total, runtime.NumCPU())
	fmt.Printf("  %-48s %26s %26s\n", "", "kstack (embedded TSDB)", "Prometheus "+version+" (Debian)")
	fmt.Printf("  %-48s %26s %26s\n", "", runtime.Version(), goVersion)
	fmt.Printf("  ingest path                                       %26s %26s\n", "Appender/Commit in process", "remote-write 1.0, HTTP")
	fmt.Printf("  ingest wall time                                  %24.1f s %24.1f s\n", ks.wall.Seconds(), pr.wall.Seconds())
	fmt.Printf("  ingest rate, wall clock                           %18.0f samples/s %18.0f samples/s\n",
		float64(total)/ks.wall.Seconds(), float64(total)/pr.wall.Seconds())
	fmt.Printf("  load average (1, 5, 15 min) after ingest          %26s %26s\n", ks.load, pr.load)
	fmt.Printf("  CPU of the ingesting process                      %24.1f s %24.1f s\n", ks.cpu.Seconds(), pr.cpu.Seconds())
	fmt.Printf("  ingest rate per CPU-second of that process        %18.0f samples/s %18.0f samples/s\n",
		float64(total)/ks.cpu.Seconds(), float64(total)/pr.cpu.Seconds())
	fmt.Printf("  CPU of the sender (bench: protobuf+snappy+HTTP)   %26s %24.1f s\n", "-", senderCPU.Seconds())
	fmt.Printf("  memory per 100,000 active series: %.0f s after ingest minus before it, after a forced GC in each process\n", ks.settle.Seconds())
	fmt.Printf("    Go heap in use (the like-for-like figure)       %22.1f MiB %22.1f MiB\n", per(ks.after.heap-ks.before.heap), per(pr.after.heap-pr.before.heap))
	fmt.Printf("    resident set (VmRSS, runtime headroom included) %22.1f MiB %22.1f MiB\n", per(ks.after.rss-ks.before.rss), per(pr.after.rss-pr.before.rss))
	fmt.Printf("      of it anonymous (RssAnon)                     %22.1f MiB %22.1f MiB\n", per(ks.after.anon-ks.before.anon), per(pr.after.anon-pr.before.anon))
	fmt.Printf("      of it file-backed (RssFile: mmapped chunks)   %22.1f MiB %22.1f MiB\n",
		per(ks.after.rss-ks.after.anon-ks.before.rss+ks.before.anon), per(pr.after.rss-pr.after.anon-pr.before.rss+pr.before.anon))
	fmt.Printf("    resident set once all free memory is returned   %22.1f MiB %26s\n", per(ks.released-ks.before.rss), "(no way to ask)")
	fmt.Printf("    Go heap in use right after ingest               %22.1f MiB %22.1f MiB\n", per(ks.unsettled.heap-ks.before.heap), per(pr.unsettled.heap-pr.before.heap))
	fmt.Printf("    resident set right after ingest                 %22.1f MiB %22.1f MiB\n", per(ks.unsettled.rss-ks.before.rss), per(pr.unsettled.rss-pr.before.rss))
	fmt.Printf("    (absolute: heap %.0f / RSS %.0f MiB for kstack's bench process; heap %.0f / RSS %.0f MiB for Prometheus)\n",
		float64(ks.after.heap)/(1<<20), float64(ks.after.rss)/(1<<20), float64(pr.after.heap)/(1<<20), float64(pr.after.rss)/(1<<20))
	fmt.Printf("  query_range over the last hour, step 60 s, over HTTP: ms p50 / p95 / max of %d (load average after: %s)\n", nQueries, qLoad)
	row := func(label string, a, c *probe) {
		fmt.Printf("    %-47s %10.1f /%6.1f /%6.1f %12.1f /%6.1f /%6.1f\n", label,
			ms(percentile(a.lat, .5)), ms(percentile(a.lat, .95)), ms(percentile(a.lat, 1)),
			ms(percentile(c.lat, .5)), ms(percentile(c.lat, .95)), ms(percentile(c.lat, 1)))
	}
	fmt.Printf("    A: %s  [%s]\n", q1, agreeA)
	row("   all clusters (kstack: All scope)", probes[0], probes[1])
	fmt.Printf("    B: %s  [%s]\n", q2, agreeB)
	row("   all clusters (kstack: All scope)", probes[2], probes[3])
	fmt.Printf("    C: A limited to %d clusters  [%s]\n", len(ten), agreeC)
	row("   kstack by scope (10 clusters) | Prom matcher", probes[4], probes[6])
	row("   kstack All + the same matcher | Prom matcher", probes[5], probes[6])

	fmt.Printf("  a new series' sample at the oldest fed time (%s), sent after the rest:\n    kstack: %v\n    prometheus: %v\n",
		time.UnixMilli(ts(0)).UTC().Format("15:04:05 UTC"), orAccepted(kWindow), orAccepted(pWindow))

	b.ReportMetric(float64(total)/ks.wall.Seconds(), "kstack-samples/s")
	b.ReportMetric(float64(total)/pr.wall.Seconds(), "prom-samples/s")
	b.ReportMetric(per(ks.after.heap-ks.before.heap), "kstack-heap-MiB/100k")
	b.ReportMetric(per(pr.after.heap-pr.before.heap), "prom-heap-MiB/100k")
	b.ReportMetric(ms(percentile(probes[0].lat, .95)), "kstack-A-p95-ms")
	b.ReportMetric(ms(percentile(probes[1].lat, .95)), "prom-A-p95-ms")
}

const (
	metricStep   = 15 * time.Second
	seriesPerPod = 10 // 4 pod series + 2 containers x 3
)

// fleet is the synthetic fleet: 100 clusters, each with the same shape;
// series i belongs to cluster i/perCluster, and to pod (i%perCluster)/10.
type fleet struct {
	clusters, nodes, namespaces, workloads, pods int
	perCluster, series                           int
	podName, podNS, podKind, podWl               []string // by pod within a cluster
	podNodeIdx                                   []int
	clusterNames, nodeNames                      []string // nodeNames[c*nodes+n]
}

var (
	podMetrics       = []string{"k8s_pod_cpu_core_used", "k8s_pod_mem_no_cache_bytes", "k8s_pod_mem_usage_bytes", "k8s_pod_network_receive_bytes_bw"}
	containerMetrics = []string{"k8s_container_cpu_core_used", "k8s_container_mem_no_cache_bytes", "k8s_container_mem_usage_bytes"}
	containerNames   = []string{"app", "istio-proxy"}
	podKinds         = []int{kindCPU, kindBytes, kindBytes, kindRate}
	containerKinds   = []int{kindCPU, kindBytes, kindBytes}
	workloadBases    = []string{"web", "api", "worker", "cache", "gateway", "auth", "billing", "search", "mailer", "report"}
)

func clusterName(c int) string { return fmt.Sprintf("cls-%03d", c) }

// newFleet spreads about n series over 100 clusters: pods of 2 containers,
// 10 pods per node, 5 pods per workload, 2 workloads per namespace.
func newFleet(n int) *fleet {
	f := &fleet{clusters: 100}
	f.pods = max(1, (n+f.clusters*seriesPerPod-1)/(f.clusters*seriesPerPod))
	f.nodes = max(1, f.pods/10)
	f.workloads = max(1, f.pods/5)
	f.namespaces = max(1, f.workloads/2)
	f.perCluster = f.pods * seriesPerPod
	f.series = f.perCluster * f.clusters
	for c := range f.clusters {
		f.clusterNames = append(f.clusterNames, clusterName(c))
		for n := range f.nodes {
			f.nodeNames = append(f.nodeNames, fmt.Sprintf("%s-node-%02d", clusterName(c), n))
		}
	}
	for p := range f.pods {
		w := p % f.workloads
		name := fmt.Sprintf("%s-%d", workloadBases[w%len(workloadBases)], w/len(workloadBases))
		kind := "Deployment"
		pod := fmt.Sprintf("%s-%08x-%05x", name, uint32(splitmix(uint64(w))), uint32(splitmix(uint64(p)))&0xfffff)
		if w%4 == 3 {
			kind = "StatefulSet"
			pod = fmt.Sprintf("%s-%d", name, p/f.workloads)
		}
		f.podName = append(f.podName, pod)
		f.podNodeIdx = append(f.podNodeIdx, p%f.nodes)
		f.podNS = append(f.podNS, fmt.Sprintf("team-%02d", w%f.namespaces))
		f.podKind = append(f.podKind, kind)
		f.podWl = append(f.podWl, name)
	}
	return f
}

// Kinds of value a series carries.
const (
	kindCPU   = iota // cores, from nanocores
	kindBytes        // memory, in pages
	kindRate         // bytes per second
)

// describe gives series i's metric name, cluster, pod index and container
// ("" for a pod series), and which kind of value it carries.
func (f *fleet) describe(i int) (metric string, cluster, pod int, container string, kind int) {
	cluster = i / f.perCluster
	j := i % f.perCluster
	pod, k := j/seriesPerPod, j%seriesPerPod
	if k < len(podMetrics) {
		return podMetrics[k], cluster, pod, "", podKinds[k]
	}
	k -= len(podMetrics)
	return containerMetrics[k%3], cluster, pod, containerNames[k/3], containerKinds[k%3]
}

// labels builds series i's labels afresh, as the collector's batch does.
func (f *fleet) labels(sb *labels.ScratchBuilder, i int) labels.Labels {
	metric, c, p, container, _ := f.describe(i)
	sb.Reset()
	sb.Add(labels.MetricName, metric)
	sb.Add("cluster", f.clusterNames[c])
	sb.Add("namespace", f.podNS[p])
	sb.Add("pod", f.podName[p])
	sb.Add("node", f.nodeNames[c*f.nodes+f.podNodeIdx[p]])
	sb.Add("workload_kind", f.podKind[p])
	sb.Add("workload_name", f.podWl[p])
	if container != "" {
		sb.Add("container", container)
	}
	sb.Sort()
	return sb.Labels()
}

// promLabels are every series' labels for remote-write, sorted by name.
func (f *fleet) promLabels() [][]prompb.Label {
	out := make([][]prompb.Label, f.series)
	var sb labels.ScratchBuilder
	for i := range out {
		out[i] = prompb.FromLabels(f.labels(&sb, i), nil)
	}
	return out
}

// values are gauges that wander: each series moves by up to ±3 % a round,
// within bounds, from a start drawn per series; the same for every feed.
type values struct {
	f *fleet
	v []float64
}

func (f *fleet) newValues() *values {
	vs := &values{f: f, v: make([]float64, f.series)}
	for i := range vs.v {
		_, _, _, _, kind := f.describe(i)
		lo, hi := valueRange(kind)
		vs.v[i] = lo + (hi-lo)*unit(splitmix(uint64(i)*2654435761))
	}
	return vs
}

func valueRange(kind int) (float64, float64) {
	switch kind {
	case kindCPU:
		return 0.002, 2
	case kindRate:
		return 200, 5e6
	}
	return 8 << 20, 2 << 30
}

// next moves series i to round r and returns its value there, rounded as
// its source gives it: CPU in nanocores, memory in pages, rates as they come.
func (vs *values) next(i, r int) float64 {
	_, _, _, _, kind := vs.f.describe(i)
	lo, hi := valueRange(kind)
	v := vs.v[i] * (1 + 0.06*(unit(splitmix(uint64(i)<<24|uint64(r)))-0.5))
	v = math.Min(hi, math.Max(lo, v))
	vs.v[i] = v
	switch kind {
	case kindCPU:
		return math.Round(v*1e9) / 1e9
	case kindBytes:
		return math.Round(v/4096) * 4096
	}
	return v
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func unit(x uint64) float64 { return float64(x>>11) / (1 << 53) }

// remoteWriteAll sends every round to url as Prometheus's own remote-write
// does: the series split over shards (here by cluster), each shard sending
// its samples in time order, batches of remotewrite.DefaultBatchSize
// samples, one sample per series per request. A shard runs at most a few
// rounds ahead of the slowest, so that no sample falls behind the head's
// appendable window.
func remoteWriteAll(u string, f *fleet, pl [][]prompb.Label, vals *values, rounds int, ts func(int) int64, shards int) error {
	const maxLead = 8
	done := make([]atomic.Int64, shards)
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: shards}}
	errs := make(chan error, shards)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for s := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := remotewrite.DefaultBatchSize
			req := &prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, 0, batch)}
			samples := make([]prompb.Sample, batch)
			var raw, body []byte
			send := func() error {
				if len(req.Timeseries) == 0 {
					return nil
				}
				if err := postWrite(client, u, req, &raw, &body); err != nil {
					return err
				}
				req.Timeseries = req.Timeseries[:0]
				return nil
			}
			for r := range rounds {
				for {
					slowest := int64(rounds)
					for k := range done {
						slowest = min(slowest, done[k].Load())
					}
					if int64(r)-slowest <= maxLead || stop.Load() {
						break
					}
					time.Sleep(200 * time.Microsecond)
				}
				if stop.Load() {
					return
				}
				t := ts(r)
				for c := s; c < f.clusters; c += shards {
					for i := c * f.perCluster; i < (c+1)*f.perCluster; i++ {
						k := len(req.Timeseries)
						samples[k] = prompb.Sample{Timestamp: t, Value: vals.next(i, r)}
						req.Timeseries = append(req.Timeseries, prompb.TimeSeries{Labels: pl[i], Samples: samples[k : k+1 : k+1]})
						if len(req.Timeseries) == batch {
							if err := send(); err != nil {
								stop.Store(true)
								errs <- err
								return
							}
						}
					}
				}
				if err := send(); err != nil {
					stop.Store(true)
					errs <- err
					return
				}
				done[s].Store(int64(r + 1))
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// postWrite sends req as a remote-write 1.0 request (protobuf, snappy),
// reusing raw and body as buffers.
func postWrite(client *http.Client, u string, req *prompb.WriteRequest, raw, body *[]byte) error {
	n := req.Size()
	if cap(*raw) < n {
		*raw = make([]byte, n)
	}
	*raw = (*raw)[:n]
	if _, err := req.MarshalToSizedBuffer(*raw); err != nil {
		return err
	}
	*body = snappy.Encode((*body)[:cap(*body)], *raw)
	r, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(*body))
	if err != nil {
		return err
	}
	r.Header.Set("Content-Encoding", "snappy")
	r.Header.Set("Content-Type", "application/x-protobuf")
	r.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := client.Do(r)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("remote write: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

type memory struct{ heap, rss, anon int64 }

type storeResult struct {
	wall, cpu     time.Duration
	before, after memory
	load          string        // load average after the phase
	unsettled     memory        // right after ingest
	settle        time.Duration // from the end of ingest to after
	released      int64         // RSS after debug.FreeOSMemory (kstack only)
}

// selfMemory is this process's after a forced GC: Go heap in use, and
// resident set (all of it and the anonymous part).
func selfMemory() memory {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, anon := procStatus("self")
	return memory{heap: int64(ms.HeapInuse), rss: rss, anon: anon}
}

// promMemory is the same for Prometheus: its pprof handler's gc=1 runs
// runtime.GC there, then heap from its /metrics and RSS from /proc.
func promMemory(b *testing.B, base string, pid int) memory {
	for range 2 {
		resp, err := http.Get(base + "/debug/pprof/heap?gc=1")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	m := promMetrics(b, base)
	rss, anon := procStatus(strconv.Itoa(pid))
	return memory{heap: int64(m["go_memstats_heap_inuse_bytes"]), rss: rss, anon: anon}
}

func procStatus(pid string) (rss, anon int64) {
	data, _ := os.ReadFile("/proc/" + pid + "/status")
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "RssAnon:":
			anon = kb << 10
		}
	}
	return rss, anon
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func promMetricsText(b *testing.B, base string) string {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return string(data)
}

// promMetrics reads Prometheus's own /metrics, each name summed over its labels.
func promMetrics(b *testing.B, base string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(promMetricsText(b, base), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name := line[:strings.IndexAny(line, "{ ")]
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			out[name] += v
		}
	}
	return out
}

// pidListeningOn finds the Prometheus that promtest started, by its
// --web.listen-address.
func pidListeningOn(b *testing.B, base string) int {
	want := "--web.listen-address=" + strings.TrimPrefix(base, "http://")
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		for _, arg := range strings.Split(string(cmd), "\x00") {
			if arg == want {
				return pid
			}
		}
	}
	b.Fatalf("no process with %s", want)
	return 0
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func orAccepted(err error) string {
	if err == nil {
		return "accepted"
	}
	return "refused: " + err.Error()
}

func loadAvg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

type matrixSize struct{ series, points int }

// sameMatrix compares two query_range answers: the same series (by labels)
// with the same points, values equal to 1e-9 relative.
func sameMatrix(x, y []byte) (matrixSize, error) {
	type answer struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	var a, c answer
	if err := json.Unmarshal(x, &a); err != nil {
		return matrixSize{}, err
	}
	if err := json.Unmarshal(y, &c); err != nil {
		return matrixSize{}, err
	}
	key := func(m map[string]string) string { j, _ := json.Marshal(m); return string(j) }
	other := map[string][][2]any{}
	for _, s := range c.Data.Result {
		other[key(s.Metric)] = s.Values
	}
	if len(a.Data.Result) != len(c.Data.Result) {
		return matrixSize{}, fmt.Errorf("%d series against %d", len(a.Data.Result), len(c.Data.Result))
	}
	var n matrixSize
	for _, s := range a.Data.Result {
		o, ok := other[key(s.Metric)]
		if !ok {
			return n, fmt.Errorf("series %v only on one side", s.Metric)
		}
		if len(o) != len(s.Values) {
			return n, fmt.Errorf("series %v: %d points against %d", s.Metric, len(s.Values), len(o))
		}
		for i := range o {
			v1, _ := strconv.ParseFloat(fmt.Sprint(s.Values[i][1]), 64)
			v2, _ := strconv.ParseFloat(fmt.Sprint(o[i][1]), 64)
			if fmt.Sprint(s.Values[i][0]) != fmt.Sprint(o[i][0]) || math.Abs(v1-v2) > 1e-9*math.Max(math.Abs(v1), math.Abs(v2)) {
				return n, fmt.Errorf("series %v point %d: %v against %v", s.Metric, i, s.Values[i], o[i])
			}
		}
		n.series++
		n.points += len(s.Values)
	}
	return n, nil
}
