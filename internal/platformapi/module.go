// Package platformapi is the platform.tkestack.io API group as a module of
// the gateway: clusters, their credentials, virtual node sets and add-ons
// (ClusterAddon, internal/clusteraddon); importing a cluster and replacing
// its credential; the connect-form proxy into a member; and the cluster,
// virtual-node-set and cluster-addon controllers.
package platformapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/clusteraddon"
	"github.com/kstack/kstack/internal/clustercache"
	clustercontroller "github.com/kstack/kstack/internal/controllers/cluster"
	"github.com/kstack/kstack/internal/controllers/globalcluster"
	"github.com/kstack/kstack/internal/controllers/virtualnodeset"
	"github.com/kstack/kstack/internal/inprocess"
)

// Prefix is where the group is served; ProxyPrefix is the connect form's
// path before the cluster ID.
const (
	Prefix      = "/platform"
	ProxyPrefix = "/apis/platform.tkestack.io/v1/clusters/"
)

// Module is the platform group.
type Module struct {
	apigroup.Env
	// Cache holds the connections to the members.
	Cache *clustercache.Cache
	// Discovery reads the global cluster's version.
	Discovery discovery.DiscoveryInterface
	// VirtualNodeIP is where members reach the virtual nodes the platform runs.
	VirtualNodeIP string
	// VirtualNodeLog logs the virtual node sets.
	VirtualNodeLog *slog.Logger
	// Addons are the extension components (ClusterAddon).
	Addons *clusteraddon.Addons
}

// Info names the group.
func (m *Module) Info() apigroup.Info {
	return apigroup.Info{Group: platformv1.GroupVersion.Group, Prefix: Prefix, ClusterHeader: true}
}

// Resources of the group.
func (m *Module) Resources() []apigroup.Resource {
	return []apigroup.Resource{
		{Kind: "cluster", TenantScoped: true},
		{Kind: "clustercredential", TenantScoped: true, AdminOnly: "cluster credentials are readable by platform administrators only"},
		{Kind: "virtualnodeset", TenantScoped: true},
		{Kind: "clusteraddon", TenantScoped: true},
	}
}

// Admit refuses the delete of a cluster that projects still hold quota
// in, and collection deletes, which would skip that check.
func (m *Module) Admit(ctx context.Context, r *apigroup.Request) error {
	a := r.Attributes
	switch {
	case a.Kind == "cluster" && a.Verb == "delete":
		return m.checkClusterDelete(ctx, a.Name)
	case a.Kind == "cluster" && a.Verb == "deletecollection":
		// Each cluster's delete is checked for the projects in it.
		return apigroup.Refuse(http.StatusMethodNotAllowed, "delete clusters one at a time (kstack cluster delete ID)")
	case a.Kind == "clusteraddon" && a.Verb == "delete":
		return m.Addons.CheckUninstall(ctx, a.Name)
	case a.Kind == "clusteraddon" && a.Verb == "deletecollection":
		return apigroup.Refuse(http.StatusMethodNotAllowed, "uninstall add-ons one at a time (kstack addon uninstall CLUSTER TYPE), so that each is checked for what still uses it")
	case a.Kind == "clusteraddon":
		return m.Addons.Admit(ctx, r)
	}
	return nil
}

// Validate checks the references of clusters (their credential) and of
// virtual node sets (their clusters) as they would be stored.
func (m *Module) Validate(ctx context.Context, r *apigroup.Request) error {
	switch r.Attributes.Kind {
	case "cluster":
		return m.checkCredentialRef(ctx, r.Object)
	case "virtualnodeset":
		return m.checkVirtualNodeSet(ctx, r)
	case "clusteraddon":
		return m.Addons.Validate(ctx, r)
	}
	return nil
}

// checkVirtualNodeSet: the upper cluster and every lower one are member
// clusters of the set's tenant that the caller may update (the set
// registers nodes in the upper one and runs pods in the lower ones).
func (m *Module) checkVirtualNodeSet(ctx context.Context, r *apigroup.Request) error {
	var vns platformv1.VirtualNodeSet
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.Object.Object, &vns); err != nil {
		return apigroup.Invalid("the object is not a VirtualNodeSet: %v", err)
	}
	check := func(field, id string) error {
		var cls platformv1.Cluster
		err := m.Reader.Get(ctx, client.ObjectKey{Name: id}, &cls)
		if err != nil || cls.Spec.TenantID != vns.Spec.TenantID || cls.Spec.Type == platformv1.ClusterGlobal {
			return apigroup.Invalid("%s: there is no cluster %q for virtual nodes of tenant %s", field, id, vns.Spec.TenantID)
		}
		return m.MayUse(ctx, r.Principal, field, "updateCluster", "cluster:"+id)
	}
	if err := check("spec.upper", vns.Spec.Upper); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, id := range vns.Spec.Lowers {
		if seen[id] {
			return apigroup.Invalid("spec.lowers[%d]: %s is listed twice", i, id)
		}
		seen[id] = true
		if id == vns.Spec.Upper {
			return apigroup.Invalid("spec.lowers[%d]: %s is the upper cluster; a cluster cannot be a virtual node of itself", i, id)
		}
		if err := check(fmt.Sprintf("spec.lowers[%d]", i), id); err != nil {
			return err
		}
	}
	return nil
}

// Routes: import, credential replacement and the connect-form proxy.
func (m *Module) Routes() []apigroup.Route {
	return []apigroup.Route{
		{Pattern: Prefix + "/apis/platform.tkestack.io/v1/clusterimports", Handler: func(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
			m.importCluster(w, r, p, "")
		}},
		{Pattern: Prefix + ProxyPrefix + "{id}/credential", Handler: func(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
			m.importCluster(w, r, p, r.PathValue("id"))
		}},
		{Pattern: "GET " + Prefix + ProxyPrefix + "{id}/addontypes", Handler: m.Addons.Types},
		{Pattern: "GET " + Prefix + ProxyPrefix + "{id}/addons", Handler: m.Addons.List},
		{Pattern: Prefix + ProxyPrefix + "{id}/tapps", Handler: m.tapps},
		{Pattern: ProxyPrefix + "{id}/proxy", Handler: m.proxy},
		{Pattern: ProxyPrefix + "{id}/proxy/{path...}", Handler: m.proxy},
	}
}

// proxy serves the connect form, /apis/platform.tkestack.io/v1/clusters/{id}/proxy/{path}.
func (m *Module) proxy(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	id := r.PathValue("id")
	// The member path as escaped, not as PathValue unescapes it.
	rest := strings.TrimPrefix(r.URL.EscapedPath(), ProxyPrefix+id+"/proxy")
	m.Host.Proxy(w, r, p, id, rest)
}

// Indexes: none.
func (m *Module) Indexes() []apigroup.Index { return nil }

// Controllers of the group.
func (m *Module) Controllers() []apigroup.Controller {
	return []apigroup.Controller{
		{Name: "global-cluster", Setup: func(mgr ctrl.Manager) error {
			return (&globalcluster.Reconciler{Client: mgr.GetClient(), Discovery: m.Discovery}).SetupWithManager(mgr)
		}},
		{Name: "cluster", Setup: func(mgr ctrl.Manager) error {
			return (&clustercontroller.Reconciler{Client: mgr.GetClient(), Cache: m.Cache}).SetupWithManager(mgr)
		}},
		{Name: "cluster-connection", Setup: func(mgr ctrl.Manager) error {
			return (&clustercontroller.Connection{Client: mgr.GetClient(), Cache: m.Cache}).SetupWithManager(mgr)
		}},
		{Name: "virtual-node-set", Setup: func(mgr ctrl.Manager) error {
			return (&virtualnodeset.Reconciler{Client: mgr.GetClient(), Cache: m.Cache, NodeIP: m.VirtualNodeIP, Log: m.VirtualNodeLog}).SetupWithManager(mgr)
		}},
		{Name: "cluster-addon", Setup: func(mgr ctrl.Manager) error {
			return (&clusteraddon.Reconciler{Client: mgr.GetClient(), Cache: m.Cache, Catalog: m.Addons.Catalog, Clock: m.Addons.Clock, Log: m.Addons.ControllerLog}).SetupWithManager(mgr)
		}},
	}
}

// MemberConfig is a client configuration for member cluster `cluster`,
// through the gateway's proxy as p.
func MemberConfig(h apigroup.Host, p *directory.Principal, cluster string) *rest.Config {
	return &rest.Config{Host: inprocess.Host + ProxyPrefix + cluster + "/proxy", Transport: h.AsUser(p), QPS: 100, Burst: 200}
}

// PlatformConfig is a client configuration for the platform's API as p.
func PlatformConfig(h apigroup.Host, p *directory.Principal) *rest.Config {
	return &rest.Config{Host: inprocess.Host + Prefix, Transport: h.AsUser(p), QPS: 100, Burst: 200}
}

// checkCredentialRef refuses a Cluster whose credential is not its own: the
// ClusterCredential it names must be of its tenant and made for it (by
// import, which names it cc-<id> with spec.clusterName <id>). Once stored,
// the reference cannot change (a ValidatingAdmissionPolicy).
func (m *Module) checkCredentialRef(ctx context.Context, u *unstructured.Unstructured) error {
	ref, found, _ := unstructured.NestedString(u.Object, "spec", "clusterCredentialRef", "name")
	if !found {
		return nil
	}
	tenant, _, _ := unstructured.NestedString(u.Object, "spec", "tenantID")
	var cred platformv1.ClusterCredential
	err := m.Reader.Get(ctx, client.ObjectKey{Name: ref}, &cred)
	if err != nil || cred.Spec.TenantID != tenant || cred.Spec.ClusterName != u.GetName() {
		// Whether another tenant's credential exists is not told.
		return apigroup.Invalid("spec.clusterCredentialRef: %q is not a credential of cluster %s: import a cluster (kstack cluster import) to give it one", ref, u.GetName())
	}
	return nil
}

// checkClusterDelete refuses to remove a cluster that projects still hold
// quota in, unless the cluster is marked for a forced delete (kstack cluster
// delete --force): projects would be left with namespaces nowhere.
func (m *Module) checkClusterDelete(ctx context.Context, cluster string) error {
	var cls platformv1.Cluster
	if err := m.Client.Get(ctx, client.ObjectKey{Name: cluster}, &cls); err != nil {
		return nil // the API server answers for a missing cluster
	}
	if cls.Annotations["platform.kstack.io/force-delete"] == "true" {
		return nil
	}
	var prjs businessv1.ProjectList
	if err := m.Client.List(ctx, &prjs); err != nil {
		return err
	}
	var users []string
	for _, p := range prjs.Items {
		if _, ok := p.Quota(cluster); ok {
			users = append(users, p.Name)
		}
	}
	if len(users) == 0 {
		return nil
	}
	if len(users) > 5 {
		users = append(users[:5], fmt.Sprintf("and %d more", len(users)-5))
	}
	return apigroup.Refuse(http.StatusConflict, "cluster %s holds quota of projects %s: remove it from them (kstack project set-quota / namespace delete) first, or delete with --force", cluster, strings.Join(users, ", "))
}
