package gateway

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kstack/kstack/internal/auth/attributes"
)

func TestIsDiscovery(t *testing.T) {
	for p, want := range map[string]bool{
		"/api": true, "/apis": true, "/version": true, "/api/v1": true,
		"/apis/platform.tkestack.io": true, "/apis/auth.tkestack.io/v1": true, "/apis/business.tkestack.io/v1/": true,
		"/apis/apps/v1": false, "/api/v1/secrets": false, "/openapi/v3": false, "/healthz": false,
		"/apis/platform.tkestack.io/v1/clusters": false,
	} {
		if got := isDiscovery(p); got != want {
			t.Errorf("isDiscovery(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestWithTenantSelector(t *testing.T) {
	r := httptest.NewRequest("GET", "/apis/auth.tkestack.io/v1/users?labelSelector=team%3Dred&watch=true", nil)
	got := withTenantSelector(r, "t2", false).URL.Query()
	if got.Get("labelSelector") != "team=red,kstack.io/tenant=t2" || got.Get("watch") != "true" {
		t.Fatalf("selector %q", got.Get("labelSelector"))
	}
	shared := withTenantSelector(httptest.NewRequest("GET", "/x", nil), "t2", true).URL.Query().Get("labelSelector")
	if shared != "kstack.io/tenant in (t2,kstack-shared)" {
		t.Fatalf("shared selector %q", shared)
	}
	// The caller's own selector cannot widen the tenant's: selectors are ANDed.
	r = httptest.NewRequest("GET", "/x?labelSelector=kstack.io%2Ftenant%3Ddefault", nil)
	if sel := withTenantSelector(r, "t2", false).URL.Query().Get("labelSelector"); !strings.HasSuffix(sel, ",kstack.io/tenant=t2") {
		t.Fatalf("selector %q", sel)
	}
}

func TestBusinessPaths(t *testing.T) {
	if p, n, ok := movePath("/business/apis/business.tkestack.io/v1/namespaces/prj-1/namespaces/cls-a-web/move"); !ok || p != "prj-1" || n != "cls-a-web" {
		t.Fatalf("movePath: %q %q %v", p, n, ok)
	}
	for _, bad := range []string{"/business/apis/business.tkestack.io/v1/namespaces/prj-1/move", "/business/apis/business.tkestack.io/v1/namespaces/prj-1/namespaces/x/y/move"} {
		if _, _, ok := movePath(bad); ok {
			t.Errorf("movePath(%q) matched", bad)
		}
	}
	if p, ok := publishPath("/business/apis/business.tkestack.io/v1/namespaces/prj-1/publish"); !ok || p != "prj-1" {
		t.Fatalf("publishPath: %q %v", p, ok)
	}
	if _, ok := publishPath("/business/apis/business.tkestack.io/v1/namespaces//publish"); ok {
		t.Fatal("an empty project matched")
	}
	if k := quotaKey(attributes.Attributes{APIGroup: "business.tkestack.io", Kind: "namespace", Namespace: "prj-1"}); k != "ns/prj-1" {
		t.Fatalf("quotaKey %q", k)
	}
	if k := quotaKey(attributes.Attributes{APIGroup: "auth.tkestack.io", Kind: "user"}); k != "" {
		t.Fatalf("quotaKey of a user %q", k)
	}
}

func TestParseExpiry(t *testing.T) {
	for in, ok := range map[string]bool{"24h": true, "30m": true, "8760h": true, "0h": false, "3d": false, "1.5h": false, "-1h": false, "h": false, "9000h": false, "01h": false} {
		if _, err := ParseExpiry(in); (err == nil) != ok {
			t.Errorf("ParseExpiry(%q) = %v, want ok=%v", in, err, ok)
		}
	}
}
