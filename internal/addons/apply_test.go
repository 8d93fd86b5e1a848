package addons

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
)

var (
	crdGVR  = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	roleGVR = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
)

func obj(apiVersion, kind, name string, labels map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name}}}
	if labels != nil {
		u.SetLabels(labels)
	}
	return u
}

func crd(name string) *unstructured.Unstructured {
	return obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", name, nil)
}

func role(name string) *unstructured.Unstructured {
	return obj("rbac.authorization.k8s.io/v1", "ClusterRole", name, nil)
}

// member is a fake member whose server-side applies store the object, and
// whose applies of the objects named in failOn fail.
func member(t *testing.T, failOn map[string]bool, existing ...runtime.Object) (*Installer, *dynamicfake.FakeDynamicClient) {
	t.Helper()
	scheme := runtime.NewScheme()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{
		crdGVR: "CustomResourceDefinitionList", roleGVR: "ClusterRoleList"}, existing...)
	dyn.PrependReactor("patch", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.PatchAction)
		if p.GetPatchType() != types.ApplyPatchType {
			return false, nil, nil
		}
		if failOn[p.GetName()] {
			return true, nil, apierrors.NewInvalid(schema.GroupKind{Kind: "Test"}, p.GetName(), nil)
		}
		u := &unstructured.Unstructured{}
		if err := json.Unmarshal(p.GetPatch(), &u.Object); err != nil {
			return true, nil, err
		}
		tr := dyn.Tracker()
		if _, err := tr.Get(p.GetResource(), "", p.GetName()); apierrors.IsNotFound(err) {
			return true, u, tr.Create(p.GetResource(), u, "")
		}
		return true, u, tr.Update(p.GetResource(), u, "")
	})
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}, meta.RESTScopeRoot)
	mapper.Add(schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, meta.RESTScopeRoot)
	return &Installer{Dynamic: dyn, Mapper: mapper}, dyn
}

func names(t *testing.T, dyn *dynamicfake.FakeDynamicClient) []string {
	t.Helper()
	var out []string
	for _, gvr := range []schema.GroupVersionResource{crdGVR, roleGVR} {
		l, err := dyn.Resource(gvr).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range l.Items {
			out = append(out, fmt.Sprintf("%s:%s", it.GetName(), it.GetLabels()[LabelAddon]))
		}
	}
	return out
}

var testAddon = &Addon{Type: "CronHPA"}

func TestApplyInstallsUpgradesAndPrunes(t *testing.T) {
	in, dyn := member(t, nil, role("someone-elses"))
	ctx := context.Background()
	v1 := []*unstructured.Unstructured{crd("a.example.com"), role("kstack-addon-edit")}
	inv, err := in.Apply(ctx, testAddon, v1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv) != 2 {
		t.Fatalf("inventory %v", inv)
	}
	got := strings.Join(names(t, dyn), " ")
	if got != "a.example.com:cronhpa kstack-addon-edit:cronhpa someone-elses:" {
		t.Fatalf("after install: %s", got)
	}
	// v2 drops the edit role and adds a view role: the edit role goes,
	// the object kstack did not make stays.
	v2 := []*unstructured.Unstructured{crd("a.example.com"), role("kstack-addon-view")}
	inv, err = in.Apply(ctx, testAddon, v2, v1, inv)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(t, dyn), " "); got != "a.example.com:cronhpa kstack-addon-view:cronhpa someone-elses:" {
		t.Fatalf("after upgrade: %s", got)
	}
	if err := in.Remove(ctx, testAddon, inv); err != nil && !strings.Contains(err.Error(), "Lease") {
		t.Fatal(err)
	}
}

func TestApplyRefusesWhatIsNotItsOwn(t *testing.T) {
	in, dyn := member(t, nil, crd("a.example.com"))
	_, err := in.Apply(context.Background(), testAddon, []*unstructured.Unstructured{role("kstack-addon-edit"), crd("a.example.com")}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "CustomResourceDefinition a.example.com is already in the member and was not made by kstack's CronHPA add-on") {
		t.Fatalf("err = %v", err)
	}
	// Checked before the first write: the role was not made either.
	if got := strings.Join(names(t, dyn), " "); got != "a.example.com:" {
		t.Fatalf("member changed: %s", got)
	}
}

func TestApplyRollsBackAFailedInstall(t *testing.T) {
	in, dyn := member(t, map[string]bool{"kstack-addon-view": true}, role("someone-elses"))
	objs := []*unstructured.Unstructured{crd("a.example.com"), role("kstack-addon-edit"), role("kstack-addon-view")}
	inv, err := in.Apply(context.Background(), testAddon, objs, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "applying ClusterRole kstack-addon-view") || !strings.Contains(err.Error(), "the member was left as it was") {
		t.Fatalf("err = %v", err)
	}
	if len(inv) != 0 {
		t.Fatalf("inventory after a failed install: %v", inv)
	}
	if got := strings.Join(names(t, dyn), " "); got != "someone-elses:" {
		t.Fatalf("member not as it was: %s", got)
	}
}

func TestApplyRollsBackAFailedUpgrade(t *testing.T) {
	in, dyn := member(t, nil)
	ctx := context.Background()
	old := role("kstack-addon-edit")
	old.Object["rules"] = []any{map[string]any{"verbs": []any{"get"}}}
	v1 := []*unstructured.Unstructured{crd("a.example.com"), old}
	inv, err := in.Apply(ctx, testAddon, v1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	changed := role("kstack-addon-edit")
	changed.Object["rules"] = []any{map[string]any{"verbs": []any{"get", "list"}}}
	// The upgrade's new view role fails to apply.
	dyn.PrependReactor("patch", "clusterroles", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.PatchAction).GetName() == "kstack-addon-view" {
			return true, nil, apierrors.NewInvalid(schema.GroupKind{Kind: "Test"}, "kstack-addon-view", nil)
		}
		return false, nil, nil
	})
	got, err := in.Apply(ctx, testAddon, []*unstructured.Unstructured{crd("a.example.com"), changed, role("kstack-addon-view")}, v1, inv)
	if err == nil {
		t.Fatal("a failing upgrade succeeded")
	}
	if fmt.Sprint(got) != fmt.Sprint(inv) {
		t.Fatalf("inventory changed by a failed upgrade: %v, was %v", got, inv)
	}
	r, err := dyn.Resource(roleGVR).Get(ctx, "kstack-addon-edit", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rules := fmt.Sprint(r.Object["rules"]); rules != "[map[verbs:[get]]]" {
		t.Fatalf("the changed role was not put back: %s", rules)
	}
	if _, err := dyn.Resource(roleGVR).Get(ctx, "kstack-addon-view", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the view role of the failed upgrade: %v", err)
	}
}

func TestCatalogAndVersions(t *testing.T) {
	a := &Addon{Type: "CronHPA", Versions: []Version{{Version: "v1.0.0"}, {Version: "v1.1.0"}}}
	c := Catalog{a}
	if got, err := c.Lookup("cronhpa"); err != nil || got != a {
		t.Fatalf("Lookup(cronhpa) = %v, %v", got, err)
	}
	if _, err := c.Lookup("GPUManager"); err == nil || !strings.Contains(err.Error(), `no add-on type "GPUManager"; the types are CronHPA`) {
		t.Fatalf("unknown type: %v", err)
	}
	if v, _ := a.Version(""); v.Version != "v1.1.0" {
		t.Fatalf("default version %s", v.Version)
	}
	if _, err := a.Version("v9"); err == nil || !strings.Contains(err.Error(), "its versions are v1.0.0, v1.1.0") {
		t.Fatalf("unknown version: %v", err)
	}
	if Ref(role("x")) != (platformv1.AddonObject{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "x"}) {
		t.Fatal("Ref")
	}
}
