package decision

import (
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/testutil/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func binding(tenant, name, pol, project string, users ...string) *authv1.PolicyBinding {
	return &authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{authv1.LabelTenant: tenant}},
		Spec: authv1.PolicyBindingSpec{TenantID: tenant, PolicyName: pol, Users: users, ProjectID: project}}
}

func user(tenant, name string) *authv1.User {
	return &authv1.User{ObjectMeta: metav1.ObjectMeta{Name: tenant + "." + name, Labels: map[string]string{authv1.LabelTenant: tenant}},
		Spec: authv1.UserSpec{TenantID: tenant, Username: name}}
}

// TestMatrix decides representative requests for each predefined role and
// a custom policy, and compares the table with testdata/matrix.golden
// (go test ./internal/auth/decision -update rewrites it).
func TestMatrix(t *testing.T) {
	s := runtime.NewScheme()
	if err := authv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	objs := []client.Object{
		&authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "read-default", Labels: map[string]string{authv1.LabelTenant: "default"}},
			Spec: authv1.PolicySpec{TenantID: "default", Scope: authv1.ScopePlatform, Statements: []authv1.Statement{
				{Actions: []string{"get*", "list*", "watch*"}, Resources: []string{"cluster:cls-a/namespace:default/*", "cluster:cls-a"}, Effect: "allow"},
				{Actions: []string{"*"}, Resources: []string{"cluster:cls-a/namespace:default/secret:*"}, Effect: "deny"},
			}}},
		binding("default", "b1", directory.PolicyAdministrator, "", "admin"),
		binding("default", "b2", directory.PolicyPlatformUser, "", "platform-user"),
		binding("default", "b3", directory.PolicyTenant, "", "tenant"),
		binding("default", "b4", "read-default", "", "custom"),
		binding("default", "b5", directory.PolicyProjectAdmin, "prj-1", "project-admin"),
		binding("default", "b6", directory.PolicyProjectMember, "prj-1", "project-member"),
		binding("default", "b7", directory.PolicyProjectViewer, "prj-1", "project-viewer"),
		binding("t2", "b8", directory.PolicyAdministrator, "", "t2-admin"),
	}
	roles := []struct{ tenant, name string }{{"default", "admin"}, {"default", "platform-user"}, {"default", "tenant"}, {"default", "custom"},
		{"default", "project-admin"}, {"default", "project-member"}, {"default", "project-viewer"}, {"t2", "t2-admin"}}
	for _, r := range roles {
		objs = append(objs, user(r.tenant, r.name))
	}
	for _, p := range directory.Predefined() {
		objs = append(objs, p.DeepCopy())
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
	dir := &directory.Directory{Client: c}
	d := &Decider{Dir: dir, Hidden: func(group, kind string) string {
		if group == "auth.tkestack.io" && kind == "localidentity" {
			return "password hashes are never served" // as the auth group declares
		}
		return ""
	}, ProjectOf: func(_ context.Context, cluster, ns string) string {
		if cluster == "cls-a" && ns == "team" {
			return "prj-1"
		}
		return ""
	}}
	type row struct {
		what, method, path string
		platform           bool
		objTenant          string
	}
	rows := []row{
		{"list clusters", "GET", "/apis/platform.tkestack.io/v1/clusters", true, ""},
		{"get cluster cls-a", "GET", "/apis/platform.tkestack.io/v1/clusters/cls-a", true, "default"},
		{"get cluster of tenant t2", "GET", "/apis/platform.tkestack.io/v1/clusters/cls-t2", true, "t2"},
		{"delete cluster cls-a", "DELETE", "/apis/platform.tkestack.io/v1/clusters/cls-a", true, "default"},
		{"create user", "POST", "/apis/auth.tkestack.io/v1/users", true, ""},
		{"list users", "GET", "/apis/auth.tkestack.io/v1/users", true, ""},
		{"create policy binding", "POST", "/apis/auth.tkestack.io/v1/policybindings", true, ""},
		{"read a password hash", "GET", "/apis/auth.tkestack.io/v1/localidentities/default.admin", true, "default"},
		{"member: list pods in default", "GET", "/api/v1/namespaces/default/pods", false, ""},
		{"member: list pods everywhere", "GET", "/api/v1/pods", false, ""},
		{"member: get secret in default", "GET", "/api/v1/namespaces/default/secrets/s", false, ""},
		{"member: create deployment in default", "POST", "/apis/apps/v1/namespaces/default/deployments", false, ""},
		{"member: list nodes", "GET", "/api/v1/nodes", false, ""},
		{"member: drain (evict) in kube-system", "POST", "/api/v1/namespaces/kube-system/pods/p/eviction", false, ""},
		{"member: create deployment in project ns", "POST", "/apis/apps/v1/namespaces/team/deployments", false, ""},
		{"member: exec in project ns", "GET", "/api/v1/namespaces/team/pods/web/exec?command=sh", false, ""},
		{"member: read secret in project ns", "GET", "/api/v1/namespaces/team/secrets/db", false, ""},
		{"member: list pods in project ns", "GET", "/api/v1/namespaces/team/pods", false, ""},
		{"member: discovery", "GET", "/apis", false, ""},
		// Kinds governed by the project they live in (their group's
		// Resource.Project is the namespace; the platform's namespace is
		// no project's).
		{"project: create alarm policy", "POST", "/apis/monitor.tkestack.io/v1/namespaces/prj-1/alarmpolicies", true, ""},
		{"project: expire alarm silence", "PATCH", "/apis/monitor.tkestack.io/v1/namespaces/prj-1/alarmsilences/s", true, "default"},
		{"project: update channel", "PUT", "/apis/notify.tkestack.io/v1/namespaces/prj-1/channels/c", true, "default"},
		{"project: create template", "POST", "/apis/notify.tkestack.io/v1/namespaces/prj-1/templates", true, ""},
		{"project: get receiver", "GET", "/apis/notify.tkestack.io/v1/namespaces/prj-1/receivers/r", true, "default"},
		{"project: delete receiver group", "DELETE", "/apis/notify.tkestack.io/v1/namespaces/prj-1/receivergroups/g", true, "default"},
		{"project: create log rule", "POST", "/apis/logagent.tkestack.io/v1/namespaces/prj-1/logcollectors", true, ""},
		{"tenant-wide: get channel", "GET", "/apis/notify.tkestack.io/v1/namespaces/kstack-system/channels/chn-x", true, "default"},
		{"tenant-wide: create alarm policy", "POST", "/apis/monitor.tkestack.io/v1/namespaces/kstack-system/alarmpolicies", true, ""},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-42s", "request \\ role")
	for _, r := range roles {
		fmt.Fprintf(&b, " %-15s", r.name)
	}
	b.WriteString("\n")
	for _, rw := range rows {
		fmt.Fprintf(&b, "%-42s", rw.what)
		req := httptest.NewRequest(rw.method, rw.path, nil)
		for _, r := range roles {
			u, err := dir.User(context.Background(), r.tenant, r.name)
			if err != nil {
				t.Fatal(err)
			}
			p, err := dir.Principal(context.Background(), u, "token", "")
			if err != nil {
				t.Fatal(err)
			}
			var dec Decision
			if rw.platform {
				a, err := attributes.Platform(req, strings.Split(rw.path, "?")[0])
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasPrefix(a.Namespace, "prj-") {
					a.Project = a.Namespace
				}
				dec = d.Platform(context.Background(), p, a, rw.objTenant)
			} else {
				a, err := attributes.Member("cls-a", req, strings.Split(rw.path, "?")[0])
				if err != nil {
					t.Fatal(err)
				}
				dec = d.Member(context.Background(), p, "cls-a", "default", a)
			}
			cell := "deny"
			switch {
			case dec.NotFound:
				cell = "not-found"
			case dec.Allowed:
				cell = "allow"
			}
			fmt.Fprintf(&b, " %-15s", cell)
		}
		b.WriteString("\n")
	}
	golden.Compare(t, "testdata/matrix.golden", b.String(), *update)
}
