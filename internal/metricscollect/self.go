package metricscollect

import (
	"context"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/labels"
)

// collectSelf appends the platform's own registries, with no cluster label
// (gateway requests, member probes, controller queues, the record store's
// queue: whatever the registries hold), as a scrape of them would.
func (c *Collector) collectSelf(ctx context.Context, at time.Time) {
	if len(c.Self) == 0 && len(c.selfSeries) == 0 {
		return
	}
	// Gatherers merges the registries; on a conflict it still returns
	// what it could gather.
	families, err := prometheus.Gatherers(c.Self).Gather()
	if err != nil {
		c.Log.Warn("metric collection: gathering the platform's own metrics reported a problem", "err", err)
	}
	if ctx.Err() != nil {
		return
	}
	b := newBatch()
	for _, f := range families {
		addFamily(b, f)
	}
	series, _, err := write(ctx, c.Store, c.selfSeries, b.samples, at.UnixMilli())
	c.selfSeries = series
	if err != nil {
		c.Log.Warn("metric collection: writing the platform's own series failed", "err", err)
	}
}

// addFamily flattens a metric family into series the way the Prometheus
// text format names them: histograms as _bucket{le}, _sum and _count,
// summaries as {quantile}, _sum and _count.
func addFamily(b *batch, f *dto.MetricFamily) {
	name := f.GetName()
	for _, m := range f.GetMetric() {
		kv := make([]string, 0, 2*len(m.GetLabel())+2)
		for _, lp := range m.GetLabel() {
			kv = append(kv, lp.GetName(), lp.GetValue())
		}
		with := func(k, v string) []string { return append(append([]string(nil), kv...), k, v) }
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			b.add(name, m.GetCounter().GetValue(), kv...)
		case dto.MetricType_GAUGE:
			b.add(name, m.GetGauge().GetValue(), kv...)
		case dto.MetricType_UNTYPED:
			b.add(name, m.GetUntyped().GetValue(), kv...)
		case dto.MetricType_SUMMARY:
			s := m.GetSummary()
			for _, q := range s.GetQuantile() {
				b.add(name, q.GetValue(), with("quantile", labels.FormatOpenMetricsFloat(q.GetQuantile()))...)
			}
			b.add(name+"_sum", s.GetSampleSum(), kv...)
			b.add(name+"_count", float64(s.GetSampleCount()), kv...)
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			h := m.GetHistogram()
			inf := false
			for _, bk := range h.GetBucket() {
				inf = inf || math.IsInf(bk.GetUpperBound(), 1)
				b.add(name+"_bucket", float64(bk.GetCumulativeCount()), with("le", labels.FormatOpenMetricsFloat(bk.GetUpperBound()))...)
			}
			if !inf {
				b.add(name+"_bucket", float64(h.GetSampleCount()), with("le", "+Inf")...)
			}
			b.add(name+"_sum", h.GetSampleSum(), kv...)
			b.add(name+"_count", float64(h.GetSampleCount()), kv...)
		}
	}
}
