// Package decision is the platform's one decision point: every request to
// the platform API, the console, and every request proxied into a member
// cluster is allowed or denied here, by the same policies.
package decision

import (
	"context"
	"fmt"

	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/auth/policy"
)

// Decision is an outcome with a reason fit to show the caller.
type Decision struct {
	Allowed bool
	// NotFound hides an object of another tenant: the caller learns
	// nothing of its existence.
	NotFound bool
	Reason   string
}

// Decider decides.
type Decider struct {
	Dir *directory.Directory
	// ProjectOf finds the project that owns a namespace of a cluster
	// ("" when none); project policies apply there. Nil until projects exist.
	ProjectOf func(ctx context.Context, cluster, namespace string) string
	// Hidden says why no one, administrators included, may reach a kind of
	// the platform's API ("" for kinds that may be reached): the API
	// groups declare them (apigroup.Registry.Hidden).
	Hidden func(group, kind string) string
}

// Admin reports whether p is a platform administrator. Every "is this
// caller an administrator" question of the platform is asked here.
func Admin(p *directory.Principal) bool { return p != nil && p.SuperAdmin }

// Platform decides on a request to the platform's own API; objTenant is
// the tenant of the object named (empty for collections and creations).
// The project policies of a.Project apply (its API group sets it).
func (d *Decider) Platform(ctx context.Context, p *directory.Principal, a attributes.Attributes, objTenant string) Decision {
	if d.Hidden != nil {
		if msg := d.Hidden(a.APIGroup, a.Kind); msg != "" {
			return Decision{Reason: msg}
		}
	}
	if Admin(p) {
		return Decision{Allowed: true, Reason: "platform administrator"}
	}
	if objTenant != "" && objTenant != p.Tenant && objTenant != directory.SharedTenantLabel {
		return Decision{NotFound: true, Reason: fmt.Sprintf("%s %q not found", a.Kind, a.Name)}
	}
	return d.Can(ctx, p, a.Project, a.Action, a.Resource)
}

// Member decides on a request into member cluster `cluster`, which
// belongs to clusterTenant.
func (d *Decider) Member(ctx context.Context, p *directory.Principal, cluster, clusterTenant string, a attributes.Attributes) Decision {
	if Admin(p) {
		return Decision{Allowed: true, Reason: "platform administrator"}
	}
	if clusterTenant != p.Tenant {
		return Decision{NotFound: true, Reason: fmt.Sprintf("no cluster %q on the platform", cluster)}
	}
	if a.NonResource && a.ReadOnly {
		// Discovery and /version: clients need them before anything else,
		// and they hold nothing of the tenant's.
		return Decision{Allowed: true, Reason: "discovery"}
	}
	project := ""
	if d.ProjectOf != nil && a.Namespace != "" {
		project = d.ProjectOf(ctx, cluster, a.Namespace)
	}
	return d.Can(ctx, p, project, a.Action, a.Resource)
}

// Can decides whether p may take action on resource, with the project
// policies p holds in project (when not empty). The console asks it before
// showing a button.
func (d *Decider) Can(ctx context.Context, p *directory.Principal, project, action, resource string) Decision {
	if Admin(p) {
		return Decision{Allowed: true, Reason: "platform administrator"}
	}
	pols, err := d.Dir.Policies(ctx, p, project)
	if err != nil {
		return Decision{Reason: "the platform cannot read policies now: " + err.Error()}
	}
	dec := policy.Decide(pols, policy.Request{Action: action, Resource: resource})
	return Decision{Allowed: dec.Allowed, Reason: dec.Reason}
}

// Held are the platform policies p holds, for checks that a grant does
// not exceed them.
func (d *Decider) Held(ctx context.Context, p *directory.Principal) ([]policy.Named, error) {
	return d.Dir.Policies(ctx, p, "")
}
