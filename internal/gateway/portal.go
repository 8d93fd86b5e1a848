package gateway

import (
	"net/http"

	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/auth/directory"
)

const portalPath = "/business/apis/business.tkestack.io/v1/portal"

// PortalProject is one project as the portal shows it to a member.
type PortalProject struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"displayName"`
	Role        string   `json:"role"`
	Clusters    []string `json:"clusters"`
	// Namespaces are "<cluster>/<namespace>".
	Namespaces []string `json:"namespaces"`
}

// Portal is GET /business/apis/business.tkestack.io/v1/portal (seed 004
// §4.3): the projects the caller belongs to, and their role in each.
type Portal struct {
	Administrator bool            `json:"administrator"`
	Projects      []PortalProject `json:"projects"`
}

func (s *Server) portal(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	if r.Method != http.MethodGet {
		writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use GET")
		return
	}
	ctx := r.Context()
	var prjs businessv1.ProjectList
	if err := s.Client.List(ctx, &prjs, client.MatchingLabels{authv1.LabelTenant: p.Tenant}); err != nil {
		writeAdmission(w, err)
		return
	}
	out := Portal{Administrator: p.SuperAdmin, Projects: []PortalProject{}}
	for _, prj := range prjs.Items {
		role := string(prj.Role(p.Username))
		if role == "" {
			continue
		}
		pp := PortalProject{Name: prj.Name, DisplayName: prj.Spec.DisplayName, Role: role, Clusters: []string{}, Namespaces: []string{}}
		for _, c := range prj.Spec.Clusters {
			pp.Clusters = append(pp.Clusters, c.Name)
		}
		var nss businessv1.NamespaceList
		if err := s.Client.List(ctx, &nss, client.InNamespace(prj.Name)); err == nil {
			for _, n := range nss.Items {
				pp.Namespaces = append(pp.Namespaces, n.Spec.ClusterName+"/"+n.Spec.Namespace)
			}
		}
		out.Projects = append(out.Projects, pp)
	}
	writeJSON(w, http.StatusOK, out)
}
