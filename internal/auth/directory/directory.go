// Package directory answers who someone is and what they hold: users,
// groups, policies and bindings, read from the platform's informer cache
// (and from the API server when the cache has not seen a new object yet).
package directory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	"github.com/kstack/kstack/internal/auth/policy"
)

// Principal is an authenticated caller.
type Principal struct {
	Username string
	Tenant   string
	// Groups are the tenant's groups that list the user, and the groups
	// the identity provider named at login.
	Groups []string
	// SuperAdmin administers every tenant: the platform's own
	// administrators (Administrator in the default tenant, the admin
	// client certificate and the data dir's admin token).
	SuperAdmin bool
	// Method says how the caller proved who they are: cert, admin-token,
	// apikey or token.
	Method string
	// Session is the login that the caller's token belongs to.
	Session string

	// bindings are those naming the caller, read once per request by
	// Principal and used again by Policies.
	bindings       []authv1.PolicyBinding
	bindingsLoaded bool
}

// Name is how the member clusters' audit logs and RBAC know the caller:
// the username, qualified by the tenant outside the default one.
func (p *Principal) Name() string {
	if p.Tenant == "" || p.Tenant == authv1.DefaultTenant {
		return p.Username
	}
	return p.Tenant + ":" + p.Username
}

// Predefined policy names.
const (
	PolicyAdministrator = "administrator"
	PolicyPlatformUser  = "platform-user"
	PolicyTenant        = "tenant"
	PolicyProjectAdmin  = "project-admin"
	PolicyProjectMember = "project-member"
	PolicyProjectViewer = "project-viewer"
)

// Directory reads identities and rights.
type Directory struct {
	// Client reads from the informer cache.
	Client client.Client
	// Reader reads from the API server, for objects just created.
	Reader client.Reader
}

// get reads obj from the cache, then from the API server when the cache
// has not seen it yet (a session created a moment ago).
func (d *Directory) get(ctx context.Context, name string, obj client.Object) error {
	err := d.Client.Get(ctx, client.ObjectKey{Name: name}, obj)
	if apierrors.IsNotFound(err) && d.Reader != nil {
		err = d.Reader.Get(ctx, client.ObjectKey{Name: name}, obj)
	}
	return err
}

// User reads a user.
func (d *Directory) User(ctx context.Context, tenant, username string) (*authv1.User, error) {
	var u authv1.User
	if err := d.get(ctx, authv1.ObjectName(tenant, username), &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// Session reads a session.
func (d *Directory) Session(ctx context.Context, name string) (*authv1.Session, error) {
	var s authv1.Session
	if err := d.get(ctx, name, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// APIKey reads an access key.
func (d *Directory) APIKey(ctx context.Context, name string) (*authv1.APIKey, error) {
	var k authv1.APIKey
	if err := d.get(ctx, name, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// Principal builds the principal of a user: their groups and whether they
// administer the platform.
func (d *Directory) Principal(ctx context.Context, u *authv1.User, method, session string) (*Principal, error) {
	p := &Principal{Username: u.Spec.Username, Tenant: u.Spec.TenantID, Method: method, Session: session}
	var groups authv1.GroupList
	if err := d.Client.List(ctx, &groups, client.MatchingLabels{authv1.LabelTenant: p.Tenant}); err != nil {
		return nil, fmt.Errorf("reading groups: %w", err)
	}
	for _, g := range groups.Items {
		if g.Spec.TenantID == p.Tenant && slices.Contains(g.Spec.Members, p.Username) {
			p.Groups = append(p.Groups, g.Spec.Name)
		}
	}
	for _, g := range u.Status.Groups {
		if !slices.Contains(p.Groups, g) {
			p.Groups = append(p.Groups, g)
		}
	}
	bindings, err := d.bindings(ctx, p)
	if err != nil {
		return nil, err
	}
	p.bindings, p.bindingsLoaded = bindings, true
	for _, b := range bindings {
		if p.Tenant == authv1.DefaultTenant && b.Spec.PolicyName == PolicyAdministrator && b.Spec.ProjectID == "" {
			p.SuperAdmin = true
		}
	}
	return p, nil
}

// bindings are the bindings of p's tenant that name p or one of p's groups.
func (d *Directory) bindings(ctx context.Context, p *Principal) ([]authv1.PolicyBinding, error) {
	var list authv1.PolicyBindingList
	if err := d.Client.List(ctx, &list, client.MatchingLabels{authv1.LabelTenant: p.Tenant}); err != nil {
		return nil, fmt.Errorf("reading policy bindings: %w", err)
	}
	var out []authv1.PolicyBinding
	for _, b := range list.Items {
		if b.Spec.TenantID != p.Tenant {
			continue
		}
		hit := slices.Contains(b.Spec.Users, p.Username)
		for _, g := range p.Groups {
			hit = hit || slices.Contains(b.Spec.Groups, g)
		}
		if hit {
			out = append(out, b)
		}
	}
	return out, nil
}

// Policies are the platform policies p holds, and the project policies p
// holds in project (when not empty).
func (d *Directory) Policies(ctx context.Context, p *Principal, project string) ([]policy.Named, error) {
	bindings := p.bindings
	if !p.bindingsLoaded {
		var err error
		if bindings, err = d.bindings(ctx, p); err != nil {
			return nil, err
		}
	}
	var out []policy.Named
	for _, b := range bindings {
		if b.Spec.ProjectID != "" && b.Spec.ProjectID != project {
			continue
		}
		var pol authv1.Policy
		if err := d.Client.Get(ctx, client.ObjectKey{Name: b.Spec.PolicyName}, &pol); err != nil {
			if apierrors.IsNotFound(err) {
				continue // a binding to a deleted policy grants nothing
			}
			return nil, fmt.Errorf("reading policy %s: %w", b.Spec.PolicyName, err)
		}
		if pol.Spec.TenantID != "" && pol.Spec.TenantID != p.Tenant {
			continue // another tenant's policy grants nothing here
		}
		if (pol.Spec.Scope == authv1.ScopeProject) != (b.Spec.ProjectID != "") {
			continue
		}
		out = append(out, Named(&pol))
	}
	return out, nil
}

// Named converts a policy for the engine.
func Named(p *authv1.Policy) policy.Named {
	n := policy.Named{Name: p.Name}
	for _, s := range p.Spec.Statements {
		n.Statements = append(n.Statements, policy.Statement{Actions: s.Actions, Resources: s.Resources, Effect: policy.Effect(strings.ToLower(s.Effect))})
	}
	return n
}
