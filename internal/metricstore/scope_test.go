package metricstore

import (
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

func TestScopeAllows(t *testing.T) {
	nsA := &Scope{Namespaces: map[ClusterNamespace]bool{{"c1", "a"}: true}}
	cl := &Scope{Clusters: map[string]bool{"c2": true, "c3": false}}
	proj := &Scope{Projects: map[ClusterProject]bool{{"c1", "pa"}: true}}
	admin := &Scope{All: true}
	self := labels.FromStrings("__name__", "kstack_gateway_requests_total", "code", "200")

	cases := []struct {
		name string
		sc   *Scope
		l    labels.Labels
		want bool
	}{
		{"nil scope reads nothing", nil, labels.FromStrings("cluster", "c1", "namespace", "a"), false},
		{"empty scope reads nothing", &Scope{}, labels.FromStrings("cluster", "c1", "namespace", "a"), false},
		{"admin reads self-metrics", admin, self, true},
		{"namespace scope: self-metric hidden", nsA, self, false},
		{"cluster scope: self-metric hidden", cl, self, false},
		{"namespace pair allowed", nsA, labels.FromStrings("cluster", "c1", "namespace", "a", "pod", "p"), true},
		{"same namespace other cluster hidden", nsA, labels.FromStrings("cluster", "c2", "namespace", "a"), false},
		{"other namespace same cluster hidden", nsA, labels.FromStrings("cluster", "c1", "namespace", "b"), false},
		{"cluster-level series hidden from namespace scope", nsA, labels.FromStrings("cluster", "c1", "node", "n1"), false},
		{"namespace without cluster hidden", nsA, labels.FromStrings("namespace", "a"), false},
		{"whole cluster", cl, labels.FromStrings("cluster", "c2", "node", "n1"), true},
		{"whole cluster, any namespace", cl, labels.FromStrings("cluster", "c2", "namespace", "zzz"), true},
		{"cluster set to false is not allowed", cl, labels.FromStrings("cluster", "c3"), false},
		{"project series", proj, labels.FromStrings("cluster", "c1", "project", "pa"), true},
		{"project in other cluster hidden", proj, labels.FromStrings("cluster", "c2", "project", "pa"), false},
		{"other project hidden", proj, labels.FromStrings("cluster", "c1", "project", "pb"), false},
		// A namespaced series is judged by its namespace, whatever project label it carries.
		{"project label does not open a namespace", proj, labels.FromStrings("cluster", "c1", "namespace", "b", "project", "pa"), false},
	}
	for _, c := range cases {
		if got := c.sc.Allows(c.l); got != c.want {
			t.Errorf("%s: Allows(%s) = %v, want %v", c.name, c.l, got, c.want)
		}
	}
}

func TestScopeClusters(t *testing.T) {
	sc := &Scope{
		Clusters:   map[string]bool{"c1": true, "off": false},
		Namespaces: map[ClusterNamespace]bool{{"c2", "a"}: true, {"c1", "b"}: true},
		Projects:   map[ClusterProject]bool{{"c3", "p"}: true},
	}
	got, bounded := sc.clusters()
	if !bounded || quoteAlternatives(got) != "c1|c2|c3" {
		t.Fatalf("clusters = %v, %v", got, bounded)
	}
	if _, bounded := (&Scope{All: true}).clusters(); bounded {
		t.Fatal("All must be unbounded")
	}
	if got, bounded := (*Scope)(nil).clusters(); !bounded || len(got) != 0 {
		t.Fatal("nil scope must be bounded to nothing")
	}
	if q := quoteAlternatives([]string{"a.b", "c|d"}); q != `a\.b|c\|d` {
		t.Fatalf("quoting: %s", q)
	}
}
