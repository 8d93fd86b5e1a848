package metricscollect

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/clustercache"
)

// summaryRetry is how long a node whose stats/summary is not found (kwok's
// nodes serve none) goes before it is asked again.
const summaryRetry = 5 * time.Minute

// clusterState is what the collector keeps of one monitored cluster.
// busy and status are guarded by Collector.mu; the rest belongs to the
// cluster's round under way (one at a time).
type clusterState struct {
	name   string
	busy   bool
	status Status

	series    seriesSet
	rates     map[string]rateTracker
	noSummary map[string]time.Time
	entry     *clustercache.Entry
	client    rest.Interface
}

func newClusterState(name string) *clusterState {
	return &clusterState{name: name, status: Status{Enabled: true}, rates: map[string]rateTracker{}, noSummary: map[string]time.Time{}}
}

// collectCluster runs one round of a cluster: usage from its nodes, state
// from the cache, and one commit of every sample at the round's time, with
// stale markers for what the last round wrote and this one did not.
func (c *Collector) collectCluster(ctx context.Context, st *clusterState, at time.Time, prj clusterProjects) {
	var samples []sample
	var nodes, failed int
	var problem string
	e, ok := c.entry(st.name)
	switch {
	case !ok && st.name == platformv1.GlobalClusterName:
		problem = "the platform's own cluster is not collected: it has no member connection in the cluster cache"
	case !ok:
		problem = "the platform has no verified connection to the cluster"
	case down(e) != "":
		// The cache's state of a cluster that does not answer is old news:
		// nothing is written, so every series goes stale.
		problem = down(e)
	default:
		samples, nodes, failed, problem = c.gatherCluster(ctx, st, e, at, prj)
	}
	if ctx.Err() != nil {
		return
	}
	series, _, err := write(ctx, c.Store, st.series, samples, at.UnixMilli())
	st.series = series
	if err != nil {
		c.Log.Warn("metric collection: writing a cluster's series failed", "cluster", st.name, "err", err)
		problem = strings.TrimPrefix(problem+"; "+err.Error(), "; ")
	}
	c.mu.Lock()
	st.status = Status{Enabled: true, LastScrape: at, LastError: problem, Nodes: nodes, NodesFailed: failed, Series: len(series)}
	c.mu.Unlock()
}

// down says why a cluster counts as down by its health probes ("" when
// it does not).
func down(e *clustercache.Entry) string {
	h := e.Health()
	if !h.Probed || h.Healthy {
		return ""
	}
	why := "no answer"
	if h.LastError != nil {
		why = h.LastError.Error()
	}
	return "the cluster does not answer the platform's health probes: " + why
}

func (c *Collector) entry(name string) (*clustercache.Entry, bool) {
	if c.Cache == nil {
		return nil, false
	}
	return c.Cache.Get(name)
}

// gatherCluster reads the cluster's nodes and builds its samples; problem
// says what failed ("" when nothing did).
func (c *Collector) gatherCluster(ctx context.Context, st *clusterState, e *clustercache.Entry, at time.Time, prj clusterProjects) (samples []sample, nodes, failed int, problem string) {
	wctx, cancel := context.WithTimeout(ctx, c.Timeout)
	synced := e.WaitSynced(wctx)
	cancel()
	if !synced {
		return nil, 0, 0, "the platform's cache of the cluster (nodes, pods, workloads, quotas) is not filled yet"
	}
	list, err := e.Nodes().List(labels.Everything())
	if err != nil {
		return nil, 0, 0, "reading the cached nodes: " + err.Error()
	}
	usage, errs := c.scrapeNodes(ctx, st, c.nodeClient(st, e), list, at)
	b, rates, err := build(&roundInput{
		cluster: st.name, src: e, usage: usage, rates: st.rates,
		projects: prj.namespaces, quotas: prj.quotas,
	})
	if err != nil {
		return nil, len(list), len(errs), "reading the cluster cache: " + err.Error()
	}
	st.rates = rates
	return b.samples, len(list), len(errs), describeFailures(errs, len(list))
}

// describeFailures names the failed nodes and why, a few of them.
func describeFailures(errs map[string]error, total int) string {
	if len(errs) == 0 {
		return ""
	}
	names := make([]string, 0, len(errs))
	for n := range errs {
		names = append(names, n)
	}
	sort.Strings(names)
	const shown = 5
	parts := make([]string, 0, shown+1)
	for i, n := range names {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(names)-shown))
			break
		}
		parts = append(parts, n+": "+errs[n].Error())
	}
	return fmt.Sprintf("%d of %d nodes failed: %s", len(errs), total, strings.Join(parts, "; "))
}

// nodeClient is the client for the node proxy. It is the entry's
// connection with a rate limit of its own: two requests per node per round
// would otherwise queue behind the member's shared 50 QPS.
func (c *Collector) nodeClient(st *clusterState, e *clustercache.Entry) rest.Interface {
	if st.entry == e && st.client != nil {
		return st.client
	}
	st.entry, st.client = e, e.Client.CoreV1().RESTClient()
	if e.Config != nil {
		cfg := rest.CopyConfig(e.Config)
		cfg.QPS, cfg.Burst, cfg.RateLimiter = 200, 400, nil
		if cs, err := kubernetes.NewForConfig(cfg); err == nil {
			st.client = cs.CoreV1().RESTClient()
		}
	}
	return st.client
}
