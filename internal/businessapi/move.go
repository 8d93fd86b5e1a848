package businessapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/business/admission"
)

// moveNamespace moves a project's namespace to another project of the
// tenant without touching what runs in it: the new project's Namespace
// takes the member namespace over, then the old one is let go.
func (m *Module) moveNamespace(w http.ResponseWriter, r *http.Request, p *directory.Principal, from, name string) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		apigroup.MethodNotAllowed(w, "use POST to move a namespace")
		return
	}
	var in businessv1.MoveRequest
	if err := apigroup.DecodeBody(r, &in); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	var old businessv1.Namespace
	if err := m.Reader.Get(ctx, client.ObjectKey{Namespace: from, Name: name}, &old); err != nil || (old.Spec.TenantID != p.Tenant && !decision.Admin(p)) {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusNotFound, "project %s has no namespace %s", from, name))
		return
	}
	for _, c := range []struct{ action, project string }{{"deleteNamespace", from}, {"createNamespace", in.Project}} {
		a := attributes.Attributes{Action: c.action, Resource: "namespace:" + c.project + "/namespace:" + name, APIGroup: businessv1.GroupVersion.Group,
			Kind: "namespace", Namespace: c.project, Name: name, Project: c.project}
		if d := m.Decider.Platform(ctx, p, a, old.Spec.TenantID); !d.Allowed {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusForbidden, "%s may not %s in project %s: %s", p.Name(), c.action, c.project, d.Reason))
			return
		}
	}
	moved := &businessv1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Namespace: in.Project, Name: old.Name,
			Labels: map[string]string{authv1.LabelTenant: old.Spec.TenantID,
				admission.LabelCluster: old.Spec.ClusterName, admission.LabelNamespace: old.Spec.Namespace},
			Annotations: map[string]string{businessv1.AnnotationAdopt: from}},
		Spec: old.Spec,
	}
	moved.Spec.ProjectName = in.Project
	unlock := m.Host.Lock("ns/" + in.Project)
	defer unlock()
	chk := &admission.Checker{Reader: m.Client, Live: m.Reader}
	if err := chk.NamespaceMoving(ctx, moved, &old); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	if err := m.Client.Create(ctx, moved); err != nil {
		apigroup.WriteError(w, fmt.Errorf("creating the namespace in project %s: %w", in.Project, err))
		return
	}
	// Let go of the old only once the new one holds the member namespace.
	if err := m.waitAvailable(ctx, moved, 60*time.Second); err != nil {
		_ = m.Client.Delete(context.Background(), moved)
		apigroup.WriteError(w, apigroup.Refuse(http.StatusServiceUnavailable, "the move did not complete, nothing changed: %v", err))
		return
	}
	if err := client.IgnoreNotFound(m.Client.Delete(ctx, &old)); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	m.Log.Info("namespace moved", "cluster", old.Spec.ClusterName, "namespace", old.Spec.Namespace, "from", from, "to", in.Project, "by", p.Name())
	moved.APIVersion, moved.Kind = businessv1.GroupVersion.String(), "Namespace"
	apigroup.WriteJSON(w, http.StatusOK, moved)
}

func (m *Module) waitAvailable(ctx context.Context, ns *businessv1.Namespace, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var cur businessv1.Namespace
		if err := m.Reader.Get(ctx, client.ObjectKeyFromObject(ns), &cur); err == nil {
			if cur.Status.Phase == businessv1.NamespaceAvailable {
				return nil
			}
			if cur.Status.Phase == businessv1.NamespaceFailed {
				return fmt.Errorf("%s", cur.Status.Message)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the member cluster did not confirm within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}
