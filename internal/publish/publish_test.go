package publish

import (
	"strings"
	"testing"
)

func TestDecodeAndOverride(t *testing.T) {
	objs, err := Decode([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers: [{name: c, image: x}]\n---\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\n"))
	if err != nil || len(objs) != 2 {
		t.Fatalf("%d objects, %v", len(objs), err)
	}
	if err := override(objs[0], For([]string{"2", "cls-b=4"}, "cls-b"), For([]string{"cls-a=nginx:2"}, "cls-a")); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := nestedInt(objs[0].Object); r != 4 {
		t.Fatalf("replicas %d, want the cls-b override 4", r)
	}
	if err := override(objs[0], "three", ""); err == nil {
		t.Fatal("a bad replica count was taken")
	}
	for _, bad := range []string{"kind: Deployment\nmetadata: {name: a}\n", "apiVersion: v1\nkind: Service\n", "{", ""} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("%q was taken", bad)
		}
	}
	if For([]string{"2", "cls-b=4"}, "cls-a") != "2" || For(nil, "x") != "" || !strings.HasPrefix(For([]string{"cls-a=nginx:2"}, "cls-a"), "nginx") {
		t.Fatal("For picks the wrong value")
	}
}

func nestedInt(m map[string]any) (int64, bool, error) {
	spec, _ := m["spec"].(map[string]any)
	n, ok := spec["replicas"].(int64)
	return n, ok, nil
}
