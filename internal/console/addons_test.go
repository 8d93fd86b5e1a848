package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
)

// addonFake stands in for the platform group's add-on API: the types, a
// cluster's add-ons, and the ClusterAddon CRUD. It records each request
// with its body and content type.
type addonFake struct {
	mu     sync.Mutex
	reqs   []string
	bodies map[string]string
	ctypes map[string]string
	// refuse: "METHOD path" → "CODE message".
	refuse map[string]string
}

const addonAPI = "/platform/apis/platform.tkestack.io/v1"

func (f *addonFake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := r.Method + " " + r.URL.Path
	f.mu.Lock()
	f.reqs = append(f.reqs, key)
	f.bodies[key] = string(body)
	f.ctypes[key] = r.Header.Get("Content-Type")
	refusal, refused := f.refuse[key]
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	status := func(code int, msg string) {
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "message": msg})
	}
	if refused {
		var code int
		_, _ = fmt.Sscanf(refusal, "%d ", &code)
		status(code, refusal[4:])
		return
	}
	p := r.URL.Path
	switch {
	case p == "/business/apis/business.tkestack.io/v1/portal":
		fmt.Fprint(w, `{"projects":[]}`)
	case p == addonAPI+"/clusters/cls-a/addontypes", p == addonAPI+"/clusters/cls-b/addontypes":
		_ = json.NewEncoder(w).Encode(platformv1.ClusterAddonTypeList{Kind: "ClusterAddonTypeList", Items: []platformv1.ClusterAddonType{
			{Type: "CronHPA", Description: "Scales workloads on cron schedules.", Level: "Enhance", LatestVersion: "v1.1.0", Versions: []string{"v1.0.0", "v1.1.0"},
				Kinds: []string{"cronhpas.extensions.tkestack.io"}}}})
	case p == addonAPI+"/clusters/cls-a/addons":
		_ = json.NewEncoder(w).Encode(platformv1.ClusterAddonList{Items: []platformv1.ClusterAddon{sampleAddon()}})
	case p == addonAPI+"/clusters/cls-b/addons":
		fmt.Fprint(w, `{"kind":"ClusterAddonList","items":[]}`)
	case p == addonAPI+"/clusteraddons/cls-a-cronhpa" && r.Method == http.MethodGet:
		_ = json.NewEncoder(w).Encode(sampleAddon())
	case p == addonAPI+"/clusteraddons" && r.Method == http.MethodPost:
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
	case strings.HasPrefix(p, addonAPI+"/clusteraddons/") && (r.Method == http.MethodPut || r.Method == http.MethodPatch):
		_, _ = w.Write(body)
	case strings.HasPrefix(p, addonAPI+"/clusteraddons/") && r.Method == http.MethodDelete:
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Success","code":200}`)
	default:
		status(http.StatusNotFound, "no "+p)
	}
}

func sampleAddon() platformv1.ClusterAddon {
	return platformv1.ClusterAddon{ObjectMeta: metav1.ObjectMeta{Name: "cls-a-cronhpa", ResourceVersion: "7"},
		Spec:   platformv1.ClusterAddonSpec{TenantID: "default", ClusterName: "cls-a", Type: "CronHPA", Version: "v1.1.0", Controller: "Platform"},
		Status: platformv1.ClusterAddonStatus{Phase: "Installing", Version: "v1.0.0", Message: "applying v1.1.0: waiting for the CRD to be established"}}
}

func (f *addonFake) sent(req string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.reqs {
		if r == req {
			return true
		}
	}
	return false
}

// addonServer serves the add-on pages as the administrator (the API
// decides; the fake decider allows every button).
func addonServer(t *testing.T) (*Server, *addonFake) {
	s := testServer(t)
	f := &addonFake{bodies: map[string]string{}, ctypes: map[string]string{}, refuse: map[string]string{}}
	s.Serve = func(w http.ResponseWriter, r *http.Request, _ *directory.Principal) { f.serve(w, r) }
	s.Decider = &decision.Decider{}
	s.Clusters = func(context.Context, *directory.Principal) ([]platformv1.Cluster, error) {
		return []platformv1.Cluster{
			{ObjectMeta: metav1.ObjectMeta{Name: "global"}, Spec: platformv1.ClusterSpec{Type: platformv1.ClusterGlobal}},
			{ObjectMeta: metav1.ObjectMeta{Name: "cls-b"}},
			{ObjectMeta: metav1.ObjectMeta{Name: "cls-a"}, Spec: platformv1.ClusterSpec{DisplayName: "Shop"}}}, nil
	}
	mux := http.NewServeMux()
	s.addonRoutesWith(mux, func(h handlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h(w, &request{Request: r, s: s, user: admin, csrf: "tok"})
		})
	})
	testMuxes.Store(s, mux)
	return s, f
}

func TestAddonsPage(t *testing.T) {
	s, f := addonServer(t)
	// No cluster chosen: the first member cluster, never the global one.
	w := do(s, "GET", "/console/platform/addons", nil, false)
	body := w.Body.String()
	if w.Code != 200 || !f.sent("GET "+addonAPI+"/clusters/cls-a/addons") || !f.sent("GET "+addonAPI+"/clusters/cls-a/addontypes") {
		t.Fatalf("%d %v\n%s", w.Code, f.reqs, body)
	}
	mustContain(t, "the add-ons page", body, `<option value="cls-a" selected>Shop (cls-a)</option>`, `<option value="cls-b">cls-b</option>`,
		`id="nav-addons"`, `id="addon-CronHPA"`, "<td>v1.0.0</td><td>v1.1.0</td>", `class="status-Installing">Installing`,
		"applying v1.1.0: waiting for the CRD to be established", "<td>Platform</td>",
		// Upgrade: the versions, the desired one chosen.
		`action="/console/platform/addons/cls-a/CronHPA/upgrade"`, `<option value="v1.1.0" selected>v1.1.0</option>`, `<option value="v1.0.0">v1.0.0</option>`,
		// Uninstall, with force explained.
		`action="/console/platform/addons/cls-a/CronHPA/uninstall"`, `name="force" value="true"`, "delete those objects too (every CronHPA of the cluster",
		// Installed types are not offered again.
		`id="no-addon-types"`)
	mustNotContain(t, "the add-ons page", body, `value="global"`, `action="/console/platform/addons/cls-a/CronHPA/install"`)

	// A cluster without add-ons: the Install form, the latest version chosen.
	w = do(s, "GET", "/console/platform/addons?cluster=cls-b", nil, false)
	body = w.Body.String()
	mustContain(t, "cls-b's page", body, `<option value="cls-b" selected>cls-b</option>`, `id="no-addons"`, `id="addontype-CronHPA"`,
		"Scales workloads on cron schedules.", "cronhpas.extensions.tkestack.io", `action="/console/platform/addons/cls-b/CronHPA/install"`,
		`<option value="v1.1.0" selected>v1.1.0 (latest)</option>`, `name="controller" value="External"`)

	// A cluster the user may not see: the API's 404 in words.
	w = do(s, "GET", "/console/platform/addons?cluster=cls-zz", nil, false)
	mustContain(t, "an unknown cluster", w.Body.String(), `id="addons-error"`, "no "+addonAPI+"/clusters/cls-zz/addontypes")
}

func TestAddonActions(t *testing.T) {
	s, f := addonServer(t)
	// Install: the ClusterAddon POSTed, then back to the page with a notice.
	w := do(s, "POST", "/console/platform/addons/cls-b/CronHPA/install", map[string][]string{"version": {"v1.0.0"}, "controller": {"External"}}, false)
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/console/platform/addons?cluster=cls-b&notice=") {
		t.Fatalf("install: %d %v %s", w.Code, w.Header(), w.Body.String())
	}
	var ca platformv1.ClusterAddon
	if err := json.Unmarshal([]byte(f.bodies["POST "+addonAPI+"/clusteraddons"]), &ca); err != nil {
		t.Fatal(err)
	}
	if ca.Name != "cls-b-cronhpa" || ca.Kind != "ClusterAddon" || ca.Spec.ClusterName != "cls-b" || ca.Spec.Type != "CronHPA" || ca.Spec.Version != "v1.0.0" || ca.Spec.Controller != "External" {
		t.Errorf("installed %+v", ca)
	}

	// Upgrade: a PUT of the stored object with the new version.
	w = do(s, "POST", "/console/platform/addons/cls-a/CronHPA/upgrade", map[string][]string{"version": {"v1.0.0"}}, false)
	ca = platformv1.ClusterAddon{}
	_ = json.Unmarshal([]byte(f.bodies["PUT "+addonAPI+"/clusteraddons/cls-a-cronhpa"]), &ca)
	if w.Code != http.StatusSeeOther || ca.Spec.Version != "v1.0.0" || ca.ResourceVersion != "7" || ca.Spec.ClusterName != "cls-a" {
		t.Errorf("upgrade: %d, sent %+v", w.Code, ca)
	}

	// An uninstall refused while CronHPAs use the add-on: the API's words
	// on the page, and nothing forced.
	f.refuse["DELETE "+addonAPI+"/clusteraddons/cls-a-cronhpa"] = "409 the CronHPA add-on is still used in cluster cls-a by CronHPA web/shop: delete them first, or uninstall with --force (which deletes them with it)"
	w = do(s, "POST", "/console/platform/addons/cls-a/CronHPA/uninstall", map[string][]string{}, false)
	body := w.Body.String()
	mustContain(t, "a refused uninstall", body, `id="addon-refusal">the CronHPA add-on is still used in cluster cls-a by CronHPA web/shop`, `id="addon-CronHPA"`)
	if f.sent("PATCH " + addonAPI + "/clusteraddons/cls-a-cronhpa") {
		t.Error("an uninstall without force set the force annotation")
	}

	// Forced: the annotation by a merge patch, then the delete.
	delete(f.refuse, "DELETE "+addonAPI+"/clusteraddons/cls-a-cronhpa")
	w = do(s, "POST", "/console/platform/addons/cls-a/CronHPA/uninstall", map[string][]string{"force": {"true"}}, false)
	patch := "PATCH " + addonAPI + "/clusteraddons/cls-a-cronhpa"
	if w.Code != http.StatusSeeOther || f.ctypes[patch] != "application/merge-patch+json" ||
		f.bodies[patch] != `{"metadata":{"annotations":{"platform.kstack.io/force-delete":"true"}}}` {
		t.Fatalf("forced uninstall: %d %q %q", w.Code, f.ctypes[patch], f.bodies[patch])
	}
	if i, j := indexOf(f.reqs, patch), len(f.reqs)-1; i < 0 || j < i || f.reqs[j] != "DELETE "+addonAPI+"/clusteraddons/cls-a-cronhpa" {
		t.Errorf("the delete did not follow the patch: %v", f.reqs)
	}

	// A refused install (403, 422) is shown in words.
	f.refuse["POST "+addonAPI+"/clusteraddons"] = "403 spec.clusterName: you may not updateCluster on cluster:cls-b"
	w = do(s, "POST", "/console/platform/addons/cls-b/CronHPA/install", map[string][]string{"version": {"v1.1.0"}}, false)
	mustContain(t, "a forbidden install", w.Body.String(), `id="addon-refusal">spec.clusterName: you may not updateCluster on cluster:cls-b</div>`)
	f.refuse["POST "+addonAPI+"/clusteraddons"] = `422 spec.version: CronHPA has no version "v9" <b>`
	w = do(s, "POST", "/console/platform/addons/cls-b/CronHPA/install", map[string][]string{"version": {"v9"}}, false)
	mustContain(t, "an invalid install", w.Body.String(), `spec.version: CronHPA has no version &#34;v9&#34; &lt;b&gt;`)
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// The add-on and autoscaling pages with h wherever users or the API put text.
func TestAddonPagesRenderAndEscape(t *testing.T) {
	s := testServer(t)
	h := hostile
	nsv := nsView{Cluster: "cls-1", Namespace: h, Base: "/console/business/cls-1/x", Kind: "autoscaling", Tabs: []tab{{Name: "autoscaling", Title: "Autoscaling", URL: "/x", Current: true}}}
	cron := cronFields{Rows: []cronRow{{Index: 0, Schedule: h, Replicas: h, Err: h}}, TimeZone: h, RowURL: "/x/" + h, Next: 1, ZoneErr: h, Err: h}
	form := &cronForm{Action: "/x/" + h, Edit: true, Name: h, ResourceVersion: h, TargetKind: h, TargetAPIVersion: h, TargetName: h, Kinds: []string{h},
		Cron: cron, Errors: map[string]string{"name": h, "targetName": h}, Error: h, Cancel: "/x/" + h}
	for _, p := range []struct {
		name, block string
		data        any
	}{
		{"addons", "layout", addonsData{Clusters: []choice{{Value: h, Label: h}}, Cluster: h, Refusal: h,
			Rows:  []addonRow{{Type: h, Installed: h, Desired: h, Phase: h, Message: h, Controller: h, Versions: []string{h}, Action: "/x/" + h, CanUpgrade: true, CanUninstall: true}},
			Types: []addonTypeRow{{Type: h, Description: h, Level: h, Latest: h, Kinds: h, Versions: []string{h}, Action: "/x/" + h, CanInstall: true}}}},
		{"addons", "layout", addonsData{Err: h, Cluster: h}},
		{"addons", "layout", addonsData{}},
		{"autoscaling", "layout", autoscalingData{NS: nsv, HPAs: []hpaRow{{h, h, h, h}}, HPAErr: h, CronErr: h, More: h, Form: form,
			CronHPAs: []cronHPARow{{Name: h, Target: h, TimeZone: h, LastSchedule: h, Crons: []string{h}, Conditions: []cronCondition{{h, h, h, h}}, EditURL: "/x/" + h, DeleteURL: "/x/" + h}}}},
		{"autoscaling", "layout", autoscalingData{NS: nsv, AddonMissing: true, AddonsURL: "/x/" + h}},
		{"autoscaling", "cronform", autoscalingData{Form: form}},
		{"autoscaling", "cronrowadd", map[string]any{"Row": cronRow{Index: 3}, "Next": 4, "RowURL": "/x/" + h}},
		{"workload", "layout", workloadForm{NS: nsv, Kinds: workloadKinds, Kind: "deployments", Name: h, ReplicaMode: "cron", Cron: cron, AddonsURL: "/x/" + h,
			Containers: []containerForm{newContainer(0)}, Errors: map[string]string{}, Error: h}},
	} {
		t.Run(p.name+"/"+p.block, func(t *testing.T) {
			w := httptest.NewRecorder()
			s.execute(w, 200, p.name, p.block, view{User: admin, CSRF: "tok", Section: "platform", Title: h, Error: h, Crumbs: []crumb{{h, "/console/"}}, Data: p.data})
			body := w.Body.String()
			if w.Code != 200 {
				t.Fatalf("code %d: %s", w.Code, body)
			}
			mustNotContain(t, p.name+"/"+p.block, body, "<script>alert", "<img src=x", "onerror=alert(2)>", " onclick=", "hx-on")
		})
	}
}
