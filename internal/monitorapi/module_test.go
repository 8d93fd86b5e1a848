package monitorapi

import (
	"context"
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/business/admission"
	"github.com/kstack/kstack/internal/businessapi"
	"github.com/kstack/kstack/internal/metricstore"
	"github.com/kstack/kstack/internal/platformscheme"
)

const (
	prjA = "prj-aaaaaaaa" // cls-a: namespace web
	prjB = "prj-bbbbbbbb" // cls-b: namespace web; cls-a: namespace shop
	prjO = "prj-oooooooo" // tenant other, cls-o: namespace web
)

// module is the group over a fake client with tenants default (clusters
// cls-a, cls-b) and other (cls-o), a project in each cluster, and policy
// bindings: pa administers prjA, pb is a member of prjB, ca may do
// anything in cls-a, oa administers prjO in the other tenant.
func module(t *testing.T) *Module {
	t.Helper()
	label := func(tenant string) map[string]string { return map[string]string{authv1.LabelTenant: tenant} }
	cluster := func(name, tenant string) *platformv1.Cluster {
		return &platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: label(tenant)},
			Spec: platformv1.ClusterSpec{TenantID: tenant, Type: platformv1.ClusterImported}}
	}
	project := func(name, tenant string, clusters ...string) *businessv1.Project {
		p := &businessv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: label(tenant)}, Spec: businessv1.ProjectSpec{TenantID: tenant}}
		for _, c := range clusters {
			p.Spec.Clusters = append(p.Spec.Clusters, businessv1.ClusterQuota{Name: c})
		}
		return p
	}
	ns := func(project, tenant, cluster, name string) *businessv1.Namespace {
		return &businessv1.Namespace{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: businessv1.ObjectName(cluster, name),
			Labels: map[string]string{authv1.LabelTenant: tenant, admission.LabelCluster: cluster, admission.LabelNamespace: name}},
			Spec: businessv1.NamespaceSpec{TenantID: tenant, ProjectName: project, ClusterName: cluster, Namespace: name}}
	}
	bind := func(name, tenant, policy, user, project string) *authv1.PolicyBinding {
		return &authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: label(tenant)},
			Spec: authv1.PolicyBindingSpec{TenantID: tenant, PolicyName: policy, Users: []string{user}, ProjectID: project}}
	}
	objs := []client.Object{
		cluster("cls-a", "default"), cluster("cls-b", "default"), cluster("cls-o", "other"),
		project(prjA, "default", "cls-a"), project(prjB, "default", "cls-a", "cls-b"), project(prjO, "other", "cls-o"),
		ns(prjA, "default", "cls-a", "web"), ns(prjB, "default", "cls-b", "web"), ns(prjB, "default", "cls-a", "shop"), ns(prjO, "other", "cls-o", "web"),
		&authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "all-of-a", Labels: label("default")},
			Spec: authv1.PolicySpec{TenantID: "default", Scope: authv1.ScopePlatform,
				Statements: []authv1.Statement{{Actions: []string{"*"}, Resources: []string{"cluster:cls-a", "cluster:cls-a/*"}, Effect: "allow"}}}},
		bind("pa", "default", directory.PolicyProjectAdmin, "pa", prjA),
		bind("pb", "default", directory.PolicyProjectMember, "pb", prjB),
		bind("ca", "default", "all-of-a", "ca", ""),
		bind("oa", "other", directory.PolicyProjectAdmin, "oa", prjO),
	}
	b := fake.NewClientBuilder().WithScheme(platformscheme.New()).WithObjects(objs...)
	for _, ix := range admission.Indexers {
		b = b.WithIndex(ix.Object, ix.Field, ix.Func)
	}
	c := b.Build()
	if err := directory.EnsurePredefined(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	dec := &decision.Decider{Dir: &directory.Directory{Client: c}}
	dec.ProjectOf = (&businessapi.Module{Env: apigroup.Env{Client: c, Reader: c}}).ProjectOf
	return &Module{Env: apigroup.Env{Client: c, Reader: c, Decider: dec}}
}

func TestScope(t *testing.T) {
	m := module(t)
	type cn = metricstore.ClusterNamespace
	type cp = metricstore.ClusterProject
	for _, tt := range []struct {
		who  *directory.Principal
		want metricstore.Scope
	}{
		{&directory.Principal{Username: "root", SuperAdmin: true}, metricstore.Scope{All: true}},
		// A project's namespaces, as (cluster, namespace) pairs, and the
		// project's own series.
		{&directory.Principal{Username: "pa", Tenant: "default"}, metricstore.Scope{
			Clusters: map[string]bool{}, Namespaces: map[cn]bool{{Cluster: "cls-a", Namespace: "web"}: true},
			Projects: map[cp]bool{{Cluster: "cls-a", Project: prjA}: true}}},
		// web in cls-b is pb's; web in cls-a is not.
		{&directory.Principal{Username: "pb", Tenant: "default"}, metricstore.Scope{
			Clusters: map[string]bool{}, Namespaces: map[cn]bool{{Cluster: "cls-b", Namespace: "web"}: true, {Cluster: "cls-a", Namespace: "shop"}: true},
			Projects: map[cp]bool{{Cluster: "cls-a", Project: prjB}: true, {Cluster: "cls-b", Project: prjB}: true}}},
		// Rights on the whole of cls-a: all of it, nothing of cls-b.
		{&directory.Principal{Username: "ca", Tenant: "default"}, metricstore.Scope{
			Clusters: map[string]bool{"cls-a": true}, Namespaces: map[cn]bool{}, Projects: map[cp]bool{}}},
		// Another tenant: its own project only.
		{&directory.Principal{Username: "oa", Tenant: "other"}, metricstore.Scope{
			Clusters: map[string]bool{}, Namespaces: map[cn]bool{{Cluster: "cls-o", Namespace: "web"}: true},
			Projects: map[cp]bool{{Cluster: "cls-o", Project: prjO}: true}}},
		{&directory.Principal{Username: "nobody", Tenant: "default"}, metricstore.Scope{
			Clusters: map[string]bool{}, Namespaces: map[cn]bool{}, Projects: map[cp]bool{}}},
	} {
		got, err := m.Scope(context.Background(), tt.who)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("%s: scope %+v, want %+v", tt.who.Username, *got, tt.want)
		}
	}
}
