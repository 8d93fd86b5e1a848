package registryapi

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/apigroup/apigrouptest"
	"github.com/kstack/kstack/internal/auth/attributes"
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
}
