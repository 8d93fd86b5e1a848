package clusteraddon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/addons"
	"github.com/kstack/kstack/internal/clock"
	"github.com/kstack/kstack/internal/clustercache"
)

// Finalizer holds a ClusterAddon until what it made in the member is gone.
const Finalizer = "platform.kstack.io/addon"

// Reconciler is the leader's: it installs, upgrades and uninstalls each
// ClusterAddon in its member, and runs the add-on's controller there while
// the add-on is installed and the member reachable.
type Reconciler struct {
	Client  client.Client
	Cache   *clustercache.Cache
	Catalog addons.Catalog
	Clock   clock.Clock
	Log     *slog.Logger

	mu      sync.Mutex
	running map[string]*run
	// applied is when each add-on's objects were last applied, and what
	// for: a cluster's status changes often, and the objects (a CRD of
	// hundreds of kilobytes) are applied again only when something
	// changed or every recheck.
	applied map[string]appliedMark
	// base ends the controllers when the manager stops (leadership lost).
	base   context.Context
	cancel context.CancelFunc
}

type appliedMark struct {
	version    string
	generation int64
	entry      *clustercache.Entry
	at         time.Time
	// failed: the attempt at failed; the next waits for backoff.
	failed  bool
	backoff time.Duration
}

// run is one add-on controller running for one member connection.
type run struct {
	entry  *clustercache.Entry
	cancel context.CancelFunc
	done   chan struct{}
}

// Retry after a failed install grows to at most a few minutes.
const (
	retryBase = 10 * time.Second
	retryMax  = 5 * time.Minute
	// recheck is how often an installed add-on's objects and health are
	// checked again (someone deleting its CRD is repaired).
	recheck = 2 * time.Minute
)

// SetupWithManager reconciles ClusterAddons and their clusters' changes.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Log == nil {
		r.Log = slog.Default()
	}
	if r.Clock == nil {
		r.Clock = clock.Real{}
	}
	r.running, r.applied = map[string]*run{}, map[string]appliedMark{}
	r.base, r.cancel = context.WithCancel(context.Background())
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		r.stopAll()
		return nil
	})); err != nil {
		return err
	}
	byCluster := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		var l platformv1.ClusterAddonList
		if err := r.Client.List(ctx, &l); err != nil {
			return nil
		}
		var out []reconcile.Request
		for _, ca := range l.Items {
			if ca.Spec.ClusterName == o.GetName() {
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: ca.Name}})
			}
		}
		return out
	})
	return ctrl.NewControllerManagedBy(mgr).Named("cluster-addon").
		For(&platformv1.ClusterAddon{}).
		Watches(&platformv1.Cluster{}, byCluster).
		Complete(r)
}

func (r *Reconciler) stopAll() {
	r.cancel()
	r.mu.Lock()
	runs := r.running
	r.running = map[string]*run{}
	r.mu.Unlock()
	for _, rn := range runs {
		<-rn.done
	}
}

// Reconcile brings one add-on to its desired state.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var ca platformv1.ClusterAddon
	if err := r.Client.Get(ctx, req.NamespacedName, &ca); err != nil {
		if apierrors.IsNotFound(err) {
			r.stop(req.Name)
			r.forget(req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	a, err := r.Catalog.Lookup(ca.Spec.Type)
	if err != nil {
		return ctrl.Result{}, r.setStatus(ctx, &ca, func(st *platformv1.ClusterAddonStatus) {
			st.Phase, st.Message = platformv1.AddonFailed, err.Error()
		})
	}
	if !ca.DeletionTimestamp.IsZero() {
		return r.uninstall(ctx, &ca, a)
	}
	if err := r.own(ctx, &ca); err != nil {
		return ctrl.Result{}, err
	}
	e, reachable, known := r.member(ctx, ca.Spec.ClusterName)
	if !known {
		// Connecting: its first probe tells (a restart is not an outage).
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	if !reachable {
		r.stop(ca.Name)
		r.forget(ca.Name)
		return ctrl.Result{}, r.setStatus(ctx, &ca, func(st *platformv1.ClusterAddonStatus) {
			st.Phase = platformv1.AddonWaiting
			st.Message = fmt.Sprintf("cluster %s cannot be reached: the add-on installs when it is back", ca.Spec.ClusterName)
			meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: platformv1.AddonInstalled, Status: installedStatus(st), Reason: "ClusterUnavailable", Message: st.Message})
		})
	}
	m := addons.Member{Cluster: ca.Spec.ClusterName, Config: e.Config, Clock: r.Clock, Log: r.Log}
	// One installer per reconcile: its discovery of the member is made once.
	in, err := addons.NewInstaller(m)
	if err != nil {
		return ctrl.Result{}, err
	}
	if res, done, err := r.apply(ctx, &ca, a, in, e); done {
		return res, err
	}
	healthErr := in.Established(ctx, ca.Status.Objects)
	controller := "its controller runs in the platform"
	if ca.Spec.Controller == platformv1.AddonControllerExternal {
		r.stop(ca.Name)
		controller = fmt.Sprintf("its controller runs outside the platform (kstack addon run %s --kubeconfig ...)", a.Type)
	} else if healthErr == nil {
		r.ensure(ca.Name, a, m, e)
	}
	return ctrl.Result{RequeueAfter: recheck}, r.setStatus(ctx, &ca, func(st *platformv1.ClusterAddonStatus) {
		if healthErr != nil {
			st.Phase, st.Message = platformv1.AddonInstalling, healthErr.Error()
			meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: platformv1.AddonHealthy, Status: metav1.ConditionFalse, Reason: "NotEstablished", Message: healthErr.Error()})
			return
		}
		st.Phase, st.Message = platformv1.AddonRunning, ""
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: platformv1.AddonHealthy, Status: metav1.ConditionTrue, Reason: "Healthy",
			Message: fmt.Sprintf("%s %s is installed and %s", a.Type, st.Version, controller)})
	})
}

// own adds the finalizer, and makes the add-on its cluster's: a cluster
// leaving the platform takes its add-ons with it.
func (r *Reconciler) own(ctx context.Context, ca *platformv1.ClusterAddon) error {
	changed := controllerutil.AddFinalizer(ca, Finalizer)
	var cls platformv1.Cluster
	if err := r.Client.Get(ctx, client.ObjectKey{Name: ca.Spec.ClusterName}, &cls); err == nil {
		if has, _ := controllerutil.HasOwnerReference(ca.OwnerReferences, &cls, r.Client.Scheme()); !has {
			if err := controllerutil.SetOwnerReference(&cls, ca, r.Client.Scheme()); err != nil {
				return err
			}
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return r.Client.Update(ctx, ca)
}

func installedStatus(st *platformv1.ClusterAddonStatus) metav1.ConditionStatus {
	if st.Version != "" {
		return metav1.ConditionTrue
	}
	return metav1.ConditionFalse
}

// member is the connection to a cluster that answers its probes; known is
// false while a connection's first probe has not told yet.
func (r *Reconciler) member(ctx context.Context, cluster string) (e *clustercache.Entry, reachable, known bool) {
	var cls platformv1.Cluster
	if err := r.Client.Get(ctx, client.ObjectKey{Name: cluster}, &cls); err != nil || !cls.DeletionTimestamp.IsZero() {
		return nil, false, true
	}
	e, ok := r.Cache.Get(cluster)
	if !ok {
		// Not connected (yet): a Running cluster is one being connected.
		return nil, false, cls.Status.Phase != platformv1.ClusterRunning
	}
	h := e.Health()
	if !h.Probed {
		return nil, false, false
	}
	return e, h.Healthy, true
}

// apply installs or upgrades to spec.version, and re-applies the installed
// version (repairing drift). done: the reconcile ends with res, err.
func (r *Reconciler) apply(ctx context.Context, ca *platformv1.ClusterAddon, a *addons.Addon, in *addons.Installer, e *clustercache.Entry) (res ctrl.Result, done bool, err error) {
	want, err := a.Version(ca.Spec.Version)
	if err != nil {
		return ctrl.Result{}, true, r.failed(ctx, ca, err)
	}
	objs, err := want.Objects()
	if err != nil {
		return ctrl.Result{}, true, r.failed(ctx, ca, err)
	}
	var prev []*unstructured.Unstructured
	if ca.Status.Version != "" {
		if v, err := a.Version(ca.Status.Version); err == nil {
			prev, _ = v.Objects()
		}
	}
	upgrading := ca.Status.Version != want.Version
	mark := appliedMark{version: want.Version, generation: ca.Generation, entry: e}
	r.mu.Lock()
	last, ok := r.applied[ca.Name]
	r.mu.Unlock()
	same := ok && last.version == mark.version && last.generation == mark.generation && last.entry == e
	switch {
	case same && last.failed && time.Since(last.at) < last.backoff:
		// A failed attempt is tried again after its backoff, not on every
		// change of the cluster; the status keeps saying why it failed.
		return ctrl.Result{RequeueAfter: last.backoff - time.Since(last.at)}, true, nil
	case same && !last.failed && !upgrading && time.Since(last.at) < recheck:
		return ctrl.Result{}, false, nil
	}
	if upgrading && ca.Status.Phase != platformv1.AddonFailed {
		if err := r.setStatus(ctx, ca, func(st *platformv1.ClusterAddonStatus) {
			st.Phase, st.Message = platformv1.AddonInstalling, fmt.Sprintf("applying %s %s", a.Type, want.Version)
		}); err != nil {
			return ctrl.Result{}, true, err
		}
	}
	inv, err := in.Apply(ctx, a, objs, prev, ca.Status.Objects)
	mark.at, mark.failed = time.Now(), err != nil
	mark.backoff = min(retryBase<<min(ca.Status.RetryCount, 5), retryMax)
	r.mu.Lock()
	r.applied[ca.Name] = mark
	r.mu.Unlock()
	if err != nil {
		r.Log.Warn("add-on install failed", "addon", ca.Name, "version", want.Version, "err", err)
		return ctrl.Result{RequeueAfter: mark.backoff}, true, r.failed(ctx, ca, fmt.Errorf("installing %s %s in cluster %s: %w", a.Type, want.Version, ca.Spec.ClusterName, err))
	}
	if upgrading {
		r.Log.Info("add-on installed", "addon", ca.Name, "version", want.Version, "was", ca.Status.Version)
	}
	err = r.setStatus(ctx, ca, func(st *platformv1.ClusterAddonStatus) {
		st.Version, st.Objects, st.RetryCount = want.Version, inv, 0
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: platformv1.AddonInstalled, Status: metav1.ConditionTrue, Reason: "Installed",
			Message: fmt.Sprintf("%s %s: %d objects applied", a.Type, want.Version, len(inv))})
	})
	return ctrl.Result{}, err != nil, err
}

func (r *Reconciler) failed(ctx context.Context, ca *platformv1.ClusterAddon, err error) error {
	return r.setStatus(ctx, ca, func(st *platformv1.ClusterAddonStatus) {
		st.Phase, st.Message = platformv1.AddonFailed, err.Error()
		st.RetryCount++
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: platformv1.AddonInstalled, Status: installedStatus(st), Reason: "InstallFailed", Message: err.Error()})
	})
}

// uninstall removes what the add-on made, unless objects still use it and
// it is not forced; then lets the ClusterAddon go.
func (r *Reconciler) uninstall(ctx context.Context, ca *platformv1.ClusterAddon, a *addons.Addon) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(ca, Finalizer) {
		return ctrl.Result{}, nil
	}
	forced := ca.Annotations[AnnotationForce] == "true"
	var cls platformv1.Cluster
	clusterGone := apierrors.IsNotFound(r.Client.Get(ctx, client.ObjectKey{Name: ca.Spec.ClusterName}, &cls))
	e, reachable, _ := r.member(ctx, ca.Spec.ClusterName)
	waiting := func(msg string) (ctrl.Result, error) {
		return ctrl.Result{RequeueAfter: retryBase}, r.setStatus(ctx, ca, func(st *platformv1.ClusterAddonStatus) {
			st.Phase, st.Message = platformv1.AddonTerminating, msg
		})
	}
	switch {
	case clusterGone || (!reachable && forced) || (!reachable && len(ca.Status.Objects) == 0):
		r.stop(ca.Name)
		if !clusterGone && len(ca.Status.Objects) > 0 {
			r.Log.Warn("add-on removed without reaching its cluster: what it made stays there", "addon", ca.Name)
		}
		return ctrl.Result{}, r.release(ctx, ca)
	case !reachable:
		return waiting(fmt.Sprintf("waiting for cluster %s to be reachable, to remove what the add-on made there (or uninstall with --force)", ca.Spec.ClusterName))
	}
	m := addons.Member{Cluster: ca.Spec.ClusterName, Config: e.Config, Clock: r.Clock, Log: r.Log}
	if !forced {
		used, err := a.InUse(ctx, m)
		if err != nil {
			return ctrl.Result{}, err
		}
		if len(used) > 0 {
			return waiting(fmt.Sprintf("uninstall waits: still used by %s; delete them, or uninstall with --force", listSome(used)))
		}
	}
	r.stop(ca.Name)
	in, err := addons.NewInstaller(m)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := in.Remove(ctx, a, ca.Status.Objects); err != nil {
		return waiting("removing what the add-on made: " + err.Error())
	}
	r.Log.Info("add-on uninstalled", "addon", ca.Name, "objects", len(ca.Status.Objects))
	return ctrl.Result{}, r.release(ctx, ca)
}

func (r *Reconciler) release(ctx context.Context, ca *platformv1.ClusterAddon) error {
	patch := client.MergeFrom(ca.DeepCopy())
	controllerutil.RemoveFinalizer(ca, Finalizer)
	if err := r.Client.Patch(ctx, ca, patch); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// setStatus applies change to a copy of the status and writes it if it
// changed.
func (r *Reconciler) setStatus(ctx context.Context, ca *platformv1.ClusterAddon, change func(*platformv1.ClusterAddonStatus)) error {
	before := ca.DeepCopy()
	change(&ca.Status)
	ca.Status.ObservedGeneration = ca.Generation
	if equalStatus(&before.Status, &ca.Status) {
		return nil
	}
	return r.Client.Status().Patch(ctx, ca, client.MergeFrom(before))
}

func equalStatus(a, b *platformv1.ClusterAddonStatus) bool {
	x, y := a.DeepCopy(), b.DeepCopy()
	for _, s := range []*platformv1.ClusterAddonStatus{x, y} {
		for i := range s.Conditions {
			s.Conditions[i].LastTransitionTime = metav1.Time{}
		}
	}
	return fmt.Sprintf("%+v", *x) == fmt.Sprintf("%+v", *y)
}

// ensure runs a's controller for the member behind e, once.
func (r *Reconciler) ensure(name string, a *addons.Addon, m addons.Member, e *clustercache.Entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rn, ok := r.running[name]; ok {
		if rn.entry == e {
			return
		}
		rn.cancel() // a new connection: start again over it
	}
	ctx, cancel := context.WithCancel(r.base)
	rn := &run{entry: e, cancel: cancel, done: make(chan struct{})}
	r.running[name] = rn
	host, _ := os.Hostname()
	go func() {
		defer close(rn.done)
		_ = addons.RunController(ctx, a, m, "platform-"+host)
	}()
}

// forget drops what was applied for add-on name: it is applied again when
// it is next reconciled (a member that comes back, an add-on made again).
func (r *Reconciler) forget(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.applied, name)
}

// stop stops the add-on's controller and waits until it has released its Lease.
func (r *Reconciler) stop(name string) {
	r.mu.Lock()
	rn, ok := r.running[name]
	delete(r.running, name)
	r.mu.Unlock()
	if ok {
		rn.cancel()
		<-rn.done
	}
}
