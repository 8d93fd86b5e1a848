// Package authapi is the auth.tkestack.io API group as a module of the
// gateway: users, groups, policies and their bindings, access keys,
// sessions and identity providers; the actions that are more than storage
// (users with passwords, access keys shown once, identity providers whose
// secrets are kept apart, whoami); and the admission that keeps anyone from
// granting more than they hold.
package authapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/auth/policy"
)

// Prefix is where the group is served.
const Prefix = "/auth"

const groupPath = Prefix + "/apis/auth.tkestack.io/v1/"

// Module is the auth group.
type Module struct {
	apigroup.Env
}

// Info names the group.
func (m *Module) Info() apigroup.Info {
	return apigroup.Info{Group: authv1.GroupVersion.Group, Prefix: Prefix}
}

const wholeChange = "so that every change is checked whole"

// Resources of the group.
func (m *Module) Resources() []apigroup.Resource {
	return []apigroup.Resource{
		{Kind: "user", TenantScoped: true},
		{Kind: "group", TenantScoped: true, Patch: apigroup.PatchAdmins, NoPatch: wholeChange},
		{Kind: "policy", TenantScoped: true, SharedTenant: true, Patch: apigroup.PatchNoOne, NoPatch: wholeChange},
		{Kind: "policybinding", TenantScoped: true, Patch: apigroup.PatchAdmins, NoPatch: wholeChange},
		{Kind: "apikey", TenantScoped: true, AdminOnly: "manage your access keys with /auth/apis/auth.tkestack.io/v1/apikeys (kstack apikey)"},
		{Kind: "session", TenantScoped: true, AdminOnly: "sessions are managed by logging in and out"},
		{Kind: "identityprovider", TenantIsName: true, AdminOnly: "identity providers are managed by platform administrators"},
		{Kind: "localidentity", Hidden: "password hashes are never served: set a password with PUT /auth/apis/auth.tkestack.io/v1/users/{name}/password"},
	}
}

// Routes are the actions that are more than storage.
func (m *Module) Routes() []apigroup.Route {
	return []apigroup.Route{
		{Pattern: Prefix + "/whoami", Handler: m.whoami},
		{Pattern: "POST " + groupPath + "users", Handler: m.createUser},
		{Pattern: groupPath + "users/{name}/password", Handler: func(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
			m.setPassword(w, r, p, r.PathValue("name"))
		}},
		{Pattern: groupPath + "apikeys", Handler: func(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
			m.apiKeys(w, r, p, "")
		}},
		{Pattern: groupPath + "apikeys/{name}", Handler: func(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
			m.apiKeys(w, r, p, r.PathValue("name"))
		}},
		{Pattern: "POST " + groupPath + "identityproviders", Handler: m.createIdentityProvider},
	}
}

// Indexes: none.
func (m *Module) Indexes() []apigroup.Index { return nil }

// Controllers: none (sessions and signing keys are the OpenID provider's).
func (m *Module) Controllers() []apigroup.Controller { return nil }

// Admit keeps predefined policies as they are.
func (m *Module) Admit(_ context.Context, r *apigroup.Request) error {
	a := r.Attributes
	if a.Kind == "policy" && isPredefined(a.Name) {
		switch a.Verb {
		case "patch", "update":
			return apigroup.Refuse(http.StatusForbidden, "policy %s is predefined and cannot be changed: create a custom policy instead", a.Name)
		case "delete":
			return apigroup.Refuse(http.StatusForbidden, "policy %s is predefined and cannot be deleted", a.Name)
		}
	}
	return nil
}

// Validate checks policies and users as they would be stored, and refuses
// a binding or a group change that grants more than the caller holds or
// names what is not the tenant's.
func (m *Module) Validate(ctx context.Context, r *apigroup.Request) error {
	u := r.Object
	switch r.Attributes.Kind {
	case "policy":
		if isPredefined(u.GetName()) {
			return apigroup.Refuse(http.StatusForbidden, "policy %s is predefined and cannot be changed: create a custom policy instead", u.GetName())
		}
		return validatePolicy(u)
	case "policybinding":
		return m.checkGrant(ctx, r.Principal, u)
	case "group":
		return m.checkGroupGrant(ctx, r.Principal, u)
	case "user":
		return validateUser(u)
	}
	return nil
}

func isPredefined(name string) bool {
	for _, p := range directory.Predefined() {
		if p.Name == name {
			return true
		}
	}
	return false
}

// statementsOf reads a policy object's statements.
func statementsOf(u *unstructured.Unstructured) ([]policy.Statement, error) {
	raw, _, _ := unstructured.NestedSlice(u.Object, "spec", "statements")
	data, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var st []policy.Statement
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("spec.statements must be a list of {actions, resources, effect}: %w", err)
	}
	return st, nil
}

func validatePolicy(u *unstructured.Unstructured) error {
	st, err := statementsOf(u)
	if err == nil {
		err = policy.ValidateStatements(st)
	}
	if err != nil {
		return apigroup.Invalid("policy %s is malformed: %v", u.GetName(), err)
	}
	if pre, _, _ := unstructured.NestedBool(u.Object, "spec", "predefined"); pre {
		return apigroup.Refuse(http.StatusForbidden, "only the platform makes predefined policies")
	}
	return nil
}

func validateUser(u *unstructured.Unstructured) error {
	tenant, _, _ := unstructured.NestedString(u.Object, "spec", "tenantID")
	name, _, _ := unstructured.NestedString(u.Object, "spec", "username")
	if want := authv1.ObjectName(tenant, name); u.GetName() != want {
		return apigroup.Invalid("a user's name must be <tenantID>.<username>: %q, not %q", want, u.GetName())
	}
	return nil
}

// checkGrant refuses a binding that grants more than the caller holds.
func (m *Module) checkGrant(ctx context.Context, p *directory.Principal, u *unstructured.Unstructured) error {
	var b authv1.PolicyBinding
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &b); err != nil {
		return apigroup.Refuse(http.StatusBadRequest, "the body is not a PolicyBinding: %v", err)
	}
	return m.checkGrantTyped(ctx, p, &b)
}

// checkGroupGrant refuses a group change by someone who does not hold
// every policy bound to the group (adding yourself to it would grant them).
func (m *Module) checkGroupGrant(ctx context.Context, p *directory.Principal, u *unstructured.Unstructured) error {
	if decision.Admin(p) {
		return nil
	}
	gname, _, _ := unstructured.NestedString(u.Object, "spec", "name")
	var bindings authv1.PolicyBindingList
	if err := m.Reader.List(ctx, &bindings, client.MatchingLabels{authv1.LabelTenant: p.Tenant}); err != nil {
		return err
	}
	for _, b := range bindings.Items {
		for _, g := range b.Spec.Groups {
			if g != gname {
				continue
			}
			var pol authv1.Policy
			if err := m.Reader.Get(ctx, client.ObjectKey{Name: b.Spec.PolicyName}, &pol); err != nil {
				continue
			}
			if err := m.covers(ctx, p, b.Spec.ProjectID, []authv1.Policy{pol}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *Module) covers(ctx context.Context, p *directory.Principal, project string, pols []authv1.Policy) error {
	held, err := m.Decider.Dir.Policies(ctx, p, project)
	if err != nil {
		return err
	}
	for i := range pols {
		if err := policy.Covers(held, directory.Named(&pols[i]).Statements); err != nil {
			return apigroup.Refuse(http.StatusForbidden, "%v (granting policy %s)", err, pols[i].Name)
		}
	}
	return nil
}
