package metricstore

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
)

func TestOpenDefaultsAndBadOptions(t *testing.T) {
	s := openTest(t, Options{})
	o := s.Options()
	if o.Retention != 15*24*time.Hour || o.MaxPointsPerSeries != 11000 || o.MaxSamples != 50_000_000 || o.QueryTimeout != 2*time.Minute || o.MaxBytes != 0 || o.Log == nil {
		t.Errorf("defaults: %+v", o)
	}
	for _, bad := range []Options{
		{},
		{Dir: t.TempDir(), Retention: -time.Hour},
		{Dir: t.TempDir(), Retention: time.Microsecond},
		{Dir: t.TempDir(), MaxBytes: -1},
		{Dir: t.TempDir(), MaxPointsPerSeries: -1},
	} {
		if s, err := Open(bad); err == nil {
			s.Close()
			t.Errorf("Open(%+v) accepted", bad)
		}
	}
}

func TestTSDBOptions(t *testing.T) {
	o, err := Options{Dir: "x", Retention: 3 * time.Hour, MaxBytes: 1 << 30}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	to := tsdbOptions(o)
	if to.RetentionDuration != (3*time.Hour).Milliseconds() || to.MaxBytes != 1<<30 {
		t.Errorf("tsdb options: retention %d, max bytes %d", to.RetentionDuration, to.MaxBytes)
	}
}

func TestHeadSeriesAndStaleness(t *testing.T) {
	s := openTest(t, Options{})
	app := s.Appender(context.Background())
	a := labels.FromStrings("__name__", "up", "cluster", "c1")
	b := labels.FromStrings("__name__", "up", "cluster", "c2")
	t0 := base.Add(-time.Minute).UnixMilli()
	app.Append(0, a, t0, 1)
	app.Append(0, b, t0, 1)
	// A stale marker ends a series at once instead of after the lookback delta.
	app.Append(0, b, base.Add(-30*time.Second).UnixMilli(), math.Float64frombits(value.StaleNaN))
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := s.HeadSeries(); n != 2 {
		t.Errorf("HeadSeries = %d, want 2", n)
	}
	v := instant(t, s, s.Scoped(&Scope{All: true}), "up").(promql.Vector)
	if len(v) != 1 || v[0].Metric.Get("cluster") != "c1" {
		t.Errorf("after stale marker: %v", v)
	}
}

// appendHours appends one sample a minute for every minute of [0, hours).
func appendHours(t *testing.T, s *Store, hours int) {
	t.Helper()
	l := labels.FromStrings("__name__", "old", "cluster", "c1")
	app := s.Appender(context.Background())
	for m := 0; m < hours*60; m++ {
		if _, err := app.Append(0, l, int64(m)*time.Minute.Milliseconds(), float64(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

// firstSample is the timestamp of the oldest sample the store still has.
func firstSample(t *testing.T, s *Store) int64 {
	t.Helper()
	q, err := s.db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), false, nil, anySeries)
	if !ss.Next() {
		t.Fatal("no series left")
	}
	it := ss.At().Iterator(nil)
	it.Next()
	ts, _ := it.At()
	return ts
}

// The TSDB applies retention to the 2h blocks it cuts from the head, relative
// to the newest block.
func TestRetentionByTime(t *testing.T) {
	s := openTest(t, Options{Retention: 4 * time.Hour})
	appendHours(t, s, 12)
	if err := s.db.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := time.Duration(firstSample(t, s)) * time.Millisecond
	if first < 4*time.Hour || first > 6*time.Hour {
		t.Errorf("oldest sample at %s, want between 4h and 6h of 12h with 4h retention", first)
	}
}

func TestRetentionBySize(t *testing.T) {
	s := openTest(t, Options{MaxBytes: 1}) // the WAL alone exceeds it: every block goes
	appendHours(t, s, 12)
	if err := s.db.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(s.db.Blocks()); n != 0 {
		t.Errorf("%d blocks kept over the size limit", n)
	}
	if first := time.Duration(firstSample(t, s)) * time.Millisecond; first < 6*time.Hour {
		t.Errorf("oldest sample at %s: blocks were not removed", first)
	}
}
