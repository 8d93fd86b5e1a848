package cronhpa

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// schemaPaths lists every property path of a CRD's first version's schema
// with its type.
func schemaPaths(t *testing.T, crd *unstructured.Unstructured) map[string]string {
	t.Helper()
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	if len(versions) != 1 {
		t.Fatalf("%d versions", len(versions))
	}
	schema, _, _ := unstructured.NestedMap(versions[0].(map[string]any), "schema", "openAPIV3Schema")
	out := map[string]string{}
	var walk func(prefix string, s map[string]any)
	walk = func(prefix string, s map[string]any) {
		typ, _ := s["type"].(string)
		out[prefix] = typ
		if props, ok := s["properties"].(map[string]any); ok {
			for name, p := range props {
				walk(prefix+"."+name, p.(map[string]any))
			}
		}
		if items, ok := s["items"].(map[string]any); ok {
			walk(prefix+"[]", items)
		}
	}
	walk("", schema)
	return out
}

// TestVersions: each version's objects decode, CRDs come first and keep
// TKEStack's name, and every field of v1.0.0 is in v1.1.0 with its type,
// so an upgrade keeps every CronHPA whole.
func TestVersions(t *testing.T) {
	a := Addon()
	crds := map[string]*unstructured.Unstructured{}
	for _, v := range a.Versions {
		objs, err := v.Objects()
		if err != nil {
			t.Fatalf("%s: %v", v.Version, err)
		}
		if len(objs) < 2 || objs[0].GetKind() != "CustomResourceDefinition" || objs[0].GetName() != "cronhpas.extensions.tkestack.io" {
			t.Fatalf("%s: the CRD cronhpas.extensions.tkestack.io does not come first: %v", v.Version, objs)
		}
		for _, o := range objs[1:] {
			if !strings.HasPrefix(o.GetName(), "kstack-") {
				t.Errorf("%s: %s %s is not named kstack-...", v.Version, o.GetKind(), o.GetName())
			}
		}
		crds[v.Version] = objs[0]
	}
	old, latest := schemaPaths(t, crds["v1.0.0"]), schemaPaths(t, crds["v1.1.0"])
	for path, typ := range old {
		if latest[path] != typ {
			t.Errorf("v1.1.0 has %q as %q, v1.0.0 as %q: an upgrade would drop or break it", path, latest[path], typ)
		}
	}
	if _, ok := latest[".spec.timeZone"]; !ok {
		t.Error("v1.1.0 has no spec.timeZone")
	}
	if _, ok := old[".spec.timeZone"]; ok {
		t.Error("the frozen v1.0.0 has spec.timeZone")
	}
}
