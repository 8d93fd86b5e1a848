// Package businessnamespace reconciles a project's Namespace into its member
// cluster: the namespace itself, labelled with its project, a
// ResourceQuota of its hard limits, and (when the platform runs its
// registry) an image pull secret with the project's pull credential that
// the default ServiceAccount uses; usage flows back into the status. The
// finalizer cleans the member, and waits (without losing the cleanup) while
// the member is down.
package businessnamespace

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/business/admission"
	"github.com/kstack/kstack/internal/clustercache"
)

// SyncPeriod is how soon a namespace whose member could not be reached is
// tried again; ResyncPeriod how often a healthy one is checked (usage comes
// at once from the member's ResourceQuota informer).
const (
	SyncPeriod   = 3 * time.Second
	ResyncPeriod = 30 * time.Second
)

// IndexClusterNamespace indexes business Namespaces by "<cluster>/<namespace>",
// so that the decision point finds a namespace's project without a scan.
const IndexClusterNamespace = admission.IndexClusterNamespace

// Key is the index value of a member namespace.
func Key(cluster, namespace string) string { return admission.ClusterNamespaceKey(cluster, namespace) }

// Reconciler reconciles business Namespaces.
type Reconciler struct {
	Client client.Client
	Cache  *clustercache.Cache
	// RegistryHost is the platform registry's host:port that members pull
	// from; empty when the registry is off (no pull secrets then).
	RegistryHost string
	// PullCredential reads a project's current registry pull credential
	// (registryauth.PullCredentials.Current: a func, so that this package
	// does not depend on the registry's).
	PullCredential func(ctx context.Context, project string) (username, password string, err error)
}

// SetupWithManager registers the reconciler; it reads the business
// group's indexes (admission.Indexers), which the platform registers.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	// A quota change in a member enqueues its business Namespace at once.
	events := make(chan event.TypedGenericEvent[*businessv1.Namespace], 1024)
	c := mgr.GetClient()
	r.Cache.QuotaChanged = func(cluster, namespace string) {
		var l businessv1.NamespaceList
		if err := c.List(context.Background(), &l, client.MatchingFields{IndexClusterNamespace: Key(cluster, namespace)}); err != nil {
			return
		}
		for i := range l.Items {
			select {
			case events <- event.TypedGenericEvent[*businessv1.Namespace]{Object: &l.Items[i]}:
			default: // the resync catches up
			}
		}
	}
	b := ctrl.NewControllerManagedBy(mgr).Named("business-namespace").For(&businessv1.Namespace{}).
		WatchesRawSource(source.Channel(events, &handler.TypedEnqueueRequestForObject[*businessv1.Namespace]{}))
	if r.pullSecrets() {
		// A rotated pull credential is written into the project's
		// namespaces at once.
		b = b.Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.namespacesOfCredential),
			builder.WithPredicates(predicate.NewPredicateFuncs(isPullCredential)))
	}
	return b.Complete(r)
}

// Reconcile makes the member match the Namespace.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var ns businessv1.Namespace
	if err := r.Client.Get(ctx, req.NamespacedName, &ns); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if ns.DeletionTimestamp != nil {
		return r.delete(ctx, &ns)
	}
	if controllerutil.AddFinalizer(&ns, businessv1.NamespaceFinalizer) {
		if err := r.Client.Update(ctx, &ns); err != nil {
			return ctrl.Result{}, err
		}
	}
	st := ns.Status
	e, ok := r.Cache.Get(ns.Spec.ClusterName)
	if !ok {
		st.Phase, st.Message = businessv1.NamespacePending, fmt.Sprintf("cluster %s is not connected", ns.Spec.ClusterName)
		return ctrl.Result{RequeueAfter: ResyncPeriod}, r.setStatus(ctx, &ns, st)
	}
	used, err := r.ensure(ctx, e, &ns)
	if err != nil {
		var taken *takenError
		if asTaken(err, &taken) {
			st.Phase, st.Message = businessv1.NamespaceFailed, err.Error()
			return ctrl.Result{RequeueAfter: 10 * SyncPeriod}, r.setStatus(ctx, &ns, st)
		}
		st.Phase, st.Message = businessv1.NamespacePending, err.Error()
		return ctrl.Result{RequeueAfter: SyncPeriod}, r.setStatus(ctx, &ns, st)
	}
	st.Phase, st.Message, st.Used = businessv1.NamespaceAvailable, "", used
	requeue := ResyncPeriod
	if r.pullSecrets() {
		if err := r.ensurePullSecret(ctx, e.Client, &ns); err != nil {
			// The namespace works without it; say why it is missing.
			requeue = SyncPeriod
			if !isWaiting(err) {
				st.Message = err.Error()
			}
		}
	}
	return ctrl.Result{RequeueAfter: requeue}, r.setStatus(ctx, &ns, st)
}

type takenError struct{ msg string }

func (e *takenError) Error() string { return e.msg }

func asTaken(err error, t **takenError) bool {
	te, ok := err.(*takenError)
	if ok {
		*t = te
	}
	return ok
}

// ensure makes the namespace and its quota, and returns the quota's usage.
func (r *Reconciler) ensure(ctx context.Context, e *clustercache.Entry, ns *businessv1.Namespace) (corev1.ResourceList, error) {
	cs := e.Client
	mns, err := cs.CoreV1().Namespaces().Get(ctx, ns.Spec.Namespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		mns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.Spec.Namespace, Labels: map[string]string{
			businessv1.LabelProject: ns.Spec.ProjectName, authv1.LabelTenant: ns.Spec.TenantID}}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, mns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating namespace %s in cluster %s: %w", ns.Spec.Namespace, ns.Spec.ClusterName, err)
		}
	case err != nil:
		return nil, fmt.Errorf("reading namespace %s in cluster %s: %w", ns.Spec.Namespace, ns.Spec.ClusterName, err)
	default:
		owner := mns.Labels[businessv1.LabelProject]
		if adopt := ns.Annotations[businessv1.AnnotationAdopt]; owner != ns.Spec.ProjectName && adopt != "" && (adopt == "true" && owner == "" || adopt == owner) {
			// Import (no owner yet) or move (from the named project).
			if mns.Labels == nil {
				mns.Labels = map[string]string{}
			}
			mns.Labels[businessv1.LabelProject], mns.Labels[authv1.LabelTenant] = ns.Spec.ProjectName, ns.Spec.TenantID
			if _, err := cs.CoreV1().Namespaces().Update(ctx, mns, metav1.UpdateOptions{}); err != nil {
				return nil, fmt.Errorf("taking over namespace %s in cluster %s: %w", ns.Spec.Namespace, ns.Spec.ClusterName, err)
			}
			owner = ns.Spec.ProjectName
		}
		switch owner {
		case ns.Spec.ProjectName:
		case "":
			return nil, &takenError{fmt.Sprintf("namespace %s already exists in cluster %s outside any project: import it into the project instead (kstack namespace import)", ns.Spec.Namespace, ns.Spec.ClusterName)}
		default:
			return nil, &takenError{fmt.Sprintf("namespace %s of cluster %s belongs to project %s", ns.Spec.Namespace, ns.Spec.ClusterName, owner)}
		}
	}
	q, err := cs.CoreV1().ResourceQuotas(ns.Spec.Namespace).Get(ctx, businessv1.QuotaName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if len(ns.Spec.Hard) == 0 {
			return nil, nil
		}
		q = &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: businessv1.QuotaName, Labels: map[string]string{businessv1.LabelProject: ns.Spec.ProjectName}},
			Spec: corev1.ResourceQuotaSpec{Hard: ns.Spec.Hard}}
		if _, err := cs.CoreV1().ResourceQuotas(ns.Spec.Namespace).Create(ctx, q, metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("creating the ResourceQuota in %s/%s: %w", ns.Spec.ClusterName, ns.Spec.Namespace, err)
		}
		return nil, nil
	case err != nil:
		return nil, err
	}
	if len(ns.Spec.Hard) == 0 {
		return nil, cs.CoreV1().ResourceQuotas(ns.Spec.Namespace).Delete(ctx, businessv1.QuotaName, metav1.DeleteOptions{})
	}
	if !equality.Semantic.DeepEqual(q.Spec.Hard, ns.Spec.Hard) {
		q.Spec.Hard = ns.Spec.Hard
		if _, err := cs.CoreV1().ResourceQuotas(ns.Spec.Namespace).Update(ctx, q, metav1.UpdateOptions{}); err != nil {
			return nil, err
		}
	}
	return q.Status.Used, nil
}

// delete removes the member namespace (only if its project label says it
// is this project's) and then the finalizer.
func (r *Reconciler) delete(ctx context.Context, ns *businessv1.Namespace) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(ns, businessv1.NamespaceFinalizer) {
		return ctrl.Result{}, nil
	}
	e, ok := r.Cache.Get(ns.Spec.ClusterName)
	if !ok {
		st := ns.Status
		st.Phase, st.Message = businessv1.NamespaceTerminating, fmt.Sprintf("waiting for cluster %s to clean up namespace %s", ns.Spec.ClusterName, ns.Spec.Namespace)
		_ = r.setStatus(ctx, ns, st)
		return ctrl.Result{RequeueAfter: SyncPeriod}, nil
	}
	mns, err := e.Client.CoreV1().Namespaces().Get(ctx, ns.Spec.Namespace, metav1.GetOptions{})
	if err == nil && mns.Labels[businessv1.LabelProject] == ns.Spec.ProjectName {
		err = e.Client.CoreV1().Namespaces().Delete(ctx, ns.Spec.Namespace, metav1.DeleteOptions{})
	}
	if err != nil && !apierrors.IsNotFound(err) {
		st := ns.Status
		st.Phase, st.Message = businessv1.NamespaceTerminating, fmt.Sprintf("cleaning up %s in cluster %s: %v", ns.Spec.Namespace, ns.Spec.ClusterName, err)
		_ = r.setStatus(ctx, ns, st)
		return ctrl.Result{RequeueAfter: SyncPeriod}, nil
	}
	controllerutil.RemoveFinalizer(ns, businessv1.NamespaceFinalizer)
	return ctrl.Result{}, r.Client.Update(ctx, ns)
}

func (r *Reconciler) setStatus(ctx context.Context, ns *businessv1.Namespace, st businessv1.NamespaceStatus) error {
	old := ns.Status
	if old.Phase == st.Phase && old.Message == st.Message && equality.Semantic.DeepEqual(old.Used, st.Used) {
		return nil
	}
	now := metav1.Now()
	st.LastSyncTime = &now
	ns.Status = st
	return client.IgnoreNotFound(r.Client.Status().Update(ctx, ns))
}
