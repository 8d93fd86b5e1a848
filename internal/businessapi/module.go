// Package businessapi is the business.tkestack.io API group as a module of
// the gateway: projects with their per-cluster quotas and their namespaces;
// publishing to several clusters, moving a namespace between projects, and
// the portal; the admission that keeps quotas whole; and the project and
// namespace controllers.
package businessapi

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/business/admission"
	"github.com/kstack/kstack/internal/clustercache"
	"github.com/kstack/kstack/internal/controllers/businessnamespace"
	projectcontroller "github.com/kstack/kstack/internal/controllers/project"
	"github.com/kstack/kstack/internal/randomid"
)

// Prefix is where the group is served.
const Prefix = "/business"

const groupPath = Prefix + "/apis/business.tkestack.io/v1/"

// Module is the business group.
type Module struct {
	apigroup.Env
	// Cache holds the connections to the members.
	Cache *clustercache.Cache
	// RegistryHost and PullCredential give each business namespace its
	// pull secret for the platform's registry ("": the registry is off).
	RegistryHost   string
	PullCredential func(ctx context.Context, project string) (username, password string, err error)
}

// Info names the group.
func (m *Module) Info() apigroup.Info {
	return apigroup.Info{Group: businessv1.GroupVersion.Group, Prefix: Prefix}
}

const wholeQuota = "so that quotas are always checked whole"

// Resources of the group. A project's own objects (the project, its
// namespaces in the global cluster's namespace named after it) come under
// its project policies.
func (m *Module) Resources() []apigroup.Resource {
	return []apigroup.Resource{
		{Kind: "project", TenantScoped: true, Patch: apigroup.PatchNoOne, NoPatch: wholeQuota,
			Project: func(a attributes.Attributes) string { return a.Name },
			// Read from the body is too late here, so sub-projects
			// serialise on one key.
			Lock: func(attributes.Attributes) string { return "projects" }},
		{Kind: "namespace", TenantScoped: true, SpecOptional: true, Patch: apigroup.PatchNoOne, NoPatch: wholeQuota,
			Project: func(a attributes.Attributes) string { return a.Namespace },
			Lock:    func(a attributes.Attributes) string { return "ns/" + a.Namespace }},
	}
}

// Routes are publishing, moving a namespace, and the portal.
func (m *Module) Routes() []apigroup.Route {
	return []apigroup.Route{
		{Pattern: groupPath + "namespaces/{project}/publish", Handler: func(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
			m.publish(w, r, p, r.PathValue("project"))
		}},
		{Pattern: groupPath + "namespaces/{project}/namespaces/{name}/move", Handler: func(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
			m.moveNamespace(w, r, p, r.PathValue("project"), r.PathValue("name"))
		}},
		{Pattern: groupPath + "portal", Handler: m.portal},
	}
}

// Indexes are the ones quota admission and the controllers read.
func (m *Module) Indexes() []apigroup.Index { return admission.Indexers }

// Controllers of the group.
func (m *Module) Controllers() []apigroup.Controller {
	return []apigroup.Controller{
		{Name: "business-namespace", Setup: func(mgr ctrl.Manager) error {
			return (&businessnamespace.Reconciler{Client: mgr.GetClient(), Cache: m.Cache,
				RegistryHost: m.RegistryHost, PullCredential: m.PullCredential}).SetupWithManager(mgr)
		}},
		{Name: "project", Setup: func(mgr ctrl.Manager) error {
			return (&projectcontroller.Reconciler{Client: mgr.GetClient()}).SetupWithManager(mgr)
		}},
	}
}

// Admit completes project and namespace bodies (a project's generated
// name; a namespace's name, project and labels, all derived from its
// spec), and checks a project's delete.
func (m *Module) Admit(ctx context.Context, r *apigroup.Request) error {
	a := r.Attributes
	switch {
	case r.Object != nil && a.Kind == "project":
		if a.Verb == "create" && r.Object.GetName() == "" && r.Object.GetGenerateName() == "" {
			r.Object.SetName(randomid.New("prj-", 8))
		}
	case r.Object != nil && a.Kind == "namespace":
		return completeNamespace(a, r.Object)
	case a.Kind == "project" && a.Verb == "delete":
		return m.checkProjectDelete(ctx, a.Name, r.Query.Get("cascade") == "true")
	case a.Kind == "project" && a.Verb == "deletecollection":
		// Each project's delete is checked for namespaces and sub-projects.
		return apigroup.Refuse(http.StatusMethodNotAllowed, "delete projects one at a time (kstack project delete NAME)")
	}
	return nil
}

// completeNamespace fills in what a namespace's spec decides: its project
// (the namespace it is created in), its name and its labels.
func completeNamespace(a attributes.Attributes, u *unstructured.Unstructured) error {
	project, _, _ := unstructured.NestedString(u.Object, "spec", "projectName")
	if project == "" {
		project = a.Namespace
		_ = unstructured.SetNestedField(u.Object, project, "spec", "projectName")
	}
	if project != a.Namespace {
		return apigroup.Invalid("a project's namespaces live in the namespace named after it: %s, not %s", project, a.Namespace)
	}
	cluster, _, _ := unstructured.NestedString(u.Object, "spec", "clusterName")
	namespace, _, _ := unstructured.NestedString(u.Object, "spec", "namespace")
	if a.Verb == "create" {
		u.SetName(businessv1.ObjectName(cluster, namespace))
	}
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[admission.LabelCluster], labels[admission.LabelNamespace] = cluster, namespace
	u.SetLabels(labels)
	return nil
}

// Validate checks projects and namespaces as they would be stored: names,
// quotas, clusters, members and parents, and the rights that changing them
// needs.
func (m *Module) Validate(ctx context.Context, r *apigroup.Request) error {
	switch r.Attributes.Kind {
	case "project":
		return m.validateProject(ctx, r)
	case "namespace":
		return m.validateNamespace(ctx, r)
	}
	return nil
}

var projectIDRE = regexp.MustCompile(`^prj-[a-z0-9]{8}$`)

func (m *Module) validateProject(ctx context.Context, r *apigroup.Request) error {
	u, pr := r.Object, r.Principal
	if r.Old == nil && !projectIDRE.MatchString(u.GetName()) {
		return apigroup.Invalid("a project's name is prj- and 8 lowercase letters or digits, not %q (leave it out to have one made)", u.GetName())
	}
	var p businessv1.Project
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil {
		return apigroup.Invalid("the object is not a Project: %v", err)
	}
	var old *businessv1.Project
	if r.Old != nil {
		old = &businessv1.Project{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.Old.Object, old); err != nil {
			return apigroup.Invalid("the stored object is not a Project: %v", err)
		}
		// Project admins manage members; quotas and parents are the
		// platform's to change.
		if !equality.Semantic.DeepEqual(old.Spec.Clusters, p.Spec.Clusters) || old.Spec.ParentProjectName != p.Spec.ParentProjectName {
			if d := m.Decider.Can(ctx, pr, "", "updateProject", "project:"+p.Name); !d.Allowed {
				return apigroup.Refuse(http.StatusForbidden, "%s may not change the quotas or parent of project %s: %s", pr.Name(), p.Name, d.Reason)
			}
		}
	}
	chk := &admission.Checker{Reader: m.Client, Live: m.Reader}
	if err := chk.Project(ctx, &p, old); err != nil {
		return err
	}
	// A cluster the project gains is one the caller may see; a parent is
	// one whose quota the caller may hand out.
	for i, cq := range p.Spec.Clusters {
		if old != nil {
			if _, had := old.Quota(cq.Name); had {
				continue
			}
		}
		if err := m.MayUse(ctx, pr, fmt.Sprintf("spec.clusters[%d]", i), "getCluster", "cluster:"+cq.Name); err != nil {
			return err
		}
	}
	if parent := p.Spec.ParentProjectName; parent != "" && (old == nil || old.Spec.ParentProjectName != parent) {
		if d := m.Decider.Can(ctx, pr, parent, "updateProject", "project:"+parent); !d.Allowed {
			return apigroup.Refuse(http.StatusForbidden, "spec.parentProjectName: %s may not hand out the quota of project %s (it needs updateProject there): %s", pr.Name(), parent, d.Reason)
		}
	}
	return nil
}

func (m *Module) validateNamespace(ctx context.Context, r *apigroup.Request) error {
	u, pr := r.Object, r.Principal
	var ns businessv1.Namespace
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &ns); err != nil {
		return apigroup.Invalid("the object is not a Namespace: %v", err)
	}
	if ns.Spec.ProjectName != ns.Namespace {
		return apigroup.Invalid("a project's namespaces live in the namespace named after it: %s, not %s", ns.Spec.ProjectName, ns.Namespace)
	}
	if errs := validation.IsDNS1123Label(ns.Spec.Namespace); len(errs) > 0 {
		return apigroup.Invalid("namespace %q: %s", ns.Spec.Namespace, strings.Join(errs, "; "))
	}
	if want := businessv1.ObjectName(ns.Spec.ClusterName, ns.Spec.Namespace); ns.Name != want {
		if r.Old != nil {
			return apigroup.Invalid("a namespace's cluster and name cannot change (move it with kstack namespace move)")
		}
		return apigroup.Invalid("a namespace's name is <cluster>-<namespace>: %q, not %q (leave it out to have it made)", want, ns.Name)
	}
	if ns.Labels[admission.LabelCluster] != ns.Spec.ClusterName || ns.Labels[admission.LabelNamespace] != ns.Spec.Namespace {
		return apigroup.Invalid("labels %s and %s must be the namespace's cluster and name (leave them out to have them set)", admission.LabelCluster, admission.LabelNamespace)
	}
	if adopt, ok := ns.Annotations[businessv1.AnnotationAdopt]; ok {
		// Import takes over a namespace that exists in the member: a
		// right over that namespace on the platform, never a system one.
		if adopt != "true" {
			return apigroup.Invalid("%s is set by moves only; to import a namespace set it to \"true\"", businessv1.AnnotationAdopt)
		}
		if strings.HasPrefix(ns.Spec.Namespace, "kube-") || ns.Spec.Namespace == "default" {
			return apigroup.Invalid("namespace %s is the cluster's own and cannot be imported into a project", ns.Spec.Namespace)
		}
		res := fmt.Sprintf("cluster:%s/namespace:%s", ns.Spec.ClusterName, ns.Spec.Namespace)
		if d := m.Decider.Can(ctx, pr, "", "updateNamespace", res); !d.Allowed {
			return apigroup.Refuse(http.StatusForbidden, "%s may not import %s: %s", pr.Name(), res, d.Reason)
		}
	}
	chk := &admission.Checker{Reader: m.Client, Live: m.Reader}
	return chk.Namespace(ctx, &ns)
}

// checkProjectDelete refuses to delete a project that still has namespaces
// or sub-projects, unless asked to cascade (then its namespaces go first,
// each cleaning its member cluster).
func (m *Module) checkProjectDelete(ctx context.Context, name string, cascade bool) error {
	var nss businessv1.NamespaceList
	if err := m.Client.List(ctx, &nss, client.InNamespace(name)); err != nil {
		return err
	}
	var prjs businessv1.ProjectList
	if err := m.Client.List(ctx, &prjs, client.MatchingFields{admission.IndexParent: name}); err != nil {
		return err
	}
	for _, p := range prjs.Items {
		if p.Spec.ParentProjectName == name {
			return apigroup.Refuse(http.StatusConflict, "project %s has sub-project %s: delete it first", name, p.Name)
		}
	}
	if len(nss.Items) == 0 {
		return nil
	}
	if !cascade {
		return apigroup.Refuse(http.StatusConflict, "project %s still has %d namespaces (e.g. %s in %s): delete them, or delete the project with ?cascade=true (kstack project delete --cascade)",
			name, len(nss.Items), nss.Items[0].Spec.Namespace, nss.Items[0].Spec.ClusterName)
	}
	for i := range nss.Items {
		if err := client.IgnoreNotFound(m.Client.Delete(ctx, &nss.Items[i])); err != nil {
			return err
		}
	}
	return nil
}

// ProjectOf is the project that owns namespace of member cluster ("" when
// none), read from the cache's index: the decision point asks it on every
// request into a member.
func (m *Module) ProjectOf(ctx context.Context, cluster, namespace string) string {
	var l businessv1.NamespaceList
	if err := m.Client.List(ctx, &l, client.MatchingFields{admission.IndexClusterNamespace: admission.ClusterNamespaceKey(cluster, namespace)}); err != nil || len(l.Items) == 0 {
		return ""
	}
	return l.Items[0].Spec.ProjectName
}
