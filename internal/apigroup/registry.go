package apigroup

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/kstack/kstack/internal/auth/directory"
)

// Registry holds the platform's groups: what the gateway looks up on every
// request.
type Registry struct {
	modules   []Module
	infos     []Info
	byGroup   map[string]Module
	resources map[resourceKey]Resource
	mux       *http.ServeMux
}

type resourceKey struct{ group, kind string }

// NewRegistry registers modules. Two groups with one name or prefix, a kind
// declared twice, or routes that overlap are refused.
func NewRegistry(modules ...Module) (reg *Registry, err error) {
	reg = &Registry{byGroup: map[string]Module{}, resources: map[resourceKey]Resource{}, mux: http.NewServeMux()}
	prefixes := map[string]string{}
	for _, m := range modules {
		info := m.Info()
		if info.Group == "" || !strings.HasPrefix(info.Prefix, "/") || strings.HasSuffix(info.Prefix, "/") {
			return nil, fmt.Errorf("API group %q: a group needs a name and a prefix such as /platform, not %q", info.Group, info.Prefix)
		}
		if _, dup := reg.byGroup[info.Group]; dup {
			return nil, fmt.Errorf("API group %s is registered twice", info.Group)
		}
		if g, dup := prefixes[info.Prefix]; dup {
			return nil, fmt.Errorf("API groups %s and %s both use the prefix %s", g, info.Group, info.Prefix)
		}
		prefixes[info.Prefix] = info.Group
		reg.modules, reg.infos, reg.byGroup[info.Group] = append(reg.modules, m), append(reg.infos, info), m
		for _, res := range m.Resources() {
			k := resourceKey{info.Group, res.Kind}
			if _, dup := reg.resources[k]; dup {
				return nil, fmt.Errorf("API group %s declares kind %s twice", info.Group, res.Kind)
			}
			if res.Version == "" {
				res.Version = "v1"
			}
			reg.resources[k] = res
		}
		for _, rt := range m.Routes() {
			if err := reg.handle(info.Group, rt); err != nil {
				return nil, err
			}
		}
	}
	return reg, nil
}

func (reg *Registry) handle(group string, rt Route) (err error) {
	defer func() {
		// ServeMux panics on a pattern that is malformed or overlaps another.
		if p := recover(); p != nil {
			err = fmt.Errorf("API group %s: route %q: %v", group, rt.Pattern, p)
		}
	}()
	h := rt.Handler
	reg.mux.HandleFunc(rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
		h(w, r, r.Context().Value(principalKey{}).(*directory.Principal))
	})
	return nil
}

type principalKey struct{}

// ServeRoute serves r if one of the groups' routes matches its path, which
// must be clean; it reports whether one did. A route that matches the path
// but not the method does not count, so the generic API still answers.
func (reg *Registry) ServeRoute(w http.ResponseWriter, r *http.Request, p *directory.Principal) bool {
	if _, pattern := reg.mux.Handler(r); pattern == "" {
		return false
	}
	reg.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	return true
}

// Prefix finds the group whose prefix starts path, and the rest of it.
func (reg *Registry) Prefix(path string) (Info, string, bool) {
	for _, info := range reg.infos {
		if path == info.Prefix || strings.HasPrefix(path, info.Prefix+"/") {
			return info, strings.TrimPrefix(path, info.Prefix), true
		}
	}
	return Info{}, "", false
}

// Unprefixed finds the group that a path without a prefix names,
// /apis/<group>/...: TKEStack's API servers serve their groups at the root
// (seed 004 §8.3.1 calls /apis/auth.tkestack.io/v1/identityproviders).
func (reg *Registry) Unprefixed(path string) (Info, bool) {
	rest, ok := strings.CutPrefix(path, "/apis/")
	if !ok {
		return Info{}, false
	}
	group, _, _ := strings.Cut(rest, "/")
	for _, info := range reg.infos {
		if info.Group == group {
			return info, true
		}
	}
	return Info{}, false
}

// Prefixes are the paths the groups are served under.
func (reg *Registry) Prefixes() []string {
	out := make([]string, 0, len(reg.infos))
	for _, info := range reg.infos {
		out = append(out, info.Prefix)
	}
	return out
}

// Names are the served groups' names.
func (reg *Registry) Names() []string {
	out := make([]string, 0, len(reg.infos))
	for _, info := range reg.infos {
		out = append(out, info.Group)
	}
	return out
}

// Served reports whether group is one of the platform's.
func (reg *Registry) Served(group string) bool {
	_, ok := reg.byGroup[group]
	return ok
}

// Resource looks a kind of a served group up; the zero Resource (version
// v1) stands for a kind the group does not declare.
func (reg *Registry) Resource(group, kind string) (Resource, Module, bool) {
	m, ok := reg.byGroup[group]
	if !ok {
		return Resource{}, nil, false
	}
	res, ok := reg.resources[resourceKey{group, kind}]
	if !ok {
		res = Resource{Kind: kind, Version: "v1"}
	}
	return res, m, true
}

// Hidden is why no one may reach a kind ("" when it may be reached): the
// decision point asks it.
func (reg *Registry) Hidden(group, kind string) string {
	res, _, _ := reg.Resource(group, kind)
	return res.Hidden
}

// Indexes of every group.
func (reg *Registry) Indexes() []Index {
	var out []Index
	for _, m := range reg.modules {
		out = append(out, m.Indexes()...)
	}
	return out
}

// Controllers of every group, in registration order.
func (reg *Registry) Controllers() []Controller {
	var out []Controller
	for _, m := range reg.modules {
		out = append(out, m.Controllers()...)
	}
	return out
}
