// Package cluster reconciles member clusters: it connects each to the
// cluster cache (on every replica: Connection), keeps the one kstack-owned
// ClusterRoleBinding in the member that the proxy relies on, reports health
// and resources in the status, and cleans the member when the cluster
// leaves the platform.
package cluster

import (
	"context"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
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

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/clustercache"
	"github.com/kstack/kstack/internal/clusterimport"
)

// ResyncPeriod is how often a cluster's status is refreshed.
const ResyncPeriod = 5 * time.Second

// AnnotationForceDelete lets a cluster that cannot be reached leave the
// platform without cleaning its member objects.
const AnnotationForceDelete = "platform.kstack.io/force-delete"

// Reconciler reconciles Clusters other than the global one.
type Reconciler struct {
	Client client.Client
	Cache  *clustercache.Cache
	events chan event.TypedGenericEvent[*platformv1.Cluster]
}

// SetupWithManager registers the reconciler. Health changes seen by the
// cache trigger a reconcile at once.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.events = make(chan event.TypedGenericEvent[*platformv1.Cluster], 256)
	r.Cache.Changed = func(name string) {
		select {
		case r.events <- event.TypedGenericEvent[*platformv1.Cluster]{Object: &platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name}}}:
		default:
		}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("cluster").
		For(&platformv1.Cluster{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetName() != platformv1.GlobalClusterName
		}))).
		WatchesRawSource(source.Channel(r.events, &handler.TypedEnqueueRequestForObject[*platformv1.Cluster]{})).
		Complete(r)
}

// Reconcile brings one cluster's connection, member objects and status up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var cls platformv1.Cluster
	if err := r.Client.Get(ctx, req.NamespacedName, &cls); err != nil {
		if apierrors.IsNotFound(err) {
			r.Cache.Remove(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !cls.DeletionTimestamp.IsZero() {
		return r.delete(ctx, &cls)
	}
	if controllerutil.AddFinalizer(&cls, platformv1.ClusterFinalizer) {
		if err := r.Client.Update(ctx, &cls); err != nil {
			return ctrl.Result{}, err
		}
	}
	entry, cred, err := connect(ctx, r.Client, r.Cache, &cls)
	if err != nil {
		return r.requeue(r.setStatus(ctx, &cls, failedStatus(cls.Status, "CredentialInvalid", err)))
	}
	h := entry.Health()
	st := cls.Status
	st.Addresses = addresses(cred.Spec.Server)
	switch {
	case entry.MemberChanged() != nil:
		st = failedStatus(st, "MemberChanged", entry.MemberChanged())
		st.Addresses = addresses(cred.Spec.Server)
	case !h.Probed:
		st.Phase = platformv1.ClusterInitializing
	case !h.Healthy:
		st = failedStatus(st, "Unreachable", h.LastError)
		st.Addresses = addresses(cred.Spec.Server)
	default:
		st.Phase = platformv1.ClusterRunning
		setCondition(&st, "HealthCheck", corev1.ConditionTrue, "Healthy", "")
		// The member binding is made once per connection; a failure is
		// reported as its own condition (health is the probe's to say).
		if !entry.Prepared() {
			if err := r.ensureMemberBinding(ctx, entry); err != nil {
				setCondition(&st, "MemberReady", corev1.ConditionFalse, "BindingFailed", err.Error())
			} else {
				entry.SetPrepared()
				setCondition(&st, "MemberReady", corev1.ConditionTrue, "Ready", "")
			}
		}
		if v, err := entry.Client.Discovery().ServerVersion(); err == nil {
			st.Version = v.GitVersion
		}
		if sum, err := entry.Summary(); err == nil {
			st.Nodes = platformv1.ClusterNodeSummary{Total: sum.NodesTotal, Ready: sum.NodesReady}
			st.Pods = sum.Pods
			st.Resource = platformv1.ClusterResource{Capacity: sum.Capacity, Allocatable: sum.Allocatable, Allocated: sum.Requested}
		}
	}
	if h.Probed {
		t := metav1.NewTime(h.LastProbe)
		st.LastProbeTime = &t
	}
	st.ObservedGeneration = cls.Generation
	return r.requeue(r.setStatus(ctx, &cls, st))
}

// requeue refreshes the status again after ResyncPeriod, or retries an error.
func (r *Reconciler) requeue(err error) (ctrl.Result, error) {
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: ResyncPeriod}, nil
}

// connect ensures cls's entry in cache, from its credential.
func connect(ctx context.Context, c client.Client, cache *clustercache.Cache, cls *platformv1.Cluster) (*clustercache.Entry, *platformv1.ClusterCredential, error) {
	if cls.Spec.ClusterCredentialRef == nil {
		return nil, nil, fmt.Errorf("the cluster has no clusterCredentialRef")
	}
	var cred platformv1.ClusterCredential
	if err := c.Get(ctx, client.ObjectKey{Name: cls.Spec.ClusterCredentialRef.Name}, &cred); err != nil {
		return nil, nil, fmt.Errorf("reading credential %s: %w", cls.Spec.ClusterCredentialRef.Name, err)
	}
	cfg, fp, err := clusterimport.RESTConfigFor(ctx, c, &cred)
	if err != nil {
		return nil, nil, err
	}
	e, err := cache.Ensure(cls.Name, cfg, fp, cls.Labels[platformv1.LabelClusterUID])
	return e, &cred, err
}

// ensureMemberBinding makes the one ClusterRoleBinding the proxy relies on:
// the group every proxied request carries gets what the platform allows.
func (r *Reconciler) ensureMemberBinding(ctx context.Context, e *clustercache.Entry) error {
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{
			Name:   platformv1.MemberBindingName,
			Labels: map[string]string{platformv1.LabelManagedBy: platformv1.ManagedByValue},
		},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: platformv1.ProxyGroup}},
	}
	_, err := e.Client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ClusterRoleBinding %s in the member: %w", crb.Name, err)
	}
	return nil
}

// delete cleans the member and forgets the cluster. A member that cannot be
// reached keeps the cluster Terminating (and retried) unless forced.
func (r *Reconciler) delete(ctx context.Context, cls *platformv1.Cluster) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(cls, platformv1.ClusterFinalizer) {
		return ctrl.Result{}, nil
	}
	force, _ := strconv.ParseBool(cls.Annotations[AnnotationForceDelete])
	if entry, _, err := connect(ctx, r.Client, r.Cache, cls); err == nil {
		err := entry.Client.RbacV1().ClusterRoleBindings().Delete(ctx, platformv1.MemberBindingName, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) && !force {
			st := failedStatus(cls.Status, "CleanupFailed", err)
			st.Phase = platformv1.ClusterTerminating
			_ = r.setStatus(ctx, cls, st)
			return ctrl.Result{RequeueAfter: ResyncPeriod}, nil
		}
	} else if !force {
		return ctrl.Result{RequeueAfter: ResyncPeriod}, nil
	}
	r.Cache.Remove(cls.Name)
	if ref := cls.Spec.ClusterCredentialRef; ref != nil {
		var cred platformv1.ClusterCredential
		if err := r.Client.Get(ctx, client.ObjectKey{Name: ref.Name}, &cred); err == nil {
			secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: cred.Spec.SecretRef.Namespace, Name: cred.Spec.SecretRef.Name}}
			if err := client.IgnoreNotFound(r.Client.Delete(ctx, secret)); err != nil {
				return ctrl.Result{}, err
			}
			if err := client.IgnoreNotFound(r.Client.Delete(ctx, &cred)); err != nil {
				return ctrl.Result{}, err
			}
		}
	}
	controllerutil.RemoveFinalizer(cls, platformv1.ClusterFinalizer)
	return ctrl.Result{}, r.Client.Update(ctx, cls)
}

func (r *Reconciler) setStatus(ctx context.Context, cls *platformv1.Cluster, st platformv1.ClusterStatus) error {
	old := cls.Status
	// Write only on change, or to refresh the probe time twice a minute.
	oldProbe, newProbe := old.LastProbeTime, st.LastProbeTime
	old.LastProbeTime, st.LastProbeTime = nil, nil
	same := reflect.DeepEqual(old, st)
	st.LastProbeTime = newProbe
	if same && oldProbe != nil && newProbe != nil && newProbe.Sub(oldProbe.Time) < 30*time.Second {
		return nil
	}
	cls.Status = st
	return r.Client.Status().Update(ctx, cls)
}

func failedStatus(st platformv1.ClusterStatus, reason string, err error) platformv1.ClusterStatus {
	st.Phase = platformv1.ClusterFailed
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	setCondition(&st, "HealthCheck", corev1.ConditionFalse, reason, msg)
	return st
}

func setCondition(st *platformv1.ClusterStatus, typ string, status corev1.ConditionStatus, reason, msg string) {
	now := metav1.Now()
	for i, c := range st.Conditions {
		if c.Type == typ {
			if c.Status != status {
				st.Conditions[i].LastTransitionTime = now
			}
			st.Conditions[i].Status, st.Conditions[i].Reason, st.Conditions[i].Message = status, reason, msg
			return
		}
	}
	st.Conditions = append(st.Conditions, platformv1.ClusterCondition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: now})
}

func addresses(server string) []platformv1.ClusterAddress {
	u, err := url.Parse(server)
	if err != nil {
		return nil
	}
	port, _ := strconv.Atoi(u.Port())
	if port == 0 {
		port = 443
	}
	return []platformv1.ClusterAddress{{Type: "Advertise", Host: u.Hostname(), Port: int32(port), Path: u.Path}}
}
