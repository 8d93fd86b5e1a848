package registryapi

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/apigroup/apigrouptest"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/chartimport"
	"github.com/kstack/kstack/internal/dialcheck"
)

// TestChartGroupPassword: a repository password is moved into a Secret
// before the group is stored, and never kept on the group; a group that
// would be refused stores no Secret; creators are stamped.
func TestChartGroupPassword(t *testing.T) {
	m, _, _, c := module(t)
	m.Dial = &dialcheck.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}
	ctx := context.Background()
	admitCreate := func(addr string) (*apigroup.Request, error) {
		cg := &registryv1.ChartGroup{TypeMeta: metav1.TypeMeta{APIVersion: "registry.tkestack.io/v1", Kind: "ChartGroup"},
			ObjectMeta: metav1.ObjectMeta{Name: "mirror"},
			Spec: registryv1.ChartGroupSpec{Type: registryv1.Imported, Visibility: registryv1.VisibilityPublic, Creator: "someone-else",
				ImportedInfo: &registryv1.ImportedInfo{Addr: addr, Username: "u", Password: "s3cret"}}}
		r := &apigroup.Request{Principal: tu, Object: apigrouptest.Unstructured(t, cg),
			Attributes: attributes.Attributes{Verb: "create", APIGroup: Group, Kind: KindChartGroup, Name: "mirror", Action: "createChartgroup", Resource: "chartgroup:mirror"}}
		return r, m.Admit(ctx, r)
	}
	secret := client.ObjectKey{Namespace: "kstack-system", Name: chartimport.SecretName("mirror")}

	// Refused (loopback not allowed): no Secret.
	if _, err := admitCreate("http://127.0.0.1:8080/charts"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("a group on a forbidden address: %v", err)
	}
	if err := c.Get(ctx, secret, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a refused group left its password's Secret: %v", err)
	}

	r, err := admitCreate("http://127.0.0.2:8080/charts")
	if err != nil {
		t.Fatal(err)
	}
	info := r.Object.Object["spec"].(map[string]any)["importedInfo"].(map[string]any)
	if _, ok := info["password"]; ok || info["passwordSecret"] != chartimport.SecretName("mirror") {
		t.Fatalf("the group as it will be stored: %v", info)
	}
	if creator := r.Object.Object["spec"].(map[string]any)["creator"]; creator != "tu" {
		t.Fatalf("creator %v, want the caller", creator)
	}
	var s corev1.Secret
	if err := c.Get(ctx, secret, &s); err != nil || string(s.Data[chartimport.PasswordKey]) != "s3cret" {
		t.Fatalf("the password's Secret: %v %v", s.Data, err)
	}
	stored := r.Object.DeepCopy()
	if err := c.Create(ctx, stored); err != nil {
		t.Fatal(err)
	}

	// Another tenant's group of the same name stores nothing (its
	// password would overwrite this group's).
	other := &directory.Principal{Username: "oa", Tenant: "other"}
	r2 := &apigroup.Request{Principal: other, Object: r.Object.DeepCopy(), Attributes: r.Attributes}
	_ = unstructured.SetNestedField(r2.Object.Object, "attacker-pw", "spec", "importedInfo", "password")
	if err := m.Admit(ctx, r2); err == nil || !strings.Contains(err.Error(), "taken by a chart group") {
		t.Fatalf("a second group named mirror: %v", err)
	}
	if err := c.Get(ctx, secret, &s); err != nil || string(s.Data[chartimport.PasswordKey]) != "s3cret" {
		t.Fatalf("the password after another tenant's try: %q %v", s.Data[chartimport.PasswordKey], err)
	}

	// A replace without a password keeps it for the same host, not for
	// another (the password is never sent elsewhere).
	replace := func(addr string) map[string]any {
		obj := stored.DeepCopy()
		_ = unstructured.SetNestedField(obj.Object, addr, "spec", "importedInfo", "addr")
		unstructured.RemoveNestedField(obj.Object, "spec", "importedInfo", "passwordSecret")
		ru := &apigroup.Request{Principal: tu, Object: obj, Old: stored,
			Attributes: attributes.Attributes{Verb: "update", APIGroup: Group, Kind: KindChartGroup, Name: "mirror", Action: "updateChartgroup", Resource: "chartgroup:mirror"}}
		if err := m.Admit(ctx, ru); err != nil {
			t.Fatalf("replacing with %s: %v", addr, err)
		}
		info, _, _ := unstructured.NestedMap(obj.Object, "spec", "importedInfo")
		return info
	}
	if info := replace("http://127.0.0.2:8080/other-path"); info["passwordSecret"] != chartimport.SecretName("mirror") {
		t.Fatalf("same host: %v", info)
	}
	if info := replace("http://127.0.0.2:9090/charts"); info["passwordSecret"] != nil {
		t.Fatalf("another host keeps the password: %v", info)
	}
}
