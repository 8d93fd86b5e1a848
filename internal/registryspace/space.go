// Package registryspace is what the registry's first path segment names:
// a registry namespace (images) or a chart group (Helm charts), and the one
// rule that decides who may pull, push and delete in it. The token service
// (registryauth) and the API group (registryapi) both decide through it, so
// the registry and its API never disagree.
package registryspace

import (
	"context"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
)

// Actions of the decision point on repositories (charts are repositories
// of their chart group).
const (
	ActionPull   = "pullRepository"
	ActionPush   = "pushRepository"
	ActionDelete = "deleteRepository"
)

// Space is a registry namespace or a chart group, as access sees it.
type Space struct {
	Name   string
	Tenant string
	// Public: anyone pulls, anonymous clients included.
	Public bool
	// Projects whose members act as their project policies allow.
	Projects []string
	// Users (chart groups of visibility User) pull and push.
	Users []string
	// Imported chart groups are written by their sync alone.
	Imported bool
	// ChartGroup is set for a chart group.
	ChartGroup *registryv1.ChartGroup
	// Namespace is set for a registry namespace.
	Namespace *registryv1.RegistryNamespace
}

// Resource is the decision point's resource for repository repo ("*": all).
func Resource(space, repo string) string {
	return "registrynamespace:" + space + "/repository:" + repo
}

// FromNamespace is a registry namespace's space.
func FromNamespace(ns *registryv1.RegistryNamespace) *Space {
	return &Space{Name: ns.Name, Tenant: TenantOf(ns.Spec.TenantID, ns.Labels), Public: ns.Spec.Visibility == registryv1.Public,
		Projects: ns.Spec.Projects, Namespace: ns}
}

// FromChartGroup is a chart group's space: its users and projects count
// only under the visibility that names them.
func FromChartGroup(cg *registryv1.ChartGroup) *Space {
	s := &Space{Name: cg.Name, Tenant: TenantOf(cg.Spec.TenantID, cg.Labels), Imported: cg.Spec.Type == registryv1.Imported, ChartGroup: cg}
	switch cg.Spec.Visibility {
	case registryv1.VisibilityPublic:
		s.Public = true
	case registryv1.VisibilityProject:
		s.Projects = cg.Spec.Projects
	default:
		s.Users = cg.Spec.Users
		if cg.Spec.Creator != "" && !slices.Contains(s.Users, cg.Spec.Creator) {
			s.Users = append(slices.Clone(s.Users), cg.Spec.Creator)
		}
	}
	return s
}

// TenantOf is an object's tenant: its spec's, else its label's, else the
// default one.
func TenantOf(spec string, labels map[string]string) string {
	if spec != "" {
		return spec
	}
	if t := labels[authv1.LabelTenant]; t != "" {
		return t
	}
	return authv1.DefaultTenant
}

// Lookup reads the space named name: a registry namespace, else a chart
// group. Missing, being deleted or unreadable: nil (which grants nothing,
// like a missing one); err only for a read that failed.
func Lookup(ctx context.Context, c client.Reader, name string) (*Space, error) {
	var ns registryv1.RegistryNamespace
	err := c.Get(ctx, client.ObjectKey{Name: name}, &ns)
	if err == nil {
		if ns.DeletionTimestamp != nil {
			return nil, nil
		}
		return FromNamespace(&ns), nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, err
	}
	var cg registryv1.ChartGroup
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &cg); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	if cg.DeletionTimestamp != nil {
		return nil, nil
	}
	return FromChartGroup(&cg), nil
}

// Token actions as the decision point names them.
var actions = map[string]string{"pull": ActionPull, "push": ActionPush, "delete": ActionDelete}

// May decides one token action ("pull", "push", "delete") on repository
// repo ("*": all) of s for user p (nil: anonymous), through the one
// decision point: public spaces pull for anyone; p must be of s's tenant
// (administrators excepted) and hold the action by their tenant policies,
// by their project policies in one of s's projects, or be one of s's
// users (pull and push). An imported chart group is written by its sync
// alone.
func May(ctx context.Context, d *decision.Decider, p *directory.Principal, s *Space, repo, action string) bool {
	if action == "pull" && s.Public {
		return true
	}
	if p == nil || actions[action] == "" {
		return false
	}
	if s.Imported && action != "pull" && action != "delete" {
		return false
	}
	if p.Tenant != s.Tenant && !decision.Admin(p) {
		return false
	}
	if action != "delete" && p.Tenant == s.Tenant && slices.Contains(s.Users, p.Username) {
		return true
	}
	act, res := actions[action], Resource(s.Name, repo)
	if d.Can(ctx, p, "", act, res).Allowed {
		return true
	}
	for _, prj := range s.Projects {
		if d.Can(ctx, p, prj, act, res).Allowed {
			return true
		}
	}
	return false
}
