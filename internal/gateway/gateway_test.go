package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kstack/kstack/internal/auth/authn"
	"github.com/kstack/kstack/internal/auth/directory"
)

func TestReadyz(t *testing.T) {
	healthy := true
	s := &Server{Checks: []Check{{Name: "store", Func: func(context.Context) error {
		if healthy {
			return nil
		}
		return errors.New("unreachable")
	}}}}
	h := s.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "[+]store ok") {
		t.Fatalf("ready: %d %s", rec.Code, rec.Body)
	}
	healthy = false
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "[-]store failed: unreachable") {
		t.Fatalf("not ready: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nothing-here", nil))
	if rec.Code != 404 {
		t.Fatalf("unknown path: %d", rec.Code)
	}
}

func TestCleanMemberPath(t *testing.T) {
	good := map[string]string{"": "/", "/api/v1/pods": "/api/v1/pods", "/api/v1/": "/api/v1/", "/apis/apps/v1/namespaces/x/deployments": "/apis/apps/v1/namespaces/x/deployments"}
	for in, want := range good {
		if got, err := cleanMemberPath(in); err != nil || got != want {
			t.Errorf("%q: got %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"/../platform", "/api/../../x", "/api%2Fv1", "/api/%2e%2e/x", "/a\\b", "/./api", "/api/v1/%5c"} {
		if _, err := cleanMemberPath(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCreatesWorkload(t *testing.T) {
	cases := map[string]bool{
		"POST /api/v1/namespaces/d/pods":                   true,
		"POST /apis/apps/v1/namespaces/d/deployments":      true,
		"POST /apis/batch/v1/namespaces/d/cronjobs":        true,
		"POST /api/v1/namespaces/d/configmaps":             false,
		"GET /api/v1/namespaces/d/pods":                    false,
		"PATCH /apis/apps/v1/namespaces/d/deployments/web": false,
		"POST /api/v1/namespaces/d/pods/web/eviction":      false,
	}
	for in, want := range cases {
		method, p, _ := strings.Cut(in, " ")
		if got := createsWorkload(method, p); got != want {
			t.Errorf("%s: got %v, want %v", in, got, want)
		}
	}
}

func TestUnauthenticated(t *testing.T) {
	s := &Server{Auth: &authn.Authenticator{AdminTokenHash: sha256.Sum256([]byte("secret-token"))}}
	for _, tok := range []string{"", "Bearer wrong", "Basic YWRtaW46YWRtaW4="} {
		req := httptest.NewRequest(http.MethodGet, "/platform/api/v1/namespaces", nil)
		if tok != "" {
			req.Header.Set("Authorization", tok)
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != 401 || !strings.Contains(rec.Body.String(), `"kind":"Status"`) {
			t.Fatalf("%q: %d %s", tok, rec.Code, rec.Body)
		}
	}
}

func TestMemberGroups(t *testing.T) {
	g := memberGroups(&directory.Principal{Username: "alice", Groups: []string{"system:masters", "dev"}})
	if strings.Join(g, ",") != "kstack:platform-users,dev" {
		t.Fatalf("groups %v: system: groups must never be forwarded", g)
	}
}
