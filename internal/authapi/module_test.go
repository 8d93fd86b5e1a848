package authapi

import (
	"context"
	"net/http"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/apigroup/apigrouptest"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/platformscheme"
)

func pol(tenant, name string, scope authv1.PolicyScope, effect string, actions []string, resources ...string) *authv1.Policy {
	return &authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{authv1.LabelTenant: tenant}},
		Spec: authv1.PolicySpec{TenantID: tenant, Scope: scope, Statements: []authv1.Statement{{Actions: actions, Resources: resources, Effect: effect}}}}
}

func binding(tenant, name, policy, project string, users, groups []string) *authv1.PolicyBinding {
	return &authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{authv1.LabelTenant: tenant}},
		Spec: authv1.PolicyBindingSpec{TenantID: tenant, PolicyName: policy, Users: users, Groups: groups, ProjectID: project}}
}

// module is the auth group over a fake client holding the predefined
// policies and:
//   - bob (default) holds read-clusters (cls-a), and prj-reader in project prj-1;
//   - dave (default) holds platform-user;
//   - group ops is bound to delete-clusters; group idle to nothing;
//   - t2-pol belongs to tenant t2.
func module(t *testing.T) *Module {
	t.Helper()
	objs := []client.Object{
		pol("default", "read-clusters", authv1.ScopePlatform, "allow", []string{"get*", "list*"}, "cluster:cls-a"),
		pol("default", "delete-clusters", authv1.ScopePlatform, "allow", []string{"delete*"}, "cluster:*"),
		pol("default", "prj-reader", authv1.ScopeProject, "allow", []string{"get*"}, "cluster:*/namespace:*/pod:*"),
		pol("t2", "t2-pol", authv1.ScopePlatform, "allow", []string{"get*"}, "cluster:*"),
		binding("default", "bob-read", "read-clusters", "", []string{"bob"}, nil),
		binding("default", "bob-prj", "prj-reader", "prj-1", []string{"bob"}, nil),
		binding("default", "dave-pu", directory.PolicyPlatformUser, "", []string{"dave"}, nil),
		binding("default", "ops-delete", "delete-clusters", "", nil, []string{"ops"}),
	}
	c := fake.NewClientBuilder().WithScheme(platformscheme.New()).WithObjects(objs...).Build()
	if err := directory.EnsurePredefined(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return &Module{Env: apigroup.Env{Client: c, Reader: c, Decider: &decision.Decider{Dir: &directory.Directory{Client: c}}}}
}

var (
	admin = &directory.Principal{Username: "admin", Tenant: "default", SuperAdmin: true}
	bob   = &directory.Principal{Username: "bob", Tenant: "default"}
	dave  = &directory.Principal{Username: "dave", Tenant: "default"}
)

func TestAdmit(t *testing.T) {
	polAttr := func(verb, name string) attributes.Attributes {
		return attributes.Attributes{Verb: verb, APIGroup: "auth.tkestack.io", Kind: "policy", Name: name}
	}
	custom := func(name string, st ...authv1.Statement) *authv1.Policy {
		p := pol("default", name, authv1.ScopePlatform, "allow", []string{"get*"}, "cluster:*")
		if st != nil {
			p.Spec.Statements = st
		}
		return p
	}
	predefinedFlag := custom("mine")
	predefinedFlag.Spec.Predefined = true
	user := func(name, tenant, username string) *authv1.User {
		return &authv1.User{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: authv1.UserSpec{TenantID: tenant, Username: username}}
	}
	bind := func(policy, project string) *authv1.PolicyBinding {
		return binding("default", "carol-"+policy, policy, project, []string{"carol"}, nil)
	}
	group := func(name string) *authv1.Group {
		return &authv1.Group{ObjectMeta: metav1.ObjectMeta{Name: "default." + name},
			Spec: authv1.GroupSpec{TenantID: "default", Name: name, Members: []string{"bob", "dave"}}}
	}
	create := func(kind string) attributes.Attributes {
		return attributes.Attributes{Verb: "create", APIGroup: "auth.tkestack.io", Kind: kind}
	}
	update := func(kind, name string) attributes.Attributes {
		return attributes.Attributes{Verb: "update", APIGroup: "auth.tkestack.io", Kind: kind, Name: name}
	}

	for _, tc := range []struct {
		name string
		p    *directory.Principal
		a    attributes.Attributes
		obj  any // nil for patch and delete
		code int
		msg  string
	}{
		// Predefined policies stay as they are, even for administrators.
		{"update predefined", admin, polAttr("update", directory.PolicyTenant), pol("", directory.PolicyTenant, authv1.ScopePlatform, "allow", []string{"*"}, "*"),
			http.StatusForbidden, "policy tenant is predefined and cannot be changed"},
		{"patch predefined", admin, polAttr("patch", directory.PolicyAdministrator), nil, http.StatusForbidden, "policy administrator is predefined and cannot be changed"},
		{"delete predefined", admin, polAttr("delete", directory.PolicyProjectViewer), nil, http.StatusForbidden, "policy project-viewer is predefined and cannot be deleted"},
		{"create with a predefined name", admin, create("policy"), custom(directory.PolicyPlatformUser), http.StatusForbidden, "policy platform-user is predefined"},
		{"delete custom policy", bob, polAttr("delete", "read-clusters"), nil, 0, ""},

		// Policies are validated.
		{"bad effect", admin, create("policy"), custom("bad", authv1.Statement{Actions: []string{"get*"}, Resources: []string{"cluster:*"}, Effect: "permit"}),
			http.StatusUnprocessableEntity, `policy bad is malformed: statement 1: effect must be "allow" or "deny"`},
		{"bad action", admin, update("policy", "bad"), custom("bad", authv1.Statement{Actions: []string{"get pods"}, Resources: []string{"cluster:*"}, Effect: "allow"}),
			http.StatusUnprocessableEntity, "policy bad is malformed: statement 1: action"},
		{"no statements", admin, create("policy"), &authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "empty"}},
			http.StatusUnprocessableEntity, "policy empty is malformed: a policy needs at least one statement"},
		{"spec.predefined", admin, create("policy"), predefinedFlag, http.StatusForbidden, "only the platform makes predefined policies"},
		{"good policy", bob, create("policy"), custom("good"), 0, ""},

		// Users are named <tenant>.<username>.
		{"user misnamed", admin, create("user"), user("alice", "default", "alice"), http.StatusUnprocessableEntity, `"default.alice", not "alice"`},
		{"user of another tenant's name", admin, create("user"), user("default.alice", "t2", "alice"), http.StatusUnprocessableEntity, `"t2.alice", not "default.alice"`},
		{"user well named", admin, create("user"), user("t2.alice", "t2", "alice"), 0, ""},

		// Bindings grant no more than the caller holds.
		{"binding to a missing policy", admin, create("policybinding"), bind("nope", ""), http.StatusUnprocessableEntity, `names policy "nope", which does not exist`},
		{"binding to another tenant's policy", admin, create("policybinding"), bind("t2-pol", ""), http.StatusUnprocessableEntity, `policy "t2-pol" belongs to another tenant`},
		{"binding beyond the caller", bob, create("policybinding"), bind("delete-clusters", ""), http.StatusForbidden,
			`you may not grant "delete*" on "cluster:*": your own policies do not allow it (granting policy delete-clusters)`},
		{"binding of administrator beyond the caller", bob, update("policybinding", "carol-administrator"), bind(directory.PolicyAdministrator, ""), http.StatusForbidden,
			"(granting policy administrator)"},
		{"binding within the caller", bob, create("policybinding"), bind("read-clusters", ""), 0, ""},
		{"binding within a predefined policy the caller holds", dave, create("policybinding"), bind("read-clusters", ""), 0, ""},
		{"project binding within the caller's project", bob, create("policybinding"), bind("prj-reader", "prj-1"), 0, ""},
		{"project binding in another project", bob, create("policybinding"), bind("prj-reader", "prj-2"), http.StatusForbidden, "(granting policy prj-reader)"},
		{"admin grants anything", admin, create("policybinding"), bind(directory.PolicyAdministrator, ""), 0, ""},
		{"admin grants delete-clusters", admin, create("policybinding"), bind("delete-clusters", ""), 0, ""},

		// A group change needs the policies bound to the group.
		{"group change beyond the caller", bob, update("group", "default.ops"), group("ops"), http.StatusForbidden, "(granting policy delete-clusters)"},
		{"group create beyond the caller", bob, create("group"), group("ops"), http.StatusForbidden, "(granting policy delete-clusters)"},
		{"group change within the caller", dave, update("group", "default.ops"), group("ops"), 0, ""},
		{"group with no bindings", bob, update("group", "default.idle"), group("idle"), 0, ""},
		{"group change by admin", admin, update("group", "default.ops"), group("ops"), 0, ""},
		{"group patch is not checked here", bob, attributes.Attributes{Verb: "patch", Kind: "group", Name: "default.ops"}, nil, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := module(t)
			r := &apigroup.Request{Principal: tc.p, Attributes: tc.a}
			if tc.obj != nil {
				r.Object = apigrouptest.Unstructured(t, tc.obj)
			}
			var before *unstructured.Unstructured
			if r.Object != nil {
				before = r.Object.DeepCopy()
			}
			apigrouptest.CheckRefusal(t, m.Admit(context.Background(), r), tc.code, tc.msg)
			if before != nil && !equality.Semantic.DeepEqual(before.Object, r.Object.Object) {
				t.Errorf("Admit changed the object:\n%v\nto\n%v", before.Object, r.Object.Object)
			}
		})
	}
}

// isPredefined knows every predefined policy
// and nothing else.
func TestIsPredefined(t *testing.T) {
	for _, p := range directory.Predefined() {
		if !isPredefined(p.Name) {
			t.Errorf("isPredefined(%q) = false", p.Name)
		}
	}
	for _, n := range []string{"", "read-clusters", "Administrator", "administrator-x"} {
		if isPredefined(n) {
			t.Errorf("isPredefined(%q) = true", n)
		}
	}
}
