// Package metricscollect turns every monitored member's usage and state,
// and the platform's own metrics, into time series in the platform's
// metric store. Usage is read through each member's apiserver (the node
// proxy: resource metrics and stats/summary); state comes from the
// platform's cluster cache, so nothing is installed in a member and no
// request per object is made. docs/metrics.md lists what is written.
package metricscollect

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/storage"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/clustercache"
)

// Defaults and bounds.
const (
	DefaultInterval = 15 * time.Second
	DefaultTimeout  = 10 * time.Second
	// maxClusters rounds run at once; a cluster still busy with its
	// previous round skips a tick instead of queueing behind itself.
	maxClusters = 16
	// maxNodes requests of one cluster run at once.
	maxNodes = 10
)

// Collector writes, every Interval, the series of each cluster with
// monitoring on and of the platform itself.
type Collector struct {
	Cache    *clustercache.Cache
	Reader   client.Reader
	Store    storage.Appendable
	Interval time.Duration
	Timeout  time.Duration
	Self     []prometheus.Gatherer
	Log      *slog.Logger

	once     sync.Once
	pool     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	clusters map[string]*clusterState
	// selfSeries are the platform's own series written last round.
	selfSeries seriesSet
}

// Status is what the cluster page shows about a cluster's collection.
type Status struct {
	Enabled     bool      `json:"enabled"`
	LastScrape  time.Time `json:"lastScrape,omitempty"`
	LastError   string    `json:"lastError,omitempty"`
	Nodes       int       `json:"nodes"`
	NodesFailed int       `json:"nodesFailed"`
	Series      int       `json:"series"`
}

// Status returns a cluster's collection status; Enabled is false for a
// cluster not collected.
func (c *Collector) Status(cluster string) Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.clusters[cluster]; ok {
		return st.status
	}
	return Status{}
}

func (c *Collector) setup() {
	c.once.Do(func() {
		if c.Interval <= 0 {
			c.Interval = DefaultInterval
		}
		if c.Timeout <= 0 {
			c.Timeout = DefaultTimeout
		}
		if c.Log == nil {
			c.Log = slog.Default()
		}
		c.pool = make(chan struct{}, maxClusters)
		c.clusters = map[string]*clusterState{}
	})
}

// Run collects every Interval until ctx ends, then waits for the rounds
// under way.
func (c *Collector) Run(ctx context.Context) error {
	if c.Store == nil || c.Reader == nil {
		return errors.New("metric collector: Store and Reader are required")
	}
	c.setup()
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		c.tick(ctx, time.Now())
		select {
		case <-ctx.Done():
			c.wg.Wait()
			return nil
		case <-t.C:
		}
	}
}

// tick starts one round: the platform's own series at once, and a round
// for each monitored cluster (or a last one of stale markers for a cluster
// no longer monitored) on the pool. It does not wait for the clusters.
func (c *Collector) tick(ctx context.Context, at time.Time) {
	c.setup()
	c.collectSelf(ctx, at)
	var clusters platformv1.ClusterList
	if err := c.Reader.List(ctx, &clusters); err != nil {
		c.Log.Warn("metric collection: listing clusters failed; trying again next round", "err", err)
		return
	}
	projects := c.projectIndex(ctx)
	enabled := map[string]bool{}
	for i := range clusters.Items {
		cl := &clusters.Items[i]
		if cl.Spec.Features.Monitoring && cl.DeletionTimestamp.IsZero() {
			enabled[cl.Name] = true
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name := range enabled {
		st, ok := c.clusters[name]
		if !ok {
			st = newClusterState(name)
			c.clusters[name] = st
		}
		st.status.Enabled = true
		if st.busy {
			c.Log.Debug("metric collection: the cluster's previous round is still under way; skipping this one", "cluster", name)
			continue
		}
		st.busy = true
		c.run(ctx, st, func() { c.collectCluster(ctx, st, at, projects.forCluster(name)) })
	}
	for name, st := range c.clusters {
		if enabled[name] || st.busy {
			continue
		}
		st.busy = true
		c.run(ctx, st, func() { c.retire(ctx, st, at) })
	}
}

// run starts f on the pool, then marks the cluster free. Nothing runs
// once ctx ended: a platform shutting down writes no stale markers.
func (c *Collector) run(ctx context.Context, st *clusterState, f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() {
			c.mu.Lock()
			st.busy = false
			c.mu.Unlock()
		}()
		select {
		case c.pool <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-c.pool }()
		f()
	}()
}

// wait waits for the rounds under way (tests).
func (c *Collector) wait() { c.wg.Wait() }

// retire writes stale markers for every series of a cluster no longer
// monitored, so that queries stop returning them at once, and forgets it.
func (c *Collector) retire(ctx context.Context, st *clusterState, at time.Time) {
	if ctx.Err() != nil {
		return
	}
	_, _, err := write(ctx, c.Store, st.series, nil, at.UnixMilli())
	if err != nil {
		c.Log.Warn("metric collection: writing the stale markers of a cluster no longer monitored failed", "cluster", st.name, "err", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.clusters[st.name] == st {
		delete(c.clusters, st.name)
	}
	c.Log.Info("no longer collecting the cluster's metrics", "cluster", st.name)
}

// projectIndex is, per cluster, which project owns each member namespace
// and each project's hard limits there.
type projectIndex struct {
	namespaces map[string]map[string]string              // cluster → namespace → project
	quotas     map[string]map[string]corev1.ResourceList // cluster → project → hard
}

func (c *Collector) projectIndex(ctx context.Context) projectIndex {
	idx := projectIndex{namespaces: map[string]map[string]string{}, quotas: map[string]map[string]corev1.ResourceList{}}
	var nss businessv1.NamespaceList
	var prjs businessv1.ProjectList
	if err := c.Reader.List(ctx, &nss); err != nil {
		c.Log.Warn("metric collection: listing project namespaces failed; no project series this round", "err", err)
		return idx
	}
	if err := c.Reader.List(ctx, &prjs); err != nil {
		c.Log.Warn("metric collection: listing projects failed; no project series this round", "err", err)
		return idx
	}
	for _, ns := range nss.Items {
		if ns.Spec.ClusterName == "" || ns.Spec.Namespace == "" || ns.Spec.ProjectName == "" {
			continue
		}
		m := idx.namespaces[ns.Spec.ClusterName]
		if m == nil {
			m = map[string]string{}
			idx.namespaces[ns.Spec.ClusterName] = m
		}
		m[ns.Spec.Namespace] = ns.Spec.ProjectName
	}
	for _, p := range prjs.Items {
		for _, cq := range p.Spec.Clusters {
			m := idx.quotas[cq.Name]
			if m == nil {
				m = map[string]corev1.ResourceList{}
				idx.quotas[cq.Name] = m
			}
			m[p.Name] = cq.Hard
		}
	}
	return idx
}

// clusterProjects is one cluster's part of the index.
type clusterProjects struct {
	namespaces map[string]string
	quotas     map[string]corev1.ResourceList
}

func (idx projectIndex) forCluster(name string) clusterProjects {
	return clusterProjects{namespaces: idx.namespaces[name], quotas: idx.quotas[name]}
}
