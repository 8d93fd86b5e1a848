package platformapi

import (
	"errors"
	"net/http"

	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/clusterimport"
)

// importCluster imports a cluster (update == ""), or replaces the address
// and credential of cluster update (PUT .../clusters/{id}/credential).
func (m *Module) importCluster(w http.ResponseWriter, r *http.Request, user *directory.Principal, update string) {
	if update == "" && r.Method != http.MethodPost {
		apigroup.MethodNotAllowed(w, "use POST to import a cluster")
		return
	}
	if update != "" && r.Method != http.MethodPut {
		apigroup.MethodNotAllowed(w, "use PUT to replace a cluster's credential")
		return
	}
	action, resource := "createCluster", "cluster:*"
	if update != "" {
		action, resource = "updateClusterCredential", "cluster:"+update
	}
	if dec := m.Decider.Can(r.Context(), user, "", action, resource); !dec.Allowed {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusForbidden, "%s may not %s: %s", user.Name(), action, dec.Reason))
		return
	}
	if update != "" && !decision.Admin(user) {
		var cls platformv1.Cluster
		if err := m.Client.Get(r.Context(), client.ObjectKey{Name: update}, &cls); err != nil || cls.Spec.TenantID != user.Tenant {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusNotFound, "no cluster %q on the platform", update))
			return
		}
	}
	var in platformv1.ImportRequest
	if err := apigroup.DecodeBody(r, &in); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	req := &clusterimport.Request{ClusterConnection: in.ClusterConnection}
	if in.Kubeconfig != "" {
		kr, err := clusterimport.FromKubeconfig([]byte(in.Kubeconfig), in.Context)
		if err != nil {
			apigroup.WriteError(w, apigroup.Refuse(http.StatusBadRequest, "%v", err))
			return
		}
		if in.DisplayName != "" {
			kr.DisplayName = in.DisplayName
		}
		req = kr
	}
	if err := req.Check(); err != nil {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusBadRequest, "%v", err))
		return
	}
	t := in.Type
	if t == "" {
		t = platformv1.ClusterImported
	}
	if t != platformv1.ClusterImported && t != platformv1.ClusterLocal {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusBadRequest, "type must be Imported or Local"))
		return
	}
	var cls *platformv1.Cluster
	var err error
	if update != "" {
		cls, err = clusterimport.UpdateCredential(r.Context(), m.Client, update, req)
	} else {
		req.TenantID = user.Tenant
		cls, err = clusterimport.Import(r.Context(), m.Client, req, t)
	}
	if err != nil {
		code, reason := http.StatusUnprocessableEntity, "Invalid"
		var dup *clusterimport.DuplicateError
		if errors.As(err, &dup) {
			code, reason = http.StatusConflict, "AlreadyExists"
		}
		apigroup.WriteStatus(w, code, reason, err.Error())
		return
	}
	code := http.StatusCreated
	if update != "" {
		code = http.StatusOK
		m.Log.Info("cluster credential replaced", "cluster", cls.Name, "by", user.Name())
	} else {
		m.Log.Info("cluster imported", "cluster", cls.Name, "displayName", cls.Spec.DisplayName, "by", user.Name())
	}
	cls.APIVersion, cls.Kind = platformv1.GroupVersion.String(), "Cluster"
	apigroup.WriteJSON(w, code, cls)
}
