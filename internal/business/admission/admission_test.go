package admission

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
)

func cpu(v string) corev1.ResourceList {
	return corev1.ResourceList{"requests.cpu": resource.MustParse(v)}
}

func project(name, parent string, members []string, clusters ...string) *businessv1.Project {
	p := &businessv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: businessv1.ProjectSpec{TenantID: "default", ParentProjectName: parent}}
	for _, m := range members {
		p.Spec.Members = append(p.Spec.Members, businessv1.ProjectMember{Username: m, Role: "project-member"})
	}
	for i := 0; i+1 < len(clusters); i += 2 {
		p.Spec.Clusters = append(p.Spec.Clusters, businessv1.ClusterQuota{Name: clusters[i], Hard: cpu(clusters[i+1])})
	}
	return p
}

func ns(project, cluster, name, q string) *businessv1.Namespace {
	return &businessv1.Namespace{ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: businessv1.ObjectName(cluster, name)},
		Spec: businessv1.NamespaceSpec{TenantID: "default", ProjectName: project, ClusterName: cluster, Namespace: name, Hard: cpu(q)}}
}

func checker(t *testing.T, objs ...client.Object) *Checker {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{businessv1.AddToScheme, platformv1.AddToScheme, authv1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	objs = append(objs,
		&platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "cls-a"}, Spec: platformv1.ClusterSpec{TenantID: "default"}},
		&platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "cls-b"}, Spec: platformv1.ClusterSpec{TenantID: "default"}},
		&platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "cls-t2"}, Spec: platformv1.ClusterSpec{TenantID: "t2"}},
		&authv1.User{ObjectMeta: metav1.ObjectMeta{Name: "default.alice"}, Spec: authv1.UserSpec{TenantID: "default", Username: "alice"}},
	)
	b := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...)
	for _, ix := range Indexers {
		b = b.WithIndex(ix.Object, ix.Field, ix.Func)
	}
	return &Checker{Reader: b.Build()}
}

func TestNamespace(t *testing.T) {
	c := checker(t, project("prj-a", "", nil, "cls-a", "4"), project("prj-b", "", nil, "cls-a", "1"),
		ns("prj-a", "cls-a", "web", "1"), project("prj-sub", "prj-a", nil, "cls-a", "2"))
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		ns   *businessv1.Namespace
		want string
	}{
		{"fits exactly (1 + sub-project 2 + 1)", ns("prj-a", "cls-a", "api", "1"), ""},
		{"over", ns("prj-a", "cls-a", "api", "1500m"), "requests.cpu: 1500m asked, but only 1 of 4 is left (3 already allocated)"},
		{"cluster outside the project", ns("prj-a", "cls-b", "api", "1"), "has no quota in cluster cls-b"},
		{"taken by another project", ns("prj-b", "cls-a", "web", "100m"), "belongs to project prj-a"},
		{"no such project", ns("prj-x", "cls-a", "api", "1"), `project "prj-x" does not exist`},
		{"changing itself is no conflict", ns("prj-a", "cls-a", "web", "2"), ""},
	} {
		err := c.Namespace(ctx, tc.ns)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestProject(t *testing.T) {
	a := project("prj-a", "", nil, "cls-a", "4")
	c := checker(t, a, ns("prj-a", "cls-a", "web", "3"), project("prj-sub", "prj-a", nil, "cls-a", "1"))
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		p, old *businessv1.Project
		want   string
	}{
		{"fine", project("prj-new", "", []string{"alice"}, "cls-a", "1", "cls-b", "2"), nil, ""},
		{"unknown cluster", project("prj-new", "", nil, "cls-zz", "1"), nil, `no cluster "cls-zz"`},
		{"another tenant's cluster", project("prj-new", "", nil, "cls-t2", "1"), nil, `no cluster "cls-t2"`},
		{"member not a user", project("prj-new", "", []string{"nobody"}, "cls-a", "1"), nil, `member "nobody" is not a user`},
		{"sub-project over the parent", project("prj-sub2", "prj-a", nil, "cls-a", "500m"), nil, "does not fit in parent project prj-a"},
		{"sub-project in a cluster the parent lacks", project("prj-sub2", "prj-a", nil, "cls-b", "1"), nil, "not a cluster of the parent"},
		{"missing parent", project("prj-sub2", "prj-zz", nil, "cls-a", "1"), nil, `parent project "prj-zz" does not exist`},
		{"cycle", project("prj-a", "prj-sub", nil, "cls-a", "4"), a, "cycle"},
		{"lowered below allocation", project("prj-a", "", nil, "cls-a", "3500m"), a, "3500m is below the 4 already allocated"},
		{"cluster dropped while used", project("prj-a", "", nil, "cls-b", "1"), a, "still has namespaces"},
	} {
		err := c.Project(ctx, tc.p, tc.old)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}
