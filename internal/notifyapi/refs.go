package notifyapi

import (
	"context"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
)

// Refs checks the references of one object (a receiver group's receivers,
// an alarm policy's receivers, groups, channels and templates).
type Refs struct {
	Env       apigroup.Env
	Principal *directory.Principal
	// Namespace is the referring object's: a reference names an object
	// there, or in the platform's namespace (tenant-wide objects).
	Namespace string
	// Tenant is the referring object's: a reference to another tenant's
	// object is answered as one to a missing object.
	Tenant string
}

// Refs are the reference checks of an object in namespace of tenant,
// written by p.
func (m *Module) Refs(p *directory.Principal, namespace, tenant string) *Refs {
	return &Refs{Env: m.Env, Principal: p, Namespace: namespace, Tenant: tenant}
}

// Target is the namespace a reference with namespace ns names.
func (r *Refs) Target(ns string) string {
	if ns == "" {
		return r.Namespace
	}
	return ns
}

// Check reads the object of kind ("receiver") that field names (ns, name)
// into obj: it must be in the referrer's namespace or the platform's, of
// the referrer's tenant, and the writer must be allowed to read it
// (get<Kind>), so that no one sends through, or to, what they may not see.
func (r *Refs) Check(ctx context.Context, field, kind, ns, name string, obj client.Object) error {
	target := r.Target(ns)
	sys := r.Env.SystemNamespace
	if target != r.Namespace && target != sys {
		return apigroup.Invalid("%s: a reference names a %s of namespace %s (this object's) or %s (the tenant's), not of %s", field, kind, r.Namespace, sys, target)
	}
	if name == "" {
		return apigroup.Invalid("%s: name the %s", field, kind)
	}
	key := client.ObjectKey{Namespace: target, Name: name}
	err := r.Env.Client.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) && r.Env.Reader != nil {
		// Made a moment ago: the cache may not have it yet.
		err = r.Env.Reader.Get(ctx, key, obj)
	}
	switch {
	case apierrors.IsNotFound(err):
		return apigroup.Invalid("%s: no %s %q", field, kind, name)
	case err != nil:
		return apigroup.Refuse(http.StatusServiceUnavailable, "%s: reading %s %q: %v", field, kind, name, err)
	}
	if !sameTenant(obj.GetLabels()[apigroup.LabelTenant], r.Tenant) {
		return apigroup.Invalid("%s: no %s %q", field, kind, name)
	}
	p := r.Principal
	if decision.Admin(p) {
		return nil
	}
	action := "get" + strings.ToUpper(kind[:1]) + kind[1:]
	resource := "namespace:" + target + "/" + kind + ":" + name
	if d := r.Env.Decider.Can(ctx, p, ProjectOf(sys, target), action, resource); !d.Allowed {
		return apigroup.Refuse(http.StatusForbidden, "%s: %s may not use %s %s (it needs %s): %s", field, p.Name(), kind, name, action, d.Reason)
	}
	return nil
}

// sameTenant: an empty tenant is the default one.
func sameTenant(a, b string) bool {
	if a == "" {
		a = apigroup.DefaultTenant
	}
	if b == "" {
		b = apigroup.DefaultTenant
	}
	return a == b
}

// CheckNamespace: an object of tenant lives in the platform's namespace
// (the tenant-wide objects) or in the namespace of one of the tenant's
// projects; another tenant's project is answered as a missing one.
func CheckNamespace(ctx context.Context, env apigroup.Env, namespace, tenant string) error {
	if namespace == env.SystemNamespace {
		return nil
	}
	var prj businessv1.Project
	key := client.ObjectKey{Name: namespace}
	err := env.Client.Get(ctx, key, &prj)
	if apierrors.IsNotFound(err) && env.Reader != nil {
		err = env.Reader.Get(ctx, key, &prj)
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return apigroup.Refuse(http.StatusServiceUnavailable, "reading project %s: %v", namespace, err)
	}
	if err != nil || !sameTenant(prj.Spec.TenantID, tenant) {
		return apigroup.Invalid("metadata.namespace: no project %q: these objects live in a project's namespace, or in %s for the whole tenant", namespace, env.SystemNamespace)
	}
	return nil
}
