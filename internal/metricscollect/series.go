package metricscollect

import (
	"context"
	"fmt"
	"math"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
)

// sample is one series' value in a round.
type sample struct {
	l labels.Labels
	v float64
}

// batch gathers a round's samples. base are the labels every sample of the
// batch carries (the cluster); empty label values are left out, as
// Prometheus treats them as absent.
type batch struct {
	base    []string
	samples []sample
	b       labels.ScratchBuilder
}

func newBatch(base ...string) *batch { return &batch{base: base} }

// add appends name{base..., kv...} = v. NaN and infinite values (a ratio
// over a zero base) are left out: absent, never a made-up number.
func (b *batch) add(name string, v float64, kv ...string) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	b.b.Reset()
	b.b.Add(labels.MetricName, name)
	for _, pairs := range [][]string{b.base, kv} {
		for i := 0; i+1 < len(pairs); i += 2 {
			if pairs[i+1] != "" {
				b.b.Add(pairs[i], pairs[i+1])
			}
		}
	}
	b.b.Sort()
	b.samples = append(b.samples, sample{l: b.b.Labels(), v: v})
}

// addOpt adds v when ok.
func (b *batch) addOpt(name string, v float64, ok bool, kv ...string) {
	if ok {
		b.add(name, v, kv...)
	}
}

// seriesSet remembers the series a round wrote, by label hash.
type seriesSet map[uint64]labels.Labels

// write appends the samples at t (milliseconds), a stale marker for every
// series of prev that this round did not write, and commits once. It
// returns the set written (what the next round compares against) and
// the number of samples the store refused.
func write(ctx context.Context, store storage.Appendable, prev seriesSet, samples []sample, t int64) (seriesSet, int, error) {
	app := store.Appender(ctx)
	next := make(seriesSet, len(samples))
	refused := 0
	var firstErr error
	for _, s := range samples {
		h := s.l.Hash()
		if _, dup := next[h]; dup {
			continue
		}
		next[h] = s.l
		if _, err := app.Append(0, s.l, t, s.v); err != nil {
			refused++
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", s.l.String(), err)
			}
		}
	}
	stale := math.Float64frombits(value.StaleNaN)
	for h, l := range prev {
		if _, ok := next[h]; ok {
			continue
		}
		if _, err := app.Append(0, l, t, stale); err != nil {
			refused++
			if firstErr == nil {
				firstErr = fmt.Errorf("stale marker of %s: %w", l.String(), err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		return next, refused, fmt.Errorf("committing to the metric store: %w", err)
	}
	if firstErr != nil {
		return next, refused, fmt.Errorf("the metric store refused %d samples, first %v", refused, firstErr)
	}
	return next, refused, nil
}
