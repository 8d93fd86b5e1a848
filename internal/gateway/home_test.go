package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestHome(t *testing.T) {
	console := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := (&Server{Console: console}).Handler()
	get := func(accept string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}

	// A browser goes to the console.
	rec := get("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/console/" {
		t.Fatalf("browser: %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	if rec.Header().Get("Content-Security-Policy") == "" {
		t.Error("no security headers on the redirect")
	}

	// curl, kubectl get --raw /: the entry points, as JSON.
	for _, accept := range []string{"", "*/*", "application/json, */*"} {
		rec = get(accept)
		var root struct{ Paths []string }
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || json.Unmarshal(rec.Body.Bytes(), &root) != nil {
			t.Fatalf("Accept %q: %d %s %s", accept, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		if !slices.Contains(root.Paths, "/console/") || !slices.Contains(root.Paths, "/healthz") {
			t.Errorf("Accept %q: paths %v", accept, root.Paths)
		}
	}

	// Without a console (a gateway in tests), no redirect to nowhere.
	rec = httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Accept", "text/html")
	(&Server{}).Handler().ServeHTTP(rec, r)
	if rec.Code != 200 {
		t.Fatalf("no console: %d", rec.Code)
	}

	// The health endpoints are unchanged.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != 200 || rec.Body.String() != "ok\n" {
		t.Fatalf("/healthz: %d %q", rec.Code, rec.Body)
	}
}
