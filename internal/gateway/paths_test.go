package gateway

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIsDiscovery(t *testing.T) {
	s := &Server{Groups: testGroups(t)}
	for p, want := range map[string]bool{
		"/api": true, "/apis": true, "/version": true, "/api/v1": true,
		"/apis/widgets.example.io": true, "/apis/widgets.example.io/v1": true, "/apis/widgets.example.io/v1/": true,
		"/apis/apps/v1": false, "/api/v1/secrets": false, "/healthz": false,
		// kubectl validates manifests with the OpenAPI schemas.
		"/openapi/v3": true, "/openapi/v3/apis/widgets.example.io/v1": true,
		"/openapi/v3/apis/apps/v1": false, "/openapi/v2": false, "/openapi/v3/apis/widgets.example.io/v1/x": false, "/openapi/v3/api/v1": false,
		"/apis/widgets.example.io/v1/widgets": false,
	} {
		if got := s.isDiscovery(p); got != want {
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
