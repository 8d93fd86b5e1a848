package platformapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
	"github.com/kstack/kstack/internal/platformscheme"
)

func cluster(tenant, name string, annotations map[string]string) *platformv1.Cluster {
	return &platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{authv1.LabelTenant: tenant}, Annotations: annotations},
		Spec: platformv1.ClusterSpec{TenantID: tenant, Type: platformv1.ClusterImported}}
}

func project(name string, clusters ...string) *businessv1.Project {
	p := &businessv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{authv1.LabelTenant: "default"}},
		Spec: businessv1.ProjectSpec{TenantID: "default"}}
	for _, c := range clusters {
		p.Spec.Clusters = append(p.Spec.Clusters, businessv1.ClusterQuota{Name: c, Hard: corev1.ResourceList{"requests.cpu": resource.MustParse("1")}})
	}
	return p
}

func binding(tenant, user, policy string) *authv1.PolicyBinding {
	return &authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: tenant + "." + user, Labels: map[string]string{authv1.LabelTenant: tenant}},
		Spec: authv1.PolicyBindingSpec{TenantID: tenant, PolicyName: policy, Users: []string{user}}}
}

// module is the platform group over a fake client with the predefined
// policies and objs.
func module(t *testing.T, objs ...client.Object) *Module {
	t.Helper()
	c := fake.NewClientBuilder().WithScheme(platformscheme.New()).WithObjects(objs...).Build()
	if err := directory.EnsurePredefined(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	m := &Module{Env: apigroup.Env{Client: c, Reader: c, Decider: &decision.Decider{Dir: &directory.Directory{Client: c}}}}
	m.Host = &fakeHost{d: m.Decider}
	return m
}

// fakeHost decides on list items as the gateway's ItemAllowed does
// (internal/gateway/api.go); the platform group's kinds name no project.
type fakeHost struct {
	apigroup.Host // the rest is not used
	d             *decision.Decider
}

func (h *fakeHost) ItemAllowed(ctx context.Context, p *directory.Principal, list attributes.Attributes, _, name, tenant string) bool {
	get := list
	get.Verb, get.Name = "get", name
	get.Action = "get" + strings.TrimPrefix(list.Action, "list")
	get.Resource = list.Kind + ":" + name
	return h.d.Platform(ctx, p, get, tenant).Allowed
}

var admin = &directory.Principal{Username: "admin", Tenant: "default", SuperAdmin: true}

func TestAdmitClusterDelete(t *testing.T) {
	objs := []client.Object{
		cluster("default", "cls-a", nil),
		cluster("default", "cls-b", nil),
		cluster("default", "cls-forced", map[string]string{"platform.kstack.io/force-delete": "true"}),
		cluster("default", "cls-notforced", map[string]string{"platform.kstack.io/force-delete": "yes"}),
		cluster("default", "cls-busy", nil),
		project("prj-aaaaaaaa", "cls-a"),
		project("prj-bbbbbbbb", "cls-b", "cls-a"),
		project("prj-ffffffff", "cls-forced", "cls-notforced"),
	}
	for i := range 7 {
		objs = append(objs, project(fmt.Sprintf("prj-busy%04d", i), "cls-busy"))
	}
	m := module(t, objs...)
	del := func(name string) attributes.Attributes {
		return attributes.Attributes{Verb: "delete", APIGroup: "platform.tkestack.io", Kind: "cluster", Name: name}
	}
	unused := cluster("default", "cls-unused", nil)
	if err := m.Client.Create(context.Background(), unused); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		a    attributes.Attributes
		code int
		msg  string
	}{
		{"held by one project", del("cls-a"), http.StatusConflict, "cluster cls-a holds quota of projects prj-aaaaaaaa, prj-bbbbbbbb: remove it from them"},
		{"held by a project's second cluster", del("cls-b"), http.StatusConflict, "cluster cls-b holds quota of projects prj-bbbbbbbb:"},
		{"forced", del("cls-forced"), 0, ""},
		{"force-delete other than true", del("cls-notforced"), http.StatusConflict, "holds quota of projects prj-ffffffff"},
		{"many projects", del("cls-busy"), http.StatusConflict,
			"holds quota of projects prj-busy0000, prj-busy0001, prj-busy0002, prj-busy0003, prj-busy0004, and 2 more:"},
		{"unused", del("cls-unused"), 0, ""},
		{"missing", del("cls-gone"), 0, ""},
		{"update is not checked", attributes.Attributes{Verb: "update", APIGroup: "platform.tkestack.io", Kind: "cluster", Name: "cls-a"}, 0, ""},
		{"another kind", attributes.Attributes{Verb: "delete", APIGroup: "platform.tkestack.io", Kind: "clustercredential", Name: "cls-a"}, 0, ""},
		{"a collection delete would skip the check", attributes.Attributes{Verb: "deletecollection", APIGroup: "platform.tkestack.io", Kind: "cluster"}, 405, "one at a time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apigrouptest.CheckRefusal(t, m.Admit(context.Background(), &apigroup.Request{Principal: admin, Attributes: tc.a}), tc.code, tc.msg)
		})
	}
}

func TestVisibleClusters(t *testing.T) {
	getB := &authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "get-cls-b", Labels: map[string]string{authv1.LabelTenant: "default"}},
		Spec: authv1.PolicySpec{TenantID: "default", Scope: authv1.ScopePlatform, Statements: []authv1.Statement{
			{Actions: []string{"getCluster"}, Resources: []string{"cluster:cls-b", "cluster:cls-t2"}, Effect: "allow"}}}}
	m := module(t,
		cluster("default", "cls-a", nil), cluster("default", "cls-b", nil), cluster("default", "cls-c", nil), cluster("t2", "cls-t2", nil),
		getB,
		binding("default", "lister", directory.PolicyPlatformUser),
		binding("default", "getter", "get-cls-b"),
		binding("default", "nobody", directory.PolicyTenant),
		binding("t2", "lister", directory.PolicyPlatformUser),
	)
	for _, tc := range []struct {
		name string
		p    *directory.Principal
		want []string
	}{
		{"admin sees every tenant's", admin, []string{"cls-a", "cls-b", "cls-c", "cls-t2"}},
		{"lister sees the tenant's", &directory.Principal{Username: "lister", Tenant: "default"}, []string{"cls-a", "cls-b", "cls-c"}},
		{"lister of t2 sees t2's", &directory.Principal{Username: "lister", Tenant: "t2"}, []string{"cls-t2"}},
		{"getter sees what they may get, in their tenant", &directory.Principal{Username: "getter", Tenant: "default"}, []string{"cls-b"}},
		{"nobody sees nothing", &directory.Principal{Username: "nobody", Tenant: "default"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.VisibleClusters(context.Background(), tc.p)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, c := range got {
				names = append(names, c.Name)
			}
			slices.Sort(names)
			if !slices.Equal(names, tc.want) {
				t.Errorf("got %v, want %v", names, tc.want)
			}
		})
	}
}

// validateRequest is the request the admission webhook makes of a create
// (verb "create") or update ("update") of obj, as it would be stored: its
// attributes as admissionwebhook.Attributes builds them and, for an
// update, the stored object as Old.
func validateRequest(t *testing.T, m *Module, p *directory.Principal, verb string, obj client.Object) *apigroup.Request {
	t.Helper()
	gvk, err := apiutil.GVKForObject(obj, m.Client.Scheme())
	if err != nil {
		t.Fatal(err)
	}
	u := apigrouptest.Unstructured(t, obj)
	u.SetGroupVersionKind(gvk)
	kind := strings.ToLower(gvk.Kind)
	a := attributes.Attributes{Verb: verb, APIGroup: gvk.Group, Kind: kind, Name: u.GetName(),
		Action: verb + strings.ToUpper(kind[:1]) + kind[1:], Resource: kind + ":" + u.GetName()}
	r := &apigroup.Request{Principal: p, Attributes: a, Object: u}
	if verb == "update" {
		old := &unstructured.Unstructured{}
		old.SetGroupVersionKind(gvk)
		if err := m.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), old); err != nil {
			t.Fatalf("an update replaces a stored %s %s: %v", gvk.Kind, obj.GetName(), err)
		}
		r.Old = old
	}
	return r
}

// withCredential is c with spec.clusterCredentialRef naming ref.
func withCredential(c *platformv1.Cluster, ref string) *platformv1.Cluster {
	c.Spec.ClusterCredentialRef = &corev1.LocalObjectReference{Name: ref}
	return c
}

func TestValidateClusterCredentialRef(t *testing.T) {
	cred := func(tenant, name, cluster string) *platformv1.ClusterCredential {
		return &platformv1.ClusterCredential{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{authv1.LabelTenant: tenant}},
			Spec: platformv1.ClusterCredentialSpec{TenantID: tenant, ClusterName: cluster, Server: "https://198.18.0.1"}}
	}
	m := module(t,
		cred("default", "cc-cls-a", "cls-a"), cred("t2", "cc-cls-t2", "cls-t2"), cred("default", "cc-cls-b", "cls-b"),
		withCredential(cluster("default", "cls-a", nil), "cc-cls-a"),
		withCredential(cluster("t2", "cls-t2", nil), "cc-cls-t2"),
	)
	user := &directory.Principal{Username: "mallory", Tenant: "default"}
	const notIts = "is not a credential of cluster"
	for _, tc := range []struct {
		name, verb string
		obj        *platformv1.Cluster
		code       int
		msg        string
	}{
		{"its own credential", "update", withCredential(cluster("default", "cls-a", nil), "cc-cls-a"), 0, ""},
		{"its own credential, of another tenant than the caller's", "update", withCredential(cluster("t2", "cls-t2", nil), "cc-cls-t2"), 0, ""},
		{"no credential", "create", cluster("default", "cls-new", nil), 0, ""},
		{"a new cluster with its credential", "create", withCredential(cluster("default", "cls-b", nil), "cc-cls-b"), 0, ""},
		{"another cluster's credential", "create", withCredential(cluster("default", "cls-evil", nil), "cc-cls-a"), http.StatusUnprocessableEntity,
			`spec.clusterCredentialRef: "cc-cls-a" is not a credential of cluster cls-evil: import a cluster (kstack cluster import) to give it one`},
		{"another cluster's credential by an update", "update", withCredential(cluster("default", "cls-a", nil), "cc-cls-b"), http.StatusUnprocessableEntity,
			`spec.clusterCredentialRef: "cc-cls-b" ` + notIts + " cls-a"},
		// Named for the cluster, but of another tenant: answered as a
		// missing one.
		{"another tenant's credential", "create", withCredential(cluster("default", "cls-t2", nil), "cc-cls-t2"), http.StatusUnprocessableEntity,
			`spec.clusterCredentialRef: "cc-cls-t2" ` + notIts + " cls-t2"},
		{"a credential that does not exist", "create", withCredential(cluster("default", "cls-c", nil), "cc-cls-c"), http.StatusUnprocessableEntity,
			`spec.clusterCredentialRef: "cc-cls-c" ` + notIts + " cls-c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apigrouptest.CheckRefusal(t, m.Validate(context.Background(), validateRequest(t, m, user, tc.verb, tc.obj)), tc.code, tc.msg)
		})
	}
}

func TestValidateVirtualNodeSet(t *testing.T) {
	updateAB := &authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "update-cls-ab", Labels: map[string]string{authv1.LabelTenant: "default"}},
		Spec: authv1.PolicySpec{TenantID: "default", Scope: authv1.ScopePlatform, Statements: []authv1.Statement{
			{Actions: []string{"getCluster", "updateCluster"}, Resources: []string{"cluster:cls-a", "cluster:cls-b"}, Effect: "allow"}}}}
	global := cluster("default", platformv1.GlobalClusterName, nil)
	global.Spec.Type = platformv1.ClusterGlobal
	set := func(tenant, name, upper string, lowers ...string) *platformv1.VirtualNodeSet {
		return &platformv1.VirtualNodeSet{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{authv1.LabelTenant: tenant}},
			Spec: platformv1.VirtualNodeSetSpec{TenantID: tenant, Upper: upper, Lowers: lowers, NodePrefix: "vk-"}}
	}
	m := module(t,
		cluster("default", "cls-a", nil), cluster("default", "cls-b", nil), cluster("default", "cls-c", nil),
		cluster("t2", "cls-t2", nil), cluster("t2", "cls-t2b", nil), global,
		updateAB,
		binding("default", "operator", "update-cls-ab"),
		binding("default", "viewer", directory.PolicyTenant),
		binding("t2", "ops", directory.PolicyPlatformUser),
		set("default", "vns-ab", "cls-a", "cls-b"),
	)
	operator := &directory.Principal{Username: "operator", Tenant: "default"}
	viewer := &directory.Principal{Username: "viewer", Tenant: "default"}
	t2ops := &directory.Principal{Username: "ops", Tenant: "t2"}
	renamedPrefix := set("default", "vns-ab", "cls-a", "cls-b")
	renamedPrefix.Spec.NodePrefix = "virt-"
	const none = "there is no cluster %q for virtual nodes of tenant %s"
	for _, tc := range []struct {
		name string
		p    *directory.Principal
		verb string // create or update (Old is then the stored set)
		obj  *platformv1.VirtualNodeSet
		code int
		msg  string
	}{
		{"clusters of the tenant", admin, "create", set("default", "vns", "cls-a", "cls-b", "cls-c"), 0, ""},
		{"missing upper", admin, "create", set("default", "vns", "cls-x", "cls-b"), http.StatusUnprocessableEntity,
			"spec.upper: " + fmt.Sprintf(none, "cls-x", "default")},
		{"another tenant's upper", admin, "create", set("default", "vns", "cls-t2", "cls-b"), http.StatusUnprocessableEntity,
			"spec.upper: " + fmt.Sprintf(none, "cls-t2", "default")},
		{"global upper", admin, "create", set("default", "vns", platformv1.GlobalClusterName, "cls-b"), http.StatusUnprocessableEntity,
			"spec.upper: " + fmt.Sprintf(none, platformv1.GlobalClusterName, "default")},
		{"missing lower", admin, "create", set("default", "vns", "cls-a", "cls-b", "cls-x"), http.StatusUnprocessableEntity,
			"spec.lowers[1]: " + fmt.Sprintf(none, "cls-x", "default")},
		{"another tenant's lower", admin, "create", set("default", "vns", "cls-a", "cls-t2"), http.StatusUnprocessableEntity,
			"spec.lowers[0]: " + fmt.Sprintf(none, "cls-t2", "default")},
		{"global lower", admin, "create", set("default", "vns", "cls-a", "cls-b", platformv1.GlobalClusterName), http.StatusUnprocessableEntity,
			"spec.lowers[1]: " + fmt.Sprintf(none, platformv1.GlobalClusterName, "default")},
		{"t2's set of t2's clusters", admin, "create", set("t2", "vns-t2", "cls-t2", "cls-t2b"), 0, ""},
		{"t2's set of the default tenant's clusters", admin, "create", set("t2", "vns-t2", "cls-a", "cls-t2b"), http.StatusUnprocessableEntity,
			"spec.upper: " + fmt.Sprintf(none, "cls-a", "t2")},
		{"lower equal to the upper", admin, "create", set("default", "vns", "cls-a", "cls-b", "cls-a"), http.StatusUnprocessableEntity,
			"spec.lowers[1]: cls-a is the upper cluster; a cluster cannot be a virtual node of itself"},
		{"a lower twice", admin, "create", set("default", "vns", "cls-a", "cls-b", "cls-b"), http.StatusUnprocessableEntity,
			"spec.lowers[1]: cls-b is listed twice"},
		{"lower made the upper by an update", admin, "update", set("default", "vns-ab", "cls-a", "cls-a"), http.StatusUnprocessableEntity,
			"spec.lowers[0]: cls-a is the upper cluster"},

		// A caller other than an administrator needs updateCluster on each.
		{"clusters the caller may update", operator, "create", set("default", "vns", "cls-a", "cls-b"), 0, ""},
		{"an upper the caller may not update", operator, "create", set("default", "vns", "cls-c", "cls-b"), http.StatusForbidden,
			"spec.upper: operator may not use cluster:cls-c (it needs updateCluster): no policy allows updateCluster on cluster:cls-c"},
		{"a lower the caller may not update", operator, "create", set("default", "vns", "cls-a", "cls-b", "cls-c"), http.StatusForbidden,
			"spec.lowers[1]: operator may not use cluster:cls-c (it needs updateCluster)"},
		{"a lower the caller may not update added by an update", operator, "update", set("default", "vns-ab", "cls-a", "cls-b", "cls-c"), http.StatusForbidden,
			"spec.lowers[1]: operator may not use cluster:cls-c (it needs updateCluster)"},
		{"an update the caller may make", operator, "update", renamedPrefix, 0, ""},
		{"an update by someone who may update no cluster", viewer, "update", renamedPrefix, http.StatusForbidden,
			"spec.upper: viewer may not use cluster:cls-a (it needs updateCluster)"},
		{"a caller of t2", t2ops, "create", set("t2", "vns-t2", "cls-t2", "cls-t2b"), 0, ""},
		{"a caller of t2 naming the default tenant's cluster", t2ops, "create", set("t2", "vns-t2", "cls-t2", "cls-a"), http.StatusUnprocessableEntity,
			"spec.lowers[0]: " + fmt.Sprintf(none, "cls-a", "t2")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apigrouptest.CheckRefusal(t, m.Validate(context.Background(), validateRequest(t, m, tc.p, tc.verb, tc.obj)), tc.code, tc.msg)
		})
	}
}

// Validate decides on nothing else of the group.
func TestValidateOther(t *testing.T) {
	m := module(t)
	cred := &platformv1.ClusterCredential{ObjectMeta: metav1.ObjectMeta{Name: "cc-cls-a"},
		Spec: platformv1.ClusterCredentialSpec{TenantID: "default", ClusterName: "cls-x"}}
	apigrouptest.CheckRefusal(t, m.Validate(context.Background(), validateRequest(t, m, admin, "create", cred)), 0, "")
}
