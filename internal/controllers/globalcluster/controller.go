// Package globalcluster keeps the Cluster object "global", the platform's own
// control plane, present and its status true: version, nodes and resources.
package globalcluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
)

// ResyncPeriod is how often the status is refreshed without events.
const ResyncPeriod = 30 * time.Second

// Reconciler reconciles the global Cluster.
type Reconciler struct {
	Client    client.Client
	Discovery discovery.ServerVersionInterface
}

// SetupWithManager registers the reconciler, and a leader-only runnable that
// creates the global Cluster if it is missing.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.Add(ensureGlobal{c: mgr.GetClient()}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("globalcluster").
		For(&platformv1.Cluster{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetName() == platformv1.GlobalClusterName
		}))).
		Complete(r)
}

type ensureGlobal struct{ c client.Client }

func (e ensureGlobal) NeedLeaderElection() bool { return true }

func (e ensureGlobal) Start(ctx context.Context) error {
	for {
		err := Ensure(ctx, e.c)
		if err == nil {
			return nil
		}
		ctrl.LoggerFrom(ctx).Error(err, "creating the global cluster object; retrying")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}

// Ensure creates the global Cluster unless it exists.
func Ensure(ctx context.Context, c client.Client) error {
	obj := &platformv1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: platformv1.GlobalClusterName, Labels: map[string]string{"kstack.io/tenant": "default"}},
		Spec: platformv1.ClusterSpec{
			TenantID: "default", DisplayName: "global", Type: platformv1.ClusterGlobal,
		},
	}
	err := c.Create(ctx, obj)
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// Reconcile refreshes the global Cluster's status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var cls platformv1.Cluster
	if err := r.Client.Get(ctx, req.NamespacedName, &cls); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	st, err := r.observe(ctx)
	now := metav1.Now()
	cond := platformv1.ClusterCondition{Type: "HealthCheck", Status: corev1.ConditionTrue, LastProbeTime: now, Reason: "Healthy"}
	if err != nil {
		st = cls.Status
		st.Phase = platformv1.ClusterFailed
		cond.Status, cond.Reason, cond.Message = corev1.ConditionFalse, "ProbeFailed", err.Error()
	}
	cond.LastTransitionTime = now
	for _, old := range cls.Status.Conditions {
		if old.Type == cond.Type && old.Status == cond.Status {
			cond.LastTransitionTime = old.LastTransitionTime
		}
	}
	st.Conditions = []platformv1.ClusterCondition{cond}
	st.ObservedGeneration = cls.Generation
	// The global cluster's identity, so that importing it is refused as a duplicate.
	var ks corev1.Namespace
	if err := r.Client.Get(ctx, client.ObjectKey{Name: "kube-system"}, &ks); err == nil {
		st.ClusterUID = string(ks.UID)
		if cls.Labels[platformv1.LabelClusterUID] != st.ClusterUID {
			if cls.Labels == nil {
				cls.Labels = map[string]string{}
			}
			cls.Labels[platformv1.LabelClusterUID] = st.ClusterUID
			if err := r.Client.Update(ctx, &cls); err != nil {
				return ctrl.Result{}, err
			}
		}
	}
	cls.Status = st
	if err := r.Client.Status().Update(ctx, &cls); err != nil {
		return ctrl.Result{}, fmt.Errorf("updating the status of the global cluster: %w", err)
	}
	return ctrl.Result{RequeueAfter: ResyncPeriod}, nil
}

func (r *Reconciler) observe(ctx context.Context) (platformv1.ClusterStatus, error) {
	st := platformv1.ClusterStatus{Phase: platformv1.ClusterRunning}
	v, err := r.Discovery.ServerVersion()
	if err != nil {
		return st, fmt.Errorf("asking the API server for its version: %w", err)
	}
	st.Version = v.GitVersion
	var nodes corev1.NodeList
	if err := r.Client.List(ctx, &nodes); err != nil {
		return st, fmt.Errorf("listing nodes: %w", err)
	}
	capacity, allocatable := corev1.ResourceList{}, corev1.ResourceList{}
	for _, n := range nodes.Items {
		st.Nodes.Total++
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				st.Nodes.Ready++
			}
		}
		add(capacity, n.Status.Capacity)
		add(allocatable, n.Status.Allocatable)
	}
	st.Resource.Capacity, st.Resource.Allocatable = capacity, allocatable
	return st, nil
}

func add(sum, more corev1.ResourceList) {
	for k, v := range more {
		q := sum[k]
		if q.IsZero() {
			q = resource.Quantity{Format: v.Format}
		}
		q.Add(v)
		sum[k] = q
	}
}
