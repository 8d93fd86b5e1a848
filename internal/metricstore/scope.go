package metricstore

import "github.com/prometheus/prometheus/model/labels"

// Label names that place a series in the fleet; scoping reads only these.
const (
	LabelCluster   = "cluster"
	LabelNamespace = "namespace"
	LabelProject   = "project"
)

// Scope is what series a caller may read. A nil *Scope reads nothing.
type Scope struct {
	All        bool                      // platform administrators: everything, self-metrics included
	Clusters   map[string]bool           // every series whose cluster label is one of these
	Namespaces map[ClusterNamespace]bool // series whose (cluster, namespace) pair is one of these
	Projects   map[ClusterProject]bool   // series with a project label and no namespace label, whose (cluster, project) pair is one of these
}

// ClusterNamespace is a namespace in one cluster; the pair is matched together
// so that a namespace allowed in one cluster does not open its namesake in another.
type ClusterNamespace struct{ Cluster, Namespace string }

// ClusterProject is a project's share of one cluster.
type ClusterProject struct{ Cluster, Project string }

// Allows reports whether a caller with this scope may read the series l.
func (sc *Scope) Allows(l labels.Labels) bool {
	if sc == nil {
		return false
	}
	if sc.All {
		return true
	}
	cluster := l.Get(LabelCluster)
	if cluster == "" {
		// Platform self-metrics carry no cluster: administrators only.
		return false
	}
	if sc.Clusters[cluster] {
		return true
	}
	if ns := l.Get(LabelNamespace); ns != "" {
		return sc.Namespaces[ClusterNamespace{cluster, ns}]
	}
	if p := l.Get(LabelProject); p != "" {
		return sc.Projects[ClusterProject{cluster, p}]
	}
	return false
}

// clusters is every cluster a series must be in to be allowed, so Select can
// let the index narrow the candidates before Allows looks at each one. ok is
// false when the scope is unbounded (All).
func (sc *Scope) clusters() (names []string, ok bool) {
	if sc == nil {
		return nil, true
	}
	if sc.All {
		return nil, false
	}
	seen := map[string]bool{}
	add := func(c string) {
		if c != "" && !seen[c] {
			seen[c] = true
			names = append(names, c)
		}
	}
	for c, on := range sc.Clusters {
		if on {
			add(c)
		}
	}
	for cn, on := range sc.Namespaces {
		if on {
			add(cn.Cluster)
		}
	}
	for cp, on := range sc.Projects {
		if on {
			add(cp.Cluster)
		}
	}
	return names, true
}
