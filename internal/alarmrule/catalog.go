package alarmrule

import (
	"slices"
	"strings"

	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
)

// Aggregations of a condition over its period.
const (
	// AggAvg is avg_over_time(SEL[P]) OP T: usage, rates and bytes.
	AggAvg = "avg"
	// AggLast is SEL OP T, the latest value: states and counts.
	AggLast = "last"
)

// Metric is one metric a condition may name: its unit and how it is
// aggregated over a period. The names are those of docs/metrics.md that the
// collector (internal/metricscollect) writes with the object's labels.
type Metric struct {
	Name   string
	Unit   string
	Agg    string
	Object monitorv1.ObjectType
}

var catalog = map[monitorv1.ObjectType][]Metric{
	monitorv1.ObjectCluster: {
		{"k8s_cluster_rate_cpu_core_used_cluster", "%", AggAvg, monitorv1.ObjectCluster},
		{"k8s_cluster_rate_mem_usage_bytes_cluster", "%", AggAvg, monitorv1.ObjectCluster},
		{"k8s_cluster_rate_mem_no_cache_bytes_cluster", "%", AggAvg, monitorv1.ObjectCluster},
		{"k8s_cluster_cpu_core_used", "cores", AggAvg, monitorv1.ObjectCluster},
		{"k8s_cluster_mem_usage_bytes", "bytes", AggAvg, monitorv1.ObjectCluster},
		{"k8s_cluster_mem_no_cache_bytes", "bytes", AggAvg, monitorv1.ObjectCluster},
		{"k8s_cluster_network_receive_bytes_bw", "B/s", AggAvg, monitorv1.ObjectCluster},
		{"k8s_cluster_network_transmit_bytes_bw", "B/s", AggAvg, monitorv1.ObjectCluster},
		{"k8s_cluster_pod_total", "pods", AggLast, monitorv1.ObjectCluster},
		{"k8s_cluster_node_total", "nodes", AggLast, monitorv1.ObjectCluster},
	},
	monitorv1.ObjectNode: {
		{"k8s_node_cpu_usage", "%", AggAvg, monitorv1.ObjectNode},
		{"k8s_node_mem_usage", "%", AggAvg, monitorv1.ObjectNode},
		{"k8s_node_rate_mem_no_cache", "%", AggAvg, monitorv1.ObjectNode},
		{"k8s_node_cpu_core_used", "cores", AggAvg, monitorv1.ObjectNode},
		{"k8s_node_mem_usage_bytes", "bytes", AggAvg, monitorv1.ObjectNode},
		{"k8s_node_mem_no_cache_bytes", "bytes", AggAvg, monitorv1.ObjectNode},
		{"k8s_node_network_receive_bytes_bw", "B/s", AggAvg, monitorv1.ObjectNode},
		{"k8s_node_network_transmit_bytes_bw", "B/s", AggAvg, monitorv1.ObjectNode},
		{"k8s_node_pod_num", "pods", AggLast, monitorv1.ObjectNode},
		{"k8s_node_status_ready", "0/1", AggLast, monitorv1.ObjectNode},
	},
	monitorv1.ObjectPod: {
		{"k8s_pod_rate_cpu_core_used_node", "%", AggAvg, monitorv1.ObjectPod},
		{"k8s_pod_rate_cpu_core_used_request", "%", AggAvg, monitorv1.ObjectPod},
		{"k8s_pod_rate_cpu_core_used_limit", "%", AggAvg, monitorv1.ObjectPod},
		{"k8s_pod_rate_mem_usage_node", "%", AggAvg, monitorv1.ObjectPod},
		{"k8s_pod_rate_mem_usage_request", "%", AggAvg, monitorv1.ObjectPod},
		{"k8s_pod_rate_mem_usage_limit", "%", AggAvg, monitorv1.ObjectPod},
		{"k8s_pod_rate_mem_no_cache_node", "%", AggAvg, monitorv1.ObjectPod},
		{"k8s_pod_rate_mem_no_cache_request", "%", AggAvg, monitorv1.ObjectPod},
		{"k8s_pod_cpu_core_used", "cores", AggAvg, monitorv1.ObjectPod},
		{"k8s_pod_mem_usage_bytes", "bytes", AggAvg, monitorv1.ObjectPod},
		{"k8s_pod_mem_no_cache_bytes", "bytes", AggAvg, monitorv1.ObjectPod},
		{"k8s_pod_network_receive_bytes_bw", "B/s", AggAvg, monitorv1.ObjectPod},
		{"k8s_pod_network_transmit_bytes_bw", "B/s", AggAvg, monitorv1.ObjectPod},
		{"k8s_pod_restart_total", "restarts", AggLast, monitorv1.ObjectPod},
		{"k8s_pod_status_ready", "0/1", AggLast, monitorv1.ObjectPod},
	},
}

// Metrics is the catalog of metrics a condition of a policy on ot may
// name, in a stable order (the console and the CLI list it). Unknown object
// types have none.
func Metrics(ot monitorv1.ObjectType) []Metric {
	return slices.Clone(catalog[ot])
}

// MetricFor is the catalog entry of name for object type ot.
func MetricFor(ot monitorv1.ObjectType, name string) (Metric, bool) {
	for _, m := range catalog[ot] {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// neverCollected reports the disk I/O metrics docs/metrics.md lists as
// always absent: a condition on them could never hold.
func neverCollected(name string) bool {
	return strings.Contains(name, "_fs_read_bytes") || strings.Contains(name, "_fs_write_bytes")
}

func metricNames(ot monitorv1.ObjectType) string {
	names := make([]string, 0, len(catalog[ot]))
	for _, m := range catalog[ot] {
		names = append(names, m.Name)
	}
	return strings.Join(names, ", ")
}
