package authapi

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
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

func group(name string, members ...string) *authv1.Group {
	return &authv1.Group{ObjectMeta: metav1.ObjectMeta{Name: "default." + name, Labels: map[string]string{authv1.LabelTenant: "default"}},
		Spec: authv1.GroupSpec{TenantID: "default", Name: name, Members: members}}
}

func project(tenant, name string) *businessv1.Project {
	return &businessv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{authv1.LabelTenant: tenant}},
		Spec: businessv1.ProjectSpec{TenantID: tenant}}
}

// module is the auth group over a fake client holding the predefined
// policies and:
//   - bob (default) holds read-clusters (cls-a), and prj-reader in project prj-1;
//   - dave (default) holds platform-user;
//   - group ops (member dave) is bound to delete-clusters; group idle
//     (member dave) to nothing;
//   - carol's binding carol-administrator binds her to tenant;
//   - bad is a well-formed custom policy (updates make it malformed);
//   - t2-pol belongs to tenant t2;
//   - projects prj-1 and prj-2 are the default tenant's, prj-t2 is t2's.
func module(t *testing.T) *Module {
	t.Helper()
	objs := []client.Object{
		pol("default", "read-clusters", authv1.ScopePlatform, "allow", []string{"get*", "list*"}, "cluster:cls-a"),
		pol("default", "delete-clusters", authv1.ScopePlatform, "allow", []string{"delete*"}, "cluster:*"),
		pol("default", "prj-reader", authv1.ScopeProject, "allow", []string{"get*"}, "cluster:*/namespace:*/pod:*"),
		pol("default", "bad", authv1.ScopePlatform, "allow", []string{"get*"}, "cluster:*"),
		pol("t2", "t2-pol", authv1.ScopePlatform, "allow", []string{"get*"}, "cluster:*"),
		binding("default", "bob-read", "read-clusters", "", []string{"bob"}, nil),
		binding("default", "bob-prj", "prj-reader", "prj-1", []string{"bob"}, nil),
		binding("default", "dave-pu", directory.PolicyPlatformUser, "", []string{"dave"}, nil),
		binding("default", "ops-delete", "delete-clusters", "", nil, []string{"ops"}),
		binding("default", "carol-administrator", directory.PolicyTenant, "", []string{"carol"}, nil),
		group("ops", "dave"), group("idle", "dave"),
		project("default", "prj-1"), project("default", "prj-2"), project("t2", "prj-t2"),
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

// webhookObject is obj as the admission webhook decodes it: with its
// apiVersion and kind.
func webhookObject(t *testing.T, c client.Client, obj client.Object) *unstructured.Unstructured {
	t.Helper()
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		t.Fatal(err)
	}
	u := apigrouptest.Unstructured(t, obj)
	u.SetGroupVersionKind(gvk)
	return u
}

// storedObject is the stored version of obj (same kind and name), as the
// webhook hands it to Validate for an update.
func storedObject(t *testing.T, c client.Client, obj client.Object) *unstructured.Unstructured {
	t.Helper()
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		t.Fatal(err)
	}
	old := &unstructured.Unstructured{}
	old.SetGroupVersionKind(gvk)
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), old); err != nil {
		t.Fatalf("an update replaces a stored %s %s: %v", gvk.Kind, obj.GetName(), err)
	}
	return old
}

// validateRequest is the request the admission webhook makes of a create
// (verb "create") or update ("update") of obj: its attributes as
// admissionwebhook.Attributes builds them and, for an update, the stored
// object as Old.
func validateRequest(t *testing.T, m *Module, p *directory.Principal, verb string, obj client.Object) *apigroup.Request {
	t.Helper()
	u := webhookObject(t, m.Client, obj)
	kind := strings.ToLower(u.GetKind())
	a := attributes.Attributes{Verb: verb, APIGroup: authv1.GroupVersion.Group, Kind: kind, Name: u.GetName(),
		Action: verb + strings.ToUpper(kind[:1]) + kind[1:], Resource: kind + ":" + u.GetName()}
	r := &apigroup.Request{Principal: p, Attributes: a, Object: u}
	if verb == "update" {
		r.Old = storedObject(t, m.Client, obj)
	}
	return r
}

func custom(name string, st ...authv1.Statement) *authv1.Policy {
	p := pol("default", name, authv1.ScopePlatform, "allow", []string{"get*"}, "cluster:*")
	if st != nil {
		p.Spec.Statements = st
	}
	return p
}

func bind(policy, project string) *authv1.PolicyBinding {
	return binding("default", "carol-"+policy, policy, project, []string{"carol"}, nil)
}

// Admit keeps predefined policies as they are, whatever the request;
// everything about the object is Validate's.
func TestAdmit(t *testing.T) {
	polAttr := func(verb, name string) attributes.Attributes {
		return attributes.Attributes{Verb: verb, APIGroup: "auth.tkestack.io", Kind: "policy", Name: name}
	}
	create := func(kind string) attributes.Attributes {
		return attributes.Attributes{Verb: "create", APIGroup: "auth.tkestack.io", Kind: kind}
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
			http.StatusForbidden, "policy tenant is predefined and cannot be changed: create a custom policy instead"},
		{"patch predefined", admin, polAttr("patch", directory.PolicyAdministrator), nil, http.StatusForbidden, "policy administrator is predefined and cannot be changed"},
		{"delete predefined", admin, polAttr("delete", directory.PolicyProjectViewer), nil, http.StatusForbidden, "policy project-viewer is predefined and cannot be deleted"},
		{"get predefined", bob, polAttr("get", directory.PolicyProjectViewer), nil, 0, ""},
		{"delete custom policy", bob, polAttr("delete", "read-clusters"), nil, 0, ""},
		{"patch custom policy", admin, polAttr("patch", "read-clusters"), nil, 0, ""},
		{"update custom policy", admin, polAttr("update", "read-clusters"), custom("read-clusters"), 0, ""},

		// The rest is decided on the object as stored, by Validate.
		{"create with a predefined name is Validate's", admin, create("policy"), custom(directory.PolicyPlatformUser), 0, ""},
		{"malformed policy is Validate's", admin, create("policy"),
			custom("bad", authv1.Statement{Actions: []string{"get*"}, Resources: []string{"cluster:*"}, Effect: "permit"}), 0, ""},
		{"binding beyond the caller is Validate's", bob, create("policybinding"), bind("delete-clusters", ""), 0, ""},
		{"group patch", bob, attributes.Attributes{Verb: "patch", APIGroup: "auth.tkestack.io", Kind: "group", Name: "default.ops"}, nil, 0, ""},
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

// Validate decides on policies, users, bindings and groups as they would
// be stored.
func TestValidate(t *testing.T) {
	predefinedFlag := custom("mine")
	predefinedFlag.Spec.Predefined = true
	user := func(name, tenant, username string) *authv1.User {
		return &authv1.User{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: authv1.UserSpec{TenantID: tenant, Username: username}}
	}
	// The groups as bob's and dave's change would store them: both members.
	ops, idle := group("ops", "bob", "dave"), group("idle", "bob", "dave")

	for _, tc := range []struct {
		name string
		p    *directory.Principal
		verb string // create or update (Old is then the stored object)
		obj  client.Object
		code int
		msg  string
	}{
		// Predefined policies stay as they are, even for administrators,
		// whatever the request's encoding.
		{"update predefined", admin, "update", pol("", directory.PolicyTenant, authv1.ScopePlatform, "allow", []string{"*"}, "*"),
			http.StatusForbidden, "policy tenant is predefined and cannot be changed: create a custom policy instead"},
		{"create with a predefined name", admin, "create", custom(directory.PolicyPlatformUser), http.StatusForbidden, "policy platform-user is predefined"},

		// Policies are validated.
		{"bad effect", admin, "create", custom("bad", authv1.Statement{Actions: []string{"get*"}, Resources: []string{"cluster:*"}, Effect: "permit"}),
			http.StatusUnprocessableEntity, `policy bad is malformed: statement 1: effect must be "allow" or "deny"`},
		{"bad action", admin, "update", custom("bad", authv1.Statement{Actions: []string{"get pods"}, Resources: []string{"cluster:*"}, Effect: "allow"}),
			http.StatusUnprocessableEntity, "policy bad is malformed: statement 1: action"},
		{"good update", admin, "update", custom("bad", authv1.Statement{Actions: []string{"list*"}, Resources: []string{"cluster:*"}, Effect: "allow"}), 0, ""},
		{"no statements", admin, "create", &authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "empty"}},
			http.StatusUnprocessableEntity, "policy empty is malformed: a policy needs at least one statement"},
		{"spec.predefined", admin, "create", predefinedFlag, http.StatusForbidden, "only the platform makes predefined policies"},
		{"good policy", bob, "create", custom("good"), 0, ""},

		// Users are named <tenant>.<username>.
		{"user misnamed", admin, "create", user("alice", "default", "alice"), http.StatusUnprocessableEntity, `"default.alice", not "alice"`},
		{"user of another tenant's name", admin, "create", user("default.alice", "t2", "alice"), http.StatusUnprocessableEntity, `"t2.alice", not "default.alice"`},
		{"user well named", admin, "create", user("t2.alice", "t2", "alice"), 0, ""},

		// Bindings name a policy of their tenant (another tenant's is
		// answered as a missing one) and grant no more than the caller holds.
		{"binding to a missing policy", admin, "create", bind("nope", ""), http.StatusUnprocessableEntity, `the binding names policy "nope", which does not exist`},
		{"binding to another tenant's policy", admin, "create", bind("t2-pol", ""), http.StatusUnprocessableEntity, `the binding names policy "t2-pol", which does not exist`},
		{"binding of t2 to t2's policy", admin, "create", binding("t2", "t2-bind", "t2-pol", "", []string{"erin"}, nil), 0, ""},
		{"binding beyond the caller", bob, "create", bind("delete-clusters", ""), http.StatusForbidden,
			`you may not grant "delete*" on "cluster:*": your own policies do not allow it (granting policy delete-clusters)`},
		{"binding of administrator beyond the caller", bob, "update", bind(directory.PolicyAdministrator, ""), http.StatusForbidden,
			"(granting policy administrator)"},
		{"binding within the caller", bob, "create", bind("read-clusters", ""), 0, ""},
		{"binding within a predefined policy the caller holds", dave, "create", bind("read-clusters", ""), 0, ""},
		{"project binding within the caller's project", bob, "create", bind("prj-reader", "prj-1"), 0, ""},
		{"project binding in another project", bob, "create", bind("prj-reader", "prj-2"), http.StatusForbidden, "(granting policy prj-reader)"},
		{"admin grants anything", admin, "create", bind(directory.PolicyAdministrator, ""), 0, ""},
		{"admin grants delete-clusters", admin, "create", bind("delete-clusters", ""), 0, ""},

		// A project binding names a project of the binding's tenant;
		// another tenant's is answered as a missing one.
		{"project binding to a missing project", admin, "create", bind("prj-reader", "prj-9"), http.StatusUnprocessableEntity,
			`spec.projectID: there is no project "prj-9" in tenant default`},
		{"project binding to another tenant's project", admin, "create", bind("prj-reader", "prj-t2"), http.StatusUnprocessableEntity,
			`spec.projectID: there is no project "prj-t2" in tenant default`},
		{"project binding to a project of the tenant", admin, "create", bind("prj-reader", "prj-2"), 0, ""},
		{"binding of t2 to t2's project", admin, "create", binding("t2", "t2-viewer", directory.PolicyProjectViewer, "prj-t2", []string{"erin"}, nil), 0, ""},
		{"project checked before the grant", bob, "create", bind("prj-reader", "prj-9"), http.StatusUnprocessableEntity, `there is no project "prj-9"`},

		// A group change needs the policies bound to the group.
		{"group change beyond the caller", bob, "update", ops, http.StatusForbidden, "(granting policy delete-clusters)"},
		{"group create beyond the caller", bob, "create", group("ops", "bob"), http.StatusForbidden, "(granting policy delete-clusters)"},
		{"group change within the caller", dave, "update", ops, 0, ""},
		{"group with no bindings", bob, "update", idle, 0, ""},
		{"group change by admin", admin, "update", ops, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := module(t)
			r := validateRequest(t, m, tc.p, tc.verb, tc.obj)
			before := r.Object.DeepCopy()
			apigrouptest.CheckRefusal(t, m.Validate(context.Background(), r), tc.code, tc.msg)
			if !equality.Semantic.DeepEqual(before.Object, r.Object.Object) {
				t.Errorf("Validate changed the object:\n%v\nto\n%v", before.Object, r.Object.Object)
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
