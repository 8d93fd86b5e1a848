package registryauth

import (
	"context"
	"slices"
	"strings"

	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/registry"
	"github.com/kstack/kstack/internal/registryspace"
)

// Actions of the decision point on repositories.
const (
	ActionPull   = registryspace.ActionPull
	ActionPush   = registryspace.ActionPush
	ActionDelete = registryspace.ActionDelete
)

// RepositoryResource is the decision point's resource for a repository.
func RepositoryResource(ns, repo string) string { return registryspace.Resource(ns, repo) }

// registryActions maps the token spec's actions to the decision point's.
var registryActions = map[string]string{"pull": ActionPull, "push": ActionPush, "delete": ActionDelete}

// grant is what id (nil: anonymous) may have of scopes. What it may not
// have is left out, never refused: the answer must be the same whether a
// namespace is missing, another tenant's or private.
func (s *Service) grant(ctx context.Context, id *identity, scopes []scope) []registry.Access {
	out := []registry.Access{}
	add := func(typ, name string, actions ...string) {
		for i := range out {
			if out[i].Type == typ && out[i].Name == name {
				for _, a := range actions {
					if !slices.Contains(out[i].Actions, a) {
						out[i].Actions = append(out[i].Actions, a)
					}
				}
				return
			}
		}
		out = append(out, registry.Access{Type: typ, Name: name, Actions: actions})
	}
	for _, sc := range scopes {
		switch sc.Type {
		case "registry":
			// Everyone may list the catalogue: the registry filters it per
			// caller (Allowed).
			if sc.Name == "catalog" && slices.Contains(sc.Actions, "*") {
				add("registry", "catalog", "*")
			}
		case "repository":
			ns, repo, ok := strings.Cut(sc.Name, "/")
			if !ok {
				continue // a repository outside every namespace exists nowhere
			}
			var want []string
			for _, a := range sc.Actions {
				if a == "*" {
					want = append(want, "pull", "push", "delete")
				} else if registryActions[a] != "" {
					want = append(want, a)
				}
			}
			if len(want) == 0 {
				continue
			}
			sp, ok := s.space(ctx, ns)
			if !ok {
				continue
			}
			var got []string
			for _, a := range want {
				if !slices.Contains(got, a) && s.may(ctx, id, sp, repo, a) {
					got = append(got, a)
				}
			}
			if len(got) > 0 {
				add("repository", sc.Name, got...)
			}
		}
	}
	return out
}

// space reads the registry namespace or chart group name; false when it
// is missing or cannot be read (which grants nothing, like a missing one).
func (s *Service) space(ctx context.Context, name string) (*registryspace.Space, bool) {
	sp, err := registryspace.Lookup(ctx, s.Client, name)
	if err != nil {
		s.log().Warn("reading a registry namespace or chart group", "name", name, "err", err)
	}
	return sp, sp != nil
}

// may decides one token action ("pull", "push", "delete") on repo of sp
// for id, through the one decision point (registryspace.May); a pull
// credential pulls what its project shares, in its tenant.
func (s *Service) may(ctx context.Context, id *identity, sp *registryspace.Space, repo, action string) bool {
	if id != nil && id.principal == nil {
		if action == "pull" && sp.Public {
			return true
		}
		return action == "pull" && id.project != "" && id.tenant == sp.Tenant && slices.Contains(sp.Projects, id.project)
	}
	var p *directory.Principal
	if id != nil {
		p = id.principal
	}
	return registryspace.May(ctx, s.Decider, p, sp, repo, action)
}

// Allowed says whether c (nil: anonymous) may take action ("pull", "push",
// "delete") in namespace ns, for the catalogue. It decides afresh rather
// than trusting c's access list: a namespace a token did not name may
// still be one the caller sees. Namespace-wide, the decision is on the
// resource "registrynamespace:<ns>/repository:*" (taken literally: a
// policy naming only some repositories does not show the namespace).
func (s *Service) Allowed(ctx context.Context, c *registry.Caller, ns, action string) bool {
	if registryActions[action] == "" {
		return false
	}
	sp, ok := s.space(ctx, ns)
	if !ok {
		return false
	}
	// A caller gone or disabled since keeps only what anyone has.
	id, _ := s.identityOf(ctx, c)
	return s.may(ctx, id, sp, "*", action)
}

// Namespaces lists, sorted, the namespaces c (nil: anonymous) may pull
// from, deciding as Allowed does, for the catalogue: the public ones, and
// those its rights or its project share. The namespaces come from the
// cache, and whom c stands for is rebuilt once for all of them.
func (s *Service) Namespaces(ctx context.Context, c *registry.Caller) []string {
	var list registryv1.RegistryNamespaceList
	if err := s.Client.List(ctx, &list); err != nil {
		s.log().Warn("listing registry namespaces for the catalogue", "err", err)
		return nil
	}
	var groups registryv1.ChartGroupList
	if err := s.Client.List(ctx, &groups); err != nil {
		s.log().Warn("listing chart groups for the catalogue", "err", err)
		return nil
	}
	// A caller gone or disabled since keeps only what anyone has.
	id, _ := s.identityOf(ctx, c)
	out := []string{}
	for i := range list.Items {
		if rns := &list.Items[i]; rns.DeletionTimestamp == nil && s.may(ctx, id, registryspace.FromNamespace(rns), "*", "pull") {
			out = append(out, rns.Name)
		}
	}
	for i := range groups.Items {
		if cg := &groups.Items[i]; cg.DeletionTimestamp == nil && s.may(ctx, id, registryspace.FromChartGroup(cg), "*", "pull") {
			out = append(out, cg.Name)
		}
	}
	slices.Sort(out)
	return out
}

// identityOf rebuilds whom a verified token was issued to (nil, false
// when that user is gone or disabled since).
func (s *Service) identityOf(ctx context.Context, c *registry.Caller) (*identity, bool) {
	switch {
	case c == nil || c.Subject == "":
		return nil, true
	case c.Project != "":
		return &identity{project: c.Project, tenant: c.Tenant}, true
	}
	tenant, user, ok := strings.Cut(c.Subject, ".")
	if !ok || tenant != c.Tenant {
		return nil, false
	}
	u, err := s.Dir.User(ctx, tenant, user)
	if err != nil || u.Spec.Disabled {
		return nil, false
	}
	p, err := s.Dir.Principal(ctx, u, "registry-token", "")
	if err != nil {
		s.log().Warn("reading a registry caller's rights", "subject", c.Subject, "err", err)
		return nil, false
	}
	return &identity{principal: p, tenant: p.Tenant}, true
}

var _ registry.Auth = (*Service)(nil)
