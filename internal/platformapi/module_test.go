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

func TestAdmitClusterCredentialRef(t *testing.T) {
	cred := func(tenant, name, cluster string) *platformv1.ClusterCredential {
		return &platformv1.ClusterCredential{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: platformv1.ClusterCredentialSpec{TenantID: tenant, ClusterName: cluster, Server: "https://198.18.0.1"}}
	}
	m := module(t, cred("default", "cc-cls-a", "cls-a"), cred("t2", "cc-cls-t2", "cls-t2"))
	obj := func(name, tenant, ref string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "platform.tkestack.io/v1", "kind": "Cluster",
			"metadata": map[string]any{"name": name}, "spec": map[string]any{"tenantID": tenant}}}
		if ref != "" {
			_ = unstructured.SetNestedField(u.Object, ref, "spec", "clusterCredentialRef", "name")
		}
		return u
	}
	user := &directory.Principal{Username: "mallory", Tenant: "default"}
	for _, tc := range []struct {
		name, verb string
		obj        *unstructured.Unstructured
		code       int
	}{
		{"its own credential", "update", obj("cls-a", "default", "cc-cls-a"), 0},
		{"no credential", "create", obj("cls-new", "default", ""), 0},
		{"another cluster's credential", "create", obj("cls-evil", "default", "cc-cls-a"), http.StatusUnprocessableEntity},
		{"another tenant's credential", "create", obj("cls-t2", "default", "cc-cls-t2"), http.StatusUnprocessableEntity},
		{"a credential that does not exist", "create", obj("cls-b", "default", "cc-cls-b"), http.StatusUnprocessableEntity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := attributes.Attributes{Verb: tc.verb, APIGroup: "platform.tkestack.io", Kind: "cluster", Name: tc.obj.GetName()}
			apigrouptest.CheckRefusal(t, m.Admit(context.Background(), &apigroup.Request{Principal: user, Attributes: a, Object: tc.obj}), tc.code, "is not a credential of cluster")
		})
	}
}
