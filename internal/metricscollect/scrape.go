package metricscollect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"

	"github.com/kstack/kstack/internal/clustercache"
)

// scrapeNodes reads every node's usage, maxNodes at a time. A node whose
// resource metrics fail is in errs and has no usage; a node whose summary
// fails just lacks what the summary gives.
func (c *Collector) scrapeNodes(ctx context.Context, st *clusterState, cl rest.Interface, nodes []*corev1.Node, at time.Time) (map[string]*Usage, map[string]error) {
	usage := map[string]*Usage{}
	errs := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxNodes)
	known := map[string]bool{}
	var missing []string
	for _, n := range nodes {
		known[n.Name] = true
		trySummary := !at.Before(st.noSummary[n.Name])
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			u, noSummary, err := c.scrapeNode(ctx, cl, n, trySummary)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[n.Name] = err
				return
			}
			usage[n.Name] = u
			if noSummary {
				missing = append(missing, n.Name)
			}
		}()
	}
	wg.Wait()
	for _, n := range missing {
		st.noSummary[n] = at.Add(summaryRetry)
	}
	for n := range st.noSummary {
		if !known[n] {
			delete(st.noSummary, n)
		}
	}
	return usage, errs
}

// scrapeNode reads one node's resource metrics (at the path its annotation
// names, or the kubelet's) and, when trySummary, its stats/summary.
// noSummary is true when the node has no summary to serve (404).
func (c *Collector) scrapeNode(ctx context.Context, cl rest.Interface, n *corev1.Node, trySummary bool) (u *Usage, noSummary bool, err error) {
	path := n.Annotations[clustercache.AnnotationResourceMetricsPath]
	if path == "" {
		path = "/metrics/resource"
	}
	body, err := c.get(ctx, cl.Get().AbsPath("/api/v1/nodes", n.Name, "proxy", path).
		SetHeader("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1"))
	if err != nil {
		return nil, false, fmt.Errorf("resource metrics: %w", err)
	}
	u, err = ParseResourceMetrics(bytes.NewReader(body), time.Now())
	if err != nil {
		return nil, false, err
	}
	if !trySummary {
		return u, false, nil
	}
	body, err = c.get(ctx, cl.Get().AbsPath("/api/v1/nodes", n.Name, "proxy", "stats", "summary"))
	switch {
	case apierrors.IsNotFound(err):
		return u, true, nil
	case err != nil:
		c.Log.Debug("metric collection: a node's stats/summary failed; its network and cache figures are absent this round", "node", n.Name, "err", err)
	default:
		if err := MergeSummary(u, body); err != nil {
			c.Log.Debug("metric collection: a node's stats/summary did not parse", "node", n.Name, "err", err)
		}
	}
	return u, false, nil
}

// get runs one request within Timeout.
func (c *Collector) get(ctx context.Context, req *rest.Request) ([]byte, error) {
	rctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	body, err := req.Do(rctx).Raw()
	if err != nil && errors.Is(rctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		return nil, fmt.Errorf("no answer within %s", c.Timeout)
	}
	return body, err
}
