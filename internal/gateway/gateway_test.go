package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReadyz(t *testing.T) {
	healthy := true
	s := &Server{Version: "<b>v1</b>", Checks: []Check{{Name: "store", Func: func(context.Context) error {
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
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if strings.Contains(rec.Body.String(), "<b>") || rec.Header().Get("Content-Security-Policy") == "" {
		t.Fatalf("home page not escaped or without CSP: %s", rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nothing-here", nil))
	if rec.Code != 404 {
		t.Fatalf("unknown path: %d", rec.Code)
	}
}
