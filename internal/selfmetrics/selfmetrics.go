// Package selfmetrics is the platform's own health as Prometheus metrics:
// the gateway's requests and latency, member health probes, the record
// store's queue and the metric store itself. The collector appends them to
// the metric store every round (no cluster label: administrators only), so
// the platform is watched by the same means as its members.
package selfmetrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/kstack/kstack/internal/audit"
)

// Metrics is one replica's registry.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New registers the gateway's metrics; the other sources are added with
// Gauge and Counter funcs by whoever owns them.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kstack_gateway_requests_total",
			Help: "Requests the gateway served, by method, status code and target (platform, member, console).",
		}, []string{"method", "code", "target"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kstack_gateway_request_duration_seconds",
			Help:    "Time the gateway took to answer, by target; watches and streams count until their end.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"target"}),
	}
	m.Registry.MustRegister(m.requests, m.latency)
	return m
}

// Observe counts one served request (the gateway's per-request hook).
func (m *Metrics) Observe(e audit.Entry) {
	target := "platform"
	switch {
	case e.Origin != nil && e.Origin.Via == audit.ViaConsole:
		target = "console"
	case e.Cluster != "" && e.Cluster != "global":
		target = "member"
	}
	m.requests.WithLabelValues(e.Method, strconv.Itoa(e.Code), target).Inc()
	m.latency.WithLabelValues(target).Observe(e.Latency.Seconds())
}

// GaugeFunc adds a gauge read at gather time.
func (m *Metrics) GaugeFunc(name, help string, f func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// CounterFunc adds a counter read at gather time.
func (m *Metrics) CounterFunc(name, help string, f func() float64) {
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

// Collector adds a collector of labelled values read at gather time.
func (m *Metrics) Collector(c prometheus.Collector) { m.Registry.MustRegister(c) }

// Gatherers are every registry of this replica: its own and
// controller-runtime's (controller queues: workqueue_depth, reconcile
// counts and errors).
func (m *Metrics) Gatherers() []prometheus.Gatherer {
	return []prometheus.Gatherer{m.Registry, crmetrics.Registry}
}

// Health is one member's probe state, for kstack_cluster_healthy.
type Health struct {
	Cluster   string
	Healthy   bool
	LastProbe time.Time
}

// HealthCollector reports the members' health probes.
type HealthCollector struct {
	List    func() []Health
	healthy *prometheus.Desc
	age     *prometheus.Desc
}

// NewHealthCollector describes the probe metrics.
func NewHealthCollector(list func() []Health) *HealthCollector {
	return &HealthCollector{
		List:    list,
		healthy: prometheus.NewDesc("kstack_cluster_healthy", "1 when the member's last health probes passed, 0 when it counts as down.", []string{"member"}, nil),
		age:     prometheus.NewDesc("kstack_cluster_probe_age_seconds", "Seconds since the member was last probed.", []string{"member"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (h *HealthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- h.healthy; ch <- h.age }

// Collect implements prometheus.Collector.
func (h *HealthCollector) Collect(ch chan<- prometheus.Metric) {
	for _, e := range h.List() {
		v := 0.0
		if e.Healthy {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(h.healthy, prometheus.GaugeValue, v, e.Cluster)
		if !e.LastProbe.IsZero() {
			ch <- prometheus.MustNewConstMetric(h.age, prometheus.GaugeValue, time.Since(e.LastProbe).Seconds(), e.Cluster)
		}
	}
}
