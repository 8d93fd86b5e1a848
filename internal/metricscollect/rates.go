package metricscollect

import "time"

// counterState is the previous reading of one counter, and the rate it
// gave then.
type counterState struct {
	value   float64
	at      time.Time
	rate    float64
	hasRate bool
}

// rateTracker turns one node's counters into rates between two readings.
// A tracker is replaced whole by the next successful scrape of its node,
// so counters of pods that went away are forgotten with it.
type rateTracker map[string]counterState

// rate returns Δvalue/Δt in units per second against the previous reading
// in prev, and records the reading in next. The first reading, a counter
// reset (the value went down) and a reading older than the previous give
// no rate; the same reading seen again (a kubelet that has not sampled
// since) gives the rate it gave before.
func rate(prev, next rateTracker, key string, c Counter) (float64, bool) {
	if !c.OK {
		return 0, false
	}
	p, seen := prev[key]
	cur := counterState{value: c.Value, at: c.At}
	switch {
	case !seen:
	case c.At.Equal(p.at) && c.Value == p.value:
		cur.rate, cur.hasRate = p.rate, p.hasRate
	case !c.At.After(p.at), c.Value < p.value:
	default:
		cur.rate = (c.Value - p.value) / c.At.Sub(p.at).Seconds()
		cur.hasRate = true
	}
	next[key] = cur
	return cur.rate, cur.hasRate
}
