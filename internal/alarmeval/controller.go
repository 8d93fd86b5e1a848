package alarmeval

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/alarmrule"
)

// minStatusEvery bounds how often a policy's status is written while its
// alerts change (Firing, LastEvaluationTime): at most once a period, and
// not more than once every 10 seconds with a real unit.
const minStatusEvery = 10 * time.Second

// SetupWithManager adds the controller that re-syncs the rules when an
// AlarmPolicy (its spec), a business Namespace or a Cluster changes, and
// that, on the leader, writes each policy's status. It runs on every
// replica (every replica evaluates); status is written with mgr's client.
func (e *Evaluator) SetupWithManager(mgr ctrl.Manager) error {
	if e.Client == nil {
		e.Client = mgr.GetClient()
	}
	r := &StatusReconciler{E: e, Client: mgr.GetClient()}
	all := handler.EnqueueRequestsFromMapFunc(r.policiesOf)
	// A change of a policy's spec (or its creation or deletion) makes the next
	// reconcile sync; the status writes (no new generation) do not.
	dirty := predicate.NewPredicateFuncs(func(client.Object) bool { e.dirty.Store(true); return true })
	return ctrl.NewControllerManagedBy(mgr).
		Named("alarmpolicy").
		For(&monitorv1.AlarmPolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{}, dirty)).
		Watches(&businessv1.Namespace{}, all).
		Watches(&platformv1.Cluster{}, all).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false), MaxConcurrentReconciles: 1}).
		Complete(r)
}

// StatusReconciler syncs the evaluator and writes one policy's status.
type StatusReconciler struct {
	E      *Evaluator
	Client client.Client
}

// policiesOf maps a Namespace or Cluster change to the policies of that cluster.
func (r *StatusReconciler) policiesOf(ctx context.Context, o client.Object) []reconcile.Request {
	r.E.dirty.Store(true)
	cluster := ""
	switch x := o.(type) {
	case *businessv1.Namespace:
		cluster = x.Spec.ClusterName
	case *platformv1.Cluster:
		cluster = x.Name
	}
	var list monitorv1.AlarmPolicyList
	if err := r.E.Client.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, p := range list.Items {
		if cluster == "" || p.Spec.ClusterName == cluster {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&p)})
		}
	}
	return out
}

// Reconcile syncs the rules with the policies when something changed and, on the leader, writes
// the policy's status; it comes back once a period to refresh Firing and
// LastEvaluationTime.
func (r *StatusReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if r.E.dirty.Swap(false) {
		if err := r.E.Sync(ctx); err != nil {
			r.E.dirty.Store(true)
			return ctrl.Result{}, err
		}
	}
	var p monitorv1.AlarmPolicy
	if err := r.E.Client.Get(ctx, req.NamespacedName, &p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if cur := r.E.state(alarmrule.PolicyKey(p.Namespace, p.Name)); cur == nil || cur.policy.Generation != p.Generation {
		// The cache is newer than the last sync (or the event was missed).
		if err := r.E.Sync(ctx); err != nil {
			return ctrl.Result{}, err
		}
	}
	if p.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	every := alarmrule.Period(&p.Spec, r.E.unit())
	if every <= 0 {
		every = r.E.unit()
	}
	if r.E.Unit <= 0 || r.E.Unit >= time.Minute {
		every = max(every, minStatusEvery)
	}
	if !r.E.leader() {
		return ctrl.Result{RequeueAfter: every}, nil
	}
	st, ok := r.E.Status(alarmrule.PolicyKey(p.Namespace, p.Name))
	if !ok {
		return ctrl.Result{RequeueAfter: every}, nil
	}
	if equality.Semantic.DeepEqual(p.Status, st) {
		return ctrl.Result{RequeueAfter: every}, nil
	}
	orig := p.DeepCopy()
	p.Status = st
	if err := r.Client.Status().Patch(ctx, &p, client.MergeFrom(orig)); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: every}, nil
}
