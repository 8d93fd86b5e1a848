package metricscollect

import (
	"strings"
	"testing"
	"time"
)

// A kubelet's /metrics/resource (1.30), samples with their cAdvisor
// timestamps.
const kubeletResource = `# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="coredns",namespace="kube-system",pod="coredns-5d78c9869d-8x2kq"} 120.5 1700000000123
container_cpu_usage_seconds_total{container="app",namespace="shop",pod="web-7d4b9c-abcde"} 42.25 1700000000456
# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="coredns",namespace="kube-system",pod="coredns-5d78c9869d-8x2kq"} 1.6384e+07 1700000000123
container_memory_working_set_bytes{container="app",namespace="shop",pod="web-7d4b9c-abcde"} 5.24288e+07 1700000000456
# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container="app",namespace="shop",pod="web-7d4b9c-abcde"} 1.6999e+09 1699900000000
# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 98765.4 1700000000999
# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 2.147483648e+09 1700000000999
# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds
# TYPE pod_cpu_usage_seconds_total counter
pod_cpu_usage_seconds_total{namespace="shop",pod="web-7d4b9c-abcde"} 43 1700000000456
# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes
# TYPE pod_memory_working_set_bytes gauge
pod_memory_working_set_bytes{namespace="shop",pod="web-7d4b9c-abcde"} 5.5e+07 1700000000456
# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise
# TYPE resource_scrape_error gauge
resource_scrape_error 0
`

// kwok's exposition of the same: no timestamps.
const kwokResource = `# HELP node_cpu_usage_seconds_total [ALPHA] Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 3.5
# HELP pod_cpu_usage_seconds_total [ALPHA] Cumulative cpu time consumed by the pod in core-seconds
# TYPE pod_cpu_usage_seconds_total counter
pod_cpu_usage_seconds_total{namespace="default",pod="p1"} 1.5
# HELP scrape_error [ALPHA] 1 if there was an error while getting metrics from the node, 0 otherwise
# TYPE scrape_error gauge
scrape_error 0
`

func TestParseResourceMetrics(t *testing.T) {
	fetched := time.Unix(1700000005, 0)
	u, err := ParseResourceMetrics(strings.NewReader(kubeletResource), fetched)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Node.CPU.OK || u.Node.CPU.Value != 98765.4 || !u.Node.CPU.At.Equal(time.UnixMilli(1700000000999)) {
		t.Fatalf("node cpu %+v", u.Node.CPU)
	}
	if u.Node.WorkingSet != (Gauge{2147483648, true}) {
		t.Fatalf("node working set %+v", u.Node.WorkingSet)
	}
	if u.Node.MemUsage.OK || u.Node.RxBytes.OK {
		t.Fatal("resource metrics gave memory with cache or network, which they do not have")
	}
	web := u.Pods[PodKey{"shop", "web-7d4b9c-abcde"}]
	if web == nil || web.CPU.Value != 43 || web.WorkingSet.Value != 5.5e7 {
		t.Fatalf("pod %+v", web)
	}
	app := web.Containers["app"]
	if app == nil || app.CPU.Value != 42.25 || !app.CPU.At.Equal(time.UnixMilli(1700000000456)) || app.WorkingSet.Value != 52428800 {
		t.Fatalf("container %+v", app)
	}
	dns := u.Pods[PodKey{"kube-system", "coredns-5d78c9869d-8x2kq"}]
	if dns == nil || dns.CPU.OK || !dns.Containers["coredns"].CPU.OK {
		t.Fatalf("a pod without pod-level series: %+v", dns)
	}
	if len(u.Pods) != 2 {
		t.Fatalf("%d pods", len(u.Pods))
	}

	u, err = ParseResourceMetrics(strings.NewReader(kwokResource), fetched)
	if err != nil {
		t.Fatal(err)
	}
	if p := u.Pods[PodKey{"default", "p1"}]; p == nil || !p.CPU.At.Equal(fetched) || p.CPU.Value != 1.5 {
		t.Fatalf("a sample without timestamp is not taken at the fetch time: %+v", p)
	}

	if _, err := ParseResourceMetrics(strings.NewReader("node_cpu_usage_seconds_total{ 1\n"), fetched); err == nil {
		t.Fatal("garbage parsed")
	}
}

const summaryJSON = `{
 "node": {
  "nodeName": "node-1",
  "startTime": "2023-11-14T20:00:00Z",
  "cpu": {"time": "2023-11-14T22:13:20Z", "usageNanoCores": 250000000, "usageCoreNanoSeconds": 98765400000000},
  "memory": {"time": "2023-11-14T22:13:20Z", "availableBytes": 6000000000, "usageBytes": 3000000000, "workingSetBytes": 2147483648, "rssBytes": 1000000000},
  "network": {"time": "2023-11-14T22:13:20Z", "name": "eth0", "rxBytes": 1000000, "txBytes": 2000000,
   "interfaces": [{"name": "eth0", "rxBytes": 1000000, "txBytes": 2000000}, {"name": "cni0", "rxBytes": 5, "txBytes": 6}]},
  "fs": {"time": "2023-11-14T22:13:20Z", "availableBytes": 1, "capacityBytes": 2, "usedBytes": 1}
 },
 "pods": [
  {
   "podRef": {"name": "web-7d4b9c-abcde", "namespace": "shop", "uid": "u1"},
   "startTime": "2023-11-14T21:00:00Z",
   "containers": [
    {"name": "app", "startTime": "2023-11-14T21:00:01Z",
     "cpu": {"time": "2023-11-14T22:13:19Z", "usageCoreNanoSeconds": 42250000000},
     "memory": {"time": "2023-11-14T22:13:19Z", "usageBytes": 80000000, "workingSetBytes": 52428800}}
   ],
   "memory": {"time": "2023-11-14T22:13:19Z", "usageBytes": 90000000, "workingSetBytes": 55000000},
   "network": {"time": "2023-11-14T22:13:19Z", "name": "eth0", "rxBytes": 4096, "txBytes": 8192}
  },
  {
   "podRef": {"name": "sleeper", "namespace": "shop", "uid": "u2"},
   "startTime": "2023-11-14T21:00:00Z",
   "containers": []
  }
 ]
}`

func TestMergeSummary(t *testing.T) {
	u, err := ParseResourceMetrics(strings.NewReader(kubeletResource), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := MergeSummary(u, []byte(summaryJSON)); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)
	if u.Node.MemUsage != (Gauge{3e9, true}) {
		t.Fatalf("node memory usage %+v", u.Node.MemUsage)
	}
	// The default interface, not the sum with the bridge.
	if r := u.Node.RxBytes; !r.OK || r.Value != 1e6 || !r.At.Equal(at) || u.Node.TxBytes.Value != 2e6 {
		t.Fatalf("node network %+v %+v", u.Node.RxBytes, u.Node.TxBytes)
	}
	if u.Node.WorkingSet.Value != 2147483648 {
		t.Fatal("the summary replaced the resource metrics' working set")
	}
	web := u.Pods[PodKey{"shop", "web-7d4b9c-abcde"}]
	if web.MemUsage.Value != 9e7 || web.RxBytes.Value != 4096 || web.TxBytes.Value != 8192 || web.CPU.Value != 43 {
		t.Fatalf("pod %+v", web)
	}
	if c := web.Containers["app"]; c.MemUsage.Value != 8e7 || c.WorkingSet.Value != 52428800 {
		t.Fatalf("container %+v", c)
	}
	// A pod the summary names without figures gets none.
	if s := u.Pods[PodKey{"shop", "sleeper"}]; s == nil || s.MemUsage.OK || s.RxBytes.OK {
		t.Fatalf("sleeper %+v", s)
	}
	if err := MergeSummary(u, []byte("<html>not found</html>")); err == nil {
		t.Fatal("an HTML page parsed as a summary")
	}
}

func TestRate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	prev, next := rateTracker{}, rateTracker{}
	if _, ok := rate(prev, next, "k", Counter{10, t0, true}); ok {
		t.Fatal("the first reading gave a rate")
	}
	prev, next = next, rateTracker{}
	if v, ok := rate(prev, next, "k", Counter{25, t0.Add(15 * time.Second), true}); !ok || v != 1 {
		t.Fatalf("rate %v %v, want 1", v, ok)
	}
	prev, next = next, rateTracker{}
	if v, ok := rate(prev, next, "k", Counter{25, t0.Add(15 * time.Second), true}); !ok || v != 1 {
		t.Fatalf("the same reading again: %v %v, want the rate it gave", v, ok)
	}
	prev, next = next, rateTracker{}
	if _, ok := rate(prev, next, "k", Counter{3, t0.Add(30 * time.Second), true}); ok {
		t.Fatal("a counter reset gave a rate")
	}
	prev, next = next, rateTracker{}
	if v, ok := rate(prev, next, "k", Counter{13, t0.Add(35 * time.Second), true}); !ok || v != 2 {
		t.Fatalf("after the reset %v %v, want 2", v, ok)
	}
	if _, ok := rate(prev, next, "missing", Counter{}); ok {
		t.Fatal("an absent counter gave a rate")
	}
}
