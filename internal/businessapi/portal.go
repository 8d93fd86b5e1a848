package businessapi

import (
	"net/http"

	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
)

// portal is GET /business/apis/business.tkestack.io/v1/portal (seed 004
// §4.3): the projects the caller belongs to, and their role in each.
func (m *Module) portal(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	if r.Method != http.MethodGet {
		apigroup.MethodNotAllowed(w, "use GET")
		return
	}
	ctx := r.Context()
	var prjs businessv1.ProjectList
	if err := m.Client.List(ctx, &prjs, client.MatchingLabels{authv1.LabelTenant: p.Tenant}); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	out := businessv1.Portal{Administrator: decision.Admin(p), Projects: []businessv1.PortalProject{}}
	out.APIVersion, out.Kind = businessv1.GroupVersion.String(), "Portal"
	for _, prj := range prjs.Items {
		role := string(prj.Role(p.Username))
		if role == "" {
			continue
		}
		pp := businessv1.PortalProject{Name: prj.Name, DisplayName: prj.Spec.DisplayName, Role: role, Clusters: []string{}, Namespaces: []string{}}
		for _, c := range prj.Spec.Clusters {
			pp.Clusters = append(pp.Clusters, c.Name)
		}
		var nss businessv1.NamespaceList
		if err := m.Client.List(ctx, &nss, client.InNamespace(prj.Name)); err == nil {
			for _, n := range nss.Items {
				pp.Namespaces = append(pp.Namespaces, n.Spec.ClusterName+"/"+n.Spec.Namespace)
			}
		}
		out.Projects = append(out.Projects, pp)
	}
	apigroup.WriteJSON(w, http.StatusOK, out)
}
