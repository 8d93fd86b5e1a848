package directory

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authv1 "github.com/kstack/kstack/api/auth/v1"
)

func TestGroupsAndBindings(t *testing.T) {
	s := runtime.NewScheme()
	if err := authv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	lbl := func(t string) map[string]string { return map[string]string{authv1.LabelTenant: t} }
	objs := []client.Object{
		&authv1.User{ObjectMeta: metav1.ObjectMeta{Name: "default.bob", Labels: lbl("default")},
			Spec: authv1.UserSpec{TenantID: "default", Username: "bob"}, Status: authv1.UserStatus{Groups: []string{"ldap-devs"}}},
		&authv1.Group{ObjectMeta: metav1.ObjectMeta{Name: "default.ops", Labels: lbl("default")},
			Spec: authv1.GroupSpec{TenantID: "default", Name: "ops", Members: []string{"bob"}}},
		// A group of the same name in another tenant grants nothing here.
		&authv1.Group{ObjectMeta: metav1.ObjectMeta{Name: "t2.admins", Labels: lbl("t2")},
			Spec: authv1.GroupSpec{TenantID: "t2", Name: "admins", Members: []string{"bob"}}},
		&authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "p-ops"}, Spec: authv1.PolicySpec{TenantID: "default", Scope: authv1.ScopePlatform,
			Statements: []authv1.Statement{{Actions: []string{"get*"}, Resources: []string{"cluster:*"}, Effect: "allow"}}}},
		&authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "p-ldap"}, Spec: authv1.PolicySpec{TenantID: "default", Scope: authv1.ScopePlatform,
			Statements: []authv1.Statement{{Actions: []string{"list*"}, Resources: []string{"cluster:*"}, Effect: "allow"}}}},
		&authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "p-t2"}, Spec: authv1.PolicySpec{TenantID: "t2", Scope: authv1.ScopePlatform,
			Statements: []authv1.Statement{{Actions: []string{"*"}, Resources: []string{"*"}, Effect: "allow"}}}},
		&authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "p-proj"}, Spec: authv1.PolicySpec{Scope: authv1.ScopeProject,
			Statements: []authv1.Statement{{Actions: []string{"*"}, Resources: []string{"*"}, Effect: "allow"}}}},
		&authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "b1", Labels: lbl("default")}, Spec: authv1.PolicyBindingSpec{TenantID: "default", PolicyName: "p-ops", Groups: []string{"ops"}}},
		&authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "b2", Labels: lbl("default")}, Spec: authv1.PolicyBindingSpec{TenantID: "default", PolicyName: "p-ldap", Groups: []string{"ldap-devs"}}},
		&authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "b3", Labels: lbl("t2")}, Spec: authv1.PolicyBindingSpec{TenantID: "t2", PolicyName: "p-t2", Groups: []string{"admins"}}},
		// Another tenant's policy bound in this tenant grants nothing.
		&authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "b4", Labels: lbl("default")}, Spec: authv1.PolicyBindingSpec{TenantID: "default", PolicyName: "p-t2", Users: []string{"bob"}}},
		&authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "b5", Labels: lbl("default")}, Spec: authv1.PolicyBindingSpec{TenantID: "default", PolicyName: "p-proj", Users: []string{"bob"}, ProjectID: "prj-1"}},
		&authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "b6", Labels: lbl("default")}, Spec: authv1.PolicyBindingSpec{TenantID: "default", PolicyName: "gone", Users: []string{"bob"}}},
	}
	d := &Directory{Client: fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()}
	ctx := context.Background()
	u, err := d.User(ctx, "default", "bob")
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.Principal(ctx, u, "token", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Groups) != 2 || p.Groups[0] != "ops" || p.Groups[1] != "ldap-devs" || p.SuperAdmin {
		t.Fatalf("principal: %+v", p)
	}
	names := func(project string) []string {
		pols, err := d.Policies(ctx, p, project)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range pols {
			out = append(out, x.Name)
		}
		return out
	}
	if got := names(""); len(got) != 2 || got[0] != "p-ops" || got[1] != "p-ldap" {
		t.Fatalf("platform policies: %v (want p-ops from the local group and p-ldap from the provider's group)", got)
	}
	if got := names("prj-1"); len(got) != 3 || got[2] != "p-proj" {
		t.Fatalf("policies in prj-1: %v", got)
	}
	if got := names("prj-2"); len(got) != 2 {
		t.Fatalf("policies in prj-2: %v (a project binding leaked)", got)
	}
}
