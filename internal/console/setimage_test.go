package console

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// conflicting is a Deployment whose first updates lose the race with its
// controller's status writes.
type conflicting struct {
	conflicts, gets int
	stored          *unstructured.Unstructured
}

func (c *conflicting) Get(context.Context, string, metav1.GetOptions, ...string) (*unstructured.Unstructured, error) {
	c.gets++
	return c.stored.DeepCopy(), nil
}

func (c *conflicting) Update(_ context.Context, u *unstructured.Unstructured, _ metav1.UpdateOptions, _ ...string) (*unstructured.Unstructured, error) {
	if c.conflicts > 0 {
		c.conflicts--
		return nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, u.GetName(), nil)
	}
	c.stored = u
	return u, nil
}

func TestSetImageRetriesConflicts(t *testing.T) {
	dep := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "hello"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"name": "web", "image": "nginx:1.27"}}}}}}}
	c := &conflicting{conflicts: 2, stored: dep}
	if err := setImage(context.Background(), c, kinds["deployments"], "hello", "web", "nginx:1.28"); err != nil {
		t.Fatalf("setImage: %v", err)
	}
	cs, _, _ := unstructured.NestedSlice(c.stored.Object, "spec", "template", "spec", "containers")
	if img := cs[0].(map[string]any)["image"]; img != "nginx:1.28" || c.gets != 3 {
		t.Fatalf("image %v after %d reads, want nginx:1.28 after 3", img, c.gets)
	}
	if err := setImage(context.Background(), &conflicting{stored: dep}, kinds["deployments"], "hello", "db", "x"); err == nil {
		t.Fatal("a missing container was not refused")
	}
}
