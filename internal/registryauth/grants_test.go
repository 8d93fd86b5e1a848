package registryauth

import (
	"context"
	"reflect"
	"testing"

	"github.com/kstack/kstack/internal/registry"
)

// TestNamespaces: the catalogue's list of namespaces a caller may pull
// from is sorted, and agrees with Allowed namespace by namespace.
func TestNamespaces(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	caller := func(user, pass string) *registry.Caller {
		c, _ := e.access(e.get(user, pass))
		return c
	}
	all := []string{"other", "priv", "pub", "t2odd", "t2priv"}
	for _, tc := range []struct {
		name string
		c    *registry.Caller
		want []string
	}{
		{"anonymous", nil, []string{"pub"}},
		{"alice: public and shared with her project", caller("alice", "alice-pw"), []string{"priv", "pub"}},
		{"bob: no rights", caller("bob", "bob-pw"), []string{"pub"}},
		{"erin: one repository only", caller("erin", "erin-pw"), []string{"pub"}},
		{"carol: t2's administrator", caller("t2.carol", "carol-pw"), []string{"pub", "t2odd", "t2priv"}},
		{"pull credential of prj-a", &registry.Caller{Subject: "pull.prj-a", Tenant: "default", Project: "prj-a"}, []string{"priv", "pub"}},
		{"a user gone since", &registry.Caller{Subject: "default.ghost", Tenant: "default"}, []string{"pub"}},
	} {
		got := e.s.Namespaces(ctx, tc.c)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Namespaces = %v, want %v", tc.name, got, tc.want)
		}
		var allowed []string
		for _, ns := range all {
			if e.s.Allowed(ctx, tc.c, ns, "pull") {
				allowed = append(allowed, ns)
			}
		}
		if !reflect.DeepEqual(got, allowed) {
			t.Errorf("%s: Namespaces = %v, but Allowed allows %v", tc.name, got, allowed)
		}
	}
}
