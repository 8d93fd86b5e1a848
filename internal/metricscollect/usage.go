package metricscollect

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// Counter is a cumulative reading and when it was taken.
type Counter struct {
	Value float64
	At    time.Time
	OK    bool
}

// Gauge is a point reading; OK is false when the source did not give it.
type Gauge struct {
	Value float64
	OK    bool
}

// Resources is what a node, pod or container used, as read from one node.
type Resources struct {
	CPU        Counter // core-seconds (resource metrics)
	WorkingSet Gauge   // bytes, without page cache (resource metrics)
	MemUsage   Gauge   // bytes, with page cache (stats/summary)
	RxBytes    Counter // bytes received on the default interface (stats/summary)
	TxBytes    Counter // bytes sent (stats/summary)
}

// PodKey names a pod.
type PodKey struct{ Namespace, Name string }

// PodUsage is a pod's usage and its containers'.
type PodUsage struct {
	Resources
	Containers map[string]*Resources
}

// Usage is one node's report.
type Usage struct {
	Node Resources
	Pods map[PodKey]*PodUsage
}

func newUsage() *Usage { return &Usage{Pods: map[PodKey]*PodUsage{}} }

func (u *Usage) pod(ns, name string) *PodUsage {
	k := PodKey{ns, name}
	p, ok := u.Pods[k]
	if !ok {
		p = &PodUsage{Containers: map[string]*Resources{}}
		u.Pods[k] = p
	}
	return p
}

func (p *PodUsage) container(name string) *Resources {
	c, ok := p.Containers[name]
	if !ok {
		c = &Resources{}
		p.Containers[name] = c
	}
	return c
}

// ParseResourceMetrics reads a kubelet's (or kwok's) /metrics/resource in
// the Prometheus text format. A sample without a timestamp is taken as read
// at fetched.
func ParseResourceMetrics(r io.Reader, fetched time.Time) (*Usage, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parsing resource metrics: %w", err)
	}
	u := newUsage()
	for name, f := range families {
		for _, m := range f.GetMetric() {
			v, ok := sampleValue(f.GetType(), m)
			if !ok {
				continue
			}
			at := fetched
			if m.TimestampMs != nil {
				at = time.UnixMilli(m.GetTimestampMs())
			}
			l := labelMap(m)
			switch name {
			case "node_cpu_usage_seconds_total":
				u.Node.CPU = Counter{v, at, true}
			case "node_memory_working_set_bytes":
				u.Node.WorkingSet = Gauge{v, true}
			case "pod_cpu_usage_seconds_total":
				if l["namespace"] != "" && l["pod"] != "" {
					u.pod(l["namespace"], l["pod"]).CPU = Counter{v, at, true}
				}
			case "pod_memory_working_set_bytes":
				if l["namespace"] != "" && l["pod"] != "" {
					u.pod(l["namespace"], l["pod"]).WorkingSet = Gauge{v, true}
				}
			case "container_cpu_usage_seconds_total":
				if l["namespace"] != "" && l["pod"] != "" && l["container"] != "" {
					u.pod(l["namespace"], l["pod"]).container(l["container"]).CPU = Counter{v, at, true}
				}
			case "container_memory_working_set_bytes":
				if l["namespace"] != "" && l["pod"] != "" && l["container"] != "" {
					u.pod(l["namespace"], l["pod"]).container(l["container"]).WorkingSet = Gauge{v, true}
				}
			}
		}
	}
	return u, nil
}

// sampleValue is a sample's value whatever type the family declares (kubelets
// declare counters; an untyped exposition is read the same).
func sampleValue(t dto.MetricType, m *dto.Metric) (float64, bool) {
	switch {
	case t == dto.MetricType_COUNTER && m.Counter != nil:
		return m.Counter.GetValue(), true
	case t == dto.MetricType_GAUGE && m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}

func labelMap(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// MergeSummary adds what a kubelet's /stats/summary gives beyond the
// resource metrics: memory with page cache, and the network counters of
// the node's and each pod's default interface. (The summary has no disk
// I/O counters, so no filesystem read/write figures come from it.)
func MergeSummary(u *Usage, data []byte) error {
	var s statsv1alpha1.Summary
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("parsing stats/summary: %w", err)
	}
	fillMemory(&u.Node, s.Node.Memory)
	fillNetwork(&u.Node, s.Node.Network)
	for _, ps := range s.Pods {
		if ps.PodRef.Namespace == "" || ps.PodRef.Name == "" {
			continue
		}
		p := u.pod(ps.PodRef.Namespace, ps.PodRef.Name)
		fillMemory(&p.Resources, ps.Memory)
		fillNetwork(&p.Resources, ps.Network)
		for _, cs := range ps.Containers {
			if cs.Name != "" {
				fillMemory(p.container(cs.Name), cs.Memory)
			}
		}
	}
	return nil
}

func fillMemory(r *Resources, m *statsv1alpha1.MemoryStats) {
	if m != nil && m.UsageBytes != nil {
		r.MemUsage = Gauge{float64(*m.UsageBytes), true}
	}
}

func fillNetwork(r *Resources, n *statsv1alpha1.NetworkStats) {
	if n == nil || n.Time.IsZero() {
		return
	}
	if n.RxBytes != nil {
		r.RxBytes = Counter{float64(*n.RxBytes), n.Time.Time, true}
	}
	if n.TxBytes != nil {
		r.TxBytes = Counter{float64(*n.TxBytes), n.Time.Time, true}
	}
}
