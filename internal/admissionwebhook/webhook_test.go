package admissionwebhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/admission"
	celplugin "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/client-go/kubernetes/fake"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/pki"
)

const testGroup = "test.kstack.io"

// widgets is a group of two kinds: widgets (namespaced, tenant-scoped,
// governed by the project named like their namespace) and gadgets
// (cluster-scoped, of no tenant). Validate records what it is asked and
// answers refuse.
type widgets struct {
	got    []*apigroup.Request
	refuse error
}

func (w *widgets) Info() apigroup.Info { return apigroup.Info{Group: testGroup, Prefix: "/test"} }
func (w *widgets) Resources() []apigroup.Resource {
	return []apigroup.Resource{
		{Kind: "widget", TenantScoped: true, Project: func(a attributes.Attributes) string { return a.Namespace }},
		{Kind: "gadget"},
	}
}
func (w *widgets) Admit(context.Context, *apigroup.Request) error {
	return errors.New("the webhook never admits")
}
func (w *widgets) Validate(_ context.Context, r *apigroup.Request) error {
	w.got = append(w.got, r)
	return w.refuse
}
func (w *widgets) Routes() []apigroup.Route           { return nil }
func (w *widgets) Indexes() []apigroup.Index          { return nil }
func (w *widgets) Controllers() []apigroup.Controller { return nil }
func newHandler(t *testing.T) (*Handler, *widgets) {
	t.Helper()
	w := &widgets{}
	reg, err := apigroup.NewRegistry(w)
	if err != nil {
		t.Fatal(err)
	}
	return &Handler{Groups: reg, Log: slog.New(slog.DiscardHandler)}, w
}

// caller is the userInfo the gateway impersonates for username of tenant,
// with groups after the proxy group, through replica r1.
func caller(tenant, username string, groups ...string) authenticationv1.UserInfo {
	name := username
	if tenant != apigroup.DefaultTenant {
		name = tenant + ":" + username
	}
	return authenticationv1.UserInfo{Username: name, Groups: append([]string{apigroup.ProxyGroup}, groups...),
		Extra: map[string]authenticationv1.ExtraValue{
			apigroup.ExtraTenant: {tenant}, apigroup.ExtraUsername: {username}, apigroup.ExtraReplica: {"r1"},
		}}
}

var (
	bob      = caller("default", "bob", "devs")
	carl     = caller("t2", "carl")
	adminCal = caller("default", "admin", apigroup.AdminsGroup)
)

// object is a widget (namespace not empty) or a gadget as the API server
// sends it, of tenant (no label when empty).
func object(t *testing.T, namespace, name, tenant string, size int64) runtime.RawExtension {
	t.Helper()
	kind := "Gadget"
	if namespace != "" {
		kind = "Widget"
	}
	meta := map[string]any{"name": name, "uid": "u-" + name}
	if namespace != "" {
		meta["namespace"] = namespace
	}
	if tenant != "" {
		meta["labels"] = map[string]any{apigroup.LabelTenant: tenant}
	}
	data, err := json.Marshal(map[string]any{"apiVersion": testGroup + "/v1", "kind": kind, "metadata": meta, "spec": map[string]any{"size": size}})
	if err != nil {
		t.Fatal(err)
	}
	return runtime.RawExtension{Raw: data}
}

// review is an AdmissionRequest of op on group's resource as the API
// server sends it.
func review(op admissionv1.Operation, group, resource, namespace, name string, u authenticationv1.UserInfo, obj, old runtime.RawExtension) *admissionv1.AdmissionRequest {
	return &admissionv1.AdmissionRequest{
		UID:       types.UID("uid-" + name),
		Kind:      metav1.GroupVersionKind{Group: group, Version: "v1", Kind: "Whatever"},
		Resource:  metav1.GroupVersionResource{Group: group, Version: "v1", Resource: resource},
		Namespace: namespace, Name: name, Operation: op, UserInfo: u, Object: obj, OldObject: old,
	}
}

func TestPrincipal(t *testing.T) {
	withExtra := func(u authenticationv1.UserInfo, key string, v ...string) authenticationv1.UserInfo {
		extra := map[string]authenticationv1.ExtraValue{}
		for k, e := range u.Extra {
			extra[k] = e
		}
		if v == nil {
			delete(extra, key)
		} else {
			extra[key] = v
		}
		u.Extra = extra
		return u
	}
	named := func(u authenticationv1.UserInfo, name string) authenticationv1.UserInfo { u.Username = name; return u }
	withGroups := func(u authenticationv1.UserInfo, groups ...string) authenticationv1.UserInfo {
		u.Groups = groups
		return u
	}
	const notGateway = "the write did not come through the platform's gateway: it carries no caller"
	for _, tc := range []struct {
		name   string
		u      authenticationv1.UserInfo
		want   *directory.Principal // nil: refused with msg
		wantAs string               // want's Name()
		msg    string
	}{
		{"a user of the default tenant", bob, &directory.Principal{Tenant: "default", Username: "bob", Groups: []string{"devs"}}, "bob", ""},
		{"a user of another tenant", carl, &directory.Principal{Tenant: "t2", Username: "carl"}, "t2:carl", ""},
		{"an administrator", caller("default", "admin", apigroup.AdminsGroup, "ops"),
			&directory.Principal{Tenant: "default", Username: "admin", Groups: []string{"ops"}, SuperAdmin: true}, "admin", ""},
		{"an administrator of another tenant", caller("t2", "root", apigroup.AdminsGroup),
			&directory.Principal{Tenant: "t2", Username: "root", SuperAdmin: true}, "t2:root", ""},

		{"no extras", authenticationv1.UserInfo{Username: "bob", Groups: []string{apigroup.ProxyGroup}}, nil, "", notGateway},
		{"no tenant extra", withExtra(bob, apigroup.ExtraTenant), nil, "", notGateway},
		{"no username extra", withExtra(bob, apigroup.ExtraUsername), nil, "", notGateway},
		{"an empty tenant extra", withExtra(bob, apigroup.ExtraTenant, ""), nil, "", notGateway},
		{"two tenants", withExtra(bob, apigroup.ExtraTenant, "default", "t2"), nil, "", notGateway},
		{"not the proxy group", withGroups(bob, "devs"), nil, "", notGateway},
		{"the administrators' group without the proxy group", withGroups(adminCal, apigroup.AdminsGroup), nil, "", notGateway},

		{"extras of another tenant than the user's", withExtra(bob, apigroup.ExtraTenant, "t2"), nil, "",
			`the caller's extras (t2:bob) do not match the impersonated user "bob"`},
		{"extras of the default tenant for a user of another", withExtra(carl, apigroup.ExtraTenant, "default"), nil, "",
			`the caller's extras (carl) do not match the impersonated user "t2:carl"`},
		{"extras of another user", named(adminCal, "mallory"), nil, "",
			`the caller's extras (admin) do not match the impersonated user "mallory"`},
		{"a username spelled with another tenant", named(bob, "t2:bob"), nil, "",
			`the caller's extras (bob) do not match the impersonated user "t2:bob"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Principal(tc.u)
			if tc.want == nil {
				if err == nil || err.Error() != tc.msg {
					t.Fatalf("got %+v, %v; want the error %q", p, err, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Tenant != tc.want.Tenant || p.Username != tc.want.Username || p.SuperAdmin != tc.want.SuperAdmin || !slices.Equal(p.Groups, tc.want.Groups) {
				t.Errorf("got %+v, want %+v", p, tc.want)
			}
			if p.Name() != tc.wantAs {
				t.Errorf("Name() = %q, want %q", p.Name(), tc.wantAs)
			}
		})
	}
}

// A create or an update reaches the group's Validate with what the API
// server would store, the stored object, and the request's attributes.
func TestReviewValidates(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		name    string
		req     *admissionv1.AdmissionRequest
		dryRun  bool
		want    attributes.Attributes
		oldSize int64 // 0: no Old
	}{
		{"create", review(admissionv1.Create, testGroup, "widgets", "prj-1", "w1", bob, object(t, "prj-1", "w1", "default", 2), runtime.RawExtension{}), false,
			attributes.Attributes{Verb: "create", APIGroup: testGroup, Kind: "widget", Namespace: "prj-1", Name: "w1",
				Action: "createWidget", Resource: "namespace:prj-1/widget:w1", Project: "prj-1"}, 0},
		{"update, dry run", review(admissionv1.Update, testGroup, "widgets", "prj-1", "w1", bob, object(t, "prj-1", "w1", "default", 2), object(t, "prj-1", "w1", "default", 1)), true,
			attributes.Attributes{Verb: "update", APIGroup: testGroup, Kind: "widget", Namespace: "prj-1", Name: "w1",
				Action: "updateWidget", Resource: "namespace:prj-1/widget:w1", Project: "prj-1"}, 1},
		{"cluster-scoped", review(admissionv1.Create, testGroup, "gadgets", "", "g1", bob, object(t, "", "g1", "", 2), runtime.RawExtension{}), false,
			attributes.Attributes{Verb: "create", APIGroup: testGroup, Kind: "gadget", Name: "g1", Action: "createGadget", Resource: "gadget:g1"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, w := newHandler(t)
			if tc.dryRun {
				tc.req.DryRun = &yes
			}
			resp := h.Review(context.Background(), tc.req)
			if !resp.Allowed || resp.Result != nil {
				t.Fatalf("got %+v, want allowed", resp)
			}
			if len(w.got) != 1 {
				t.Fatalf("Validate called %d times, want once", len(w.got))
			}
			r := w.got[0]
			if r.Principal.Tenant != "default" || r.Principal.Username != "bob" || !slices.Equal(r.Principal.Groups, []string{"devs"}) || r.Principal.SuperAdmin {
				t.Errorf("principal %+v, want bob of default in devs", r.Principal)
			}
			if r.Attributes != tc.want {
				t.Errorf("attributes\n%+v, want\n%+v", r.Attributes, tc.want)
			}
			if r.Object == nil || r.Object.GetName() != tc.req.Name || r.Object.GetAPIVersion() != testGroup+"/v1" || r.Object.Object["spec"].(map[string]any)["size"] != int64(2) {
				t.Errorf("object %v, want the request's object", r.Object)
			}
			if tc.oldSize == 0 && r.Old != nil {
				t.Errorf("old %v on a create", r.Old)
			}
			if tc.oldSize != 0 && (r.Old == nil || r.Old.GetName() != tc.req.Name || r.Old.Object["spec"].(map[string]any)["size"] != tc.oldSize) {
				t.Errorf("old %v, want the request's old object", r.Old)
			}
			if r.DryRun != tc.dryRun || r.Query != nil {
				t.Errorf("dry run %v query %v, want %v and none", r.DryRun, r.Query, tc.dryRun)
			}
		})
	}
}

// Deletes, connects, subresources and groups the platform does not serve
// are allowed without asking any group (nor who the caller is).
func TestReviewPasses(t *testing.T) {
	nobody := authenticationv1.UserInfo{Username: "system:admin", Groups: []string{"system:masters"}}
	w1 := object(t, "prj-1", "w1", "default", 1)
	status := review(admissionv1.Update, testGroup, "widgets", "prj-1", "w1", bob, w1, w1)
	status.SubResource = "status"
	for _, tc := range []struct {
		name string
		req  *admissionv1.AdmissionRequest
	}{
		{"delete", review(admissionv1.Delete, testGroup, "widgets", "prj-1", "w1", bob, runtime.RawExtension{}, w1)},
		{"delete by someone not through the gateway", review(admissionv1.Delete, testGroup, "widgets", "prj-1", "w1", nobody, runtime.RawExtension{}, w1)},
		{"connect", review(admissionv1.Connect, testGroup, "widgets", "prj-1", "w1", bob, runtime.RawExtension{}, runtime.RawExtension{})},
		{"status", status},
		{"a group not served", review(admissionv1.Create, "apps", "deployments", "prj-1", "w1", nobody, w1, runtime.RawExtension{})},
		{"the core group", review(admissionv1.Create, "", "configmaps", "prj-1", "w1", nobody, w1, runtime.RawExtension{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, w := newHandler(t)
			w.refuse = apigroup.Refuse(http.StatusForbidden, "Validate was asked")
			if resp := h.Review(context.Background(), tc.req); !resp.Allowed || resp.Result != nil {
				t.Errorf("got %+v, want allowed", resp)
			}
			if len(w.got) != 0 {
				t.Errorf("Validate was called with %+v", w.got[0].Attributes)
			}
		})
	}
}

func TestReviewRefuses(t *testing.T) {
	create := func(u authenticationv1.UserInfo, tenant string) *admissionv1.AdmissionRequest {
		return review(admissionv1.Create, testGroup, "widgets", "prj-1", "w1", u, object(t, "prj-1", "w1", tenant, 1), runtime.RawExtension{})
	}
	badObject := create(bob, "default")
	badObject.Object.Raw = []byte(`{"metadata": 7}`)
	badOld := review(admissionv1.Update, testGroup, "widgets", "prj-1", "w1", bob, object(t, "prj-1", "w1", "default", 1), runtime.RawExtension{Raw: []byte("garbage")})
	for _, tc := range []struct {
		name   string
		req    *admissionv1.AdmissionRequest
		refuse error // Validate's answer
		code   int32 // 0: allowed
		reason metav1.StatusReason
		msg    string
		called bool // Validate was asked
	}{
		// What a caller other than an administrator creates is in their
		// tenant, before any group is asked.
		{"another tenant's create", create(bob, "t2"), nil, http.StatusForbidden, metav1.StatusReasonForbidden,
			`bob may create objects in tenant "default" only, not "t2" (label kstack.io/tenant)`, false},
		{"the default tenant's create by a user of t2", create(carl, "default"), nil, http.StatusForbidden, metav1.StatusReasonForbidden,
			`t2:carl may create objects in tenant "t2" only, not "default" (label kstack.io/tenant)`, false},
		{"a create without a tenant", create(bob, ""), nil, http.StatusForbidden, metav1.StatusReasonForbidden,
			`bob may create objects in tenant "default" only, not "" (label kstack.io/tenant)`, false},
		{"a create in the caller's tenant", create(bob, "default"), nil, 0, "", "", true},
		{"a create in t2 by a user of t2", create(carl, "t2"), nil, 0, "", "", true},
		{"another tenant's create by an administrator", create(adminCal, "t2"), nil, 0, "", "", true},
		{"a kind of no tenant", review(admissionv1.Create, testGroup, "gadgets", "", "g1", bob, object(t, "", "g1", "", 1), runtime.RawExtension{}), nil, 0, "", "", true},

		// Validate's refusals carry their code and message.
		{"refused by the group", create(bob, "default"), apigroup.Refuse(http.StatusConflict, "widget w1 is taken"),
			http.StatusConflict, metav1.StatusReasonConflict, "widget w1 is taken", true},
		{"invalid", create(bob, "default"), apigroup.Invalid("spec.size: too big"),
			http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, "spec.size: too big", true},
		{"an error that is not a refusal", create(bob, "default"), errors.New("the cache is not synced"),
			http.StatusInternalServerError, metav1.StatusReasonInternalError, "the cache is not synced", true},

		// No caller, no object.
		{"no caller", create(authenticationv1.UserInfo{Username: "bob", Groups: []string{apigroup.ProxyGroup}}, "default"), nil,
			http.StatusForbidden, metav1.StatusReasonForbidden, "the write did not come through the platform's gateway", false},
		{"an object that cannot be read", badObject, nil, http.StatusBadRequest, metav1.StatusReasonBadRequest, "the object cannot be read: ", false},
		{"an old object that cannot be read", badOld, nil, http.StatusBadRequest, metav1.StatusReasonBadRequest, "the stored object cannot be read: ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, w := newHandler(t)
			w.refuse = tc.refuse
			resp := h.Review(context.Background(), tc.req)
			if called := len(w.got) > 0; called != tc.called {
				t.Errorf("Validate called: %v, want %v", called, tc.called)
			}
			if tc.code == 0 {
				if !resp.Allowed || resp.Result != nil {
					t.Errorf("got %+v, want allowed", resp)
				}
				return
			}
			if resp.Allowed || resp.Result == nil {
				t.Fatalf("got %+v, want refused", resp)
			}
			res := resp.Result
			if res.Code != tc.code || res.Reason != tc.reason || res.Status != metav1.StatusFailure || !strings.Contains(res.Message, tc.msg) {
				t.Errorf("got %d %s %s %q, want %d %s Failure containing %q", res.Code, res.Reason, res.Status, res.Message, tc.code, tc.reason, tc.msg)
			}
		})
	}
}

func TestServeHTTP(t *testing.T) {
	post := func(h *Handler, method, path string, body []byte) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, bytes.NewReader(body)))
		return rec
	}
	encode := func(req *admissionv1.AdmissionRequest) []byte {
		data, err := json.Marshal(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	decode := func(rec *httptest.ResponseRecorder) *admissionv1.AdmissionReview {
		t.Helper()
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("got %d %s %s, want 200 with JSON", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		var out admissionv1.AdmissionReview
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		if out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" || out.Request != nil || out.Response == nil {
			t.Fatalf("got %s, want an admission.k8s.io/v1 AdmissionReview with a response only", rec.Body)
		}
		return &out
	}
	create := func(name, tenant string) *admissionv1.AdmissionRequest {
		return review(admissionv1.Create, testGroup, "widgets", "prj-1", name, bob, object(t, "prj-1", name, tenant, 1), runtime.RawExtension{})
	}

	t.Run("allowed", func(t *testing.T) {
		h, w := newHandler(t)
		out := decode(post(h, http.MethodPost, Path, encode(create("w1", "default"))))
		if out.Response.UID != "uid-w1" || !out.Response.Allowed || len(w.got) != 1 {
			t.Errorf("got %+v after %d validations, want uid-w1 allowed after one", out.Response, len(w.got))
		}
	})
	t.Run("refused", func(t *testing.T) {
		h, _ := newHandler(t)
		out := decode(post(h, http.MethodPost, Path, encode(create("w2", "t2"))))
		if r := out.Response; r.UID != "uid-w2" || r.Allowed || r.Result == nil || r.Result.Code != http.StatusForbidden ||
			!strings.Contains(r.Result.Message, `bob may create objects in tenant "default" only`) {
			t.Errorf("got %+v, want uid-w2 refused 403", r)
		}
	})
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		code               int
	}{
		{"GET", http.MethodGet, Path, encode(create("w1", "default")), http.StatusNotFound},
		{"another path", http.MethodPost, "/mutate", encode(create("w1", "default")), http.StatusNotFound},
		{"garbage", http.MethodPost, Path, []byte("{not json"), http.StatusBadRequest},
		{"no request", http.MethodPost, Path, []byte(`{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}`), http.StatusBadRequest},
		{"too large", http.MethodPost, Path, bytes.Repeat([]byte(" "), maxReview+1), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, w := newHandler(t)
			if rec := post(h, tc.method, tc.path, tc.body); rec.Code != tc.code {
				t.Errorf("got %d %s, want %d", rec.Code, rec.Body, tc.code)
			}
			if len(w.got) != 0 {
				t.Error("Validate was called")
			}
		})
	}
}

func TestBind(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", ":0", "127.0.0.1"} {
		s := &Server{Replica: "r1"}
		if err := s.Bind(addr, ""); err == nil || !strings.Contains(err.Error(), "invalid --webhook-listen") {
			t.Errorf("Bind(%q) = %v, want it refused", addr, err)
		}
		if s.ln != nil {
			s.ln.Close()
		}
	}
	s := &Server{Replica: "r1"}
	if err := s.Bind("127.0.0.1:0", filepath.Join(t.TempDir(), "missing.pem")); err == nil || !strings.Contains(err.Error(), "--webhook-client-ca-file") {
		t.Errorf("Bind with a missing client CA file = %v, want it refused", err)
	}
	if s.ln != nil {
		s.ln.Close()
	}
}

// bind binds a server for replica on a port of its own.
func bind(t *testing.T, replica, clientCAFile string) *Server {
	t.Helper()
	s := &Server{Replica: replica, Log: slog.New(slog.DiscardHandler)}
	if err := s.Bind("127.0.0.1:0", clientCAFile); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.ln.Close() })
	return s
}

func TestConfig(t *testing.T) {
	s := bind(t, "Replica_1.A", "")
	groups := []string{"platform.tkestack.io", "business.tkestack.io"}
	vwc := s.Config(groups)
	if vwc.Name != "kstack-validate-replica-1-a" || vwc.Labels[platformv1.LabelManagedBy] != platformv1.ManagedByValue {
		t.Errorf("name %q labels %v", vwc.Name, vwc.Labels)
	}
	if len(vwc.Webhooks) != 1 {
		t.Fatalf("%d webhooks, want 1", len(vwc.Webhooks))
	}
	wh := vwc.Webhooks[0]
	if wh.Name != Name || wh.ClientConfig.URL == nil || *wh.ClientConfig.URL != s.URL() || !strings.HasPrefix(s.URL(), "https://127.0.0.1:") || !strings.HasSuffix(s.URL(), Path) {
		t.Errorf("webhook %s at %v, want %s at %s", wh.Name, wh.ClientConfig.URL, Name, s.URL())
	}
	// The CA bundle is what the server's certificate is verified with.
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(wh.ClientConfig.CABundle) {
		t.Fatal("the CA bundle holds no certificate")
	}
	if _, err := s.tls.Certificates[0].Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("the serving certificate is not verified by the CA bundle: %v", err)
	}
	if len(wh.Rules) != 1 || !slices.Equal(wh.Rules[0].Operations, []admissionregv1.OperationType{admissionregv1.Create, admissionregv1.Update}) ||
		!slices.Equal(wh.Rules[0].APIGroups, groups) || !slices.Equal(wh.Rules[0].APIVersions, []string{"*"}) || !slices.Equal(wh.Rules[0].Resources, []string{"*"}) {
		t.Errorf("rules %+v, want create and update of every resource of %v", wh.Rules, groups)
	}
	if wh.FailurePolicy == nil || *wh.FailurePolicy != admissionregv1.Fail || wh.SideEffects == nil || *wh.SideEffects != admissionregv1.SideEffectClassNone ||
		!slices.Equal(wh.AdmissionReviewVersions, []string{"v1"}) {
		t.Errorf("failure policy %v side effects %v versions %v, want Fail, None, v1", wh.FailurePolicy, wh.SideEffects, wh.AdmissionReviewVersions)
	}
	if len(wh.MatchConditions) != 1 || !strings.Contains(wh.MatchConditions[0].Expression, `request.userInfo.extra["kstack.io/replica"][0] != "Replica_1.A"`) ||
		!strings.Contains(wh.MatchConditions[0].Expression, `"kstack:platform-users" in request.userInfo.groups`) {
		t.Errorf("match conditions %+v, want the proxy group and this replica's extra", wh.MatchConditions)
	}

	// The match condition, as the API server compiles and evaluates it,
	// holds for this replica's gateway's writes only. (The API server puts
	// every authenticated user in system:authenticated.)
	exprs := make([]celplugin.ExpressionAccessor, len(wh.MatchConditions))
	for i, mc := range wh.MatchConditions {
		exprs[i] = &matchconditions.MatchCondition{Name: mc.Name, Expression: mc.Expression}
	}
	compiler := celplugin.NewConditionCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	matcher := matchconditions.NewMatcher(compiler.CompileCondition(exprs, celplugin.OptionalVariableDeclarations{HasAuthorizer: true}, environment.StoredExpressions),
		wh.FailurePolicy, "webhook", "validating", wh.Name)
	gvk := schema.GroupVersionKind{Group: "platform.tkestack.io", Version: "v1", Kind: "Cluster"}
	proxied := []string{apigroup.ProxyGroup, user.AllAuthenticated}
	const (
		skipped = iota
		called
		refused // the condition cannot be evaluated: under FailurePolicy Fail the API server refuses the write
	)
	for _, tc := range []struct {
		name string
		u    *user.DefaultInfo
		want int
	}{
		{"this replica's gateway", &user.DefaultInfo{Name: "bob", Groups: proxied,
			Extra: map[string][]string{apigroup.ExtraReplica: {"Replica_1.A"}, apigroup.ExtraTenant: {"default"}, apigroup.ExtraUsername: {"bob"}}}, called},
		{"another replica's gateway", &user.DefaultInfo{Name: "bob", Groups: proxied,
			Extra: map[string][]string{apigroup.ExtraReplica: {"Replica_1.B"}}}, skipped},
		// A write that names no replica, or several, is checked by every one.
		{"two replicas", &user.DefaultInfo{Name: "bob", Groups: proxied,
			Extra: map[string][]string{apigroup.ExtraReplica: {"Replica_1.A", "Replica_1.B"}}}, called},
		{"the proxy group without extras", &user.DefaultInfo{Name: "bob", Groups: proxied}, called},
		{"the proxy group without a replica", &user.DefaultInfo{Name: "bob", Groups: proxied,
			Extra: map[string][]string{apigroup.ExtraTenant: {"default"}, apigroup.ExtraUsername: {"bob"}}}, called},
		{"the platform's controllers", &user.DefaultInfo{Name: "kstack-controller", Groups: []string{user.SystemPrivilegedGroup, user.AllAuthenticated}}, skipped},
		{"this replica's extra outside the proxy group", &user.DefaultInfo{Name: "mallory", Groups: []string{user.AllAuthenticated},
			Extra: map[string][]string{apigroup.ExtraReplica: {"Replica_1.A"}}}, skipped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attr := admission.NewAttributesRecord(nil, nil, gvk, "", "cls-a", schema.GroupVersionResource{Group: gvk.Group, Version: "v1", Resource: "clusters"},
				"", admission.Create, nil, false, tc.u)
			res := matcher.Match(context.Background(), &admission.VersionedAttributes{Attributes: attr, VersionedKind: gvk}, nil, nil)
			got := skipped
			switch {
			case res.Error != nil:
				got = refused
			case res.Matches:
				got = called
			}
			if got != tc.want {
				t.Errorf("got %d (matches %v, error %v), want %d", got, res.Matches, res.Error, tc.want)
			}
		})
	}
}

// A registered replica serves over TLS, with a client CA only the API
// server's webhook client certificate, and removes its registration when
// it stops.
func TestServeTLS(t *testing.T) {
	ca, err := pki.NewCA("test-client-ca")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "client-ca.pem")
	if err := os.WriteFile(caFile, pki.CertPEM(ca.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	s := bind(t, "r1", caFile)
	h, w := newHandler(t)
	s.Handler, s.Client = h, fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Register(ctx, s.Client, []string{testGroup}); err != nil {
		t.Fatal(err)
	}
	// Registering again replaces the registration.
	if err := s.Register(ctx, s.Client, []string{testGroup, "auth.tkestack.io"}); err != nil {
		t.Fatal(err)
	}
	vwcs := s.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	if l, err := vwcs.List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 1 || len(l.Items[0].Webhooks[0].Rules[0].APIGroups) != 2 {
		t.Fatalf("registrations %+v (%v), want one with both groups", l, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(s.caBundle)
	clientOf := func(cn string) *http.Client {
		cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if cn != "" {
			cert, key, err := ca.Issue(pki.CertSpec{CommonName: cn, Client: true})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	body, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: review(admissionv1.Create, testGroup, "widgets", "prj-1", "w1", bob, object(t, "prj-1", "w1", "default", 1), runtime.RawExtension{})})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, cn string
		ok       bool
	}{
		{"the API server", ClientName, true},
		{"another client of the CA", "kube-apiserver-kubelet-client", false},
		{"no client certificate", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(w.got)
			resp, err := clientOf(tc.cn).Post(s.URL(), "application/json", bytes.NewReader(body))
			if !tc.ok {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got %s, want the handshake refused", resp.Status)
				}
				if len(w.got) != before {
					t.Error("Validate was called")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out admissionv1.AdmissionReview
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Response == nil || !out.Response.Allowed || out.Response.UID != "uid-w1" {
				t.Errorf("got %+v (%v), want uid-w1 allowed", out.Response, err)
			}
			if len(w.got) != before+1 {
				t.Error("Validate was not called")
			}
		})
	}

	// A replica that stops removes its registration.
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if l, err := vwcs.List(context.Background(), metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("registrations %+v (%v) after the stop, want none", l, err)
	}
}
