package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/business/admission"
)

// movePath matches /business/apis/business.tkestack.io/v1/namespaces/{project}/namespaces/{name}/move.
func movePath(p string) (project, name string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/business/apis/business.tkestack.io/v1/namespaces/")
	if !ok {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 4 || parts[1] != "namespaces" || parts[3] != "move" {
		return "", "", false
	}
	return parts[0], parts[2], true
}

// MoveRequest is the body of a namespace move.
type MoveRequest struct {
	Project string `json:"project"`
}

// moveNamespace moves a project's namespace to another project of the
// tenant without touching what runs in it: the new project's Namespace
// takes the member namespace over, then the old one is let go.
func (s *Server) moveNamespace(w http.ResponseWriter, r *http.Request, p *directory.Principal, from, name string) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use POST to move a namespace")
		return
	}
	var in MoveRequest
	if err := decodeBody(r, &in); err != nil {
		writeAdmission(w, err)
		return
	}
	var old businessv1.Namespace
	if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: from, Name: name}, &old); err != nil || (old.Spec.TenantID != p.Tenant && !p.SuperAdmin) {
		writeAdmission(w, refuse(http.StatusNotFound, "project %s has no namespace %s", from, name))
		return
	}
	for _, c := range []struct{ action, project string }{{"deleteNamespace", from}, {"createNamespace", in.Project}} {
		a := attributes.Attributes{Action: c.action, Resource: "namespace:" + c.project + "/namespace:" + name, APIGroup: businessv1.GroupVersion.Group,
			Kind: "namespace", Namespace: c.project, Name: name}
		if d := s.Decider.Platform(ctx, p, a, old.Spec.TenantID); !d.Allowed {
			writeAdmission(w, refuse(http.StatusForbidden, "%s may not %s in project %s: %s", p.Name(), c.action, c.project, d.Reason))
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
	unlock := s.lockProject("ns/" + in.Project)
	defer unlock()
	chk := &admission.Checker{Reader: s.Client, Live: s.Reader}
	if err := chk.NamespaceMoving(ctx, moved, &old); err != nil {
		if ae, ok := err.(*admission.Error); ok {
			err = refuse(ae.Code, "%s", ae.Msg)
		}
		writeAdmission(w, err)
		return
	}
	if err := s.Client.Create(ctx, moved); err != nil {
		writeAdmission(w, fmt.Errorf("creating the namespace in project %s: %w", in.Project, err))
		return
	}
	// Let go of the old only once the new one holds the member namespace.
	if err := s.waitAvailable(ctx, moved, 60*time.Second); err != nil {
		_ = s.Client.Delete(context.Background(), moved)
		writeAdmission(w, refuse(http.StatusServiceUnavailable, "the move did not complete, nothing changed: %v", err))
		return
	}
	if err := client.IgnoreNotFound(s.Client.Delete(ctx, &old)); err != nil {
		writeAdmission(w, err)
		return
	}
	s.Log.Info("namespace moved", "cluster", old.Spec.ClusterName, "namespace", old.Spec.Namespace, "from", from, "to", in.Project, "by", p.Name())
	moved.APIVersion, moved.Kind = businessv1.GroupVersion.String(), "Namespace"
	writeJSON(w, http.StatusOK, moved)
}

func (s *Server) waitAvailable(ctx context.Context, ns *businessv1.Namespace, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var cur businessv1.Namespace
		if err := s.Reader.Get(ctx, client.ObjectKeyFromObject(ns), &cur); err == nil {
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
