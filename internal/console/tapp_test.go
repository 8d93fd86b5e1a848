package console

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	tappv1 "github.com/kstack/kstack/addonapi/apps/v1"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/inprocess"
)

const tappsAPI = "/apis/apps.tkestack.io/v1/namespaces/web/tapps"

// tappMember stands in for a member cluster's API through the proxy: a
// namespace web with TApp shop (when the add-on's CRD is there) and its
// pods. It records each request ("METHOD path"), each body and content type.
type tappMember struct {
	mu     sync.Mutex
	reqs   []string
	bodies map[string]string
	ctypes map[string]string
	// noCRD: the TApp add-on is not installed; refuse: patches are refused.
	noCRD, refuse bool
}

func container(image string) corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}
}

func storedTApp() *tappv1.TApp {
	return &tappv1.TApp{TypeMeta: metav1.TypeMeta{APIVersion: "apps.tkestack.io/v1", Kind: "TApp"},
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "web", ResourceVersion: "7"},
		Spec: tappv1.TAppSpec{Replicas: 3, Template: corev1.PodTemplateSpec{Spec: container("nginx:1.26")},
			TemplatePool: map[string]tappv1.PoolTemplate{"v2": {PodTemplateSpec: corev1.PodTemplateSpec{Spec: container("nginx:1.27")}}},
			Templates:    map[string]tappv1.TemplateName{"2": "v2"}, Statuses: map[string]tappv1.InstanceStatus{"1": "Killed"}},
		Status: tappv1.TAppStatus{Replicas: 3, ReadyReplicas: 1, AppStatus: "Running",
			Statuses: map[string]tappv1.InstanceStatus{"0": "Running", "1": "Killed", "2": "Updating"}}}
}

func tappPod(id, tmpl, image string, phase corev1.PodPhase) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "shop-" + id, Namespace: "web",
		Labels: map[string]string{"tapp.tkestack.io/name": "shop", "tapp.tkestack.io/instance-id": id, "tapp.tkestack.io/template": tmpl}},
		Spec: container(image), Status: corev1.PodStatus{Phase: phase}}
}

func (f *tappMember) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p := strings.TrimPrefix(r.URL.Path, "/member")
	key := r.Method + " " + p
	f.mu.Lock()
	f.reqs = append(f.reqs, key)
	f.bodies[key], f.ctypes[key] = string(body), r.Header.Get("Content-Type")
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	writeJSON := func(code int, v any) {
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	status := func(code int, reason metav1.StatusReason, details *metav1.StatusDetails, msg string) {
		writeJSON(code, &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusFailure, Code: int32(code),
			Reason: reason, Message: msg, Details: details})
	}
	if strings.HasPrefix(p, tappsAPI) && f.noCRD {
		status(404, metav1.StatusReasonNotFound, &metav1.StatusDetails{}, "the server could not find the requested resource")
		return
	}
	switch {
	case key == "GET "+tappsAPI:
		writeJSON(200, map[string]any{"apiVersion": "apps.tkestack.io/v1", "kind": "TAppList", "metadata": map[string]any{}, "items": []any{storedTApp()}})
	case key == "GET "+tappsAPI+"/shop":
		writeJSON(200, storedTApp())
	case key == "GET /api/v1/namespaces/web/pods" && r.URL.Query().Get("labelSelector") == "tapp.tkestack.io/name=shop":
		writeJSON(200, &corev1.PodList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodList"}, Items: []corev1.Pod{
			tappPod("0", "default", "nginx:1.26", corev1.PodRunning), tappPod("2", "default", "nginx:1.26", corev1.PodPending)}})
	case key == "PATCH "+tappsAPI+"/shop":
		if f.refuse {
			status(403, metav1.StatusReasonForbidden, nil, `tapps.apps.tkestack.io "shop" is forbidden: <b>no</b>`)
			return
		}
		writeJSON(200, storedTApp())
	default:
		status(404, metav1.StatusReasonNotFound, &metav1.StatusDetails{Name: "x", Kind: "things"}, "no "+key)
	}
}

func (f *tappMember) patches() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.reqs {
		if !strings.HasPrefix(r, "GET ") {
			out = append(out, r+" "+f.ctypes[r]+" "+f.bodies[r])
		}
	}
	return out
}

// tappServer serves the TApp routes of cls-a/web as the administrator,
// against a tappMember.
func tappServer(t *testing.T) (*Server, *tappMember) {
	s := testServer(t)
	f := &tappMember{bodies: map[string]string{}, ctypes: map[string]string{}}
	s.Serve = func(w http.ResponseWriter, r *http.Request, _ *directory.Principal) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"projects":[]}`)
	}
	s.Decider = &decision.Decider{}
	s.MemberConfig = func(_ *directory.Principal, cluster string) *rest.Config {
		return &rest.Config{Host: inprocess.Host + "/member", Transport: &inprocess.Transport{Serve: f.serve}}
	}
	mux := http.NewServeMux()
	wrap := func(h handlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h(w, &request{Request: r, s: s, user: admin, csrf: "tok"})
		})
	}
	s.tappRoutesWith(mux, wrap)
	testMuxes.Store(s, mux)
	return s, f
}

const tappsPath = "/console/business/cls-a/web/tapps"

func TestTAppPages(t *testing.T) {
	s, f := tappServer(t)
	w := do(s, "GET", tappsPath, nil, false)
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, body)
	}
	mustContain(t, "the list", body, `aria-current="page">TApps</a>`,
		`<tr id="tapp-shop"><td><a href="/console/business/cls-a/web/tapps/shop">shop</a></td><td>1 / 3</td><td class="status-Running">Running</td>`)

	w = do(s, "GET", tappsPath+"/shop", nil, false)
	body = w.Body.String()
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, body)
	}
	mustContain(t, "the detail page", body, `<dd>1 / 3</dd>`,
		// Instance 0: default template, running, its pod.
		`<tr id="instance-0">`, `<td>0</td><td>default</td>`, `<span class="status-Running">Running</span>`,
		`<a href="/console/business/cls-a/web/pods/shop-0">shop-0</a>`, `<td>Running</td><td class="mono"><div>app: nginx:1.26</div></td>`,
		`id="kill-0"`,
		// Instance 1: killed, no pod, restorable.
		`<td>1</td><td>default</td>`, `<span class="status-Killed">Killed</span> <span class="muted">(to be killed)</span>`, `shop-1 (no pod)`,
		`action="/console/business/cls-a/web/tapps/shop/restore"`, `id="restore-1"`,
		// Instance 2: moved to v2, its pod still on default.
		`<td>2</td><td>v2</td>`, `<span class="status-Updating">Updating</span>`, `shop-2</a> <span class="muted">(runs template default)</span>`, `<td>Pending</td>`,
		// The pool.
		`<tr id="template-default"><td>default</td><td class="mono"><div>app: nginx:1.26</div></td><td>2</td></tr>`,
		`<tr id="template-v2"><td>v2</td><td class="mono"><div>app: nginx:1.27</div></td><td>1</td></tr>`,
		// The actions.
		`name="ids" value="2" form="gray-form"`, `<form id="gray-form" method="post" action="/console/business/cls-a/web/tapps/shop/gray">`,
		`<option>v2</option>`, `action="/console/business/cls-a/web/tapps/shop/scale"`, `id="replicas" min="0" max="10000" value="3"`,
		// A new template of the pool, from the default one's images.
		`<form id="template-form" method="post" action="/console/business/cls-a/web/tapps/shop/template">`, `id="new-template-name" value=""`,
		`name="image.app" id="new-template-image-app" value="nginx:1.26"`,
		`name="csrf" value="tok"`)
	if ps := f.patches(); len(ps) != 0 {
		t.Errorf("written: %v", ps)
	}

	// Without the add-on: said, with the way to install it.
	f.noCRD = true
	for _, p := range []string{tappsPath, tappsPath + "/shop"} {
		w = do(s, "GET", p, nil, false)
		body = w.Body.String()
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", p, w.Code, body)
		}
		mustContain(t, "no add-on: "+p, body, `id="tapp-missing"`, "The TApp add-on is not installed in cluster cls-a",
			`href="/console/platform/addons?cluster=cls-a"`)
		mustNotContain(t, "no add-on: "+p, body, `class="error"`, `id="tapps"`, `id="gray-form"`)
	}
}

func TestTAppActionsPatch(t *testing.T) {
	s, f := tappServer(t)
	const mp = "PATCH " + tappsAPI + "/shop application/merge-patch+json "
	for _, c := range []struct {
		action string
		form   map[string][]string
		patch  string
		notice string
	}{
		{"kill", map[string][]string{"id": {"1"}}, `{"spec":{"statuses":{"1":"Killed"}}}`, "Killing+instance+1"},
		{"restore", map[string][]string{"id": {"1"}}, `{"spec":{"statuses":{"1":null}}}`, "Restoring+instance+1"},
		{"gray", map[string][]string{"ids": {"0", "1"}, "template": {"v2"}}, `{"spec":{"templates":{"0":"v2","1":"v2"}}}`, "Moving+2+instances+to+template+v2"},
		{"gray", map[string][]string{"ids": {"2"}, "template": {"default"}}, `{"spec":{"templates":{"2":null}}}`, "Moving+1+instance+to+template+default"},
		{"scale", map[string][]string{"replicas": {"5"}}, `{"spec":{"replicas":5}}`, "Scaled+to+5"},
		// A new template of the pool: the default one with another image.
		{"template", map[string][]string{"name": {"v3"}, "image.app": {"nginx:1.28"}},
			`{"spec":{"templatePool":{"v3":{"metadata":{},"spec":{"containers":[{"name":"app","image":"nginx:1.28","resources":{}}]}}}}}`,
			"Added+template+v3+to+the+pool"},
	} {
		f.reqs = nil
		w := do(s, "POST", tappsPath+"/shop/"+c.action, c.form, false)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != tappsPath+"/shop?notice="+c.notice {
			t.Errorf("%s: %d %v %s", c.action, w.Code, w.Header(), w.Body.String())
		}
		if got := fmt.Sprint(f.patches()); got != fmt.Sprint([]string{mp + c.patch}) {
			t.Errorf("%s sent %s, want %s", c.action, got, c.patch)
		}
	}
}

// Bad input is refused before anything is written, next to its field;
// the member's refusals are shown on the page.
func TestTAppActionsRefused(t *testing.T) {
	s, f := tappServer(t)
	for _, c := range []struct {
		action string
		form   map[string][]string
		wants  []string
	}{
		{"gray", map[string][]string{"ids": {"0"}, "template": {"v3"}}, []string{`id="gray-template" aria-invalid="true"`, `template &#34;v3&#34; is not in the TApp&#39;s pool`,
			`id="choose-0" aria-label="Choose instance 0" checked`}},
		{"gray", map[string][]string{"ids": {"0", "3"}, "template": {"v2"}}, []string{`not instances of this TApp (0 to 2): &#34;3&#34;`}},
		{"gray", map[string][]string{"template": {"v2"}}, []string{`choose the instances to move`}},
		{"kill", map[string][]string{"id": {"3"}}, []string{`instance &#34;3&#34; is not one of this TApp&#39;s: they are 0 to 2`}},
		{"kill", map[string][]string{"id": {"-1"}}, []string{`instance &#34;-1&#34; is not one`}},
		{"restore", map[string][]string{"id": {"01"}}, []string{`instance &#34;01&#34; is not one`}},
		{"scale", map[string][]string{"replicas": {"many"}}, []string{`value="many" aria-invalid="true"`, `replicas must be a whole number from 0 to 10000`}},
		{"template", map[string][]string{"name": {"v2"}, "image.app": {"nginx:1.28"}}, []string{`id="new-template-name" value="v2" placeholder="v2" aria-invalid="true"`,
			`the pool already has a template &#34;v2&#34;`}},
		{"template", map[string][]string{"name": {"default"}, "image.app": {"nginx:1.28"}}, []string{`the pool already has a template &#34;default&#34;`}},
		{"template", map[string][]string{"name": {"V_3"}, "image.app": {"nginx:1.28"}}, []string{`a template&#39;s name is lowercase letters`}},
		{"template", map[string][]string{"name": {"v3"}, "image.app": {""}}, []string{`id="new-template-image-app" value="nginx:1.26" aria-invalid="true"`,
			`give container app an image`}},
	} {
		f.reqs = nil
		w := do(s, "POST", tappsPath+"/shop/"+c.action, c.form, false)
		body := w.Body.String()
		if w.Code != 200 {
			t.Fatalf("%s %v: %d %s", c.action, c.form, w.Code, body)
		}
		mustContain(t, fmt.Sprintf("%s %v", c.action, c.form), body, append(c.wants, `id="tapp-error">Nothing was changed`, `id="instance-0"`)...)
		if ps := f.patches(); len(ps) != 0 {
			t.Errorf("%s %v: written %v", c.action, c.form, ps)
		}
	}

	// The member refuses: its words, escaped, on the page.
	f.refuse = true
	w := do(s, "POST", tappsPath+"/shop/kill", map[string][]string{"id": {"0"}}, false)
	mustContain(t, "a refusal", w.Body.String(), `id="tapp-error">The cluster refused: tapps.apps.tkestack.io &#34;shop&#34; is forbidden: &lt;b&gt;no&lt;/b&gt;`)
}
