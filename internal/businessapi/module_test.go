package businessapi

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/apigroup/apigrouptest"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/business/admission"
	"github.com/kstack/kstack/internal/platformscheme"
)

const (
	prjA = "prj-aaaaaaaa" // cls-a: 4 CPUs; namespace web (1 CPU)
	prjB = "prj-bbbbbbbb" // cls-a: 1 CPU; no namespaces
	prjP = "prj-pppppppp" // parent of prjC
	prjC = "prj-cccccccc"
)

var tenantLabel = map[string]string{authv1.LabelTenant: "default"}

func cpu(v string) corev1.ResourceList {
	return corev1.ResourceList{"requests.cpu": resource.MustParse(v)}
}

func project(name, parent, cluster, q string) *businessv1.Project {
	return &businessv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: tenantLabel},
		Spec: businessv1.ProjectSpec{TenantID: "default", ParentProjectName: parent,
			Members:  []businessv1.ProjectMember{{Username: "pa", Role: "project-admin"}},
			Clusters: []businessv1.ClusterQuota{{Name: cluster, Hard: cpu(q)}}}}
}

// ns is a stored business Namespace, labelled as admission labels them.
func ns(project, cluster, name, q string) *businessv1.Namespace {
	return &businessv1.Namespace{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: businessv1.ObjectName(cluster, name),
		Labels: map[string]string{authv1.LabelTenant: "default", admission.LabelCluster: cluster, admission.LabelNamespace: name}},
		Spec: businessv1.NamespaceSpec{TenantID: "default", ProjectName: project, ClusterName: cluster, Namespace: name, Hard: cpu(q)}}
}

// module is the business group over a fake client with the admission
// indexes, the predefined policies, clusters cls-a and cls-b, users pa
// and alice, the projects above, and these callers:
//   - pa is project admin of prjA;
//   - ed may create and update any project (prj-editor) but sees no cluster;
//   - carol is ed and may also get cls-b (see-cls-b);
//   - sub may get every cluster (see-clusters) and is project admin of prjP;
//   - bea may update prjB only (edit-prj-b); ben is bea and project admin of prjA;
//   - cadm is project admin of prjC.
func module(t *testing.T) (*Module, client.Client) {
	t.Helper()
	user := func(name string) *authv1.User {
		return &authv1.User{ObjectMeta: metav1.ObjectMeta{Name: "default." + name, Labels: tenantLabel}, Spec: authv1.UserSpec{TenantID: "default", Username: name}}
	}
	cluster := func(name string) *platformv1.Cluster {
		return &platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: tenantLabel}, Spec: platformv1.ClusterSpec{TenantID: "default", Type: platformv1.ClusterImported}}
	}
	pol := func(name string, actions []string, resources ...string) *authv1.Policy {
		return &authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: tenantLabel},
			Spec: authv1.PolicySpec{TenantID: "default", Scope: authv1.ScopePlatform, Statements: []authv1.Statement{{Actions: actions, Resources: resources, Effect: "allow"}}}}
	}
	bind := func(user, policy, project string) *authv1.PolicyBinding {
		return &authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: user + "-" + policy + "-" + project, Labels: tenantLabel},
			Spec: authv1.PolicyBindingSpec{TenantID: "default", PolicyName: policy, Users: []string{user}, ProjectID: project}}
	}
	objs := []client.Object{
		cluster("cls-a"), cluster("cls-b"), user("pa"), user("alice"),
		project(prjA, "", "cls-a", "4"), project(prjB, "", "cls-a", "1"),
		project(prjP, "", "cls-b", "4"), project(prjC, prjP, "cls-b", "1"),
		ns(prjA, "cls-a", "web", "1"),
		&authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "pa", Labels: tenantLabel},
			Spec: authv1.PolicyBindingSpec{TenantID: "default", PolicyName: directory.PolicyProjectAdmin, Users: []string{"pa"}, ProjectID: prjA}},
		pol("prj-editor", []string{"createProject", "updateProject"}, "project:*"),
		pol("see-cls-b", []string{"getCluster"}, "cluster:cls-b"),
		pol("see-clusters", []string{"getCluster"}, "cluster:*"),
		pol("edit-prj-b", []string{"updateProject"}, "project:"+prjB),
		bind("ed", "prj-editor", ""),
		bind("carol", "prj-editor", ""), bind("carol", "see-cls-b", ""),
		bind("sub", "see-clusters", ""), bind("sub", directory.PolicyProjectAdmin, prjP),
		bind("bea", "edit-prj-b", ""),
		bind("ben", "edit-prj-b", ""), bind("ben", directory.PolicyProjectAdmin, prjA),
		bind("cadm", directory.PolicyProjectAdmin, prjC),
	}
	b := fake.NewClientBuilder().WithScheme(platformscheme.New()).WithObjects(objs...)
	for _, ix := range admission.Indexers {
		b = b.WithIndex(ix.Object, ix.Field, ix.Func)
	}
	c := b.Build()
	if err := directory.EnsurePredefined(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return &Module{Env: apigroup.Env{Client: c, Reader: c, Decider: &decision.Decider{Dir: &directory.Directory{Client: c}}}}, c
}

var (
	admin = &directory.Principal{Username: "admin", Tenant: "default", SuperAdmin: true}
	pa    = &directory.Principal{Username: "pa", Tenant: "default"}
	ed    = &directory.Principal{Username: "ed", Tenant: "default"}
	carol = &directory.Principal{Username: "carol", Tenant: "default"}
	sub   = &directory.Principal{Username: "sub", Tenant: "default"}
	bea   = &directory.Principal{Username: "bea", Tenant: "default"}
	ben   = &directory.Principal{Username: "ben", Tenant: "default"}
	cadm  = &directory.Principal{Username: "cadm", Tenant: "default"}
)

func prjAttr(verb, name string) attributes.Attributes {
	return attributes.Attributes{Verb: verb, APIGroup: "business.tkestack.io", Kind: "project", Name: name, Project: name}
}

func nsAttr(verb, project, name string) attributes.Attributes {
	return attributes.Attributes{Verb: verb, APIGroup: "business.tkestack.io", Kind: "namespace", Namespace: project, Name: name, Project: project}
}

// validateRequest is the request the admission webhook makes of a create
// (verb "create") or update ("update") of obj, as it would be stored: its
// attributes as admissionwebhook.Attributes builds them (the project from
// the kind's Resource) and, for an update, the stored object as Old.
func validateRequest(t *testing.T, m *Module, c client.Client, p *directory.Principal, verb string, obj client.Object) *apigroup.Request {
	t.Helper()
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		t.Fatal(err)
	}
	u := apigrouptest.Unstructured(t, obj)
	u.SetGroupVersionKind(gvk)
	kind := strings.ToLower(gvk.Kind)
	a := attributes.Attributes{Verb: verb, APIGroup: gvk.Group, Kind: kind, Namespace: u.GetNamespace(), Name: u.GetName(),
		Action: verb + gvk.Kind, Resource: kind + ":" + u.GetName()}
	if a.Namespace != "" {
		a.Resource = "namespace:" + a.Namespace + "/" + a.Resource
	}
	for _, res := range m.Resources() {
		if res.Kind == kind && res.Project != nil {
			a.Project = res.Project(a)
		}
	}
	r := &apigroup.Request{Principal: p, Attributes: a, Object: u}
	if verb == "update" {
		old := &unstructured.Unstructured{}
		old.SetGroupVersionKind(gvk)
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), old); err != nil {
			t.Fatalf("an update replaces a stored %s: %v", client.ObjectKeyFromObject(obj), err)
		}
		r.Old = old
	}
	return r
}

// Admit names a project created without a name, and leaves the rest to
// Validate.
func TestAdmitProject(t *testing.T) {
	generated := project("", "", "cls-a", "1")
	generated.GenerateName = "prj-"
	for _, tc := range []struct {
		name  string
		a     attributes.Attributes
		obj   *businessv1.Project
		named string // "": a new prj-xxxxxxxx
	}{
		{"named", prjAttr("create", ""), project("prj-12345678", "", "cls-a", "1"), "prj-12345678"},
		{"a bad name is Validate's", prjAttr("create", ""), project("myproject", "", "cls-a", "1"), "myproject"},
		{"generateName is the API server's", prjAttr("create", ""), generated, "-"},
		{"an update is not named", prjAttr("update", prjA), project(prjA, "", "cls-a", "8"), prjA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := module(t)
			u := apigrouptest.Unstructured(t, tc.obj)
			apigrouptest.CheckRefusal(t, m.Admit(context.Background(), &apigroup.Request{Principal: admin, Attributes: tc.a, Object: u}), 0, "")
			want := tc.named
			if want == "-" {
				want = ""
			}
			if u.GetName() != want {
				t.Errorf("name %q, want %q", u.GetName(), want)
			}
		})
	}
}

func TestAdmitProjectNamed(t *testing.T) {
	m, c := module(t)
	re := regexp.MustCompile(`^prj-[a-z0-9]{8}$`)
	seen := map[string]bool{}
	for range 5 {
		u := apigrouptest.Unstructured(t, project("", "", "cls-a", "1"))
		apigrouptest.CheckRefusal(t, m.Admit(context.Background(), &apigroup.Request{Principal: admin, Attributes: prjAttr("create", ""), Object: u}), 0, "")
		if !re.MatchString(u.GetName()) || seen[u.GetName()] {
			t.Fatalf("a project created without a name is named %q; want a new prj-xxxxxxxx", u.GetName())
		}
		seen[u.GetName()] = true
		// The name made is one Validate takes.
		var p businessv1.Project
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil {
			t.Fatal(err)
		}
		apigrouptest.CheckRefusal(t, m.Validate(context.Background(), validateRequest(t, m, c, admin, "create", &p)), 0, "")
	}
}

func TestValidateProject(t *testing.T) {
	// newProject is a project as it would be stored: in the tenant.
	newProject := func(name, q string) *businessv1.Project {
		p := project(name, "", "cls-a", q)
		p.Spec.Members = nil
		return p
	}
	withMember := func(p *businessv1.Project) *businessv1.Project {
		p.Spec.Members = append(p.Spec.Members, businessv1.ProjectMember{Username: "alice", Role: "project-member"})
		return p
	}
	withCluster := func(p *businessv1.Project, cluster, q string) *businessv1.Project {
		p.Spec.Clusters = append(p.Spec.Clusters, businessv1.ClusterQuota{Name: cluster, Hard: cpu(q)})
		return p
	}
	for _, tc := range []struct {
		name string
		p    *directory.Principal
		verb string // create or update (Old is then the stored project)
		obj  *businessv1.Project
		code int
		msg  string
	}{
		{"bad name", admin, "create", newProject("myproject", "1"), http.StatusUnprocessableEntity, `prj- and 8 lowercase letters or digits, not "myproject"`},
		{"upper-case name", admin, "create", newProject("prj-AAAAAAAA", "1"), http.StatusUnprocessableEntity, `not "prj-AAAAAAAA"`},
		{"good name", admin, "create", newProject("prj-12345678", "1"), 0, ""},
		{"unknown cluster (from admission.Checker)", admin, "create", project("prj-12345678", "", "cls-x", "1"), http.StatusUnprocessableEntity, `there is no cluster "cls-x"`},
		{"quota change without updateProject", pa, "update", project(prjA, "", "cls-a", "8"), http.StatusForbidden,
			"pa may not change the quotas or parent of project prj-aaaaaaaa: no policy allows updateProject on project:prj-aaaaaaaa"},
		{"cluster change without updateProject", pa, "update", project(prjA, "", "cls-b", "4"), http.StatusForbidden, "may not change the quotas or parent"},
		{"parent change without updateProject", pa, "update", project(prjA, prjB, "cls-a", "4"), http.StatusForbidden, "may not change the quotas or parent"},
		{"member change by project admin", pa, "update", withMember(project(prjA, "", "cls-a", "4")), 0, ""},
		{"quota change by admin", admin, "update", project(prjA, "", "cls-a", "8"), 0, ""},
		{"quota below what is allocated (from admission.Checker)", admin, "update", project(prjA, "", "cls-a", "500m"), http.StatusUnprocessableEntity,
			"cannot be lowered below what is allocated"},

		// A cluster the project gains is one the caller may get.
		{"new project in a cluster the caller may not get", ed, "create", project("prj-12345678", "", "cls-b", "1"), http.StatusForbidden,
			"spec.clusters[0]: ed may not use cluster:cls-b (it needs getCluster): no policy allows getCluster on cluster:cls-b"},
		{"new project in a cluster the caller may get", carol, "create", project("prj-12345678", "", "cls-b", "1"), 0, ""},
		{"cluster added that the caller may not get", ed, "update", withCluster(project(prjA, "", "cls-a", "4"), "cls-b", "1"), http.StatusForbidden,
			"spec.clusters[1]: ed may not use cluster:cls-b (it needs getCluster)"},
		{"cluster added that the caller may get", carol, "update", withCluster(project(prjA, "", "cls-a", "4"), "cls-b", "1"), 0, ""},
		{"quota raised in a cluster the project had", ed, "update", project(prjA, "", "cls-a", "8"), 0, ""},
		{"cluster added by admin", admin, "update", withCluster(project(prjA, "", "cls-a", "4"), "cls-b", "1"), 0, ""},

		// A new parent is one whose quota the caller may hand out.
		{"sub-project of a project the caller administers", sub, "create", project("prj-12345678", prjP, "cls-b", "1"), 0, ""},
		{"sub-project of a project the caller does not administer", sub, "create", project("prj-12345678", prjA, "cls-a", "1"), http.StatusForbidden,
			"spec.parentProjectName: sub may not hand out the quota of project prj-aaaaaaaa (it needs updateProject there): no policy allows updateProject on project:prj-aaaaaaaa"},
		{"parent set to a project the caller does not administer", bea, "update", project(prjB, prjA, "cls-a", "1"), http.StatusForbidden,
			"spec.parentProjectName: bea may not hand out the quota of project prj-aaaaaaaa"},
		{"parent set to a project the caller administers", ben, "update", project(prjB, prjA, "cls-a", "1"), 0, ""},
		{"parent kept", cadm, "update", withMember(project(prjC, prjP, "cls-b", "1")), 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := module(t)
			r := validateRequest(t, m, c, tc.p, tc.verb, tc.obj)
			before := r.Object.DeepCopy()
			apigrouptest.CheckRefusal(t, m.Validate(context.Background(), r), tc.code, tc.msg)
			if !equality.Semantic.DeepEqual(before.Object, r.Object.Object) {
				t.Errorf("Validate changed the object:\n%v\nto\n%v", before.Object, r.Object.Object)
			}
		})
	}
}

// body is a namespace as a caller sends it: in the tenant, nothing else
// filled in.
func body(project, cluster, name, q string) *businessv1.Namespace {
	n := ns(project, cluster, name, q)
	n.Name, n.Namespace, n.Labels = "", "", tenantLabel
	return n
}

func renamed(n *businessv1.Namespace, name string) *businessv1.Namespace { n.Name = name; return n }

// Admit completes a namespace from its spec and the namespace it is
// written in; what it completes is what Validate wants.
func TestAdmitNamespace(t *testing.T) {
	stale := body("", "cls-a", "api", "1")
	stale.Labels = map[string]string{authv1.LabelTenant: "default", admission.LabelCluster: "cls-x", admission.LabelNamespace: "evil"}
	for _, tc := range []struct {
		name  string
		a     attributes.Attributes
		obj   *businessv1.Namespace
		code  int
		msg   string
		named string // the name Admit gives it
		// Validate's answer on the completed object.
		vcode int
		vmsg  string
	}{
		{"created", nsAttr("create", prjA, ""), body("", "cls-a", "api", "1"), 0, "", "cls-a-api", 0, ""},
		{"created with its project named", nsAttr("create", prjA, ""), body(prjA, "cls-a", "api", "3"), 0, "", "cls-a-api", 0, ""},
		{"given name replaced", nsAttr("create", prjA, ""), renamed(body(prjA, "cls-a", "api", "1"), "whatever"), 0, "", "cls-a-api", 0, ""},
		{"stale labels replaced", nsAttr("create", prjA, ""), stale, 0, "", "cls-a-api", 0, ""},
		{"wrong project", nsAttr("create", prjA, ""), body(prjB, "cls-a", "api", "1"), http.StatusUnprocessableEntity,
			"a project's namespaces live in the namespace named after it: prj-bbbbbbbb, not prj-aaaaaaaa", "", 0, ""},
		{"update in place", nsAttr("update", prjA, "cls-a-web"), renamed(body(prjA, "cls-a", "web", "2"), "cls-a-web"), 0, "", "cls-a-web", 0, ""},
		{"update without its project", nsAttr("update", prjA, "cls-a-web"), renamed(body("", "cls-a", "web", "2"), "cls-a-web"), 0, "", "cls-a-web", 0, ""},
		{"update moving cluster keeps the name", nsAttr("update", prjA, "cls-a-web"), renamed(body(prjA, "cls-b", "web", "1"), "cls-a-web"), 0, "", "cls-a-web",
			http.StatusUnprocessableEntity, "a namespace's cluster and name cannot change"},
		{"over quota is Validate's", nsAttr("create", prjA, ""), body("", "cls-a", "api", "3500m"), 0, "", "cls-a-api",
			http.StatusUnprocessableEntity, "namespace api does not fit in project prj-aaaaaaaa's quota in cluster cls-a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := module(t)
			u := apigrouptest.Unstructured(t, tc.obj)
			apigrouptest.CheckRefusal(t, m.Admit(context.Background(), &apigroup.Request{Principal: pa, Attributes: tc.a, Object: u}), tc.code, tc.msg)
			if tc.code != 0 {
				return
			}
			if u.GetName() != tc.named {
				t.Errorf("name %q, want %q", u.GetName(), tc.named)
			}
			if got, _, _ := unstructured.NestedString(u.Object, "spec", "projectName"); got != tc.a.Namespace {
				t.Errorf("spec.projectName %q, want %q", got, tc.a.Namespace)
			}
			want := map[string]string{authv1.LabelTenant: "default", admission.LabelCluster: tc.obj.Spec.ClusterName, admission.LabelNamespace: tc.obj.Spec.Namespace}
			if got := u.GetLabels(); !maps.Equal(got, want) {
				t.Errorf("labels %v, want %v", got, want)
			}
			// The API server stores it in the namespace of the URL.
			var n businessv1.Namespace
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &n); err != nil {
				t.Fatal(err)
			}
			n.Namespace = tc.a.Namespace
			apigrouptest.CheckRefusal(t, m.Validate(context.Background(), validateRequest(t, m, c, pa, tc.a.Verb, &n)), tc.vcode, tc.vmsg)
		})
	}
}

func TestValidateNamespace(t *testing.T) {
	// The namespaces below are as they would be stored (ns: named, in
	// their project, labelled).
	adopt := func(n *businessv1.Namespace, v string) *businessv1.Namespace {
		n.Annotations = map[string]string{businessv1.AnnotationAdopt: v}
		return n
	}
	inProject := func(n *businessv1.Namespace, project string) *businessv1.Namespace {
		n.Spec.ProjectName = project
		return n
	}
	label := func(n *businessv1.Namespace, key, value string) *businessv1.Namespace {
		if value == "" {
			delete(n.Labels, key)
		} else {
			n.Labels[key] = value
		}
		return n
	}
	// moved is web of prjA as an update to another cluster would store it
	// (Admit labels it from the spec and keeps its name).
	moved := renamed(ns(prjA, "cls-b", "web", "1"), "cls-a-web")
	for _, tc := range []struct {
		name string
		p    *directory.Principal
		verb string // create or update (Old is then the stored namespace)
		obj  *businessv1.Namespace
		code int
		msg  string
	}{
		{"created", pa, "create", ns(prjA, "cls-a", "api", "1"), 0, ""},
		{"created with the quota left", pa, "create", ns(prjA, "cls-a", "api", "3"), 0, ""},
		{"wrong project", pa, "create", inProject(ns(prjA, "cls-a", "api", "1"), prjB), http.StatusUnprocessableEntity,
			"a project's namespaces live in the namespace named after it: prj-bbbbbbbb, not prj-aaaaaaaa"},
		{"no project", pa, "create", inProject(ns(prjA, "cls-a", "api", "1"), ""), http.StatusUnprocessableEntity,
			"a project's namespaces live in the namespace named after it: , not prj-aaaaaaaa"},
		{"project changed by an update", pa, "update", inProject(ns(prjA, "cls-a", "web", "1"), prjB), http.StatusUnprocessableEntity,
			"a project's namespaces live in the namespace named after it: prj-bbbbbbbb, not prj-aaaaaaaa"},
		{"bad name", pa, "create", ns(prjA, "cls-a", "Bad_NS", "1"), http.StatusUnprocessableEntity, `namespace "Bad_NS": `},
		{"empty name", pa, "create", ns(prjA, "cls-a", "", "1"), http.StatusUnprocessableEntity, `namespace "": `},

		// The name is <cluster>-<namespace>, and cannot change.
		{"misnamed", pa, "create", renamed(ns(prjA, "cls-a", "api", "1"), "whatever"), http.StatusUnprocessableEntity,
			`a namespace's name is <cluster>-<namespace>: "cls-a-api", not "whatever" (leave it out to have it made)`},
		{"named after another cluster", pa, "create", renamed(ns(prjA, "cls-a", "api", "1"), "cls-b-api"), http.StatusUnprocessableEntity,
			`a namespace's name is <cluster>-<namespace>: "cls-a-api", not "cls-b-api"`},
		{"update in place", pa, "update", ns(prjA, "cls-a", "web", "2"), 0, ""},
		{"update moving cluster", pa, "update", moved, http.StatusUnprocessableEntity, "a namespace's cluster and name cannot change"},
		{"update renaming", pa, "update", renamed(ns(prjA, "cls-a", "api", "1"), "cls-a-web"), http.StatusUnprocessableEntity,
			"a namespace's cluster and name cannot change"},

		// The labels are the spec's cluster and namespace.
		{"cluster label of another cluster", pa, "create", label(ns(prjA, "cls-a", "api", "1"), admission.LabelCluster, "cls-b"), http.StatusUnprocessableEntity,
			"labels " + admission.LabelCluster + " and " + admission.LabelNamespace + " must be the namespace's cluster and name"},
		{"namespace label missing", pa, "create", label(ns(prjA, "cls-a", "api", "1"), admission.LabelNamespace, ""), http.StatusUnprocessableEntity,
			"must be the namespace's cluster and name"},
		{"namespace label changed by an update", pa, "update", label(ns(prjA, "cls-a", "web", "1"), admission.LabelNamespace, "api"), http.StatusUnprocessableEntity,
			"must be the namespace's cluster and name"},
		{"another label changed by an update", pa, "update", label(ns(prjA, "cls-a", "web", "1"), "team", "web"), 0, ""},

		// Importing a namespace of the member.
		{"adopt other than true", admin, "create", adopt(ns(prjA, "cls-a", "api", "1"), prjB), http.StatusUnprocessableEntity,
			businessv1.AnnotationAdopt + " is set by moves only"},
		{"adopt kube-system", admin, "create", adopt(ns(prjA, "cls-a", "kube-system", "1"), "true"), http.StatusUnprocessableEntity,
			"namespace kube-system is the cluster's own and cannot be imported"},
		{"adopt default", admin, "create", adopt(ns(prjA, "cls-a", "default", "1"), "true"), http.StatusUnprocessableEntity,
			"namespace default is the cluster's own"},
		{"adopt without updateNamespace on the member namespace", pa, "create", adopt(ns(prjA, "cls-a", "legacy", "1"), "true"), http.StatusForbidden,
			"pa may not import cluster:cls-a/namespace:legacy"},
		{"adopt by admin", admin, "create", adopt(ns(prjA, "cls-a", "legacy", "1"), "true"), 0, ""},

		// admission.Checker's refusals come through as *apigroup.Error.
		{"over quota", pa, "create", ns(prjA, "cls-a", "api", "3500m"), http.StatusUnprocessableEntity,
			"namespace api does not fit in project prj-aaaaaaaa's quota in cluster cls-a"},
		{"raised over quota by an update", pa, "update", ns(prjA, "cls-a", "web", "4500m"), http.StatusUnprocessableEntity,
			"namespace web does not fit in project prj-aaaaaaaa's quota in cluster cls-a"},
		{"cluster outside the project", pa, "create", ns(prjA, "cls-b", "api", "1"), http.StatusUnprocessableEntity,
			"project prj-aaaaaaaa has no quota in cluster cls-b"},
		{"taken by another project", admin, "create", ns(prjB, "cls-a", "web", "100m"), http.StatusConflict,
			"namespace web of cluster cls-a belongs to project prj-aaaaaaaa already"},
		{"no such project", admin, "create", ns("prj-zzzzzzzz", "cls-a", "api", "1"), http.StatusNotFound, `project "prj-zzzzzzzz" does not exist`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := module(t)
			r := validateRequest(t, m, c, tc.p, tc.verb, tc.obj)
			before := r.Object.DeepCopy()
			apigrouptest.CheckRefusal(t, m.Validate(context.Background(), r), tc.code, tc.msg)
			if !equality.Semantic.DeepEqual(before.Object, r.Object.Object) {
				t.Errorf("Validate changed the object:\n%v\nto\n%v", before.Object, r.Object.Object)
			}
		})
	}
}

func TestAdmitProjectDelete(t *testing.T) {
	for _, tc := range []struct {
		name    string
		project string
		query   url.Values
		verb    string
		code    int
		msg     string
		left    int // namespaces left in the project
	}{
		{"with namespaces", prjA, nil, "delete", http.StatusConflict,
			"project prj-aaaaaaaa still has 1 namespaces (e.g. web in cls-a): delete them, or delete the project with ?cascade=true", 1},
		{"cascade=false", prjA, url.Values{"cascade": {"false"}}, "delete", http.StatusConflict, "still has 1 namespaces", 1},
		{"cascade", prjA, url.Values{"cascade": {"true"}}, "delete", 0, "", 0},
		{"with a sub-project", prjP, url.Values{"cascade": {"true"}}, "delete", http.StatusConflict, "project prj-pppppppp has sub-project prj-cccccccc: delete it first", 0},
		{"empty", prjB, nil, "delete", 0, "", 0},
		{"sub-project", prjC, nil, "delete", 0, "", 0},
		{"deletecollection", "", nil, "deletecollection", http.StatusMethodNotAllowed, "delete projects one at a time", 0},
		{"deletecollection with cascade", "", url.Values{"cascade": {"true"}}, "deletecollection", http.StatusMethodNotAllowed, "delete projects one at a time", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := module(t)
			ctx := context.Background()
			r := &apigroup.Request{Principal: admin, Attributes: prjAttr(tc.verb, tc.project), Query: tc.query}
			apigrouptest.CheckRefusal(t, m.Admit(ctx, r), tc.code, tc.msg)
			var l businessv1.NamespaceList
			if err := c.List(ctx, &l, client.InNamespace(prjA)); err != nil {
				t.Fatal(err)
			}
			want := 1
			if tc.project == prjA {
				want = tc.left
			}
			if len(l.Items) != want {
				t.Errorf("%d namespaces left in %s, want %d", len(l.Items), prjA, want)
			}
		})
	}
}

// Writes Admit does not check pass untouched.
func TestAdmitOther(t *testing.T) {
	m, _ := module(t)
	for _, a := range []attributes.Attributes{
		nsAttr("delete", prjA, "cls-a-web"),
		nsAttr("patch", prjA, "cls-a-web"),
		prjAttr("patch", prjA),
	} {
		apigrouptest.CheckRefusal(t, m.Admit(context.Background(), &apigroup.Request{Principal: pa, Attributes: a}), 0, "")
	}
}

func TestProjectOf(t *testing.T) {
	m, _ := module(t)
	for _, tc := range []struct{ cluster, ns, want string }{
		{"cls-a", "web", prjA},
		{"cls-b", "web", ""},
		{"cls-a", "api", ""},
		{"cls-a-web", "", ""},
	} {
		if got := m.ProjectOf(context.Background(), tc.cluster, tc.ns); got != tc.want {
			t.Errorf("ProjectOf(%s, %s) = %q, want %q", tc.cluster, tc.ns, got, tc.want)
		}
	}
}
