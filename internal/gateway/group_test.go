package gateway_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/gateway"
)

// widgets is an API group that exists only in this test: it is served
// through the gateway's exported interface, with no gateway file knowing it.
type widgets struct{ admitted []string }

func (w *widgets) Info() apigroup.Info {
	return apigroup.Info{Group: "widgets.example.io", Prefix: "/widgets", ClusterHeader: true}
}

func (w *widgets) Resources() []apigroup.Resource {
	return []apigroup.Resource{
		{Kind: "widget", TenantScoped: true, Patch: apigroup.PatchNoOne, NoPatch: "so that the test sees it whole"},
		{Kind: "secretwidget", AdminOnly: "secret widgets are for administrators"},
		{Kind: "hash", Hidden: "hashes are never served"},
	}
}

func (w *widgets) Validate(context.Context, *apigroup.Request) error { return nil }

func (w *widgets) Admit(_ context.Context, r *apigroup.Request) error {
	w.admitted = append(w.admitted, r.Attributes.Verb+" "+r.Attributes.Kind)
	if r.Object == nil {
		return nil
	}
	if r.Object.GetName() == "bad" {
		return apigroup.Invalid("widget %q is bad: name it otherwise", r.Object.GetName())
	}
	l := r.Object.GetLabels()
	l["admitted-by"] = "widgets"
	r.Object.SetLabels(l)
	return nil
}

func (w *widgets) Routes() []apigroup.Route {
	return []apigroup.Route{
		{Pattern: "POST /widgets/apis/widgets.example.io/v1/widgets/{name}/polish", Handler: func(rw http.ResponseWriter, r *http.Request, p *directory.Principal) {
			apigroup.WriteJSON(rw, http.StatusOK, map[string]string{"polished": r.PathValue("name"), "by": p.Name()})
		}},
		{Pattern: "GET /widgets/apis/widgets.example.io/v1/clusters/{id}/widgets", Handler: func(rw http.ResponseWriter, r *http.Request, _ *directory.Principal) {
			apigroup.WriteJSON(rw, http.StatusOK, map[string]string{"cluster": r.PathValue("id")})
		}},
	}
}

func (w *widgets) Indexes() []apigroup.Index          { return nil }
func (w *widgets) Controllers() []apigroup.Controller { return nil }

type targets struct{ global, member *gateway.Target }

func (t targets) Global() *gateway.Target { return t.global }
func (t targets) Target(name string) (*gateway.Target, error) {
	if name == t.member.Name {
		return t.member, nil
	}
	return nil, io.EOF
}

type as struct{ p *directory.Principal }

func (a as) Authenticate(*http.Request) (*directory.Principal, error) { return a.p, nil }

// recorder is an API server that answers every request with its own
// description, and keeps what it was sent.
type recorder struct {
	mu   sync.Mutex
	seen []string
	body map[string]any
	// extras are the last request's Impersonate-Extra- headers.
	extras map[string]string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.seen = append(rec.seen, r.Method+" "+r.URL.Path+" as "+r.Header.Get("Impersonate-User"))
	rec.extras = map[string]string{}
	for k := range r.Header {
		if key, ok := strings.CutPrefix(k, "Impersonate-Extra-"); ok {
			rec.extras[key] = r.Header.Get(k)
		}
	}
	rec.body = nil
	if data, _ := io.ReadAll(r.Body); len(data) > 0 {
		_ = json.Unmarshal(data, &rec.body)
	}
	apigroup.WriteJSON(w, http.StatusOK, map[string]any{"kind": "WidgetList", "apiVersion": "widgets.example.io/v1", "items": []any{}})
}

func (rec *recorder) last() string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.seen) == 0 {
		return ""
	}
	return rec.seen[len(rec.seen)-1]
}

func target(t *testing.T, name string, h http.Handler, global bool) *gateway.Target {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return &gateway.Target{Name: name, Server: u, Transport: http.DefaultTransport, Global: global, Tenant: "default"}
}

// TestNewGroupNeedsNoGatewayChange registers a group of the test's own and
// reaches its resources, its admission, its action and its cluster
// subresource route through the gateway's one pipeline.
func TestNewGroupNeedsNoGatewayChange(t *testing.T) {
	w := &widgets{}
	groups, err := apigroup.NewRegistry(w)
	if err != nil {
		t.Fatal(err)
	}
	global, member := &recorder{}, &recorder{}
	admin := &directory.Principal{Username: "admin", Tenant: "default", SuperAdmin: true}
	user := &directory.Principal{Username: "alice", Tenant: "default"}
	tg := targets{global: target(t, "global", global, true), member: target(t, "cls-a", member, false)}
	serve := func(p *directory.Principal, method, path, body string, hdr ...string) (int, string) {
		t.Helper()
		s := &gateway.Server{Groups: groups, Targets: tg, Decider: &decision.Decider{}, Auth: as{p}, Replica: "host-8443"}
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.TLS = &tls.ConnectionState{}
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, r)
		return rec.Code, rec.Body.String()
	}

	// The generic API: a list goes to the platform's store as the caller.
	if code, body := serve(admin, "GET", "/widgets/apis/widgets.example.io/v1/widgets", ""); code != 200 || !strings.Contains(body, "WidgetList") {
		t.Fatalf("list: %d %s", code, body)
	}
	if got := global.last(); got != "GET /apis/widgets.example.io/v1/widgets as admin" {
		t.Fatalf("the store saw %q", got)
	}
	// The global cluster's admission webhook learns the caller and the
	// replica from the extras (escaped as headers), never from the username.
	if want := map[string]string{"Kstack.io%2ftenant": "default", "Kstack.io%2fusername": "admin", "Kstack.io%2freplica": "host-8443"}; !maps.Equal(global.extras, want) {
		t.Fatalf("the store was sent extras %v, want %v", global.extras, want)
	}
	// A create is admitted by the group, after the gateway put it in the tenant.
	if code, body := serve(admin, "POST", "/widgets/apis/widgets.example.io/v1/widgets", `{"apiVersion":"widgets.example.io/v1","kind":"Widget","metadata":{"name":"w1"}}`); code != 200 {
		t.Fatalf("create: %d %s", code, body)
	}
	meta, _ := global.body["metadata"].(map[string]any)
	labels, _ := meta["labels"].(map[string]any)
	spec, _ := global.body["spec"].(map[string]any)
	if labels["admitted-by"] != "widgets" || labels[apigroup.LabelTenant] != "default" || spec["tenantID"] != "default" {
		t.Fatalf("the stored widget was not admitted and put in its tenant: %v", global.body)
	}
	// The group's refusal reaches the caller, and nothing the store.
	before := global.last()
	if code, body := serve(admin, "POST", "/widgets/apis/widgets.example.io/v1/widgets", `{"apiVersion":"widgets.example.io/v1","kind":"Widget","metadata":{"name":"bad"}}`); code != 422 || !strings.Contains(body, `widget \"bad\" is bad`) {
		t.Fatalf("refused create: %d %s", code, body)
	}
	if code, _ := serve(admin, "PATCH", "/widgets/apis/widgets.example.io/v1/widgets/w1", `{}`); code != 422 {
		t.Fatalf("a widget is never patched, got %d", code)
	}
	if len(global.seen) != 2 || global.last() != before {
		t.Fatalf("refused writes reached the store: %v", global.seen)
	}
	// The group's action, matched by method and path: a POST is the
	// action's, a GET of the same path is still the API's.
	if code, body := serve(admin, "POST", "/widgets/apis/widgets.example.io/v1/widgets/w1/polish", ""); code != 200 || !strings.Contains(body, `"polished":"w1"`) {
		t.Fatalf("action: %d %s", code, body)
	}
	if code, _ := serve(admin, "GET", "/widgets/apis/widgets.example.io/v1/widgets/w1/polish", ""); code != 200 || global.last() != "GET /apis/widgets.example.io/v1/widgets/w1/polish as admin" {
		t.Fatalf("GET of the action's path did not reach the API: %d, store saw %q", code, global.last())
	}
	// A cluster subresource route wins over X-TKE-ClusterName; other paths
	// with the header go to the member.
	if code, body := serve(admin, "GET", "/widgets/apis/widgets.example.io/v1/clusters/cls-a/widgets", "", gateway.ClusterHeader, "cls-a"); code != 200 || !strings.Contains(body, `"cluster":"cls-a"`) {
		t.Fatalf("cluster route: %d %s", code, body)
	}
	if len(member.seen) != 0 {
		t.Fatalf("the cluster route went to the member: %v", member.seen)
	}
	if code, body := serve(admin, "GET", "/widgets/api/v1/namespaces/default/pods", "", gateway.ClusterHeader, "cls-a"); code != 200 || member.last() != "GET /api/v1/namespaces/default/pods as admin" {
		t.Fatalf("header route: %d %s, member saw %v", code, body, member.seen)
	}
	// A member's credential may not impersonate extras: it gets none.
	if len(member.extras) != 0 {
		t.Fatalf("the member was sent extras %v", member.extras)
	}
	// Admin-only and hidden kinds, and paths outside every group.
	if code, body := serve(user, "GET", "/widgets/apis/widgets.example.io/v1/secretwidgets", ""); code != 403 || !strings.Contains(body, "for administrators") {
		t.Fatalf("admin-only kind for a user: %d %s", code, body)
	}
	if code, body := serve(admin, "GET", "/widgets/apis/widgets.example.io/v1/hashes/h", ""); code != 403 || !strings.Contains(body, "never served") {
		t.Fatalf("hidden kind for an administrator: %d %s", code, body)
	}
	if code, _ := serve(admin, "GET", "/gadgets/apis/widgets.example.io/v1/widgets", ""); code != 404 {
		t.Fatalf("a path outside the groups: %d", code)
	}
	// A group's path without its prefix, as TKEStack's API servers serve
	// them: the API and the group's actions alike; another group's is not.
	if code, _ := serve(admin, "GET", "/apis/widgets.example.io/v1/widgets/w2", ""); code != 200 || global.last() != "GET /apis/widgets.example.io/v1/widgets/w2 as admin" {
		t.Fatalf("an unprefixed path: %d, store saw %q", code, global.last())
	}
	if code, body := serve(admin, "POST", "/apis/widgets.example.io/v1/widgets/w1/polish", ""); code != 200 || !strings.Contains(body, `"polished":"w1"`) {
		t.Fatalf("an unprefixed action: %d %s", code, body)
	}
	if code, body := serve(admin, "GET", "/apis/gadgets.example.io/v1/gadgets", ""); code != 404 || !strings.Contains(body, "under /widgets") {
		t.Fatalf("an unprefixed path of no group: %d %s", code, body)
	}
	if code, _ := serve(admin, "GET", "/widgets/apis/x/../../platform", ""); code != 400 {
		t.Fatalf("a dot segment: %d", code)
	}
	if strings.Join(w.admitted, ",") != "create widget,create widget,patch widget" {
		t.Fatalf("admission calls %v", w.admitted)
	}
}

func TestRegistryRefusesClashes(t *testing.T) {
	if _, err := apigroup.NewRegistry(&widgets{}, &widgets{}); err == nil || !strings.Contains(err.Error(), "registered twice") {
		t.Fatalf("a group twice: %v", err)
	}
	clash := &clashing{}
	if _, err := apigroup.NewRegistry(clash); err == nil || !strings.Contains(err.Error(), "route") {
		t.Fatalf("overlapping routes: %v", err)
	}
}

// clashing registers two routes for one pattern.
type clashing struct{ widgets }

func (c *clashing) Info() apigroup.Info {
	return apigroup.Info{Group: "clash.example.io", Prefix: "/clash"}
}
func (c *clashing) Routes() []apigroup.Route {
	h := func(http.ResponseWriter, *http.Request, *directory.Principal) {}
	return []apigroup.Route{{Pattern: "/clash/a/{x}", Handler: h}, {Pattern: "/clash/a/{y}", Handler: h}}
}
