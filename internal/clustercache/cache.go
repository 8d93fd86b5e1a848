// Package clustercache keeps one connection per member cluster: a client,
// shared informers for nodes and pods (and, once the metric collector asks,
// for workloads and quotas; all stopped on removal), a transport for the proxy, and a health probe with a failure
// threshold, so that cluster health is known in seconds and a slow cluster
// is not reported as down.
package clustercache

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Health probing: a probe every ProbeInterval, each allowed ProbeTimeout (a
// slow answer is a good answer), and FailureThreshold failures in a row
// before a cluster counts as down. One success brings it back.
var (
	ProbeInterval    = 3 * time.Second
	ProbeTimeout     = 6 * time.Second
	FailureThreshold = 3
)

// Entry is the platform's connection to one member cluster.
type Entry struct {
	Name        string
	Config      *rest.Config
	Client      kubernetes.Interface
	Transport   http.RoundTripper
	fingerprint string
	// uid is the member's kube-system namespace UID recorded at import:
	// every probe checks that the member still answers with it.
	uid     string
	factory informers.SharedInformerFactory
	nodes   listersv1.NodeLister
	pods    listersv1.PodLister
	// ctx lives as long as the entry: informers started on demand stop with it.
	ctx    context.Context
	cancel context.CancelFunc
	// workloads holds the informers the collector asks for, started once.
	workloadsOnce sync.Once
	workloads     workloadListers

	mu        sync.Mutex
	prepared  bool
	healthy   bool
	probed    bool
	failures  int
	lastErr   error
	lastProbe time.Time
	// verified: the member answered with uid; changed: it answered with
	// another (an error that stays for this connection).
	verified bool
	changed  error
}

// Verified says whether the member is the cluster it was imported as: nil
// once a probe saw its kube-system UID, an error before that or when it
// answered with another UID. The proxy serves verified members only.
func (e *Entry) Verified() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.changed != nil:
		return e.changed
	case !e.verified:
		return fmt.Errorf("cluster %s is not verified yet (its kube-system UID is checked on connection)", e.Name)
	}
	return nil
}

// MemberChanged reports whether the member answered with another
// kube-system UID than the one recorded at import.
func (e *Entry) MemberChanged() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changed
}

// Health is an entry's current health.
type Health struct {
	Probed    bool
	Healthy   bool
	LastError error
	LastProbe time.Time
}

// Prepared reports whether the member's kstack objects were made for this connection.
func (e *Entry) Prepared() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.prepared
}

// SetPrepared records that the member's kstack objects exist.
func (e *Entry) SetPrepared() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.prepared = true
}

// Health returns the entry's health.
func (e *Entry) Health() Health {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Health{Probed: e.probed, Healthy: e.healthy, LastError: e.lastErr, LastProbe: e.lastProbe}
}

// Cache holds the entries.
type Cache struct {
	// Changed is called with a cluster's name when its health changes.
	Changed func(name string)
	// QuotaChanged is called when a kstack ResourceQuota (one labelled with
	// a project) changes in a member: usage flows back at once, not on a poll.
	QuotaChanged func(cluster, namespace string)

	mu      sync.Mutex
	entries map[string]*Entry
}

// New returns an empty cache.
func New(changed func(string)) *Cache {
	return &Cache{Changed: changed, entries: map[string]*Entry{}}
}

// Get returns the entry of a cluster that is verified to be the one
// imported (Verified): nothing uses a connection to another cluster.
func (c *Cache) Get(name string) (*Entry, bool) {
	c.mu.Lock()
	e, ok := c.entries[name]
	c.mu.Unlock()
	if !ok || e.Verified() != nil {
		return nil, false
	}
	return e, true
}

// Ensure returns the entry for name, (re)connecting when the credential's
// fingerprint changed. uid is the member's kube-system UID recorded at
// import ("" checks nothing).
func (c *Cache) Ensure(name string, cfg *rest.Config, fingerprint, uid string) (*Entry, error) {
	fingerprint += "/" + uid
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[name]; ok {
		if e.fingerprint == fingerprint {
			return e, nil
		}
		e.cancel()
		delete(c.entries, name)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	tr, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 10*time.Minute, informers.WithTransform(slim))
	e := &Entry{
		Name: name, Config: cfg, Client: cs, Transport: tr, fingerprint: fingerprint, uid: uid, verified: uid == "", factory: factory,
		nodes: factory.Core().V1().Nodes().Lister(), pods: factory.Core().V1().Pods().Lister(), ctx: ctx, cancel: cancel,
	}
	factory.Start(ctx.Done())
	if c.QuotaChanged != nil {
		notify := c.QuotaChanged
		quotas := informers.NewSharedInformerFactoryWithOptions(cs, 10*time.Minute,
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "kstack.io/project" }))
		_, _ = quotas.Core().V1().ResourceQuotas().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { notifyQuota(notify, name, obj) },
			UpdateFunc: func(_, obj any) { notifyQuota(notify, name, obj) },
			DeleteFunc: func(obj any) { notifyQuota(notify, name, obj) },
		})
		quotas.Start(ctx.Done())
	}
	// The probe settings are read here, not in the loop, so that a test
	// changing them races with no running loop.
	go e.probeLoop(ctx, c.Changed, ProbeInterval, ProbeTimeout)
	c.entries[name] = e
	return e, nil
}

// Remove stops and forgets a cluster's entry.
func (c *Cache) Remove(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[name]; ok {
		e.cancel()
		e.factory.Shutdown()
		delete(c.entries, name)
	}
}

// Len is the number of clusters connected.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

func (e *Entry) probeLoop(ctx context.Context, changed func(string), interval, timeout time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		_, err := e.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(pctx)
		if err == nil && e.uid != "" {
			err = e.checkUID(pctx)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		if e.record(err, time.Now()) && changed != nil {
			changed(e.Name)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkUID compares the member's kube-system UID with the one recorded at
// import. Another UID means the address or credential now reaches another
// cluster: the entry is marked changed for good, and not served.
func (e *Entry) checkUID(ctx context.Context) error {
	ns, err := e.Client.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading the member's kube-system namespace: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if got := string(ns.UID); got != e.uid {
		e.changed = fmt.Errorf("the member answers as another cluster: its kube-system UID is %s, not %s as at import; the platform does not serve it (give it its own address and credential with kstack cluster update, or import the other cluster)", got, e.uid)
	} else if e.changed == nil {
		e.verified = true
	}
	return e.changed
}

// record notes one probe's outcome and reports whether the health changed
// (the first probe always counts as a change). A healthy cluster turns
// unhealthy only after FailureThreshold failures in a row.
func (e *Entry) record(err error, at time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	first := !e.probed
	before := e.healthy
	e.probed, e.lastProbe = true, at
	switch {
	case e.changed != nil:
		e.lastErr, e.healthy = e.changed, false
	case err == nil:
		e.failures, e.lastErr, e.healthy = 0, nil, true
	default:
		e.failures++
		e.lastErr = err
		if e.failures >= FailureThreshold || first {
			e.healthy = false
		}
	}
	return first || before != e.healthy
}

// Summary is what the platform reports of a cluster's nodes and pods.
type Summary struct {
	NodesTotal, NodesReady int32
	Pods                   int32
	Capacity, Allocatable  corev1.ResourceList
	Requested              corev1.ResourceList
}

// PodNames are the names of the cached pods of a namespace; false until
// the cache is filled.
func (e *Entry) PodNames(namespace string) ([]string, bool) {
	if !e.Synced() {
		return nil, false
	}
	pods, err := e.pods.Pods(namespace).List(labels.Everything())
	if err != nil {
		return nil, false
	}
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = p.Name
	}
	return out, true
}

// Synced reports whether the node and pod caches have been filled.
func (e *Entry) Synced() bool {
	return e.factory.Core().V1().Nodes().Informer().HasSynced() && e.factory.Core().V1().Pods().Informer().HasSynced()
}

// Summary adds up the cached nodes and pods.
func (e *Entry) Summary() (Summary, error) {
	if !e.Synced() {
		return Summary{}, fmt.Errorf("the caches of cluster %s are not filled yet", e.Name)
	}
	s := Summary{Capacity: corev1.ResourceList{}, Allocatable: corev1.ResourceList{}, Requested: corev1.ResourceList{}}
	nodes, err := e.nodes.List(labels.Everything())
	if err != nil {
		return s, err
	}
	for _, n := range nodes {
		s.NodesTotal++
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				s.NodesReady++
			}
		}
		Add(s.Capacity, n.Status.Capacity)
		Add(s.Allocatable, n.Status.Allocatable)
	}
	pods, err := e.pods.List(labels.Everything())
	if err != nil {
		return s, err
	}
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		s.Pods++
		if p.Spec.NodeName == "" {
			continue
		}
		for _, c := range p.Spec.Containers {
			Add(s.Requested, c.Resources.Requests)
		}
	}
	return s, nil
}

// Add adds more into sum.
func Add(sum, more corev1.ResourceList) {
	for k, v := range more {
		q, ok := sum[k]
		if !ok {
			q = resource.Quantity{Format: v.Format}
		}
		q.Add(v)
		sum[k] = q
	}
}

func notifyQuota(notify func(cluster, namespace string), cluster string, obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if q, ok := obj.(*corev1.ResourceQuota); ok {
		notify(cluster, q.Namespace)
	}
}
