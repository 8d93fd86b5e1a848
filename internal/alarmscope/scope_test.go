package alarmscope

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/metricstore"
	"github.com/kstack/kstack/internal/platformscheme"
)

func cluster(name, tenant string) *platformv1.Cluster {
	return &platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: platformv1.ClusterSpec{TenantID: tenant}}
}

func bns(project, cl, ns, tenant string) *businessv1.Namespace {
	return &businessv1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: businessv1.ObjectName(cl, ns)},
		Spec:       businessv1.NamespaceSpec{TenantID: tenant, ProjectName: project, ClusterName: cl, Namespace: ns},
	}
}

func policy(ns, cl, memberNS, tenant string) *monitorv1.AlarmPolicy {
	return &monitorv1.AlarmPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "alarm-1"},
		Spec:       monitorv1.AlarmPolicySpec{TenantID: tenant, ClusterName: cl, Namespace: memberNS, ObjectType: monitorv1.ObjectPod},
	}
}

func lbl(kv ...string) labels.Labels { return labels.FromStrings(kv...) }

func TestOf(t *testing.T) {
	ctx := context.Background()
	objs := []client.Object{
		cluster("cls-1", ""), cluster("cls-2", "t2"),
		bns("prj-a", "cls-1", "web", "default"),
		bns("prj-a", "cls-1", "lying", "default"),
		bns("prj-t2", "cls-2", "api", "t2"),
	}
	// A Namespace object in prj-a's namespace that says it belongs to prj-b.
	objs[3].(*businessv1.Namespace).Spec.ProjectName = "prj-b"
	c := fake.NewClientBuilder().WithScheme(platformscheme.New()).WithObjects(objs...).Build()

	sc, err := Of(ctx, c, policy("kstack-system", "cls-1", "", ""))
	if err != nil || !sc.Clusters["cls-1"] || len(sc.Clusters) != 1 {
		t.Fatalf("cluster policy: %+v %v", sc, err)
	}
	if !sc.Allows(lbl("cluster", "cls-1", "namespace", "x")) || sc.Allows(lbl("cluster", "cls-2")) {
		t.Error("cluster scope")
	}

	sc, err = Of(ctx, c, policy("prj-a", "cls-1", "web", "default"))
	if err != nil || !sc.Namespaces[metricstore.ClusterNamespace{Cluster: "cls-1", Namespace: "web"}] || len(sc.Clusters) != 0 {
		t.Fatalf("project policy: %+v %v", sc, err)
	}
	if !sc.Allows(lbl("cluster", "cls-1", "namespace", "web")) || sc.Allows(lbl("cluster", "cls-1", "namespace", "other")) ||
		sc.Allows(lbl("cluster", "cls-1", "node", "n1")) {
		t.Error("namespace scope")
	}

	sc, err = Of(ctx, c, policy("prj-t2", "cls-2", "api", "t2"))
	if err != nil || len(sc.Namespaces) != 1 {
		t.Fatalf("t2: %+v %v", sc, err)
	}

	bad := []struct {
		name string
		p    *monitorv1.AlarmPolicy
		want string
	}{
		{"no cluster", policy("kstack-system", "cls-9", "", ""), `no cluster "cls-9"`},
		{"other tenant's cluster", policy("kstack-system", "cls-2", "", ""), `no cluster "cls-2"`},
		{"other tenant's cluster, project", policy("prj-a", "cls-2", "api", "default"), `no cluster "cls-2"`},
		{"cluster policy outside kstack-system", policy("prj-a", "cls-1", "", ""), "must live in kstack-system"},
		{"namespace of another project", policy("prj-b", "cls-1", "web", ""), "spec.namespace: web is not a namespace of project prj-b in cluster cls-1"},
		{"no such namespace", policy("prj-a", "cls-1", "nope", ""), "spec.namespace: nope is not a namespace of project prj-a"},
		{"namespace object naming another project", policy("prj-a", "cls-1", "lying", ""), "spec.namespace: lying is not a namespace of project prj-a"},
		{"other tenant's namespace", policy("prj-t2", "cls-2", "api", "t3"), `no cluster "cls-2"`},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			sc, err := Of(ctx, c, b.p)
			var d *DeniedError
			if !errors.As(err, &d) || !strings.Contains(err.Error(), b.want) {
				t.Fatalf("err %v, want %s", err, b.want)
			}
			if sc == nil || sc.All || len(sc.Clusters)+len(sc.Namespaces)+len(sc.Projects) != 0 {
				t.Fatalf("scope %+v is not empty", sc)
			}
			if sc.Allows(lbl("cluster", "cls-1", "namespace", "web")) {
				t.Fatal("empty scope allows")
			}
		})
	}
	p := policy("prj-a", "cls-1", "web", "")
	p.Spec.ProjectName = "prj-b"
	if _, err := Of(ctx, c, p); err == nil || !strings.Contains(err.Error(), "spec.projectName prj-b") {
		t.Error(err)
	}
}

// A namespace moved to another project: the business Namespace is deleted
// from the old project and created in the new one; the old project's
// policy then reads nothing.
func TestNamespaceMoved(t *testing.T) {
	ctx := context.Background()
	old := bns("prj-a", "cls-1", "web", "")
	c := fake.NewClientBuilder().WithScheme(platformscheme.New()).WithObjects(cluster("cls-1", ""), old).Build()
	p := policy("prj-a", "cls-1", "web", "")
	if sc, err := Of(ctx, c, p); err != nil || len(sc.Namespaces) != 1 {
		t.Fatalf("%+v %v", sc, err)
	}
	if err := c.Delete(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, bns("prj-b", "cls-1", "web", "")); err != nil {
		t.Fatal(err)
	}
	sc, err := Of(ctx, c, p)
	var d *DeniedError
	if !errors.As(err, &d) || sc == nil || len(sc.Namespaces) != 0 {
		t.Fatalf("moved: %+v %v", sc, err)
	}
	if !strings.Contains(err.Error(), "web is not a namespace of project prj-a") {
		t.Error(err)
	}
	// The new project's twin policy reads it.
	if sc, err := Of(ctx, c, policy("prj-b", "cls-1", "web", "")); err != nil || len(sc.Namespaces) != 1 {
		t.Fatalf("%+v %v", sc, err)
	}
}

// A failed read is not a denial: nil scope, so the caller keeps what it had.
func TestReadError(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(platformscheme.New()).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return errors.New("cache not synced")
		},
	}).Build()
	sc, err := Of(context.Background(), c, policy("prj-a", "cls-1", "web", ""))
	var d *DeniedError
	if sc != nil || err == nil || errors.As(err, &d) {
		t.Fatalf("%+v %v", sc, err)
	}
}
