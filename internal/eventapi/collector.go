package eventapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/clustercache"
	"github.com/kstack/kstack/internal/recordstore"
)

// Collector keeps one event informer per cluster with event persistence
// on. An informer resumes from its last resourceVersion after a dropped
// watch and lists again when that is too old (a member's apiserver that
// restarted); the store keeps one row per event UID, replaced as its count
// grows, so a second sight of an event is never a second record.
type Collector struct {
	Client client.Client
	// Global is the platform's own cluster, which is no member of the cache.
	Global kubernetes.Interface
	Cache  *clustercache.Cache
	Sink   interface {
		Add(recordstore.Record) error
	}
	ProjectOf func(ctx context.Context, cluster, namespace string) string
	Log       *slog.Logger

	mu       sync.Mutex
	watchers map[string]*watcher
	// root lives as long as this replica leads: watchers end with it.
	root context.Context
}

type watcher struct {
	client kubernetes.Interface
	cancel context.CancelFunc
}

// SetupWithManager runs the collector on the leader.
func (c *Collector) SetupWithManager(mgr ctrl.Manager) error {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	c.watchers = map[string]*watcher{}
	c.root = context.Background()
	if err := mgr.Add(c); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).Named("event-persistence").For(&platformv1.Cluster{}).Complete(c)
}

// Start holds the leader's context for the watchers (a Runnable that needs
// leader election, as the controller does).
func (c *Collector) Start(ctx context.Context) error {
	c.mu.Lock()
	c.root = ctx
	c.mu.Unlock()
	<-ctx.Done()
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, w := range c.watchers {
		w.cancel()
		delete(c.watchers, name)
	}
	return nil
}

// NeedLeaderElection: events are collected by the leader only.
func (c *Collector) NeedLeaderElection() bool { return true }

// Reconcile starts, restarts (new connection) or stops a cluster's watcher.
func (c *Collector) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var cl platformv1.Cluster
	err := c.Client.Get(ctx, req.NamespacedName, &cl)
	if apierrors.IsNotFound(err) || (err == nil && (!cl.Spec.Features.EventPersistence || !cl.DeletionTimestamp.IsZero())) {
		c.stop(req.Name)
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if c.Sink == nil {
		c.Log.Warn("event persistence is on but the platform runs without a record store", "cluster", cl.Name)
		return ctrl.Result{}, nil
	}
	var cs kubernetes.Interface
	if cl.Name == apigroup.GlobalCluster && c.Global != nil {
		cs = c.Global
	} else if e, ok := c.Cache.Get(cl.Name); ok {
		cs = e.Client
	} else {
		// Not connected (or not verified) yet: the cluster controller
		// connects it; look again soon.
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if w, ok := c.watchers[cl.Name]; ok {
		if w.client == cs {
			return ctrl.Result{RequeueAfter: time.Minute}, nil
		}
		w.cancel()
	}
	// The watcher lives as long as this replica leads, not as this
	// reconcile.
	wctx, cancel := context.WithCancel(c.root)
	c.watchers[cl.Name] = &watcher{client: cs, cancel: cancel}
	go c.watch(wctx, cs, cl.Name, cl.Spec.TenantID)
	c.Log.Info("persisting the cluster's events", "cluster", cl.Name)
	// Reconnections replace the entry: look again now and then.
	return ctrl.Result{RequeueAfter: time.Minute}, nil
}

func (c *Collector) stop(cluster string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w, ok := c.watchers[cluster]; ok {
		w.cancel()
		delete(c.watchers, cluster)
		c.Log.Info("no longer persisting the cluster's events", "cluster", cluster)
	}
}

func (c *Collector) watch(ctx context.Context, cs kubernetes.Interface, cluster, tenant string) {
	f := informers.NewSharedInformerFactory(cs, 0)
	inf := f.Core().V1().Events().Informer()
	add := func(obj any) {
		ev, ok := obj.(*corev1.Event)
		if !ok {
			return
		}
		if err := c.Sink.Add(Record(ctx, ev, cluster, tenant, c.ProjectOf)); err != nil {
			c.Log.Warn("an event was not kept: the record store's queue is full", "cluster", cluster, "event", ev.Namespace+"/"+ev.Name)
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: add, UpdateFunc: func(_, obj any) { add(obj) }})
	f.Start(ctx.Done())
	<-ctx.Done()
	f.Shutdown()
}

// Record is the record of a Kubernetes event of cluster.
func Record(ctx context.Context, ev *corev1.Event, cluster, tenant string, projectOf func(context.Context, string, string) string) recordstore.Record {
	ev.ManagedFields = nil
	t := ev.LastTimestamp.Time
	if t.IsZero() {
		t = ev.EventTime.Time
	}
	if t.IsZero() {
		t = ev.CreationTimestamp.Time
	}
	data, _ := json.Marshal(ev)
	rec := recordstore.Record{
		Kind: Kind, Time: t, Tenant: tenant, Cluster: cluster, Namespace: ev.Namespace,
		Resource: ev.InvolvedObject.Kind, Name: ev.InvolvedObject.Name, Verb: ev.Reason,
		User: ev.Source.Component, UID: string(ev.UID), Data: data,
	}
	if rec.User == "" {
		rec.User = ev.ReportingController
	}
	if projectOf != nil && ev.Namespace != "" {
		rec.Project = projectOf(ctx, cluster, ev.Namespace)
	}
	return rec
}
