// Package registryapi is the registry.tkestack.io API group: registry
// namespaces (the first path segment of the images on the platform's
// registry, owned by a tenant, public or private, shared with projects),
// and the actions on what the registry stores: repositories and tags
// listed and deleted, the upload guide, the garbage collection and the
// rotation of a project's pull credential.
//
// The registry itself (internal/registry) and its token service
// (internal/registryauth) are elsewhere: this group reads and deletes
// through Store, and decides through the one decision point with the same
// resources the token service uses: "registrynamespace:<ns>" for the
// object and "registrynamespace:<ns>/repository:<repo>" for repositories,
// with the actions pullRepository and deleteRepository, allowed by the
// caller's tenant policies or by their project policies in one of the
// projects the namespace is shared with.
//
// Routes (all under /registry/apis/registry.tkestack.io/v1/):
//
//	GET    registrynamespaces/{ns}/repositories             RepositoryList
//	GET    registrynamespaces/{ns}/repositories/{repo}/tags TagList
//	DELETE registrynamespaces/{ns}/repositories/{repo}      the repository
//	DELETE registrynamespaces/{ns}/repositories/{repo}:{tag} one tag
//	GET    registrynamespaces/{ns}/guide                    UploadGuide
//	GET    portal                                           RegistryNamespaceList the caller may pull from
//
// and POST /registry/gc (administrators) and POST
// /registry/projects/{project}/pullcredential/rotate. {repo} may hold
// slashes ("tools/cli"), so these routes take the rest of the path: a GET
// under a repository always ends in /tags (a repository whose last
// component is "tags" is read at …/tags/tags), and a DELETE names a tag
// after a ':', which no repository name holds. Another tenant's private
// namespace answers every route exactly as a missing one does.
package registryapi

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/chartimport"
	"github.com/kstack/kstack/internal/dialcheck"
)

const (
	// Group is the API group.
	Group = "registry.tkestack.io"
	// Prefix is where the gateway serves it (/v2 and /registry/token, the
	// registry's own paths, do not start with it).
	Prefix = "/registry"
	// GroupPath is the path of the group's version.
	GroupPath = Prefix + "/apis/" + Group + "/v1/"
	// Kind is the singular resource of registry namespaces.
	Kind = "registrynamespace"
)

// Actions on repositories, as the token service decides them.
const (
	ActionPull   = "pullRepository"
	ActionPush   = "pushRepository"
	ActionDelete = "deleteRepository"
)

// Store is what the group uses of the registry (*registry.Registry).
type Store interface {
	// Repositories of namespace ns (Pull left empty).
	Repositories(ctx context.Context, ns string) ([]registryv1.Repository, error)
	// Tags of repository "ns/name".
	Tags(ctx context.Context, repo string) ([]registryv1.Tag, error)
	DeleteTag(ctx context.Context, repo, tag string) error
	DeleteRepository(ctx context.Context, repo string) error
	// DeleteNamespace deletes every repository under "ns/".
	DeleteNamespace(ctx context.Context, ns string) error
	// GC is an online mark and sweep.
	GC(ctx context.Context) (registryv1.GCResult, error)
}

// PullRotator replaces a project's pull credential
// (*registryauth.PullCredentials).
type PullRotator interface {
	Rotate(ctx context.Context, project string) (registryv1.PullCredentialStatus, error)
}

// Module is the registry group.
type Module struct {
	apigroup.Env
	// Store is the registry; nil: the registry is off (503).
	Store Store
	// ErrNotFound is what Store's errors wrap for a missing repository or
	// tag (registry.ErrNotFound); nil: none is told apart.
	ErrNotFound error
	// Pull rotates pull credentials; nil: the registry is off (503).
	Pull PullRotator
	// RegistryHost is the registry's host:port as clients name it in
	// image references (the external URL's).
	RegistryHost string
	// StatusInterval is how often the status of each namespace is read
	// again from the registry (0: a minute).
	StatusInterval time.Duration
	// PullController sets up the controller of the projects' pull
	// credentials (registryauth.PullCredentials.SetupWithManager); nil:
	// the registry is off.
	PullController func(mgr ctrl.Manager) error
	// Charts reads and deletes the chart groups' charts; nil: the
	// registry is off (503).
	Charts ChartStore
	// ErrChartNotFound is what Charts' errors wrap for a missing chart or
	// version (chartstore.ErrNotFound).
	ErrChartNotFound error
	// Importer syncs Imported chart groups; nil: none sync.
	Importer *chartimport.Importer
	// Dial decides which repository addresses users may give.
	Dial *dialcheck.Policy
}

// ChartImportController names the controller that syncs imported chart groups.
const ChartImportController = "chart-import"

// PullCredentialsController names the pull credentials' controller.
const PullCredentialsController = "registry-pull-credentials"

// Info names the group.
func (m *Module) Info() apigroup.Info { return apigroup.Info{Group: Group, Prefix: Prefix} }

// Resources: registry namespaces, tenant-scoped and patchable: Validate
// sees the object as it would be stored, whatever the patch; chart groups,
// which administrators alone patch (a repository password comes in whole
// bodies only, where Admit moves it into a Secret).
func (m *Module) Resources() []apigroup.Resource {
	return []apigroup.Resource{{Kind: Kind, TenantScoped: true},
		{Kind: KindChartGroup, TenantScoped: true, Patch: apigroup.PatchAdmins, NoPatch: "so that a repository password is always moved into its Secret: replace the chart group whole (kstack chart group create, or PUT)"}}
}

// Indexes: none.
func (m *Module) Indexes() []apigroup.Index { return nil }

// Controllers: the refresh of each namespace's repository count and
// size, and the projects' pull credentials. Both are named whether the
// registry is on or not, so that --controllers reads the same.
func (m *Module) Controllers() []apigroup.Controller {
	return []apigroup.Controller{
		{Name: StatusController, Setup: func(mgr ctrl.Manager) error {
			if m.Store == nil {
				return nil // the registry is off: nothing to count
			}
			return (&Status{Client: mgr.GetClient(), Store: m.Store, Interval: m.StatusInterval}).SetupWithManager(mgr)
		}},
		{Name: PullCredentialsController, Setup: func(mgr ctrl.Manager) error {
			if m.PullController == nil {
				return nil
			}
			return m.PullController(mgr)
		}},
		{Name: ChartImportController, Setup: func(mgr ctrl.Manager) error {
			if m.Importer == nil {
				return nil
			}
			return (&chartimport.Reconciler{Client: mgr.GetClient(), Importer: m.Importer, Count: m.chartCount}).SetupWithManager(mgr)
		}},
	}
}

// Routes of the group (see the package's comment).
func (m *Module) Routes() []apigroup.Route {
	ns := GroupPath + "registrynamespaces/{ns}/"
	routes := []apigroup.Route{
		{Pattern: "GET " + ns + "repositories", Handler: m.listRepositories},
		{Pattern: "GET " + ns + "repositories/{repo...}", Handler: m.listTags},
		{Pattern: "DELETE " + ns + "repositories/{repo...}", Handler: m.deleteRepoOrTag},
		{Pattern: "GET " + ns + "guide", Handler: m.guide},
		{Pattern: "GET " + GroupPath + "portal", Handler: m.portal},
		{Pattern: "POST " + Prefix + "/gc", Handler: m.gc},
		{Pattern: "POST " + Prefix + "/projects/{project}/pullcredential/rotate", Handler: m.rotate},
	}
	return append(routes, m.chartRoutes()...)
}

// nameRE is distribution's rule for a path component, without '_': the
// name is also the object's, and object names hold none.
var nameRE = regexp.MustCompile(`^[a-z0-9]+(?:[.-][a-z0-9]+)*$`)

// CheckName refuses a name that cannot be a registry namespace.
func CheckName(name string) error {
	switch {
	case name == "":
		return apigroup.Invalid("metadata.name: name the registry namespace: it is the first path segment of its images (<registry>/NAME/<repository>:<tag>), e.g. team-a; names are never generated")
	case len(name) < 2 || len(name) > 63 || !nameRE.MatchString(name):
		return apigroup.Invalid("metadata.name %q is not a registry namespace name: 2 to 63 lower-case letters and digits, single '.' or '-' between them "+
			"(the registry's path component rule [a-z0-9]+(?:[._-][a-z0-9]+)*, without '_', which object names cannot hold), e.g. team-a or team.web", name)
	case name == "v2":
		return apigroup.Invalid("metadata.name %q is reserved: it is the registry API's own path", name)
	case strings.HasPrefix(name, "kstack-pull"):
		return apigroup.Invalid("metadata.name %q: names starting with kstack-pull are reserved (the user names of the projects' pull credentials start so)", name)
	}
	return nil
}

// Admit checks a create's name before anything else (the API server's own
// message would not say the registry's rule), refuses collection deletes,
// and decides a delete: refused while the namespace holds repositories,
// unless ?force=true, which deletes them first; if that fails the
// namespace stays.
func (m *Module) Admit(ctx context.Context, r *apigroup.Request) error {
	a := r.Attributes
	if a.Kind == KindChartGroup {
		return m.admitChartGroup(ctx, r)
	}
	if a.Kind != Kind {
		return nil
	}
	switch a.Verb {
	case "create":
		if r.Object != nil {
			return CheckName(r.Object.GetName())
		}
	case "deletecollection":
		return apigroup.Refuse(http.StatusMethodNotAllowed, "delete registry namespaces one at a time (kstack registry namespace delete NAME): each one's repositories are checked first")
	case "delete":
		return m.admitDelete(ctx, r)
	}
	return nil
}

func (m *Module) admitDelete(ctx context.Context, r *apigroup.Request) error {
	name := r.Attributes.Name
	var ns registryv1.RegistryNamespace
	if err := m.get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // the API server answers
		}
		return apigroup.Refuse(http.StatusServiceUnavailable, "reading registry namespace %s: %v", name, err)
	}
	if m.Store == nil {
		// Its images would stay in the storage, for the next owner of the name.
		return apigroup.Refuse(http.StatusServiceUnavailable, "the registry is off on this platform, so registry namespace %s cannot be checked for repositories: delete it when the registry runs (kstack platform run --registry-dir or --registry-s3-bucket)", name)
	}
	repos, err := m.Store.Repositories(ctx, name)
	if err != nil {
		return apigroup.Refuse(http.StatusServiceUnavailable, "listing the repositories of registry namespace %s: %v", name, err)
	}
	if len(repos) == 0 {
		return nil
	}
	if r.Query.Get("force") != "true" {
		return apigroup.Refuse(http.StatusConflict, "registry namespace %s still holds %s (e.g. %s): delete them, or delete the namespace with ?force=true (kstack registry namespace delete %s --force), which deletes its repositories and their images",
			name, plural(len(repos), "repository", "repositories"), repos[0].Name, name)
	}
	p := r.Principal
	if d := m.may(ctx, p, &ns, ActionDelete, "*"); !d.Allowed {
		return apigroup.Refuse(http.StatusForbidden, "%s may not delete the repositories of registry namespace %s (it needs %s on %s): %s", p.Name(), name, ActionDelete, repoResource(name, "*"), d.Reason)
	}
	if err := m.Store.DeleteNamespace(ctx, name); err != nil {
		return apigroup.Refuse(http.StatusServiceUnavailable, "deleting the repositories of registry namespace %s: %v; the namespace is kept: try again", name, err)
	}
	if m.Log != nil {
		m.Log.Info("registry namespace's repositories deleted", "namespace", name, "repositories", len(repos), "by", p.Name())
	}
	return nil
}

// Validate checks a registry namespace as it would be stored: its name,
// visibility and display name, and that each project it is shared with
// is one of its tenant's that the writer may use.
func (m *Module) Validate(ctx context.Context, r *apigroup.Request) error {
	if r.Object == nil {
		return nil
	}
	if r.Attributes.Kind == KindChartGroup {
		return m.validateChartGroup(ctx, r)
	}
	if r.Attributes.Kind != Kind {
		return nil
	}
	var ns registryv1.RegistryNamespace
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.Object.Object, &ns); err != nil {
		return apigroup.Invalid("not a RegistryNamespace: %v", err)
	}
	if err := CheckName(ns.Name); err != nil {
		return err
	}
	if r.Old == nil {
		if err := m.nameFree(ctx, ns.Name, "chart group", &registryv1.ChartGroup{}); err != nil {
			return err
		}
	}
	switch ns.Spec.Visibility {
	case "", registryv1.Public, registryv1.Private:
	default:
		return apigroup.Invalid("spec.visibility %q: use Public (anyone pulls, anonymous clients too) or Private (the tenant's users allowed to, and the projects in spec.projects)", ns.Spec.Visibility)
	}
	if len([]rune(ns.Spec.DisplayName)) > 60 {
		return apigroup.Invalid("spec.displayName: at most 60 characters")
	}
	var had []string
	if r.Old != nil {
		had, _, _ = unstructured.NestedStringSlice(r.Old.Object, "spec", "projects")
	}
	tenant := tenantOf(&ns)
	seen := map[string]bool{}
	for i, prj := range ns.Spec.Projects {
		field := fmt.Sprintf("spec.projects[%d]", i)
		if seen[prj] {
			return apigroup.Invalid("%s: project %s is named twice", field, prj)
		}
		seen[prj] = true
		if slices.Contains(had, prj) {
			// Kept from before: the writer need not be its member.
			continue
		}
		if err := m.checkProject(ctx, r.Principal, field, prj, tenant); err != nil {
			return err
		}
	}
	return nil
}

// checkProject: project is one of tenant's, and p may read it (its
// members may; sharing with a project hands them the namespace's images).
// Another tenant's project is answered as a missing one.
func (m *Module) checkProject(ctx context.Context, p *directory.Principal, field, project, tenant string) error {
	var prj businessv1.Project
	err := m.get(ctx, client.ObjectKey{Name: project}, &prj)
	if err != nil && !apierrors.IsNotFound(err) {
		return apigroup.Refuse(http.StatusServiceUnavailable, "%s: reading project %s: %v", field, project, err)
	}
	if err != nil || !sameTenant(prj.Spec.TenantID, tenant) {
		return apigroup.Invalid("%s: no project %q in tenant %s (see kstack project list)", field, project, tenant)
	}
	if decision.Admin(p) {
		return nil
	}
	if d := m.Decider.Can(ctx, p, project, "getProject", "project:"+project); !d.Allowed {
		return apigroup.Refuse(http.StatusForbidden, "%s: %s may not share the namespace with project %s (it needs getProject there): %s", field, p.Name(), project, d.Reason)
	}
	return nil
}

// may decides whether p may take action on repository repo ("*": all) of
// ns, by p's tenant policies or by p's project policies in one of the
// projects ns is shared with. Callers check the tenant first.
func (m *Module) may(ctx context.Context, p *directory.Principal, ns *registryv1.RegistryNamespace, action, repo string) decision.Decision {
	res := repoResource(ns.Name, repo)
	d := m.Decider.Can(ctx, p, "", action, res)
	if d.Allowed {
		return d
	}
	for _, prj := range ns.Spec.Projects {
		if pd := m.Decider.Can(ctx, p, prj, action, res); pd.Allowed {
			return pd
		}
	}
	return d
}

// repoResource is the decision point's resource of a repository.
func repoResource(ns, repo string) string {
	return "registrynamespace:" + ns + "/repository:" + repo
}

// get reads key from the cache, and from the API server when the cache
// has not seen it yet (made a moment ago).
func (m *Module) get(ctx context.Context, key client.ObjectKey, obj client.Object) error {
	err := m.Client.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) && m.Reader != nil {
		err = m.Reader.Get(ctx, key, obj)
	}
	return err
}

// tenantOf is the namespace's tenant: its label, else its spec.
func tenantOf(ns *registryv1.RegistryNamespace) string {
	if t := ns.Labels[apigroup.LabelTenant]; t != "" {
		return t
	}
	if ns.Spec.TenantID != "" {
		return ns.Spec.TenantID
	}
	return apigroup.DefaultTenant
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

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
