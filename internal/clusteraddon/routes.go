package clusteraddon

import (
	"net/http"

	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
)

// Types answers GET .../clusters/{id}/addontypes: the add-on types that
// can be enabled in the cluster, for whoever may see the cluster.
func (m *Addons) Types(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	if _, ok := m.visibleCluster(w, r, p); !ok {
		return
	}
	out := platformv1.ClusterAddonTypeList{Kind: "ClusterAddonTypeList", APIVersion: platformv1.GroupVersion.String(), Items: []platformv1.ClusterAddonType{}}
	for _, a := range m.Catalog {
		out.Items = append(out.Items, platformv1.ClusterAddonType{Type: a.Type, Description: a.Description, Level: a.Level,
			LatestVersion: a.Latest().Version, Versions: a.VersionNames(), Kinds: a.Kinds})
	}
	apigroup.WriteJSON(w, http.StatusOK, out)
}

// List answers GET .../clusters/{id}/addons (TKEStack's per-cluster list):
// the cluster's ClusterAddons that the caller may read.
func (m *Addons) List(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	cls, ok := m.visibleCluster(w, r, p)
	if !ok {
		return
	}
	var l platformv1.ClusterAddonList
	if err := m.Client.List(r.Context(), &l); err != nil {
		apigroup.WriteError(w, err)
		return
	}
	out := platformv1.ClusterAddonList{Items: []platformv1.ClusterAddon{}}
	out.Kind, out.APIVersion = "ClusterAddonList", platformv1.GroupVersion.String()
	for _, ca := range l.Items {
		if ca.Spec.ClusterName != cls.Name || ca.Spec.TenantID != cls.Spec.TenantID {
			continue
		}
		if decision.Admin(p) || m.Decider.Can(r.Context(), p, "", "getClusterAddon", "clusteraddon:"+ca.Name).Allowed {
			out.Items = append(out.Items, ca)
		}
	}
	apigroup.WriteJSON(w, http.StatusOK, out)
}

// visibleCluster is the route's cluster if p may read it; otherwise it
// answers 404, as for a cluster that does not exist.
func (m *Addons) visibleCluster(w http.ResponseWriter, r *http.Request, p *directory.Principal) (*platformv1.Cluster, bool) {
	id := r.PathValue("id")
	var cls platformv1.Cluster
	err := m.Client.Get(r.Context(), client.ObjectKey{Name: id}, &cls)
	if err == nil && (decision.Admin(p) || cls.Spec.TenantID == p.Tenant && m.Decider.Can(r.Context(), p, "", "getCluster", "cluster:"+id).Allowed) {
		return &cls, true
	}
	apigroup.WriteStatus(w, http.StatusNotFound, "NotFound", "cluster \""+id+"\" not found")
	return nil, false
}
