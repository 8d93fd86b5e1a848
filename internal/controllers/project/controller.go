// Package project reconciles projects: the global cluster's namespace that
// holds a project's Namespaces, the policy bindings that give members their
// project roles, and the status that adds up allocation and usage per cluster.
package project

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/business/admission"
	"github.com/kstack/kstack/internal/business/quota"
)

// Reconciler reconciles Projects.
type Reconciler struct {
	Client client.Client
}

// SetupWithManager registers the reconciler: a project is reconciled when
// it changes, and when one of its namespaces or sub-projects does.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("project").
		For(&businessv1.Project{}).
		Watches(&businessv1.Namespace{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: o.(*businessv1.Namespace).Spec.ProjectName}}}
		})).
		Watches(&businessv1.Project{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			if parent := o.(*businessv1.Project).Spec.ParentProjectName; parent != "" {
				return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: parent}}}
			}
			return nil
		})).
		Complete(r)
}

func ownedBy(p *businessv1.Project) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: businessv1.GroupVersion.String(), Kind: "Project", Name: p.Name, UID: p.UID}}
}

// Reconcile makes the project's namespace, bindings and status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var p businessv1.Project
	if err := r.Client.Get(ctx, req.NamespacedName, &p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if p.DeletionTimestamp != nil {
		return ctrl.Result{}, nil // the garbage collector takes what it owns
	}
	// The global namespace owned by the project: deleting the project
	// deletes it, and with it the project's Namespaces (whose finalizers
	// clean the members).
	gns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.Name, OwnerReferences: ownedBy(&p),
		Labels: map[string]string{businessv1.LabelProject: p.Name, authv1.LabelTenant: p.Spec.TenantID}}}
	if err := r.Client.Create(ctx, gns); err != nil && !apierrors.IsAlreadyExists(err) {
		return ctrl.Result{}, fmt.Errorf("creating the project's namespace: %w", err)
	}
	if err := r.bindings(ctx, &p); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.status(ctx, &p)
}

// bindings gives each member their role's project policy in this project.
func (r *Reconciler) bindings(ctx context.Context, p *businessv1.Project) error {
	var have authv1.PolicyBindingList
	if err := r.Client.List(ctx, &have, client.MatchingLabels{businessv1.LabelProject: p.Name}); err != nil {
		return err
	}
	want := map[string]authv1.PolicyBinding{}
	for _, m := range p.Spec.Members {
		b := authv1.PolicyBinding{
			ObjectMeta: metav1.ObjectMeta{Name: p.Name + "." + m.Username, OwnerReferences: ownedBy(p),
				Labels: map[string]string{businessv1.LabelProject: p.Name, authv1.LabelTenant: p.Spec.TenantID}},
			Spec: authv1.PolicyBindingSpec{TenantID: p.Spec.TenantID, PolicyName: string(m.Role), Users: []string{m.Username}, ProjectID: p.Name},
		}
		want[b.Name] = b
	}
	for i := range have.Items {
		b := &have.Items[i]
		w, ok := want[b.Name]
		switch {
		case !ok:
			if err := client.IgnoreNotFound(r.Client.Delete(ctx, b)); err != nil {
				return err
			}
		case !equality.Semantic.DeepEqual(b.Spec, w.Spec):
			b.Spec = w.Spec
			if err := r.Client.Update(ctx, b); err != nil {
				return err
			}
		}
		delete(want, b.Name)
	}
	for _, b := range want {
		if err := r.Client.Create(ctx, &b); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("binding %s's role: %w", b.Spec.Users[0], err)
		}
	}
	return nil
}

// status adds up, per cluster, what the project's namespaces and
// sub-projects hold and what the namespaces use.
func (r *Reconciler) status(ctx context.Context, p *businessv1.Project) error {
	var nss businessv1.NamespaceList
	if err := r.Client.List(ctx, &nss, client.InNamespace(p.Name)); err != nil {
		return err
	}
	chk := &admission.Checker{Reader: r.Client}
	st := businessv1.ProjectStatus{Namespaces: int32(len(nss.Items))}
	for _, c := range p.Spec.Clusters {
		alloc, err := chk.Allocated(ctx, p.Name, c.Name, "")
		if err != nil {
			return err
		}
		var used []corev1.ResourceList
		for _, n := range nss.Items {
			if n.Spec.ClusterName == c.Name {
				used = append(used, n.Status.Used)
			}
		}
		st.Clusters = append(st.Clusters, businessv1.ClusterUsage{Name: c.Name, Allocated: alloc, Used: quota.Sum(used...)})
	}
	if equality.Semantic.DeepEqual(st, p.Status) {
		return nil
	}
	p.Status = st
	return client.IgnoreNotFound(r.Client.Status().Update(ctx, p))
}
