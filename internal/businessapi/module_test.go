package businessapi

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
// (project admin of prjA) and alice, and the projects above.
func module(t *testing.T) (*Module, client.Client) {
	t.Helper()
	user := func(name string) *authv1.User {
		return &authv1.User{ObjectMeta: metav1.ObjectMeta{Name: "default." + name, Labels: tenantLabel}, Spec: authv1.UserSpec{TenantID: "default", Username: name}}
	}
	cluster := func(name string) *platformv1.Cluster {
		return &platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: tenantLabel}, Spec: platformv1.ClusterSpec{TenantID: "default", Type: platformv1.ClusterImported}}
	}
	objs := []client.Object{
		cluster("cls-a"), cluster("cls-b"), user("pa"), user("alice"),
		project(prjA, "", "cls-a", "4"), project(prjB, "", "cls-a", "1"),
		project(prjP, "", "cls-b", "4"), project(prjC, prjP, "cls-b", "1"),
		ns(prjA, "cls-a", "web", "1"),
		&authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "pa", Labels: tenantLabel},
			Spec: authv1.PolicyBindingSpec{TenantID: "default", PolicyName: directory.PolicyProjectAdmin, Users: []string{"pa"}, ProjectID: prjA}},
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
)

func prjAttr(verb, name string) attributes.Attributes {
	return attributes.Attributes{Verb: verb, APIGroup: "business.tkestack.io", Kind: "project", Name: name, Project: name}
}

func nsAttr(verb, project, name string) attributes.Attributes {
	return attributes.Attributes{Verb: verb, APIGroup: "business.tkestack.io", Kind: "namespace", Namespace: project, Name: name, Project: project}
}

func TestAdmitProject(t *testing.T) {
	// newProject is a body as the gateway hands it on: in the tenant.
	newProject := func(name, q string) *businessv1.Project {
		p := project(name, "", "cls-a", q)
		p.Spec.Members = nil
		return p
	}
	withMember := project(prjA, "", "cls-a", "4")
	withMember.Spec.Members = append(withMember.Spec.Members, businessv1.ProjectMember{Username: "alice", Role: "project-member"})
	for _, tc := range []struct {
		name string
		p    *directory.Principal
		a    attributes.Attributes
		obj  *businessv1.Project
		code int
		msg  string
	}{
		{"bad name", admin, prjAttr("create", ""), newProject("myproject", "1"), http.StatusUnprocessableEntity, `prj- and 8 lowercase letters or digits, not "myproject"`},
		{"upper-case name", admin, prjAttr("create", ""), newProject("prj-AAAAAAAA", "1"), http.StatusUnprocessableEntity, `not "prj-AAAAAAAA"`},
		{"good name", admin, prjAttr("create", ""), newProject("prj-12345678", "1"), 0, ""},
		{"unknown cluster (from admission.Checker)", admin, prjAttr("create", ""), project("prj-12345678", "", "cls-x", "1"), http.StatusUnprocessableEntity, `there is no cluster "cls-x"`},
		{"quota change without updateProject", pa, prjAttr("update", prjA), project(prjA, "", "cls-a", "8"), http.StatusForbidden,
			"pa may not change the quotas or parent of project prj-aaaaaaaa: no policy allows updateProject on project:prj-aaaaaaaa"},
		{"cluster change without updateProject", pa, prjAttr("update", prjA), project(prjA, "", "cls-b", "4"), http.StatusForbidden, "may not change the quotas or parent"},
		{"parent change without updateProject", pa, prjAttr("update", prjA), project(prjA, prjB, "cls-a", "4"), http.StatusForbidden, "may not change the quotas or parent"},
		{"member change by project admin", pa, prjAttr("update", prjA), withMember, 0, ""},
		{"quota change by admin", admin, prjAttr("update", prjA), project(prjA, "", "cls-a", "8"), 0, ""},
		{"quota below what is allocated (from admission.Checker)", admin, prjAttr("update", prjA), project(prjA, "", "cls-a", "500m"), http.StatusUnprocessableEntity,
			"cannot be lowered below what is allocated"},
		{"update of a missing project", admin, prjAttr("update", "prj-zzzzzzzz"), project("prj-zzzzzzzz", "", "cls-a", "1"), http.StatusNotFound, `project "prj-zzzzzzzz" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := module(t)
			u := apigrouptest.Unstructured(t, tc.obj)
			apigrouptest.CheckRefusal(t, m.Admit(context.Background(), &apigroup.Request{Principal: tc.p, Attributes: tc.a, Object: u}), tc.code, tc.msg)
			if u.GetName() != tc.obj.Name {
				t.Errorf("name changed from %q to %q", tc.obj.Name, u.GetName())
			}
		})
	}
}

func TestAdmitProjectNamed(t *testing.T) {
	m, _ := module(t)
	re := regexp.MustCompile(`^prj-[a-z0-9]{8}$`)
	seen := map[string]bool{}
	for range 5 {
		u := apigrouptest.Unstructured(t, project("", "", "cls-a", "1"))
		apigrouptest.CheckRefusal(t, m.Admit(context.Background(), &apigroup.Request{Principal: admin, Attributes: prjAttr("create", ""), Object: u}), 0, "")
		if !re.MatchString(u.GetName()) || seen[u.GetName()] {
			t.Fatalf("a project created without a name is named %q; want a new prj-xxxxxxxx", u.GetName())
		}
		seen[u.GetName()] = true
	}
}

func TestAdmitNamespace(t *testing.T) {
	body := func(project, cluster, name, q string) *businessv1.Namespace {
		n := ns(project, cluster, name, q)
		n.Name, n.Namespace, n.Labels = "", "", tenantLabel
		return n
	}
	adopt := func(n *businessv1.Namespace, v string) *businessv1.Namespace {
		n.Annotations = map[string]string{businessv1.AnnotationAdopt: v}
		return n
	}
	renamed := func(n *businessv1.Namespace, name string) *businessv1.Namespace { n.Name = name; return n }
	for _, tc := range []struct {
		name  string
		p     *directory.Principal
		a     attributes.Attributes
		obj   *businessv1.Namespace
		code  int
		msg   string
		named string // the name Admit gives it
	}{
		{"created", pa, nsAttr("create", prjA, ""), body("", "cls-a", "api", "1"), 0, "", "cls-a-api"},
		{"created with its project named", pa, nsAttr("create", prjA, ""), body(prjA, "cls-a", "api", "3"), 0, "", "cls-a-api"},
		{"given name replaced", pa, nsAttr("create", prjA, ""), renamed(body(prjA, "cls-a", "api", "1"), "whatever"), 0, "", "cls-a-api"},
		{"wrong project", pa, nsAttr("create", prjA, ""), body(prjB, "cls-a", "api", "1"), http.StatusUnprocessableEntity,
			"a project's namespaces live in the namespace named after it: prj-bbbbbbbb, not prj-aaaaaaaa", ""},
		{"bad name", pa, nsAttr("create", prjA, ""), body("", "cls-a", "Bad_NS", "1"), http.StatusUnprocessableEntity, `namespace "Bad_NS": `, ""},
		{"empty name", pa, nsAttr("create", prjA, ""), body("", "cls-a", "", "1"), http.StatusUnprocessableEntity, `namespace "": `, ""},
		{"update in place", pa, nsAttr("update", prjA, "cls-a-web"), renamed(body(prjA, "cls-a", "web", "2"), "cls-a-web"), 0, "", "cls-a-web"},
		{"update moving cluster", pa, nsAttr("update", prjA, "cls-a-web"), renamed(body(prjA, "cls-b", "web", "1"), "cls-a-web"), http.StatusUnprocessableEntity,
			"a namespace's cluster and name cannot change", ""},
		{"update renaming", pa, nsAttr("update", prjA, "cls-a-web"), renamed(body(prjA, "cls-a", "api", "1"), "cls-a-web"), http.StatusUnprocessableEntity,
			"a namespace's cluster and name cannot change", ""},
		{"adopt other than true", admin, nsAttr("create", prjA, ""), adopt(body("", "cls-a", "api", "1"), prjB), http.StatusUnprocessableEntity,
			businessv1.AnnotationAdopt + " is set by moves only", ""},
		{"adopt kube-system", admin, nsAttr("create", prjA, ""), adopt(body("", "cls-a", "kube-system", "1"), "true"), http.StatusUnprocessableEntity,
			"namespace kube-system is the cluster's own and cannot be imported", ""},
		{"adopt default", admin, nsAttr("create", prjA, ""), adopt(body("", "cls-a", "default", "1"), "true"), http.StatusUnprocessableEntity,
			"namespace default is the cluster's own", ""},
		{"adopt without updateNamespace on the member namespace", pa, nsAttr("create", prjA, ""), adopt(body("", "cls-a", "legacy", "1"), "true"), http.StatusForbidden,
			"pa may not import cluster:cls-a/namespace:legacy", ""},
		{"adopt by admin", admin, nsAttr("create", prjA, ""), adopt(body("", "cls-a", "legacy", "1"), "true"), 0, "", "cls-a-legacy"},
		// admission.Checker's refusals come through as *apigroup.Error.
		{"over quota", pa, nsAttr("create", prjA, ""), body("", "cls-a", "api", "3500m"), http.StatusUnprocessableEntity,
			"namespace api does not fit in project prj-aaaaaaaa's quota in cluster cls-a", ""},
		{"cluster outside the project", pa, nsAttr("create", prjA, ""), body("", "cls-b", "api", "1"), http.StatusUnprocessableEntity,
			"project prj-aaaaaaaa has no quota in cluster cls-b", ""},
		{"taken by another project", admin, nsAttr("create", prjB, ""), body("", "cls-a", "web", "100m"), http.StatusConflict,
			"namespace web of cluster cls-a belongs to project prj-aaaaaaaa already", ""},
		{"no such project", admin, nsAttr("create", "prj-zzzzzzzz", ""), body("", "cls-a", "api", "1"), http.StatusNotFound, `project "prj-zzzzzzzz" does not exist`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := module(t)
			u := apigrouptest.Unstructured(t, tc.obj)
			apigrouptest.CheckRefusal(t, m.Admit(context.Background(), &apigroup.Request{Principal: tc.p, Attributes: tc.a, Object: u}), tc.code, tc.msg)
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
			if got := u.GetLabels(); len(got) != len(want) || got[authv1.LabelTenant] != want[authv1.LabelTenant] ||
				got[admission.LabelCluster] != want[admission.LabelCluster] || got[admission.LabelNamespace] != want[admission.LabelNamespace] {
				t.Errorf("labels %v, want %v", got, want)
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
