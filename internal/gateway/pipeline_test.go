package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/platformscheme"
)

// pipeGroup is a group of the pipeline tests: it declares the resources a
// test gives it and records what its Admit is called with.
type pipeGroup struct {
	group string
	res   []apigroup.Resource
	// admit, when set, is the group's admission; calls records each call.
	admit func(r *apigroup.Request) error
	calls []*apigroup.Request
}

func (g *pipeGroup) Info() apigroup.Info {
	return apigroup.Info{Group: g.group, Prefix: "/pipe-" + strings.Split(g.group, ".")[0]}
}
func (g *pipeGroup) Resources() []apigroup.Resource                    { return g.res }
func (g *pipeGroup) Validate(context.Context, *apigroup.Request) error { return nil }

func (g *pipeGroup) Admit(_ context.Context, r *apigroup.Request) error {
	g.calls = append(g.calls, r)
	if g.admit != nil {
		return g.admit(r)
	}
	return nil
}
func (g *pipeGroup) Routes() []apigroup.Route           { return nil }
func (g *pipeGroup) Indexes() []apigroup.Index          { return nil }
func (g *pipeGroup) Controllers() []apigroup.Controller { return nil }

var (
	pipeAdmin = &directory.Principal{Username: "admin", Tenant: "default", SuperAdmin: true}
	pipeAlice = &directory.Principal{Username: "alice", Tenant: "t1"}
)

// platformAttrs maps a request on the platform API as the gateway does.
func platformAttrs(t *testing.T, method, target string) attributes.Attributes {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	a, err := attributes.Platform(r, r.URL.Path)
	if err != nil {
		t.Fatalf("attributes of %s %s: %v", method, target, err)
	}
	return a
}

// refusal is err as an *apigroup.Error with code, whose message holds
// every fragment.
func refusal(t *testing.T, err error, code int, fragments ...string) {
	t.Helper()
	var e *apigroup.Error
	if !errors.As(err, &e) {
		t.Fatalf("want a %d refusal, got %v (%T)", code, err, err)
	}
	if e.Code != code {
		t.Fatalf("want code %d, got %d: %s", code, e.Code, e.Msg)
	}
	for _, f := range fragments {
		if !strings.Contains(e.Msg, f) {
			t.Fatalf("the refusal %q does not say %q", e.Msg, f)
		}
	}
}

func pipeScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	return platformscheme.New()
}

// pipeMapper maps the kinds tenantOf is asked about, singular and plural,
// as the API server's discovery does.
func pipeMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	add := func(gv schema.GroupVersion, kind, singular, plural string, scope meta.RESTScope) {
		m.AddSpecific(gv.WithKind(kind), gv.WithResource(plural), gv.WithResource(singular), scope)
	}
	add(authv1.GroupVersion, "User", "user", "users", meta.RESTScopeRoot)
	add(authv1.GroupVersion, "IdentityProvider", "identityprovider", "identityproviders", meta.RESTScopeRoot)
	add(platformv1.GroupVersion, "Cluster", "cluster", "clusters", meta.RESTScopeRoot)
	add(businessv1.GroupVersion, "Namespace", "namespace", "namespaces", meta.RESTScopeNamespace)
	return m
}

func labelled(tenant string) map[string]string {
	if tenant == "" {
		return nil
	}
	return map[string]string{apigroup.LabelTenant: tenant}
}

func pipeUser(name, label, specTenant string) *authv1.User {
	return &authv1.User{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labelled(label)},
		Spec: authv1.UserSpec{TenantID: specTenant, Username: name[strings.Index(name, ".")+1:]}}
}

func TestTenantOf(t *testing.T) {
	sch := pipeScheme(t)
	cache := fake.NewClientBuilder().WithScheme(sch).WithObjects(
		pipeUser("t1.alice", "t1", "t9"), // the label wins over spec.tenantID
		pipeUser("t2.bob", "", "t2"),
		pipeUser("t1.nobody", "", ""),
		&authv1.IdentityProvider{ObjectMeta: metav1.ObjectMeta{Name: "t3"}, Spec: authv1.IdentityProviderSpec{Type: authv1.IdentityProviderOIDC}},
		&platformv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "cls-x"}},
		&businessv1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns-1", Namespace: "prj-1", Labels: labelled("t5")}},
	).Build()
	// The API server has one user the cache has not seen yet.
	live := fake.NewClientBuilder().WithScheme(sch).WithObjects(pipeUser("t4.dave", "t4", "t4")).Build()
	s := &Server{Client: cache, Reader: live, Mapper: pipeMapper()}

	user := apigroup.Resource{Kind: "user", Version: "v1", TenantScoped: true}
	idp := apigroup.Resource{Kind: "identityprovider", Version: "v1", TenantIsName: true}
	cluster := apigroup.Resource{Kind: "cluster", Version: "v1", TenantScoped: true}
	ns := apigroup.Resource{Kind: "namespace", Version: "v1", TenantScoped: true}
	for _, tc := range []struct {
		what   string
		res    apigroup.Resource
		path   string
		tenant string
		found  bool
	}{
		{"the label", user, "/apis/auth.tkestack.io/v1/users/t1.alice", "t1", true},
		{"spec.tenantID without a label", user, "/apis/auth.tkestack.io/v1/users/t2.bob", "t2", true},
		{"neither: the default tenant", user, "/apis/auth.tkestack.io/v1/users/t1.nobody", apigroup.DefaultTenant, true},
		{"the name is the tenant", idp, "/apis/auth.tkestack.io/v1/identityproviders/t3", "t3", true},
		{"the name is not the tenant of a kind that does not say so", apigroup.Resource{Kind: "identityprovider", Version: "v1"},
			"/apis/auth.tkestack.io/v1/identityproviders/t3", apigroup.DefaultTenant, true},
		{"a cluster with no tenant", cluster, "/apis/platform.tkestack.io/v1/clusters/cls-x", apigroup.DefaultTenant, true},
		{"only the API server has it", user, "/apis/auth.tkestack.io/v1/users/t4.dave", "t4", true},
		{"a namespaced kind, in its namespace", ns, "/apis/business.tkestack.io/v1/namespaces/prj-1/namespaces/ns-1", "t5", true},
		{"a namespaced kind, in another namespace", ns, "/apis/business.tkestack.io/v1/namespaces/prj-2/namespaces/ns-1", "", false},
		{"no such object", user, "/apis/auth.tkestack.io/v1/users/t1.ghost", "", false},
		{"a kind the mapper does not know", apigroup.Resource{Kind: "gadget", Version: "v1"}, "/apis/auth.tkestack.io/v1/gadgets/g", "", false},
		{"a version the mapper does not know", apigroup.Resource{Kind: "user", Version: "v9"}, "/apis/auth.tkestack.io/v1/users/t1.alice", "", false},
	} {
		t.Run(tc.what, func(t *testing.T) {
			tenant, found, err := s.tenantOf(context.Background(), tc.res, platformAttrs(t, "GET", tc.path))
			if err != nil || found != tc.found || tenant != tc.tenant {
				t.Fatalf("tenantOf = %q, %v, %v; want %q, %v", tenant, found, err, tc.tenant, tc.found)
			}
		})
	}
}

// An error other than not-found is an error, not a missing object (the
// gateway answers 503 rather than 404).
func TestTenantOfReadError(t *testing.T) {
	sch := pipeScheme(t)
	broken := fake.NewClientBuilder().WithScheme(sch).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return apierrors.NewServiceUnavailable("etcd is away")
		},
	}).Build()
	live := fake.NewClientBuilder().WithScheme(sch).WithObjects(pipeUser("t1.alice", "t1", "t1")).Build()
	a := platformAttrs(t, "GET", "/apis/auth.tkestack.io/v1/users/t1.alice")
	res := apigroup.Resource{Kind: "user", Version: "v1", TenantScoped: true}

	// The cache fails: the API server is not asked instead.
	s := &Server{Client: broken, Reader: live, Mapper: pipeMapper()}
	if _, found, err := s.tenantOf(context.Background(), res, a); err == nil || found || !strings.Contains(err.Error(), "etcd is away") || !strings.Contains(err.Error(), "reading user t1.alice") {
		t.Fatalf("a failing cache: found=%v err=%v", found, err)
	}
	// The cache has not seen it and the API server fails.
	empty := fake.NewClientBuilder().WithScheme(sch).Build()
	s = &Server{Client: empty, Reader: broken, Mapper: pipeMapper()}
	if _, found, err := s.tenantOf(context.Background(), res, a); err == nil || found {
		t.Fatalf("a failing API server: found=%v err=%v", found, err)
	}
}

// admitReq is a create or update request with body and content type.
func admitReq(method, target, ct string, body io.Reader) *http.Request {
	r := httptest.NewRequest(method, target, body)
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	return r
}

const widgetsPath = "/apis/widgets.example.io/v1/widgets"

// admitOnce runs admit on a widget create by p and decodes what it
// produced.
func admitOnce(t *testing.T, mod apigroup.Module, res apigroup.Resource, p *directory.Principal, body string) (*unstructured.Unstructured, *apigroup.Request, error) {
	t.Helper()
	s := &Server{}
	req := &apigroup.Request{Principal: p, Attributes: platformAttrs(t, "POST", widgetsPath)}
	out, err := s.admit(context.Background(), admitReq("POST", widgetsPath, "application/json", strings.NewReader(body)), mod, res, req)
	if err != nil {
		return nil, req, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(out); err != nil {
		t.Fatalf("admit produced %q: %v", out, err)
	}
	return u, req, nil
}

func tenantOfObject(t *testing.T, u *unstructured.Unstructured) (label, spec string, hasSpec bool) {
	t.Helper()
	spec, _, _ = unstructured.NestedString(u.Object, "spec", "tenantID")
	_, hasSpec = u.Object["spec"]
	return u.GetLabels()[apigroup.LabelTenant], spec, hasSpec
}

const widgetJSON = `{"apiVersion":"widgets.example.io/v1","kind":"Widget","metadata":{"name":"w1"%s}%s}`

func widget(meta, rest string) string {
	return strings.Replace(strings.Replace(widgetJSON, "%s", meta, 1), "%s", rest, 1)
}

func TestAdmitReadsOnlyJSONBodies(t *testing.T) {
	s := &Server{}
	g := &pipeGroup{group: "widgets.example.io"}
	res := apigroup.Resource{Kind: "widget", TenantScoped: true}
	admit := func(ct string, body io.Reader) error {
		req := &apigroup.Request{Principal: pipeAlice, Attributes: platformAttrs(t, "POST", widgetsPath)}
		_, err := s.admit(context.Background(), admitReq("POST", widgetsPath, ct, body), g, res, req)
		return err
	}
	refusal(t, admit("application/yaml", strings.NewReader(widget("", ""))), http.StatusUnsupportedMediaType, "application/json", "not application/yaml")
	refusal(t, admit("application/vnd.kubernetes.protobuf", strings.NewReader(widget("", ""))), http.StatusUnsupportedMediaType)

	// One byte over the limit is refused; a body of exactly the limit is read.
	big := widget("", "") + strings.Repeat(" ", maxBody-len(widget("", "")))
	if len(big) != maxBody {
		t.Fatalf("test body of %d bytes", len(big))
	}
	refusal(t, admit("application/json", strings.NewReader(big+" ")), http.StatusRequestEntityTooLarge, "larger than 4194304 bytes")
	if err := admit("application/json", strings.NewReader(big)); err != nil {
		t.Fatalf("a body of exactly %d bytes: %v", maxBody, err)
	}

	refusal(t, admit("application/json", strings.NewReader(`{"apiVersion":`)), http.StatusBadRequest, "not a valid object")
	refusal(t, admit("application/json", strings.NewReader(`{"metadata":{"name":"w1"}}`)), http.StatusBadRequest, "not a valid object")
	if len(g.calls) != 1 {
		t.Fatalf("the group admitted %d requests; only the body within the limit reaches it", len(g.calls))
	}

	// No content type, or JSON with parameters, is JSON.
	for _, ct := range []string{"", "application/json; charset=utf-8"} {
		if err := admit(ct, strings.NewReader(widget("", ""))); err != nil {
			t.Fatalf("content type %q: %v", ct, err)
		}
	}
}

func TestAdmitPutsObjectsInTheirTenant(t *testing.T) {
	res := apigroup.Resource{Kind: "widget", TenantScoped: true}
	g := &pipeGroup{group: "widgets.example.io"}

	// A user's object lands in the user's tenant, whatever its label says.
	u, _, err := admitOnce(t, g, res, pipeAlice, widget(`,"labels":{"team":"red","kstack.io/tenant":"t2"}`, ""))
	if err != nil {
		t.Fatal(err)
	}
	if label, spec, _ := tenantOfObject(t, u); label != "t1" || spec != "t1" || u.GetLabels()["team"] != "red" {
		t.Fatalf("a user's widget: labels %v, spec.tenantID %q", u.GetLabels(), spec)
	}
	// Naming the user's own tenant is fine.
	if u, _, err := admitOnce(t, g, res, pipeAlice, widget("", `,"spec":{"tenantID":"t1","size":3}`)); err != nil {
		t.Fatal(err)
	} else if label, spec, _ := tenantOfObject(t, u); label != "t1" || spec != "t1" || u.Object["spec"].(map[string]any)["size"] != int64(3) {
		t.Fatalf("a user's widget in its own tenant: %v", u.Object)
	}
	// Another tenant is refused before the group is asked.
	before := len(g.calls)
	_, _, err = admitOnce(t, g, res, pipeAlice, widget("", `,"spec":{"tenantID":"t2"}`))
	refusal(t, err, http.StatusForbidden, `into tenant "t2"`)
	if len(g.calls) != before {
		t.Fatal("a refused widget reached the group's admission")
	}

	// An administrator may name another tenant, or take their own.
	u, _, err = admitOnce(t, g, res, pipeAdmin, widget("", `,"spec":{"tenantID":"t2"}`))
	if err != nil {
		t.Fatal(err)
	}
	if label, spec, _ := tenantOfObject(t, u); label != "t2" || spec != "t2" {
		t.Fatalf("an administrator's widget for t2: labels %v, spec.tenantID %q", u.GetLabels(), spec)
	}
	u, _, err = admitOnce(t, g, res, pipeAdmin, widget(`,"labels":{"kstack.io/tenant":"t2"}`, ""))
	if err != nil {
		t.Fatal(err)
	}
	if label, spec, _ := tenantOfObject(t, u); label != "default" || spec != "default" {
		t.Fatalf("an administrator's widget naming no tenant in its spec: labels %v, spec.tenantID %q", u.GetLabels(), spec)
	}
	// But only a valid tenant.
	for _, bad := range []string{"Not_A_Tenant", "kstack-system"} {
		_, _, err = admitOnce(t, g, res, pipeAdmin, widget("", `,"spec":{"tenantID":"`+bad+`"}`))
		refusal(t, err, http.StatusUnprocessableEntity, "spec.tenantID", bad)
	}

	// A kind that is not tenant-scoped is left as sent.
	u, _, err = admitOnce(t, g, apigroup.Resource{Kind: "widget"}, pipeAlice, widget(`,"labels":{"kstack.io/tenant":"t2"}`, ""))
	if err != nil {
		t.Fatal(err)
	}
	if label, _, hasSpec := tenantOfObject(t, u); label != "t2" || hasSpec {
		t.Fatalf("a widget of no tenant was changed: %v", u.Object)
	}
}

func TestAdmitSpecOptional(t *testing.T) {
	g := &pipeGroup{group: "widgets.example.io"}
	optional := apigroup.Resource{Kind: "widget", TenantScoped: true, SpecOptional: true}
	u, _, err := admitOnce(t, g, optional, pipeAlice, widget("", ""))
	if err != nil {
		t.Fatal(err)
	}
	if label, _, hasSpec := tenantOfObject(t, u); label != "t1" || hasSpec {
		t.Fatalf("a widget without a spec of a kind whose spec is optional: %v", u.Object)
	}
	// One with a spec still carries its tenant there.
	u, _, err = admitOnce(t, g, optional, pipeAlice, widget("", `,"spec":{"size":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if label, spec, _ := tenantOfObject(t, u); label != "t1" || spec != "t1" {
		t.Fatalf("a widget with a spec: %v", u.Object)
	}
	// A kind whose spec is not optional gets one.
	u, _, err = admitOnce(t, g, apigroup.Resource{Kind: "widget", TenantScoped: true}, pipeAlice, widget("", ""))
	if err != nil {
		t.Fatal(err)
	}
	if label, spec, _ := tenantOfObject(t, u); label != "t1" || spec != "t1" {
		t.Fatalf("a widget without a spec of a kind that has one: %v", u.Object)
	}
}

func TestAdmitAsksTheGroup(t *testing.T) {
	res := apigroup.Resource{Kind: "widget", TenantScoped: true}
	var seen map[string]any
	g := &pipeGroup{group: "widgets.example.io", admit: func(r *apigroup.Request) error {
		seen = r.Object.DeepCopy().Object
		if r.Object.GetName() == "bad" {
			return apigroup.Invalid("widget %q is bad", r.Object.GetName())
		}
		ann := r.Object.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann["admitted-by"] = "pipe"
		r.Object.SetAnnotations(ann)
		return unstructured.SetNestedField(r.Object.Object, "large", "spec", "size")
	}}
	u, req, err := admitOnce(t, g, res, pipeAlice, widget("", `,"spec":{"colour":"blue"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.calls) != 1 || g.calls[0] != req || req.Object == nil || req.Principal != pipeAlice || req.Attributes.Action != "createWidget" {
		t.Fatalf("the group was asked %d times, with %+v", len(g.calls), g.calls)
	}
	// The group sees the decoded body, already in the caller's tenant.
	if seen["metadata"].(map[string]any)["name"] != "w1" || seen["spec"].(map[string]any)["colour"] != "blue" || seen["spec"].(map[string]any)["tenantID"] != "t1" {
		t.Fatalf("the group saw %v", seen)
	}
	// What it changed is what is sent on.
	if u.GetAnnotations()["admitted-by"] != "pipe" || u.Object["spec"].(map[string]any)["size"] != "large" || u.Object["spec"].(map[string]any)["colour"] != "blue" {
		t.Fatalf("the group's changes are not in the body: %v", u.Object)
	}

	// Its refusal is the answer, as it made it.
	_, _, err = admitOnce(t, g, res, pipeAlice, `{"apiVersion":"widgets.example.io/v1","kind":"Widget","metadata":{"name":"bad"}}`)
	refusal(t, err, http.StatusUnprocessableEntity, `widget "bad" is bad`)

	// A kind of no group is still read and put in its tenant.
	u, _, err = admitOnce(t, nil, res, pipeAlice, widget("", ""))
	if err != nil {
		t.Fatal(err)
	}
	if label, spec, _ := tenantOfObject(t, u); label != "t1" || spec != "t1" {
		t.Fatalf("without a group: %v", u.Object)
	}
}

// patchReq is a PATCH of target with body.
func patchReq(t *testing.T, target, body string) (*http.Request, attributes.Attributes) {
	t.Helper()
	r := httptest.NewRequest("PATCH", target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/merge-patch+json")
	return r, platformAttrs(t, "PATCH", target)
}

func TestAdmitPatchRules(t *testing.T) {
	s := &Server{}
	g := &pipeGroup{group: "widgets.example.io"}
	noOne := apigroup.Resource{Kind: "widget", TenantScoped: true, Patch: apigroup.PatchNoOne, NoPatch: "so that the whole widget is checked"}
	admins := apigroup.Resource{Kind: "widget", TenantScoped: true, Patch: apigroup.PatchAdmins, NoPatch: "so that gadgets are seen whole"}
	anyone := apigroup.Resource{Kind: "widget", TenantScoped: true}
	patch := func(p *directory.Principal, res apigroup.Resource, target, body string) error {
		_, a := patchReq(t, target, body)
		return s.admitPatch(context.Background(), g, res, &apigroup.Request{Principal: p, Attributes: a})
	}
	const obj, status, scale = widgetsPath + "/w1", widgetsPath + "/w1/status", widgetsPath + "/w1/scale"
	const benign = `{"spec":{"size":2}}`

	for _, p := range []*directory.Principal{pipeAdmin, pipeAlice} {
		refusal(t, patch(p, noOne, obj, benign), http.StatusUnprocessableEntity, "widgets cannot be patched", "so that the whole widget is checked", "replace")
		// Subresources are not the object itself.
		if err := patch(p, noOne, status, benign); err != nil {
			t.Fatalf("%s patching a status: %v", p.Username, err)
		}
		if err := patch(p, noOne, scale, benign); err != nil {
			t.Fatalf("%s patching a scale: %v", p.Username, err)
		}
		if err := patch(p, anyone, obj, benign); err != nil {
			t.Fatalf("%s patching a patchable widget: %v", p.Username, err)
		}
	}
	refusal(t, patch(pipeAlice, admins, obj, benign), http.StatusUnprocessableEntity, "so that gadgets are seen whole")
	if err := patch(pipeAdmin, admins, obj, benign); err != nil {
		t.Fatalf("an administrator patching an admins-only widget: %v", err)
	}
	if err := patch(pipeAlice, admins, status, benign); err != nil {
		t.Fatalf("a user patching the status of an admins-only widget: %v", err)
	}
	// The group is asked first, on every patch, without an object.
	if len(g.calls) != 11 {
		t.Fatalf("the group was asked %d times, want 11", len(g.calls))
	}
	for _, c := range g.calls {
		if c.Object != nil || c.Attributes.Verb != "patch" {
			t.Fatalf("the group was asked about %+v", c)
		}
	}
	g.admit = func(*apigroup.Request) error { return apigroup.Refuse(http.StatusConflict, "widget is busy") }
	refusal(t, patch(pipeAdmin, anyone, obj, benign), http.StatusConflict, "widget is busy")
}

// listStore is the global cluster's API server for the list tests: it
// answers lists of users with three users of two tenants (with status,
// when set, rather than 200) and records the requests.
type listStore struct {
	mu     sync.Mutex
	status int
	reqs   []*http.Request
}

func (st *listStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.reqs = append(st.reqs, r.Clone(context.Background()))
	item := func(name, tenant string) map[string]any {
		return map[string]any{"apiVersion": "auth.tkestack.io/v1", "kind": "User",
			"metadata": map[string]any{"name": name, "labels": map[string]any{apigroup.LabelTenant: tenant}},
			"spec":     map[string]any{"tenantID": tenant}}
	}
	code := http.StatusOK
	if st.status != 0 {
		code = st.status
	}
	apigroup.WriteJSON(w, code, map[string]any{"apiVersion": "auth.tkestack.io/v1", "kind": "UserList",
		"metadata": map[string]any{"resourceVersion": "7"},
		"items":    []any{item("t1.alice", "t1"), item("t1.bob", "t1"), item("t2.carol", "t2")}})
}

func (st *listStore) seen() []*http.Request {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.reqs)
}

type pipeTargets struct{ global *Target }

func (t pipeTargets) Global() *Target { return t.global }
func (t pipeTargets) Target(name string) (*Target, error) {
	return nil, errors.New("no member clusters here")
}

// listFixture is a gateway whose decision point knows tenant t1's alice,
// who may get users t1.bob and t2.carol by name (the latter is another
// tenant's, so not hers to read) and, in project prj-1, everything.
func listFixture(t *testing.T) (*Server, *listStore) {
	t.Helper()
	sch := pipeScheme(t)
	c := fake.NewClientBuilder().WithScheme(sch).WithObjects(
		&authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "read-bob", Labels: labelled("t1")},
			Spec: authv1.PolicySpec{TenantID: "t1", Scope: authv1.ScopePlatform, Statements: []authv1.Statement{
				{Actions: []string{"getUser"}, Resources: []string{"user:t1.bob", "user:t2.carol"}, Effect: "allow"},
				{Actions: []string{"getNamespace"}, Resources: []string{"namespace:prj-9/namespace:cls-a-db"}, Effect: "allow"},
			}}},
		&authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "in-project", Labels: labelled("t1")},
			Spec: authv1.PolicySpec{TenantID: "t1", Scope: authv1.ScopeProject, Statements: []authv1.Statement{
				{Actions: []string{"get*"}, Resources: []string{"*"}, Effect: "allow"},
			}}},
		&authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-reads-bob", Labels: labelled("t1")},
			Spec: authv1.PolicyBindingSpec{TenantID: "t1", PolicyName: "read-bob", Users: []string{"alice"}}},
		&authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-in-prj-1", Labels: labelled("t1")},
			Spec: authv1.PolicyBindingSpec{TenantID: "t1", PolicyName: "in-project", Users: []string{"alice"}, ProjectID: "prj-1"}},
	).Build()
	users := &pipeGroup{group: "auth.tkestack.io", res: []apigroup.Resource{{Kind: "user", TenantScoped: true}}}
	projects := &pipeGroup{group: "business.tkestack.io", res: []apigroup.Resource{
		{Kind: "project", TenantScoped: true, Project: func(a attributes.Attributes) string { return a.Name }},
		{Kind: "namespace", TenantScoped: true, Project: func(a attributes.Attributes) string { return a.Namespace }},
	}}
	groups, err := apigroup.NewRegistry(users, projects)
	if err != nil {
		t.Fatal(err)
	}
	store := &listStore{}
	srv := httptest.NewServer(store)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL + "/base/")
	global := &Target{Name: apigroup.GlobalCluster, Server: u, Transport: http.DefaultTransport, Global: true}
	return &Server{Groups: groups, Targets: pipeTargets{global}, Decider: &decision.Decider{Dir: &directory.Directory{Client: c}}}, store
}

func TestItemAllowed(t *testing.T) {
	s, _ := listFixture(t)
	ctx := context.Background()
	list := platformAttrs(t, "GET", "/apis/auth.tkestack.io/v1/users")
	for _, tc := range []struct {
		p            *directory.Principal
		name, tenant string
		want         bool
	}{
		{pipeAlice, "t1.bob", "t1", true},
		{pipeAlice, "t1.alice", "t1", false},
		// Named in her policy, but another tenant's: as a get, not found.
		{pipeAlice, "t2.carol", "t2", false},
		{&directory.Principal{Username: "erin", Tenant: "t1"}, "t1.bob", "t1", false},
		{pipeAdmin, "t2.carol", "t2", true},
	} {
		if got := s.ItemAllowed(ctx, tc.p, list, "", tc.name, tc.tenant); got != tc.want {
			t.Errorf("%s reading %s of %s: %v, want %v", tc.p.Name(), tc.name, tc.tenant, got, tc.want)
		}
	}
	// The item's project is the kind's, as for a get by name: alice reads
	// everything in prj-1 only.
	projects := platformAttrs(t, "GET", "/apis/business.tkestack.io/v1/projects")
	if !s.ItemAllowed(ctx, pipeAlice, projects, "", "prj-1", "t1") {
		t.Error("alice may read project prj-1, in which she may read everything")
	}
	if s.ItemAllowed(ctx, pipeAlice, projects, "", "prj-2", "t1") {
		t.Error("alice may read project prj-2, where she holds nothing")
	}
	// A namespaced item is decided in its own namespace (and so its
	// project), on the resource a get by name has.
	nss := platformAttrs(t, "GET", "/apis/business.tkestack.io/v1/namespaces")
	for _, tc := range []struct {
		ns, name string
		want     bool
	}{{"prj-1", "cls-a-web", true}, {"prj-2", "cls-a-web", false}, {"prj-9", "cls-a-db", true}, {"prj-8", "cls-a-db", false}} {
		if got := s.ItemAllowed(ctx, pipeAlice, nss, tc.ns, tc.name, "t1"); got != tc.want {
			t.Errorf("alice reading namespace %s/%s: %v, want %v", tc.ns, tc.name, got, tc.want)
		}
	}
}

// filtered runs filteredList for p on target.
func filtered(t *testing.T, s *Server, p *directory.Principal, res apigroup.Resource, target string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	a, err := attributes.Platform(r, r.URL.Path)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	s.filteredList(w, r, p, s.Targets.Global(), r.URL.Path, res, a)
	return w
}

func listedNames(t *testing.T, w *httptest.ResponseRecorder) []string {
	t.Helper()
	var list unstructured.UnstructuredList
	if err := list.UnmarshalJSON(w.Body.Bytes()); err != nil {
		t.Fatalf("the answer is not a list: %v: %s", err, w.Body)
	}
	var names []string
	for _, it := range list.Items {
		names = append(names, it.GetName())
	}
	return names
}

func TestFilteredList(t *testing.T) {
	s, store := listFixture(t)
	users := apigroup.Resource{Kind: "user", TenantScoped: true}

	w := filtered(t, s, pipeAlice, users, "/apis/auth.tkestack.io/v1/users?limit=50")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("filtered list: %d %s", w.Code, w.Body)
	}
	if names := listedNames(t, w); !slices.Equal(names, []string{"t1.bob"}) {
		t.Fatalf("alice got %v, want only t1.bob", names)
	}
	seen := store.seen()
	if len(seen) != 1 {
		t.Fatalf("the store was asked %d times", len(seen))
	}
	got := seen[0]
	q := got.URL.Query()
	if got.Method != "GET" || got.URL.Path != "/base/apis/auth.tkestack.io/v1/users" || q.Get("labelSelector") != "kstack.io/tenant=t1" || q.Get("limit") != "50" {
		t.Fatalf("the store was asked %s %s", got.Method, got.URL)
	}
	if got.Header.Get("Impersonate-User") != "t1:alice" || !slices.Contains(got.Header.Values("Impersonate-Group"), apigroup.ProxyGroup) || got.Header.Get("Authorization") != "" {
		t.Fatalf("the store was asked as %q %v (Authorization %q)", got.Header.Get("Impersonate-User"), got.Header.Values("Impersonate-Group"), got.Header.Get("Authorization"))
	}

	// The caller's own selector is kept, and the tenant's added to it.
	filtered(t, s, pipeAlice, users, "/apis/auth.tkestack.io/v1/users?labelSelector=team%3Dred")
	if sel := store.seen()[1].URL.Query().Get("labelSelector"); sel != "team=red,kstack.io/tenant=t1" {
		t.Fatalf("the store was asked with the selector %q", sel)
	}
	// A kind that is not tenant-scoped is asked for as the caller asked.
	w = filtered(t, s, pipeAlice, apigroup.Resource{Kind: "user"}, "/apis/auth.tkestack.io/v1/users?labelSelector=team%3Dred")
	if w.Code != http.StatusOK {
		t.Fatalf("list of a kind of no tenant: %d %s", w.Code, w.Body)
	}
	if sel := store.seen()[2].URL.Query().Get("labelSelector"); sel != "team=red" {
		t.Fatalf("the store was asked with the selector %q", sel)
	}

	// A watch cannot be filtered.
	w = filtered(t, s, pipeAlice, users, "/apis/auth.tkestack.io/v1/users?watch=true")
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "may not watch every user") {
		t.Fatalf("filtered watch: %d %s", w.Code, w.Body)
	}
	if len(store.seen()) != 3 {
		t.Fatal("a refused watch reached the store")
	}

	// Nothing allowed: forbidden, not an empty list.
	w = filtered(t, s, &directory.Principal{Username: "erin", Tenant: "t1"}, users, "/apis/auth.tkestack.io/v1/users")
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "t1:erin may not list user: no policy allows listUser") {
		t.Fatalf("a list by someone who may read none: %d %s", w.Code, w.Body)
	}

	// A store that fails is not believed, whatever its body holds.
	store.mu.Lock()
	store.status = http.StatusInternalServerError
	store.mu.Unlock()
	w = filtered(t, s, pipeAlice, users, "/apis/auth.tkestack.io/v1/users")
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), `"t1:alice may not list user"`) {
		t.Fatalf("a list from a failing store: %d %s", w.Code, w.Body)
	}
}

// Through the pipeline: a list that the decision point refuses is filtered
// for a user, and forwarded whole for an administrator.
func TestPlatformAPIFiltersLists(t *testing.T) {
	s, store := listFixture(t)
	serve := func(p *directory.Principal) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/auth/apis/auth.tkestack.io/v1/users", nil)
		w := httptest.NewRecorder()
		s.platformAPI(w, r, p, "/apis/auth.tkestack.io/v1/users")
		return w
	}
	w := serve(pipeAlice)
	if names := listedNames(t, w); w.Code != http.StatusOK || !slices.Equal(names, []string{"t1.bob"}) {
		t.Fatalf("alice's list: %d %v", w.Code, names)
	}
	w = serve(pipeAdmin)
	if names := listedNames(t, w); w.Code != http.StatusOK || len(names) != 3 {
		t.Fatalf("the administrator's list: %d %v", w.Code, names)
	}
	seen := store.seen()
	if len(seen) != 2 || seen[1].URL.Query().Get("labelSelector") != "" || seen[1].Header.Get("Impersonate-User") != "admin" {
		t.Fatalf("the store saw %d requests, the last %s as %q", len(seen), seen[len(seen)-1].URL, seen[len(seen)-1].Header.Get("Impersonate-User"))
	}
}

func TestLockSerialisesPerKey(t *testing.T) {
	s := &Server{}
	unlock := s.Lock("ns/prj-1")
	// Another key is not held up.
	done := make(chan struct{})
	go func() { s.Lock("ns/prj-2")(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a lock on another key waited")
	}
	// The same key waits for the first holder.
	var mu sync.Mutex
	var order []string
	got := make(chan struct{})
	go func() {
		defer close(got)
		defer s.Lock("ns/prj-1")()
		mu.Lock()
		order = append(order, "second")
		mu.Unlock()
	}()
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	order = append(order, "first")
	mu.Unlock()
	unlock()
	<-got
	if strings.Join(order, ",") != "first,second" {
		t.Fatalf("the second holder ran %v", order)
	}
}

// A user's collection delete reaches the caller's tenant only, as a list
// does; an administrator's is forwarded as asked.
func TestDeleteCollectionStaysInTenant(t *testing.T) {
	s, store := listFixture(t)
	c := s.Decider.Dir.Client
	for _, o := range []client.Object{
		&authv1.Policy{ObjectMeta: metav1.ObjectMeta{Name: "wipe", Labels: labelled("t1")},
			Spec: authv1.PolicySpec{TenantID: "t1", Scope: authv1.ScopePlatform, Statements: []authv1.Statement{
				{Actions: []string{"deletecollectionUser"}, Resources: []string{"user:*"}, Effect: "allow"}}}},
		&authv1.PolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-wipes", Labels: labelled("t1")},
			Spec: authv1.PolicyBindingSpec{TenantID: "t1", PolicyName: "wipe", Users: []string{"alice"}}},
	} {
		if err := c.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		p    *directory.Principal
		want string
	}{{pipeAlice, "team=red,kstack.io/tenant=t1"}, {pipeAdmin, "team=red"}} {
		r := httptest.NewRequest("DELETE", "/auth/apis/auth.tkestack.io/v1/users?labelSelector=team%3Dred", nil)
		w := httptest.NewRecorder()
		s.platformAPI(w, r, tc.p, "/apis/auth.tkestack.io/v1/users")
		seen := store.seen()
		if w.Code != http.StatusOK || len(seen) == 0 {
			t.Fatalf("%s: %d %s", tc.p.Name(), w.Code, w.Body)
		}
		if got := seen[len(seen)-1]; got.Method != "DELETE" || got.URL.Query().Get("labelSelector") != tc.want {
			t.Errorf("%s's collection delete reached the store as %s %s, want the selector %q", tc.p.Name(), got.Method, got.URL, tc.want)
		}
	}
}
