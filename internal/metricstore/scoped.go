package metricstore

import (
	"context"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// scopedQueryable hands out queriers that only ever see series the scope
// allows. Enforcing at the storage layer rather than rewriting PromQL means no
// construct of the language (or, regex, label_replace, absent, subqueries ...)
// can reach a foreign series: the engine never receives one.
type scopedQueryable struct {
	db storage.Queryable
	sc *Scope
}

func (q scopedQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	clusters, bounded := q.sc.clusters()
	if bounded && len(clusters) == 0 {
		return storage.NoopQuerier(), nil
	}
	inner, err := q.db.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	if !bounded {
		// Administrators read the store as it is, label index included.
		return inner, nil
	}
	return &scopedQuerier{
		inner: inner,
		sc:    q.sc,
		mint:  mint,
		maxt:  maxt,
		// Lets the index drop other clusters' series before they are decoded.
		clusterMatcher: labels.MustNewMatcher(labels.MatchRegexp, LabelCluster, quoteAlternatives(clusters)),
	}, nil
}

func quoteAlternatives(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = regexp.QuoteMeta(v)
	}
	sort.Strings(q)
	return strings.Join(q, "|")
}

type scopedQuerier struct {
	inner          storage.Querier
	sc             *Scope
	mint, maxt     int64
	clusterMatcher *labels.Matcher
}

func (q *scopedQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	limit := 0
	if hints != nil && hints.Limit > 0 {
		// The store would count foreign series against the limit; apply it after filtering.
		h := *hints
		limit, h.Limit = h.Limit, 0
		hints = &h
	}
	all := make([]*labels.Matcher, 0, len(ms)+1)
	all = append(all, ms...)
	all = append(all, q.clusterMatcher)
	return &filteredSet{SeriesSet: q.inner.Select(ctx, sortSeries, hints, all...), sc: q.sc, limit: limit}
}

// LabelValues is computed from the allowed series only: the label index would
// also hold values of foreign series and so confirm that they exist.
func (q *scopedQuerier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]struct{}{}
	ws, err := q.eachSeries(ctx, ms, func(l labels.Labels) {
		if v := l.Get(name); v != "" {
			seen[v] = struct{}{}
		}
	})
	return limitSorted(seen, hints), ws, err
}

// LabelNames is computed from the allowed series only, as LabelValues.
func (q *scopedQuerier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]struct{}{}
	ws, err := q.eachSeries(ctx, ms, func(l labels.Labels) {
		l.Range(func(lb labels.Label) { seen[lb.Name] = struct{}{} })
	})
	return limitSorted(seen, hints), ws, err
}

func (q *scopedQuerier) Close() error { return q.inner.Close() }

// anySeries selects every series; the index needs at least one matcher that
// does not match the empty string.
var anySeries = labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+")

func (q *scopedQuerier) eachSeries(ctx context.Context, ms []*labels.Matcher, f func(labels.Labels)) (annotations.Annotations, error) {
	if len(ms) == 0 {
		ms = []*labels.Matcher{anySeries}
	}
	// Func "series" tells the TSDB that only labels are wanted, not chunks.
	hints := &storage.SelectHints{Start: q.mint, End: q.maxt, Func: "series"}
	ss := q.Select(ctx, false, hints, ms...)
	for ss.Next() {
		f(ss.At().Labels())
	}
	return ss.Warnings(), ss.Err()
}

func limitSorted(set map[string]struct{}, hints *storage.LabelHints) []string {
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	slices.Sort(out)
	if hints != nil && hints.Limit > 0 && len(out) > hints.Limit {
		out = out[:hints.Limit]
	}
	return out
}

// filteredSet passes on only the series the scope allows.
type filteredSet struct {
	storage.SeriesSet
	sc    *Scope
	limit int
	n     int
}

func (s *filteredSet) Next() bool {
	if s.limit > 0 && s.n >= s.limit {
		return false
	}
	for s.SeriesSet.Next() {
		if s.sc.Allows(s.SeriesSet.At().Labels()) {
			s.n++
			return true
		}
	}
	return false
}
