// Package metricstore embeds the Prometheus TSDB and PromQL engine: the
// collector appends through Store, and every read goes through Scoped, which
// shows a caller only the series its rights allow.
package metricstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/util/compression"
)

// Defaults, Prometheus's own where it has one.
const (
	DefaultRetention          = 15 * 24 * time.Hour
	DefaultMaxPointsPerSeries = 11000
	DefaultMaxSamples         = 50_000_000
	DefaultQueryTimeout       = 2 * time.Minute
	// LookbackDelta is how long after its last sample a series still has a
	// value at an instant; a series whose source stops answering disappears
	// after it (or at once when a stale marker is appended).
	LookbackDelta = 5 * time.Minute
	// subqueryStep is the step of a subquery written without one (x[5m:]);
	// Prometheus uses its global evaluation interval, 1m by default.
	subqueryStep = time.Minute
)

// Options configure Open; zero values take the defaults.
type Options struct {
	Dir                string        // TSDB directory (created)
	Retention          time.Duration // by time; default 15 days
	MaxBytes           int64         // by size of the blocks (tsdb MaxBytes); 0 = no size limit
	MaxPointsPerSeries int           // range-query resolution limit; default 11000 (Prometheus's)
	MaxSamples         int           // engine max samples per query; default 50_000_000
	QueryTimeout       time.Duration // default 2m
	Log                *slog.Logger
}

// Store is the embedded metric store.
type Store struct {
	opts   Options
	db     *tsdb.DB
	engine *promql.Engine
}

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("metricstore: Dir is required")
	}
	if o.Retention < 0 || o.MaxBytes < 0 || o.MaxPointsPerSeries < 0 || o.MaxSamples < 0 || o.QueryTimeout < 0 {
		return o, errors.New("metricstore: Retention, MaxBytes, MaxPointsPerSeries, MaxSamples and QueryTimeout must not be negative")
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.Retention < time.Millisecond {
		return o, fmt.Errorf("metricstore: Retention %s is below the TSDB's millisecond resolution", o.Retention)
	}
	if o.MaxPointsPerSeries == 0 {
		o.MaxPointsPerSeries = DefaultMaxPointsPerSeries
	}
	if o.MaxSamples == 0 {
		o.MaxSamples = DefaultMaxSamples
	}
	if o.QueryTimeout == 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// tsdbOptions maps our options onto the TSDB's; retention is enforced by the
// TSDB when it compacts and reloads blocks.
func tsdbOptions(o Options) *tsdb.Options {
	t := tsdb.DefaultOptions()
	t.RetentionDuration = o.Retention.Milliseconds()
	t.MaxBytes = o.MaxBytes
	t.WALCompression = compression.Snappy // Prometheus's default since 2.20
	return t
}

// Open opens (creating if needed) the TSDB in o.Dir and the engine over it.
func Open(o Options) (*Store, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("metricstore: %w", err)
	}
	db, err := tsdb.Open(o.Dir, o.Log.With("component", "tsdb"), nil, tsdbOptions(o), nil)
	if err != nil {
		return nil, fmt.Errorf("metricstore: open tsdb %s: %w", o.Dir, err)
	}
	return &Store{opts: o, db: db, engine: newEngine(o)}, nil
}

func newEngine(o Options) *promql.Engine {
	return promql.NewEngine(promql.EngineOpts{
		Logger:        o.Log.With("component", "promql"),
		MaxSamples:    o.MaxSamples,
		Timeout:       o.QueryTimeout,
		LookbackDelta: LookbackDelta,
		// Without it the engine panics on a subquery written without a step.
		NoStepSubqueryIntervalFn: func(int64) int64 { return subqueryStep.Milliseconds() },
		EnableAtModifier:         true, // on in Prometheus since 2.33; Grafana may send @
		EnableNegativeOffset:     true,
	})
}

// Appender is how the collector writes; Store is a storage.Appendable.
func (s *Store) Appender(ctx context.Context) storage.Appender { return s.db.Appender(ctx) }

// Close flushes and closes the TSDB.
func (s *Store) Close() error { return s.db.Close() }

// Engine is the PromQL engine; run it with a Scoped queryable.
func (s *Store) Engine() *promql.Engine { return s.engine }

// Options are the options in force, defaults filled in.
func (s *Store) Options() Options { return s.opts }

// HeadSeries is the number of active series (those in the in-memory head).
func (s *Store) HeadSeries() uint64 { return s.db.Head().NumSeries() }

// Scoped is the store as a caller with scope sc may read it: Select,
// LabelValues and LabelNames only ever see series sc allows.
func (s *Store) Scoped(sc *Scope) storage.Queryable {
	return scopedQueryable{db: s.db, sc: sc}
}
