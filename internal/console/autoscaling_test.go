package console

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	extv1 "github.com/kstack/kstack/addonapi/extensions/v1"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/inprocess"
)

// cronMember stands in for a member cluster's API through the proxy: a
// namespace web with an HPA, a CronHPA shop (when the add-on's CRD is
// there), and creates of Deployments and CronHPAs, dry or not. It records
// each request ("METHOD path", "?dryRun" added for dry runs) and its body.
type cronMember struct {
	mu     sync.Mutex
	reqs   []string
	bodies map[string]string
	// noCRD: the CronHPA add-on is not installed. v100: its v1.0.0 CRD,
	// which prunes timeZone. noTApp: the TApp add-on is not installed.
	noCRD, v100, noTApp bool
}

const cronhpasPath = "/apis/extensions.tkestack.io/v1/namespaces/web/cronhpas"

func storedCronHPA() *extv1.CronHPA {
	last := metav1.NewTime(time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC))
	h := newCronHPA("web", "shop", map[string]string{"team": "a"}, extv1.CronHPASpec{TimeZone: "Asia/Shanghai",
		Crons: []extv1.Cron{{Schedule: "0 23 * * 5", TargetReplicas: 3}, {Schedule: "0 8 * * 1", TargetReplicas: 10}}})
	h.ResourceVersion = "5"
	h.Spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "shop"}
	h.Status = extv1.CronHPAStatus{LastScheduleTime: &last, Conditions: []metav1.Condition{
		{Type: "Valid", Status: metav1.ConditionTrue, Reason: "Valid", Message: "2 schedules in Asia/Shanghai"},
		{Type: "Scaled", Status: metav1.ConditionFalse, Reason: "TargetNotFound", Message: "Deployment shop not found"}}}
	return h
}

func (f *cronMember) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p := strings.TrimPrefix(r.URL.Path, "/member")
	key := r.Method + " " + p
	if r.URL.Query().Get("dryRun") == "All" {
		key += "?dryRun"
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, key)
	f.bodies[key] = string(body)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	writeJSON := func(code int, v any) {
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	notFound := func(details *metav1.StatusDetails, msg string) {
		writeJSON(404, &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusFailure, Code: 404,
			Reason: metav1.StatusReasonNotFound, Message: msg, Details: details})
	}
	if strings.HasPrefix(p, tappsAPI) && f.noTApp {
		notFound(&metav1.StatusDetails{}, "the server could not find the requested resource")
		return
	}
	if strings.HasPrefix(p, cronhpasPath) && f.noCRD {
		notFound(&metav1.StatusDetails{}, "the server could not find the requested resource")
		return
	}
	switch {
	case p == "/apis/autoscaling/v2/namespaces/web/horizontalpodautoscalers":
		lo := int32(2)
		writeJSON(200, &autoscalingv2.HorizontalPodAutoscalerList{TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscalerList"},
			Items: []autoscalingv2.HorizontalPodAutoscaler{{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "web"},
				Spec:   autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "api"}, MinReplicas: &lo, MaxReplicas: 10},
				Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 3, DesiredReplicas: 4}}}})
	case key == "GET "+cronhpasPath:
		writeJSON(200, map[string]any{"apiVersion": "extensions.tkestack.io/v1", "kind": "CronHPAList", "metadata": map[string]any{}, "items": []any{storedCronHPA()}})
	case key == "GET "+cronhpasPath+"/shop":
		writeJSON(200, storedCronHPA())
	case r.Method == http.MethodPost && (p == cronhpasPath || p == "/apis/apps/v1/namespaces/web/deployments" || p == tappsAPI || p == "/api/v1/namespaces/web/services"):
		var obj map[string]any
		_ = json.Unmarshal(body, &obj)
		if spec, ok := obj["spec"].(map[string]any); ok && f.v100 && p == cronhpasPath {
			delete(spec, "timeZone")
		}
		writeJSON(201, obj)
	case key == "PUT "+cronhpasPath+"/shop", key == "PUT "+cronhpasPath+"/shop?dryRun":
		w.WriteHeader(200)
		_, _ = w.Write(body)
	case key == "DELETE "+cronhpasPath+"/shop":
		writeJSON(200, &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusSuccess})
	default:
		notFound(&metav1.StatusDetails{Name: "x", Kind: "things"}, "no "+key)
	}
}

// writes are the requests that would change the member (dry runs apart).
func (f *cronMember) writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.reqs {
		if !strings.HasPrefix(r, "GET ") && !strings.HasSuffix(r, "?dryRun") {
			out = append(out, r)
		}
	}
	return out
}

func (f *cronMember) sent(req string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return indexOf(f.reqs, req) >= 0
}

func (f *cronMember) body(t *testing.T, req string, into any) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := json.Unmarshal([]byte(f.bodies[req]), into); err != nil {
		t.Fatalf("%s: %v (%q); requests %v", req, err, f.bodies[req], f.reqs)
	}
}

// cronServer serves the autoscaling routes and the workload form of
// cls-a/web as the administrator, against a cronMember.
func cronServer(t *testing.T) (*Server, *cronMember) {
	s := testServer(t)
	f := &cronMember{bodies: map[string]string{}}
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
	s.autoscalingRoutesWith(mux, wrap)
	mux.Handle("POST /console/business/{cluster}/{ns}/new", wrap(s.createWorkload))
	mux.Handle("GET /console/business/{cluster}/{ns}/new", wrap(s.workloadForm))
	testMuxes.Store(s, mux)
	return s, f
}

const autoscalingPath = "/console/business/cls-a/web/autoscaling"

func TestAutoscalingPage(t *testing.T) {
	s, f := cronServer(t)
	w := do(s, "GET", autoscalingPath, nil, false)
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, body)
	}
	mustContain(t, "the autoscaling page", body, `aria-current="page">Autoscaling</a>`,
		// The HPA.
		`<tr id="hpa-api"><td>api</td><td>Deployment/api</td><td>2 – 10</td><td>3 / 4</td></tr>`,
		// The CronHPA: its schedules, zone, last firing and conditions.
		`id="cronhpa-shop"`, "<td>Deployment/shop</td><td>Asia/Shanghai</td>", "<div>0 23 * * 5 → 3</div><div>0 8 * * 1 → 10</div>",
		"2026-01-02 15:00:00", `<span class="status-True">Valid</span> (Valid): 2 schedules in Asia/Shanghai`,
		`<span class="status-False">Scaled</span> (TargetNotFound): Deployment shop not found`,
		`href="/console/business/cls-a/web/autoscaling?edit=shop#cronhpa-form"`, `action="/console/business/cls-a/web/autoscaling/shop/delete"`,
		// A new CronHPA's form, with its "Add row".
		`<form id="cronhpa-form"`, `action="/console/business/cls-a/web/autoscaling"`, `name="cron0.schedule"`,
		`hx-get="/console/business/cls-a/web/autoscaling/cronrow?i=1"`)

	// Edit: the form holds the stored CronHPA.
	w = do(s, "GET", autoscalingPath+"?edit=shop", nil, false)
	mustContain(t, "the edit form", w.Body.String(), "Edit CronHPA shop", `action="/console/business/cls-a/web/autoscaling/shop"`,
		`name="resourceVersion" value="5"`, `id="cron0-schedule" value="0 23 * * 5"`, `id="cron1-replicas" value="10"`,
		`id="cron-timezone" value="Asia/Shanghai"`, `id="cronhpa-target-name" value="shop"`, `hx-get="/console/business/cls-a/web/autoscaling/cronrow?i=2"`)

	// One more row (htmx), and the button that asks for the next.
	w = do(s, "GET", autoscalingPath+"/cronrow?i=2", nil, true)
	mustContain(t, "a new row", w.Body.String(), `name="cron2.schedule"`, `name="cron2.replicas"`, `hx-swap-oob="true"`, "cronrow?i=3")

	// Without the add-on: said, with the way to install it; the HPAs still show.
	f.noCRD = true
	w = do(s, "GET", autoscalingPath, nil, false)
	body = w.Body.String()
	mustContain(t, "a cluster without the add-on", body, `id="cronhpa-missing"`, "The CronHPA add-on is not installed in cluster cls-a",
		`href="/console/platform/addons?cluster=cls-a"`, `id="hpa-api"`)
	mustNotContain(t, "a cluster without the add-on", body, `id="cronhpa-form"`, `class="error"`)
}

// The member's API server cannot check schedules or zones: the form
// refuses them with the parser's words next to the field, and writes
// nothing, not even a dry run.
func TestCronHPAFormRefusesBadScheduleAndZone(t *testing.T) {
	s, f := cronServer(t)
	form := map[string][]string{"name": {"shop2"}, "targetKind": {"Deployment"}, "targetName": {"web"}, "timeZone": {"Mars/Olympus"},
		"cron0.schedule": {"61 * * * *"}, "cron0.replicas": {"3"}, "cron1.schedule": {"0 8 * * *"}, "cron1.replicas": {"2"}}
	w := do(s, "POST", autoscalingPath, form, true)
	body := w.Body.String()
	if w.Code != 200 || !strings.HasPrefix(strings.TrimSpace(body), `<form id="cronhpa-form"`) {
		t.Fatalf("an htmx post gets the form back: %d\n%s", w.Code, body)
	}
	mustContain(t, "the refused form", body, `id="cronhpa-error"`,
		// The row's error next to it, in the parser's words.
		`id="cron0-schedule" value="61 * * * *" placeholder="0 23 * * 5" spellcheck="false" aria-invalid="true">`,
		`schedule &#34;61 * * * *&#34;: end of range (61) above maximum (59)`,
		// The zone's.
		`id="cron-timezone" value="Mars/Olympus" placeholder="UTC" aria-invalid="true">`, `unknown time zone &#34;Mars/Olympus&#34;`,
		// What was typed stays.
		`id="cron1-schedule" value="0 8 * * *" placeholder="0 23 * * 5" spellcheck="false">`, `value="shop2"`)
	if len(f.reqs) != 0 {
		t.Errorf("the member was asked: %v", f.reqs)
	}
	// A replica count that is not one, and no rows at all.
	w = do(s, "POST", autoscalingPath, map[string][]string{"name": {"shop2"}, "targetKind": {"Deployment"}, "targetName": {"web"},
		"cron0.schedule": {"@daily"}, "cron0.replicas": {"many"}}, true)
	mustContain(t, "a bad replica count", w.Body.String(), `the target replicas &#34;many&#34; is not a whole number`)
	w = do(s, "POST", autoscalingPath, map[string][]string{"name": {"shop2"}, "targetKind": {"Deployment"}, "targetName": {"web"},
		"cron0.schedule": {""}, "cron0.replicas": {""}}, true)
	mustContain(t, "no rows", w.Body.String(), `id="cron-error">give at least one schedule`)
	if len(f.reqs) != 0 {
		t.Errorf("the member was asked: %v", f.reqs)
	}
}

func TestCronHPAFormWrites(t *testing.T) {
	s, f := cronServer(t)
	form := map[string][]string{"name": {"nightly"}, "targetKind": {"StatefulSet"}, "targetName": {"db"}, "timeZone": {"Europe/Paris"},
		"cron0.schedule": {"0 20 * * 5"}, "cron0.replicas": {"6"}, "cron2.schedule": {"0 23 * * 7"}, "cron2.replicas": {"0"}}
	w := do(s, "POST", autoscalingPath, form, false)
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), autoscalingPath+"?notice=Created+CronHPA+nightly") {
		t.Fatalf("create: %d %v %s", w.Code, w.Header(), w.Body.String())
	}
	if !f.sent("POST " + cronhpasPath + "?dryRun") {
		t.Errorf("no dry run first: %v", f.reqs)
	}
	var got extv1.CronHPA
	f.body(t, "POST "+cronhpasPath, &got)
	if got.Kind != "CronHPA" || got.APIVersion != "extensions.tkestack.io/v1" || got.Name != "nightly" || got.Namespace != "web" ||
		got.Spec.ScaleTargetRef != (autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db"}) ||
		got.Spec.TimeZone != "Europe/Paris" || fmt.Sprint(got.Spec.Crons) != "[{0 20 * * 5 6} {0 23 * * 7 0}]" {
		t.Errorf("created %+v", got)
	}

	// The add-on's v1.0.0 would drop the zone: refused before anything is written.
	f.v100, f.reqs = true, nil
	w = do(s, "POST", autoscalingPath, form, true)
	mustContain(t, "a zone v1.0.0 drops", w.Body.String(), "a version without time zones (v1.0.0)")
	if ws := f.writes(); len(ws) != 0 {
		t.Errorf("written: %v", ws)
	}
	f.v100 = false

	// Edit: only the spec changes, at the form's resourceVersion; the
	// stored labels stay.
	f.reqs = nil
	w = do(s, "POST", autoscalingPath+"/shop", map[string][]string{"name": {"ignored"}, "resourceVersion": {"5"}, "targetKind": {"Deployment"}, "targetName": {"shop"},
		"cron0.schedule": {"30 7 * * 1-5"}, "cron0.replicas": {"4"}}, false)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", w.Code, w.Body.String())
	}
	got = extv1.CronHPA{}
	f.body(t, "PUT "+cronhpasPath+"/shop", &got)
	if got.Name != "shop" || got.ResourceVersion != "5" || got.Labels["team"] != "a" || got.Spec.TimeZone != "" ||
		fmt.Sprint(got.Spec.Crons) != "[{30 7 * * 1-5 4}]" || got.Spec.ScaleTargetRef.Name != "shop" {
		t.Errorf("edited %+v", got)
	}

	// Delete.
	w = do(s, "POST", autoscalingPath+"/shop/delete", map[string][]string{}, false)
	if w.Code != http.StatusSeeOther || !f.sent("DELETE "+cronhpasPath+"/shop") {
		t.Errorf("delete: %d %v", w.Code, f.reqs)
	}
}

// workloadPost is the workload form of a Deployment web with scheduled
// replicas and rows.
func workloadPost(rows ...string) map[string][]string {
	form := map[string][]string{"kind": {"deployments"}, "name": {"web"}, "replicas": {"2"}, "replicaMode": {"cron"},
		"c0.image": {"nginx:1.27"}, "serviceType": {"None"}, "restartPolicy": {"OnFailure"}}
	for i := 0; i+1 < len(rows); i += 2 {
		form[fmt.Sprintf("cron%d.schedule", i/2)] = []string{rows[i]}
		form[fmt.Sprintf("cron%d.replicas", i/2)] = []string{rows[i+1]}
	}
	return form
}

// Creating a workload with scheduled replicas creates the same-named
// CronHPA targeting it (seed 004 §4.2.4.2).
func TestWorkloadFormScheduledReplicas(t *testing.T) {
	s, f := cronServer(t)
	w := do(s, "POST", "/console/business/cls-a/web/new", workloadPost("0 23 * * 5", "3", "0 8 * * 1", "10"), true)
	if loc := w.Header().Get("HX-Redirect"); !strings.HasPrefix(loc, "/console/business/cls-a/web/deployments/web?notice=Created+web+and+its+CronHPA") {
		t.Fatalf("redirect %q: %d %s", loc, w.Code, w.Body.String())
	}
	// Dry runs of both first, then both.
	want := []string{"POST /apis/apps/v1/namespaces/web/deployments?dryRun", "POST " + cronhpasPath + "?dryRun",
		"POST /apis/apps/v1/namespaces/web/deployments", "POST " + cronhpasPath}
	if fmt.Sprint(f.reqs) != fmt.Sprint(want) {
		t.Errorf("requests %v, want %v", f.reqs, want)
	}
	var hpa extv1.CronHPA
	f.body(t, "POST "+cronhpasPath, &hpa)
	if hpa.Name != "web" || hpa.Namespace != "web" || hpa.Spec.ScaleTargetRef != (autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}) ||
		fmt.Sprint(hpa.Spec.Crons) != "[{0 23 * * 5 3} {0 8 * * 1 10}]" || hpa.Spec.TimeZone != "" {
		t.Errorf("the CronHPA sent: %+v", hpa)
	}

	// A wrong row: its error next to it, and nothing asked of the member.
	f.reqs = nil
	w = do(s, "POST", "/console/business/cls-a/web/new", workloadPost("0 23 * * 5", "3", "61 * * * *", "10"), true)
	body := w.Body.String()
	mustContain(t, "a wrong row", body, `id="form-error"`, `id="cron1-schedule" value="61 * * * *" placeholder="0 23 * * 5" spellcheck="false" aria-invalid="true">`,
		`end of range (61) above maximum (59)`, `id="replicas-cron" checked`)
	if len(f.reqs) != 0 {
		t.Errorf("the member was asked: %v", f.reqs)
	}

	// No add-on: said in the form's error; nothing created (dry runs only).
	f.noCRD, f.reqs = true, nil
	w = do(s, "POST", "/console/business/cls-a/web/new", workloadPost("0 23 * * 5", "3"), true)
	mustContain(t, "no add-on", w.Body.String(), `id="form-error">the CronHPA add-on is not installed in cluster cls-a`, "Nothing was created.",
		`href="/console/platform/addons?cluster=cls-a"`)
	if ws := f.writes(); len(ws) != 0 {
		t.Errorf("created: %v", ws)
	}

	// Manual replicas: no CronHPA, whatever rows were typed.
	f.reqs = nil
	form := workloadPost("61 * * * *", "3")
	form["replicaMode"] = []string{"manual"}
	w = do(s, "POST", "/console/business/cls-a/web/new", form, true)
	if w.Header().Get("HX-Redirect") == "" || fmt.Sprint(f.writes()) != "[POST /apis/apps/v1/namespaces/web/deployments]" {
		t.Errorf("manual: %v %v %s", w.Header(), f.reqs, w.Body.String())
	}
}

// A CronHPA may target a TApp, through its own group's scale subresource.
func TestCronFormTargetsTApp(t *testing.T) {
	f := newCronForm("/console/business/cls-a/web")
	f.TargetKind = "TApp"
	f.withKind()
	if f.TargetAPIVersion != "apps.tkestack.io/v1" {
		t.Fatalf("TApp target apiVersion %q", f.TargetAPIVersion)
	}
	f.TargetKind = "Deployment"
	f.withKind()
	if f.TargetAPIVersion != "apps/v1" {
		t.Fatalf("Deployment target apiVersion %q", f.TargetAPIVersion)
	}
}
