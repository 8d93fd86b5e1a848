package platform

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/prometheus/prometheus/storage"

	"github.com/kstack/kstack/internal/metricscollect"
	"github.com/kstack/kstack/internal/metricstore"
	"github.com/kstack/kstack/internal/monitorapi"
	"github.com/kstack/kstack/internal/promapi"
	"github.com/kstack/kstack/internal/remotewrite"
	"github.com/kstack/kstack/internal/selfmetrics"
)

// MetricsOptions configure monitoring: the embedded metric store, the
// collection from members and remote-write.
type MetricsOptions struct {
	// Dir is the metric store's directory; "" runs without monitoring.
	Dir string
	// Retention (by time) and MaxBytes (by size, 0: none) bound the store.
	Retention time.Duration
	MaxBytes  int64
	// Interval is how often members are collected.
	Interval time.Duration
	// RemoteWriteURL receives every sample (remote-write 1.0) from the
	// leader; RemoteWriteTokenFile holds its bearer token.
	RemoteWriteURL, RemoteWriteTokenFile string
	// MaxPoints bounds a range query's points per series.
	MaxPoints int
}

// DefaultMetricsOptions are the flags' defaults.
func DefaultMetricsOptions() MetricsOptions {
	return MetricsOptions{Retention: 15 * 24 * time.Hour, Interval: 15 * time.Second, MaxPoints: 11000}
}

// monitoring is the metric store and what feeds it, as one phase hands
// them to the next.
type monitoring struct {
	store     *metricstore.Store
	api       *promapi.API
	self      *selfmetrics.Metrics
	remote    *remotewrite.Writer
	collector *metricscollect.Collector
}

// openMetrics opens the metric store: a directory that cannot be opened
// stops the replica now, not its first query.
func (r *runner) openMetrics(context.Context) error {
	o := r.o.Metrics
	r.self = selfmetrics.New()
	if o.Dir == "" {
		r.log.Warn("no --metrics-dir: monitoring is off")
		return nil
	}
	if o.RemoteWriteURL != "" && !strings.HasPrefix(o.RemoteWriteURL, "http://") && !strings.HasPrefix(o.RemoteWriteURL, "https://") {
		return fmt.Errorf("--metrics-remote-write %q: want an http(s) URL such as http://prometheus:9090/api/v1/write", o.RemoteWriteURL)
	}
	store, err := metricstore.Open(metricstore.Options{
		Dir: o.Dir, Retention: o.Retention, MaxBytes: o.MaxBytes, MaxPointsPerSeries: o.MaxPoints,
		Log: r.log.With("component", "metricstore"),
	})
	if err != nil {
		return fmt.Errorf("opening the metric store (--metrics-dir %s): %w", o.Dir, err)
	}
	mon := &monitoring{store: store, api: &promapi.API{Store: store}, self: r.self}
	if o.RemoteWriteURL != "" {
		w := &remotewrite.Writer{URL: o.RemoteWriteURL, Log: r.log.With("component", "remote-write")}
		if o.RemoteWriteTokenFile != "" {
			tok, err := os.ReadFile(o.RemoteWriteTokenFile)
			if err != nil {
				store.Close()
				return fmt.Errorf("reading --metrics-remote-write-token-file: %w", err)
			}
			w.Headers = map[string]string{"Authorization": "Bearer " + strings.TrimSpace(string(tok))}
		}
		mon.remote = w
	}
	r.monitoring = mon
	r.log.Info("metric store open", "dir", o.Dir, "retention", o.Retention, "maxBytes", o.MaxBytes, "remoteWrite", o.RemoteWriteURL != "")
	return nil
}

// monitorModule builds the monitor group from the open store (or without
// one: its API then says monitoring is off).
func (r *runner) monitorModule() *monitorapi.Module {
	mon := r.monitoring
	if mon == nil {
		return &monitorapi.Module{}
	}
	var sink storage.Appendable = mon.store
	if mon.remote != nil {
		sink = mon.remote.Tee(mon.store)
	}
	r.registerSelfMetrics()
	mon.collector = &metricscollect.Collector{
		Cache: r.cache, Reader: r.mgr.GetClient(), Store: sink, Interval: r.o.Metrics.Interval,
		Self: mon.self.Gatherers(), Log: r.log.With("component", "metrics-collector"),
	}
	return &monitorapi.Module{Store: mon.store, API: mon.api, Collector: mon.collector, RemoteWrite: mon.remote}
}

// registerSelfMetrics adds the platform's own health to its registry: the
// record store's queue, the metric store and remote-write.
func (r *runner) registerSelfMetrics() {
	m := r.self
	if rec := r.records; rec != nil {
		w := rec.writer
		m.GaugeFunc("kstack_record_queue_records", "Records waiting in the on-disk queue for the record store.", func() float64 { return float64(w.Stats().Queued) })
		m.GaugeFunc("kstack_record_queue_bytes", "Bytes of the record queue on disk.", func() float64 { return float64(w.Stats().QueuedBytes) })
		m.CounterFunc("kstack_record_queue_refused_total", "Records the full queue refused (lost).", func() float64 { return float64(w.Stats().Refused) })
		m.CounterFunc("kstack_record_written_total", "Records written to the record store.", func() float64 { return float64(w.Stats().Written) })
		m.GaugeFunc("kstack_record_store_failing", "1 while the record store refuses writes (records stay queued).", func() float64 {
			if w.Stats().Failing {
				return 1
			}
			return 0
		})
	}
	if mon := r.monitoring; mon != nil {
		s := mon.store
		m.GaugeFunc("kstack_metrics_head_series", "Active series in the metric store.", func() float64 { return float64(s.HeadSeries()) })
		if w := mon.remote; w != nil {
			m.CounterFunc("kstack_remote_write_samples_sent_total", "Samples the receiver accepted.", func() float64 { return float64(w.Stats().Sent) })
			m.CounterFunc("kstack_remote_write_samples_dropped_total", "Samples dropped: queue full or refused by the receiver.", func() float64 { return float64(w.Stats().Dropped) })
			m.CounterFunc("kstack_remote_write_requests_failed_total", "Requests to the receiver that failed (and were retried or dropped).", func() float64 { return float64(w.Stats().Failed) })
		}
	}
	cache := r.cache
	m.Collector(selfmetrics.NewHealthCollector(func() []selfmetrics.Health {
		var out []selfmetrics.Health
		for _, name := range cache.Names() {
			if e, ok := cache.Get(name); ok {
				h := e.Health()
				out = append(out, selfmetrics.Health{Cluster: name, Healthy: h.Healthy, LastProbe: h.LastProbe})
			}
		}
		return out
	}))
}
