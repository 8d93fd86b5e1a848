package metricstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

var base = time.Unix(1_700_000_000, 0)

// fleet is the test data: every kind of series a scope must tell apart.
var fleet = []labels.Labels{
	labels.FromStrings("__name__", "x", "cluster", "c1", "namespace", "a", "pod", "p1"),
	labels.FromStrings("__name__", "y", "cluster", "c1", "namespace", "a", "pod", "p1"),
	labels.FromStrings("__name__", "x", "cluster", "c1", "namespace", "b", "pod", "p2", "secret_b", "1"),
	labels.FromStrings("__name__", "x", "cluster", "c2", "namespace", "a", "pod", "p3", "secret_c2", "1"),
	labels.FromStrings("__name__", "x", "cluster", "c2", "namespace", "b", "pod", "p4"),
	labels.FromStrings("__name__", "node_cpu", "cluster", "c1", "node", "n1"),
	labels.FromStrings("__name__", "project_cpu", "cluster", "c1", "project", "pa"),
	labels.FromStrings("__name__", "project_cpu", "cluster", "c2", "project", "pa"),
	labels.FromStrings("__name__", "kstack_gateway_requests_total", "code", "200"),
}

// seriesValue gives each series distinct values so sums reveal any leak.
func seriesValue(i, minute int) float64 { return float64((i+1)*100 + minute) }

func openTest(t *testing.T, o Options) *Store {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fill appends one sample a minute over the 10 minutes up to base for the
// series keep accepts.
func fill(t *testing.T, s *Store, keep func(labels.Labels) bool) {
	t.Helper()
	app := s.Appender(context.Background())
	for i, l := range fleet {
		if !keep(l) {
			continue
		}
		for m := 0; m <= 10; m++ {
			ts := base.Add(time.Duration(m-10) * time.Minute).UnixMilli()
			if _, err := app.Append(0, l, ts, seriesValue(i, m)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

func instant(t *testing.T, s *Store, q storage.Queryable, qs string) parser.Value {
	t.Helper()
	qry, err := s.Engine().NewInstantQuery(context.Background(), q, nil, qs, base)
	if err != nil {
		t.Fatalf("%s: %v", qs, err)
	}
	defer qry.Close()
	res := qry.Exec(context.Background())
	if res.Err != nil {
		t.Fatalf("%s: %v", qs, res.Err)
	}
	return res.Value
}

func rangeQuery(t *testing.T, s *Store, q storage.Queryable, qs string) parser.Value {
	t.Helper()
	qry, err := s.Engine().NewRangeQuery(context.Background(), q, nil, qs, base.Add(-10*time.Minute), base, time.Minute)
	if err != nil {
		t.Fatalf("%s: %v", qs, err)
	}
	defer qry.Close()
	res := qry.Exec(context.Background())
	if res.Err != nil {
		t.Fatalf("%s: %v", qs, res.Err)
	}
	return res.Value
}

// render is a canonical text of a result, for comparing two results.
func render(v parser.Value) (out string, metrics []labels.Labels) {
	var lines []string
	switch v := v.(type) {
	case promql.Vector:
		for _, s := range v {
			lines = append(lines, fmt.Sprintf("%s %g", s.Metric, s.F))
			metrics = append(metrics, s.Metric)
		}
	case promql.Matrix:
		for _, s := range v {
			lines = append(lines, fmt.Sprintf("%s %v", s.Metric, s.Floats))
			metrics = append(metrics, s.Metric)
		}
	case promql.Scalar:
		lines = append(lines, fmt.Sprintf("scalar %g", v.V))
	default:
		lines = append(lines, v.String())
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n"), metrics
}

// foreign reports whether a result series shows anything of what the (c1, a)
// scope must not see.
func foreign(l labels.Labels) bool {
	return l.Get("cluster") == "c2" || l.Get("namespace") == "b" || l.Get("node") != "" ||
		l.Get("project") != "" || l.Has("secret_b") || l.Has("secret_c2") || l.Get("pod") == "p2" ||
		strings.HasPrefix(l.Get("__name__"), "kstack_")
}

func isOwn(l labels.Labels) bool { return l.Get("cluster") == "c1" && l.Get("namespace") == "a" }

// TestScopedQueries runs attacks of a (c1, a) caller against everything else.
// Each result must equal the result over a store that holds only (c1, a)'s
// series, hold nothing foreign, and each attack has a twin that returns the
// caller's own series.
func TestScopedQueries(t *testing.T) {
	full := openTest(t, Options{})
	fill(t, full, func(labels.Labels) bool { return true })
	only := openTest(t, Options{})
	fill(t, only, isOwn)

	sc := &Scope{Namespaces: map[ClusterNamespace]bool{{"c1", "a"}: true}}
	scoped := full.Scoped(sc)
	reference := only.Scoped(&Scope{All: true})

	cases := []struct {
		attack, twin string
	}{
		{`x{namespace="b"}`, `x{namespace="a"}`},
		{`x{cluster="c2"}`, `x{cluster="c1"}`},
		{`x{pod="p2"}`, `x{pod="p1"}`},
		{`{__name__=~".+"}`, `{__name__=~".+", namespace="a"}`},
		{`{secret_c2="1"}`, `{pod="p1"}`},
		{`x{namespace=~"b|.*"}`, `x{namespace=~"a|b"}`},
		{`x{cluster!="c1"}`, `x{cluster!="c2"}`},
		{`x{namespace="b"} or x{cluster="c2"}`, `x{namespace="b"} or x{namespace="a"}`},
		{`label_replace(x{namespace="b"}, "namespace", "a", "namespace", ".*")`, `label_replace(x, "relabeled", "$1", "namespace", "(.*)")`},
		{`label_replace({cluster="c2"}, "cluster", "c1", "", "")`, `label_replace({cluster="c1"}, "copy", "$1", "cluster", "(.*)")`},
		{`max_over_time(x{namespace="b"}[5m:1m])`, `max_over_time(x[5m:1m])`},
		{`max_over_time(x{cluster="c2"}[5m:])`, `max_over_time(x[5m:])`},
		{`count by (namespace)({__name__=~".+"})`, `count by (namespace)({namespace="a"})`},
		{`group by (cluster, namespace)({__name__=~".+"})`, `group by (cluster, namespace)(x)`},
		{`sum(x)`, `sum(x{namespace="a"})`},
		{`count(x)`, `count(y)`},
		{`sum by (cluster) ({cluster=~"c.*"})`, `sum by (cluster) (y)`},
		{`topk(100, {__name__=~".+"})`, `topk(1, x)`},
		{`node_cpu`, `y`},
		{`project_cpu{project="pa"}`, `y{pod="p1"}`},
		{`kstack_gateway_requests_total`, `x`},
		{`{__name__=~"kstack_.*|node_.*|project_.*"}`, `{__name__=~"x|y"}`},
		{`x{namespace="b"} offset -1m`, `x offset 1m`},
		{`x{namespace="b"} @ end()`, `x @ end()`},
		{`count_values("v", x{cluster="c2"})`, `count_values("v", x)`},
		{`rate(x{namespace="b"}[5m])`, `rate(x[5m])`},
	}
	for _, c := range cases {
		for _, run := range []struct {
			kind string
			f    func(*testing.T, *Store, storage.Queryable, string) parser.Value
		}{{"instant", instant}, {"range", rangeQuery}} {
			got, metrics := render(run.f(t, full, scoped, c.attack))
			want, _ := render(run.f(t, only, reference, c.attack))
			if got != want {
				t.Errorf("%s %s:\n got %s\nwant %s", run.kind, c.attack, got, want)
			}
			for _, l := range metrics {
				if foreign(l) {
					t.Errorf("%s %s leaked %s", run.kind, c.attack, l)
				}
			}
			twin, metrics := render(run.f(t, full, scoped, c.twin))
			if len(metrics) == 0 {
				t.Errorf("%s twin %s returned nothing", run.kind, c.twin)
			}
			if wantTwin, _ := render(run.f(t, only, reference, c.twin)); twin != wantTwin {
				t.Errorf("%s twin %s:\n got %s\nwant %s", run.kind, c.twin, twin, wantTwin)
			}
		}
	}

	// absent must not confirm that a foreign series exists: it is absent.
	if got, _ := render(instant(t, full, scoped, `absent(x{namespace="b"})`)); got != `{namespace="b"} 1` {
		t.Errorf(`absent(x{namespace="b"}) = %q, want 1`, got)
	}
	if got, _ := render(instant(t, full, scoped, `absent(x{cluster="c2", namespace="a"})`)); got != `{cluster="c2", namespace="a"} 1` {
		t.Errorf(`absent of the same namespace in c2 = %q, want 1`, got)
	}
	if got, m := render(instant(t, full, scoped, `absent(x{namespace="a"})`)); len(m) != 0 {
		t.Errorf(`absent of own series = %q, want empty`, got)
	}
	// And the administrator does see every kind of series.
	if _, m := render(instant(t, full, full.Scoped(&Scope{All: true}), `{__name__=~".+"}`)); len(m) != len(fleet) {
		t.Errorf("admin sees %d series, want %d", len(m), len(fleet))
	}
}

func TestScopedLabels(t *testing.T) {
	s := openTest(t, Options{})
	fill(t, s, func(labels.Labels) bool { return true })
	ctx := context.Background()
	q, err := s.Scoped(&Scope{Namespaces: map[ClusterNamespace]bool{{"c1", "a"}: true}}).Querier(base.Add(-time.Hour).UnixMilli(), base.UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	eq := func(name string, ms ...*labels.Matcher) []string {
		vals, _, err := q.LabelValues(ctx, name, nil, ms...)
		if err != nil {
			t.Fatal(err)
		}
		return vals
	}
	names := func(ms ...*labels.Matcher) []string {
		vals, _, err := q.LabelNames(ctx, nil, ms...)
		if err != nil {
			t.Fatal(err)
		}
		return vals
	}
	m := func(t labels.MatchType, n, v string) *labels.Matcher { return labels.MustNewMatcher(t, n, v) }
	checks := []struct {
		what      string
		got, want []string
	}{
		{"values of namespace", eq("namespace"), []string{"a"}},
		{"values of cluster", eq("cluster"), []string{"c1"}},
		{"values of pod", eq("pod"), []string{"p1"}},
		{"values of __name__", eq("__name__"), []string{"x", "y"}},
		{"values of project", eq("project"), []string{}},
		{"values of node", eq("node"), []string{}},
		{"values of secret_b", eq("secret_b"), []string{}},
		{"namespace values for namespace b", eq("namespace", m(labels.MatchEqual, "namespace", "b")), []string{}},
		{"pod values in c2", eq("pod", m(labels.MatchEqual, "cluster", "c2")), []string{}},
		{"pod values by regex", eq("pod", m(labels.MatchRegexp, "pod", ".+")), []string{"p1"}},
		{"label names", names(), []string{"__name__", "cluster", "namespace", "pod"}},
		{"label names for c2", names(m(labels.MatchEqual, "cluster", "c2")), []string{}},
		{"label names for own namespace", names(m(labels.MatchEqual, "namespace", "a")), []string{"__name__", "cluster", "namespace", "pod"}},
	}
	for _, c := range checks {
		if c.got == nil || !slices.Equal(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}

	// A limit counts allowed series only: foreign ones sorted first must not use it up.
	ss := q.Select(ctx, true, &storage.SelectHints{Limit: 1, Start: base.Add(-time.Hour).UnixMilli(), End: base.UnixMilli()},
		m(labels.MatchEqual, "__name__", "x"))
	var got []string
	for ss.Next() {
		got = append(got, ss.At().Labels().String())
	}
	if len(got) != 1 || !strings.Contains(got[0], `namespace="a"`) {
		t.Errorf("limited select = %v", got)
	}
}

func TestScopedProjectsAndClusters(t *testing.T) {
	s := openTest(t, Options{})
	fill(t, s, func(labels.Labels) bool { return true })
	count := func(sc *Scope, qs string) string {
		out, _ := render(instant(t, s, s.Scoped(sc), qs))
		return out
	}
	proj := &Scope{Projects: map[ClusterProject]bool{{"c1", "pa"}: true}}
	if got := count(proj, `count by (cluster, project)({__name__=~".+"})`); got != `{cluster="c1", project="pa"} 1` {
		t.Errorf("project scope sees %q", got)
	}
	c2 := &Scope{Clusters: map[string]bool{"c2": true}}
	if got := count(c2, `count by (cluster)({__name__=~".+"})`); got != `{cluster="c2"} 3` {
		t.Errorf("cluster scope sees %q", got)
	}
	for _, sc := range []*Scope{nil, {}, {Clusters: map[string]bool{"c1": false}}} {
		if got := count(sc, `{__name__=~".+"}`); got != "" {
			t.Errorf("scope %+v sees %q", sc, got)
		}
		q, err := s.Scoped(sc).Querier(0, base.UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		if vals, _, err := q.LabelNames(context.Background(), nil); err != nil || len(vals) != 0 {
			t.Errorf("scope %+v label names %v %v", sc, vals, err)
		}
		q.Close()
	}
}
