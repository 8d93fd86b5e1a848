package console

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/inprocess"
	"github.com/kstack/kstack/internal/platformscheme"
)

// alarmFake stands in for the gateway: the portal, the platform's API of
// the alarm and notify kinds (a store by path), the record searches and
// the channels' test-send. It records every request with its body.
type alarmFake struct {
	mu      sync.Mutex
	reqs    []string
	bodies  map[string][]byte // by "METHOD path"
	objects map[string]any    // by collection path: a List
	refuse  string            // a 422 for any create
	testRes string            // the test-send's answer
	records map[string]string // by path: a record list
	queries map[string]string // the query of the last request to a path
}

func (f *alarmFake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p := r.URL.Path
	f.mu.Lock()
	f.reqs = append(f.reqs, r.Method+" "+p)
	f.bodies[r.Method+" "+p] = body
	f.queries[p] = r.URL.RawQuery
	f.mu.Unlock()
	writeJSON := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	status := func(code int, reason metav1.StatusReason, msg string) {
		writeJSON(code, &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusFailure, Code: int32(code), Reason: reason, Message: msg})
	}
	switch {
	case p == "/business/apis/business.tkestack.io/v1/portal":
		fmt.Fprint(w, `{"projects":[{"name":"prj-aaaaaaaa","displayName":"Shop","role":"project-member","clusters":["cls-a"],"namespaces":["cls-a/web"]}]}`)
	case strings.HasSuffix(p, "/test") && r.Method == http.MethodPost:
		fmt.Fprint(w, f.testRes)
	case f.records[p] != "":
		fmt.Fprint(w, f.records[p])
	case r.Method == http.MethodGet && strings.Contains(p, "business.tkestack.io") && strings.HasSuffix(p, "/namespaces"):
		writeJSON(200, &businessv1.NamespaceList{})
	case r.Method == http.MethodGet:
		f.mu.Lock()
		obj, ok := f.objects[p]
		f.mu.Unlock()
		if !ok {
			if i := strings.LastIndex(p, "/"); i > 0 {
				if l, ok := f.objects[p[:i]].(*monitorv1.AlarmPolicyList); ok {
					for _, it := range l.Items {
						if it.Name == p[i+1:] {
							writeJSON(200, &it)
							return
						}
					}
				}
			}
			// An empty list of the kind asked for.
			writeJSON(200, map[string]any{"apiVersion": "v1", "kind": "List", "items": []any{}})
			return
		}
		writeJSON(200, obj)
	case r.Method == http.MethodPost:
		if f.refuse != "" {
			status(422, metav1.StatusReasonInvalid, f.refuse)
			return
		}
		var u map[string]any
		_ = json.Unmarshal(body, &u)
		m := u["metadata"].(map[string]any)
		if m["name"] == nil || m["name"] == "" {
			m["name"] = fmt.Sprint(m["generateName"]) + "x1y2z"
		}
		writeJSON(201, u)
	case r.Method == http.MethodPut, r.Method == http.MethodPatch:
		var u map[string]any
		_ = json.Unmarshal(body, &u)
		if r.Method == http.MethodPatch {
			u = map[string]any{"apiVersion": "monitor.tkestack.io/v1", "kind": "AlarmSilence", "metadata": map[string]any{"name": "s"}}
		}
		writeJSON(200, u)
	case r.Method == http.MethodDelete:
		writeJSON(200, &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusSuccess})
	default:
		status(404, metav1.StatusReasonNotFound, "no "+p)
	}
}

func (f *alarmFake) sent(req string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.reqs {
		if r == req {
			return true
		}
	}
	return false
}

func (f *alarmFake) body(req string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bodies[req]
}

const (
	prjAPI      = "/platform/apis/monitor.tkestack.io/v1/namespaces/prj-aaaaaaaa"
	prjNotify   = "/platform/apis/notify.tkestack.io/v1/namespaces/prj-aaaaaaaa"
	prjBase     = "/console/business/projects/prj-aaaaaaaa/alarms"
	sharedBase  = "/console/platform/alarms"
	sharedAlarm = "/platform/apis/monitor.tkestack.io/v1/namespaces/kstack-system"
)

func alarmServer(t *testing.T) (*Server, *alarmFake) {
	s := testServer(t)
	f := &alarmFake{bodies: map[string][]byte{}, objects: map[string]any{}, records: map[string]string{}, queries: map[string]string{}}
	s.Serve = func(w http.ResponseWriter, r *http.Request, _ *directory.Principal) { f.serve(w, r) }
	s.Decider = &decision.Decider{}
	s.Scheme = platformscheme.New()
	m := meta.NewDefaultRESTMapper(nil)
	for _, k := range []string{"AlarmPolicy", "AlarmSilence"} {
		m.Add(monitorv1.GroupVersion.WithKind(k), meta.RESTScopeNamespace)
	}
	for _, k := range []string{"Channel", "Template", "Receiver", "ReceiverGroup"} {
		m.Add(notifyv1.GroupVersion.WithKind(k), meta.RESTScopeNamespace)
	}
	m.Add(businessv1.GroupVersion.WithKind("Namespace"), meta.RESTScopeNamespace)
	s.Mapper = m
	s.PlatformConfig = func(p *directory.Principal) *rest.Config {
		return &rest.Config{Host: inprocess.Host + "/platform", Transport: &inprocess.Transport{Serve: f.serve}}
	}
	mux := http.NewServeMux()
	s.alarmRoutesWith(mux, func(h handlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h(w, &request{Request: r, s: s, user: admin, csrf: "tok"})
		})
	})
	testMuxes.Store(s, mux)
	return s, f
}

// testMuxes are the alarm routes of each test server, served as admin.
var testMuxes sync.Map

func samplePolicy() monitorv1.AlarmPolicy {
	return monitorv1.AlarmPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "prj-aaaaaaaa", Name: "alarm-shop", ResourceVersion: "42"},
		Spec: monitorv1.AlarmPolicySpec{DisplayName: "shop restarts", ClusterName: "cls-a", Namespace: "web", ProjectName: "prj-aaaaaaaa", TenantID: "default",
			ObjectType: monitorv1.ObjectPod, Object: monitorv1.AlarmObject{Workload: &monitorv1.WorkloadRef{Kind: "Deployment", Name: "shop"}},
			PeriodMinutes: 1, Conditions: []monitorv1.AlarmCondition{{Metric: "k8s_pod_restart_total", Operator: ">", Threshold: "2", Periods: 2}},
			Receivers:     []monitorv1.ObjectRef{{Name: "rcv-alice"}},
			Notifications: []monitorv1.NotifyMethod{{Channel: monitorv1.ObjectRef{Name: "chn-hook"}, Template: monitorv1.ObjectRef{Namespace: "kstack-system", Name: "tpl-hook"}}}},
		Status: monitorv1.AlarmPolicyStatus{Phase: "Active", Firing: 1, Rules: []monitorv1.CompiledRule{{Name: "alarm-shop-c0", Expr: `k8s_pod_restart_total{cluster="cls-a"} > 2`, For: "1m"}}}}
}

// do serves one request through the console's routes as the administrator.
func do(s *Server, method, target string, form map[string][]string, htmx bool) *httptest.ResponseRecorder {
	var body io.Reader
	if form != nil {
		v := make(map[string][]string)
		for k, vs := range form {
			v[k] = vs
		}
		v["csrf"] = []string{"tok"}
		body = strings.NewReader(encodeForm(v))
	}
	hr := httptest.NewRequest(method, target, body)
	if form != nil {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if htmx {
		hr.Header.Set("HX-Request", "true")
	}
	w := httptest.NewRecorder()
	mux, _ := testMuxes.Load(s)
	mux.(*http.ServeMux).ServeHTTP(w, hr)
	return w
}

func encodeForm(v map[string][]string) string { return url.Values(v).Encode() }

func TestAlarmSettingsPage(t *testing.T) {
	s, f := alarmServer(t)
	f.objects[prjAPI+"/alarmpolicies"] = &monitorv1.AlarmPolicyList{TypeMeta: metav1.TypeMeta{APIVersion: "monitor.tkestack.io/v1", Kind: "AlarmPolicyList"},
		Items: []monitorv1.AlarmPolicy{samplePolicy()}}
	f.objects[prjAPI+"/alarmsilences"] = &monitorv1.AlarmSilenceList{TypeMeta: metav1.TypeMeta{APIVersion: "monitor.tkestack.io/v1", Kind: "AlarmSilenceList"},
		Items: []monitorv1.AlarmSilence{{ObjectMeta: metav1.ObjectMeta{Name: "asil-1"}, Spec: monitorv1.AlarmSilenceSpec{
			Matchers: []monitorv1.Matcher{{Name: "alarm_policy", Value: "prj-aaaaaaaa/alarm-shop", Type: "="}}, EndsAt: metav1.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), CreatedBy: "alice", Comment: "deploying"}}}}
	w := do(s, "GET", prjBase, nil, false)
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("code %d: %s", w.Code, body)
	}
	for _, want := range []string{"Alarm settings of prj-aaaaaaaa", `id="tab-records"`, `id="policy-alarm-shop"`, "shop restarts", "Pod of Deployment/shop",
		"k8s_pod_restart_total &gt; 2 for 2 period(s)", `class="status-Active">Active`, "1 firing", "alarm-shop-c0 (for 1m)",
		`href="/console/business/projects/prj-aaaaaaaa/alarms/policies/new?edit=alarm-shop"`, `href="/console/business/projects/prj-aaaaaaaa/alarms/policies/new?copy=alarm-shop"`,
		`name="name" value="alarm-shop"`, `action="/console/business/projects/prj-aaaaaaaa/alarms/policies/delete"`, `id="delete-policies"`,
		`id="silence-asil-1"`, `alarm_policy=&#34;prj-aaaaaaaa/alarm-shop&#34;`, "active", "deploying", `id="expire-asil-1"`, `id="silence-form"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if !f.sent("GET "+prjAPI+"/alarmpolicies") || !f.sent("GET "+prjAPI+"/alarmsilences") {
		t.Errorf("requests %v", f.reqs)
	}
	// The platform console's page: kstack-system.
	w = do(s, "GET", sharedBase, nil, false)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "Alarm settings (shared)") || !f.sent("GET "+sharedAlarm+"/alarmpolicies") {
		t.Errorf("shared page %d, requests %v", w.Code, f.reqs)
	}
}

func TestParsePolicyForm(t *testing.T) {
	f, p := parsePolicyForm(postForm("displayName", "shop restarts", "target", "cls-a/web", "objectType", "Pod", "workload.kind", "deployment",
		"workload.name", "shop", "periodMinutes", "2",
		"cond.metric", "k8s_pod_restart_total", "cond.operator", ">", "cond.threshold", "abc", "cond.periods", "3",
		"cond.metric", "", "cond.operator", ">", "cond.threshold", "", "cond.periods", "1",
		"expr", "up == 0", "notify.channel", "chn-hook", "notify.template", "kstack-system/tpl-hook", "notify.channel", "", "notify.template", "",
		"receivers", "rcv-alice", "receiverGroups", "kstack-system/oncall", "repeatInterval", "1h", "sendResolved", "true"), "prj-aaaaaaaa")
	if p == nil {
		t.Fatalf("errors %v", f.Errors)
	}
	s := p.Spec
	if p.Namespace != "prj-aaaaaaaa" || p.GenerateName != "alarm-" || s.ClusterName != "cls-a" || s.Namespace != "web" || s.ObjectType != "Pod" ||
		s.Object.Workload == nil || s.Object.Workload.Kind != "Deployment" || s.PeriodMinutes != 2 || len(s.Conditions) != 1 ||
		s.Conditions[0].Threshold != "abc" || s.Conditions[0].Periods != 3 || s.Expr != "up == 0" || len(s.Notifications) != 1 ||
		s.Notifications[0].Template.Namespace != "kstack-system" || s.Receivers[0].Name != "rcv-alice" || s.ReceiverGroups[0].Namespace != "kstack-system" ||
		s.RepeatInterval.Duration.String() != "1h0m0s" || s.SendResolved == nil || !*s.SendResolved {
		t.Errorf("policy %+v", p)
	}
	// A cluster policy on the platform console: no namespace.
	_, p = parsePolicyForm(postForm("displayName", "nodes", "target", "cls-a/", "objectType", "Node", "nodes", "n1, n2", "periodMinutes", "1",
		"cond.metric", "k8s_node_cpu_usage", "cond.operator", ">", "cond.threshold", "90", "cond.periods", "1"), "kstack-system")
	if p == nil || p.Spec.Namespace != "" || fmt.Sprint(p.Spec.Object.Nodes) != "[n1 n2]" || *p.Spec.SendResolved {
		t.Errorf("cluster policy %+v", p)
	}
	for _, tt := range []struct {
		form  []string
		field string
	}{
		{[]string{"target", "cls-a/web", "objectType", "Pod", "periodMinutes", "1"}, "displayName"},
		{[]string{"displayName", "x", "objectType", "Pod", "periodMinutes", "1"}, "target"},
		{[]string{"displayName", "x", "target", "c/", "objectType", "Disk", "periodMinutes", "1"}, "objectType"},
		{[]string{"displayName", "x", "target", "c/", "objectType", "Pod", "periodMinutes", "1", "cond.metric", "m", "cond.threshold", "1", "cond.periods", "two"}, "conditions"},
		{[]string{"displayName", "x", "target", "c/", "objectType", "Pod", "periodMinutes", "1", "notify.channel", "chn"}, "notifications"},
		{[]string{"displayName", "x", "target", "c/", "objectType", "Pod", "periodMinutes", "1", "repeatInterval", "soon"}, "repeatInterval"},
	} {
		f, p := parsePolicyForm(postForm(tt.form...), "p")
		if p != nil || f.Errors[tt.field] == "" {
			t.Errorf("%v: policy %v, errors %v", tt.form, p, f.Errors)
		}
	}
}

func TestSavePolicy(t *testing.T) {
	s, f := alarmServer(t)
	form := map[string][]string{"displayName": {"shop restarts"}, "target": {"cls-a/web"}, "objectType": {"Pod"}, "periodMinutes": {"1"},
		"cond.metric": {"k8s_pod_foo"}, "cond.operator": {">"}, "cond.threshold": {"2"}, "cond.periods": {"2"},
		"notify.channel": {"chn-hook"}, "notify.template": {"tpl-hook"}}
	// The API's refusal, next to the form, in its words; htmx gets the form alone.
	f.refuse = `spec.conditions[0].metric "k8s_pod_foo": unknown metric for Pod policies; known: k8s_pod_cpu_core_used, <b>`
	w := do(s, "POST", prjBase+"/policies", form, true)
	body := w.Body.String()
	if w.Code != 200 || !strings.HasPrefix(strings.TrimSpace(body), `<form id="policy-form"`) ||
		!strings.Contains(body, `id="policy-error">spec.conditions[0].metric &#34;k8s_pod_foo&#34;: unknown metric for Pod policies; known: k8s_pod_cpu_core_used, &lt;b&gt;</div>`) {
		t.Fatalf("code %d:\n%s", w.Code, body)
	}
	if !strings.Contains(body, `value="shop restarts"`) {
		t.Error("the form does not keep what was typed")
	}
	var sent monitorv1.AlarmPolicy
	if err := json.Unmarshal(f.body("POST "+prjAPI+"/alarmpolicies"), &sent); err != nil || sent.GenerateName != "alarm-" || sent.Spec.Conditions[0].Metric != "k8s_pod_foo" {
		t.Fatalf("sent %s (%v)", f.body("POST "+prjAPI+"/alarmpolicies"), err)
	}
	// Accepted: back to the settings with a notice.
	f.refuse = ""
	w = do(s, "POST", prjBase+"/policies", form, true)
	if loc := w.Header().Get("HX-Redirect"); !strings.HasPrefix(loc, prjBase+"?notice=") || !strings.Contains(loc, "alarm-x1y2z") {
		t.Errorf("redirect %q (%d %s)", loc, w.Code, w.Body.String())
	}

	// Edit: the stored policy is read, its spec replaced from the form, and PUT.
	f.objects[prjAPI+"/alarmpolicies"] = &monitorv1.AlarmPolicyList{TypeMeta: metav1.TypeMeta{APIVersion: "monitor.tkestack.io/v1", Kind: "AlarmPolicyList"},
		Items: []monitorv1.AlarmPolicy{samplePolicy()}}
	w = do(s, "GET", prjBase+"/policies/new?edit=alarm-shop", nil, false)
	body = w.Body.String()
	for _, want := range []string{"Edit alarm policy alarm-shop", `name="edit" value="alarm-shop"`, `name="resourceVersion" value="42"`, `value="shop restarts"`,
		`<option value="k8s_pod_restart_total" selected>`, `value="2"`, `id="save-policy">Save policy`,
		// References the user cannot list stay chosen.
		`<option value="chn-hook" selected>chn-hook</option>`, `<option value="kstack-system/tpl-hook" selected>kstack-system/tpl-hook</option>`,
		`name="receivers" value="rcv-alice" checked`} {
		if !strings.Contains(body, want) {
			t.Errorf("the edit form lacks %q", want)
		}
	}
	form["edit"], form["resourceVersion"] = []string{"alarm-shop"}, []string{"42"}
	form["cond.metric"] = []string{"k8s_pod_restart_total"}
	w = do(s, "POST", prjBase+"/policies", form, true)
	var put monitorv1.AlarmPolicy
	if err := json.Unmarshal(f.body("PUT "+prjAPI+"/alarmpolicies/alarm-shop"), &put); err != nil || put.ResourceVersion != "42" || put.Spec.TenantID != "default" ||
		put.Spec.ProjectName != "prj-aaaaaaaa" || put.Spec.Conditions[0].Metric != "k8s_pod_restart_total" {
		t.Fatalf("edit sent %s (%v); %d %s", f.body("PUT "+prjAPI+"/alarmpolicies/alarm-shop"), err, w.Code, w.Body.String())
	}

	// Copy: the form pre-filled, as a new policy.
	w = do(s, "GET", prjBase+"/policies/new?copy=alarm-shop", nil, false)
	body = w.Body.String()
	if !strings.Contains(body, `value="Copy of shop restarts"`) || strings.Contains(body, `name="edit"`) || !strings.Contains(body, "New alarm policy") {
		t.Errorf("copy form:\n%s", body)
	}
}

func TestDeletePolicies(t *testing.T) {
	s, f := alarmServer(t)
	w := do(s, "POST", prjBase+"/policies/delete", map[string][]string{"name": {"a", "b"}, "confirm": {"yes"}}, true)
	if !strings.Contains(w.Body.String(), "type delete to confirm deleting 2 policies") || f.sent("DELETE "+prjAPI+"/alarmpolicies/a") {
		t.Fatalf("unconfirmed: %s %v", w.Body.String(), f.reqs)
	}
	w = do(s, "POST", prjBase+"/policies/delete", map[string][]string{"name": {"a", "b"}, "confirm": {"delete"}}, true)
	if !f.sent("DELETE "+prjAPI+"/alarmpolicies/a") || !f.sent("DELETE "+prjAPI+"/alarmpolicies/b") {
		t.Fatalf("batch delete sent %v", f.reqs)
	}
	if loc := w.Header().Get("HX-Redirect"); !strings.Contains(loc, "notice=Deleted+a%2C+b") {
		t.Errorf("redirect %q", loc)
	}
}

func TestSilences(t *testing.T) {
	s, f := alarmServer(t)
	w := do(s, "POST", prjBase+"/silences", map[string][]string{"matchers": {"alarm_policy=prj-aaaaaaaa/alarm-shop\npod=~shop-.*"}, "for": {"2h"}, "comment": {"deploying"}}, true)
	if loc := w.Header().Get("HX-Redirect"); !strings.Contains(loc, "asil-x1y2z") {
		t.Fatalf("create silence: %q %d %s", loc, w.Code, w.Body.String())
	}
	var sil monitorv1.AlarmSilence
	if err := json.Unmarshal(f.body("POST "+prjAPI+"/alarmsilences"), &sil); err != nil || len(sil.Spec.Matchers) != 2 || sil.Spec.Matchers[1].Type != "=~" ||
		sil.Spec.EndsAt.Sub(sil.Spec.StartsAt.Time).String() != "2h0m0s" || sil.Spec.Comment != "deploying" {
		t.Fatalf("sent %s (%v)", f.body("POST "+prjAPI+"/alarmsilences"), err)
	}
	// A bad matcher: the form again with the error, nothing sent.
	f.reqs = nil
	w = do(s, "POST", prjBase+"/silences", map[string][]string{"matchers": {"oops"}, "for": {"2h"}}, false)
	if !strings.Contains(w.Body.String(), `id="silence-error">&#34;oops&#34;: write LABEL=VALUE`) || f.sent("POST "+prjAPI+"/alarmsilences") {
		t.Fatalf("bad matcher: %s", w.Body.String())
	}
	w = do(s, "POST", prjBase+"/silences/asil-1/expire", map[string][]string{}, true)
	if !f.sent("PATCH "+prjAPI+"/alarmsilences/asil-1") || !strings.Contains(string(f.body("PATCH "+prjAPI+"/alarmsilences/asil-1")), `"endsAt"`) {
		t.Fatalf("expire sent %v; %d %s", f.reqs, w.Code, w.Body.String())
	}
}

func TestAlarmRecordsPage(t *testing.T) {
	s, f := alarmServer(t)
	f.records["/monitor/apis/monitor.tkestack.io/v1/namespaces/prj-aaaaaaaa/alarms"] = `{"items":[{"time":"2026-01-02T10:00:00Z","cluster":"cls-a","namespace":"web","name":"prj-aaaaaaaa/alarm-shop","verb":"firing",
	 "data":{"policy":{"displayName":"shop restarts"},"metric":"k8s_pod_restart_total","labels":{"pod":"shop-1"},"value":"5","firedAt":"2026-01-02T10:00:00Z","status":"firing"}}],"continue":"tok2"}`
	w := do(s, "GET", prjBase+"/records?policy=prj-aaaaaaaa/alarm-shop&status=firing", nil, false)
	body := w.Body.String()
	for _, want := range []string{`id="alarm-records"`, "2026-01-02 10:00:00", "shop restarts", "prj-aaaaaaaa/alarm-shop", "shop-1", "k8s_pod_restart_total",
		`<td>5</td>`, `id="older"`, `<option selected>firing</option>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	q := f.queries["/monitor/apis/monitor.tkestack.io/v1/namespaces/prj-aaaaaaaa/alarms"]
	if !strings.Contains(q, "policy=prj-aaaaaaaa%2Falarm-shop") || !strings.Contains(q, "status=firing") || !strings.Contains(q, "startTime=") {
		t.Errorf("query %q", q)
	}
	// Notifications: the notify group's search.
	f.records["/notify/apis/notify.tkestack.io/v1/namespaces/prj-aaaaaaaa/notifications"] = `{"items":[{"time":"2026-01-02T10:00:30Z","name":"prj-aaaaaaaa/chn-hook","verb":"firing","user":"rcv-alice","code":503,
	 "data":{"status":"failed","attempts":6,"lastError":"503 Service Unavailable","channelType":"webhook"}}]}`
	w = do(s, "GET", prjBase+"/records?kind=notifications&result=failure", nil, false)
	body = w.Body.String()
	for _, want := range []string{`id="notification-records"`, "prj-aaaaaaaa/chn-hook", "rcv-alice", `class="status-Failed">failed`, "503 Service Unavailable"} {
		if !strings.Contains(body, want) {
			t.Errorf("the notifications page lacks %q", want)
		}
	}
	if q := f.queries["/notify/apis/notify.tkestack.io/v1/namespaces/prj-aaaaaaaa/notifications"]; !strings.Contains(q, "result=failure") || strings.Contains(q, "kind=") {
		t.Errorf("query %q", q)
	}
}

func TestChannelsPageAndTestSend(t *testing.T) {
	s, f := alarmServer(t)
	f.objects[prjNotify+"/channels"] = &notifyv1.ChannelList{TypeMeta: metav1.TypeMeta{APIVersion: "notify.tkestack.io/v1", Kind: "ChannelList"},
		Items: []notifyv1.Channel{{ObjectMeta: metav1.ObjectMeta{Name: "chn-hook"}, Spec: notifyv1.ChannelSpec{Type: "webhook", CredentialsSecret: "channel-prj-aaaaaaaa-chn-hook",
			Webhook: &notifyv1.WebhookChannel{URL: "https://hooks.example/x", Headers: []notifyv1.Header{{Name: "X-Team", Value: "shop"}, {Name: "Authorization", Secret: true}}}}}}}
	w := do(s, "GET", prjBase+"/channels", nil, false)
	body := w.Body.String()
	for _, want := range []string{`id="channel-chn-hook"`, "https://hooks.example/x", "X-Team: shop", "Authorization: (kept by the platform)", "credentials kept by the platform",
		`hx-post="/console/business/projects/prj-aaaaaaaa/alarms/channels/chn-hook/test"`, `id="test-chn-hook"`, `id="channel-form"`, `type="password" name="email.password"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "channel-prj-aaaaaaaa-chn-hook") {
		t.Error("the page names the credentials' Secret")
	}
	// Test-send: the API's result, as a fragment.
	f.testRes = `{"status":"failed","code":535,"error":"SMTP server refused authentication: 535 5.7.8 bad credentials"}`
	w = do(s, "POST", prjBase+"/channels/chn-hook/test", map[string][]string{"receiver": {"kstack-system/rcv-ops"}, "template": {"tpl-1"}}, true)
	if body := w.Body.String(); !strings.Contains(body, `id="test-failed">failed (535): SMTP server refused authentication: 535 5.7.8 bad credentials`) {
		t.Fatalf("test-send showed %s", body)
	}
	var req notifyv1.TestSendRequest
	if err := json.Unmarshal(f.body("POST /notify/apis/notify.tkestack.io/v1/namespaces/prj-aaaaaaaa/channels/chn-hook/test"), &req); err != nil ||
		req.Receiver == nil || req.Receiver.Namespace != "kstack-system" || req.Receiver.Name != "rcv-ops" || req.Template == nil || req.Template.Name != "tpl-1" {
		t.Fatalf("test-send sent %+v (%v)", req, err)
	}
	f.testRes = `{"status":"sent","code":250}`
	w = do(s, "POST", prjBase+"/channels/chn-hook/test", map[string][]string{}, true)
	if body := w.Body.String(); !strings.Contains(body, `id="test-sent">sent (250)`) {
		t.Fatalf("test-send showed %s", body)
	}

	// Create: the password goes to the API, and is not shown back on a refusal.
	f.refuse = "spec.webhook.url: 127.0.0.1 (127.0.0.1) is a loopback address, which the platform may not dial"
	w = do(s, "POST", prjBase+"/channels", map[string][]string{"type": {"webhook"}, "webhook.url": {"http://127.0.0.1:9/x"},
		"webhook.secretHeaders": {"Authorization: Bearer s3cret-token"}, "webhook.headers": {"X-A: b"}}, true)
	body = w.Body.String()
	if !strings.HasPrefix(strings.TrimSpace(body), `<form id="channel-form"`) || !strings.Contains(body, "is a loopback address") ||
		strings.Contains(body, "s3cret-token") || !strings.Contains(body, "(kept by the platform): Authorization") {
		t.Fatalf("refused create:\n%s", body)
	}
	var ch notifyv1.Channel
	if err := json.Unmarshal(f.body("POST "+prjNotify+"/channels"), &ch); err != nil || ch.Spec.Webhook == nil || len(ch.Spec.Webhook.Headers) != 2 ||
		!ch.Spec.Webhook.Headers[1].Secret || ch.Spec.Webhook.Headers[1].Value != "Bearer s3cret-token" || ch.GenerateName != "chn-" {
		t.Fatalf("sent %+v (%v)", ch, err)
	}
}

func TestTemplatesPage(t *testing.T) {
	s, f := alarmServer(t)
	w := do(s, "GET", prjBase+"/templates?default=webhook", nil, false)
	body := w.Body.String()
	if !strings.Contains(body, "&#34;version&#34;: &#34;4&#34;") || !strings.Contains(body, `<option selected>webhook</option>`) || !strings.Contains(body, "Variables and functions") {
		t.Fatalf("the page with the webhook default:\n%s", body)
	}
	// A template with an unknown variable is refused by the console's check, without a request.
	w = do(s, "POST", prjBase+"/templates", map[string][]string{"channelType": {"sms"}, "body": {"{{ .Secrets }}"}}, true)
	if body := w.Body.String(); !strings.Contains(body, "spec.body: unknown variable .Secrets at 1:4") || f.sent("POST "+prjNotify+"/templates") {
		t.Fatalf("bad template: %s", body)
	}
	w = do(s, "POST", prjBase+"/templates", map[string][]string{"channelType": {"sms"}, "body": {"{{ .Status }}"}, "contentType": {"application/json"}}, true)
	if loc := w.Header().Get("HX-Redirect"); !strings.Contains(loc, "tpl-x1y2z") {
		t.Fatalf("create: %q %s", loc, w.Body.String())
	}
	var tpl notifyv1.Template
	if err := json.Unmarshal(f.body("POST "+prjNotify+"/templates"), &tpl); err != nil || tpl.Spec.Body != "{{ .Status }}" || tpl.Spec.ContentType != "" {
		t.Fatalf("sent %+v (%v)", tpl, err)
	}
}

func TestReceiversAndDelete(t *testing.T) {
	s, f := alarmServer(t)
	w := do(s, "POST", prjBase+"/receivers", map[string][]string{"displayName": {"Alice"}}, false)
	if !strings.Contains(w.Body.String(), "give at least one address") || f.sent("POST "+prjNotify+"/receivers") {
		t.Fatalf("receiver without address: %s", w.Body.String())
	}
	w = do(s, "POST", prjBase+"/receivers", map[string][]string{"displayName": {"Alice"}, "email": {"alice@example.com"}}, true)
	if loc := w.Header().Get("HX-Redirect"); !strings.Contains(loc, "rcv-x1y2z") {
		t.Fatalf("create receiver: %q", loc)
	}
	w = do(s, "POST", prjBase+"/receivergroups", map[string][]string{"displayName": {"On call"}, "receivers": {"rcv-a", "kstack-system/rcv-ops"}}, true)
	var g notifyv1.ReceiverGroup
	if err := json.Unmarshal(f.body("POST "+prjNotify+"/receivergroups"), &g); err != nil || len(g.Spec.Receivers) != 2 || g.Spec.Receivers[1].Namespace != "kstack-system" {
		t.Fatalf("group sent %+v (%v)", g, err)
	}
	// Delete asks for the name.
	w = do(s, "POST", prjBase+"/channels/chn-hook/delete", map[string][]string{"confirm": {"chn"}}, true)
	if !strings.Contains(w.Body.String(), "type the name chn-hook to confirm") || f.sent("DELETE "+prjNotify+"/channels/chn-hook") {
		t.Fatalf("unconfirmed delete: %s", w.Body.String())
	}
	w = do(s, "POST", prjBase+"/receivergroups/oncall/delete", map[string][]string{"confirm": {"oncall"}}, true)
	if !f.sent("DELETE "+prjNotify+"/receivergroups/oncall") || !strings.Contains(w.Header().Get("HX-Redirect"), prjBase+"/receivers?notice=") {
		t.Fatalf("delete sent %v; %q", f.reqs, w.Header().Get("HX-Redirect"))
	}
	if w := do(s, "POST", prjBase+"/secrets/x/delete", map[string][]string{"confirm": {"x"}}, true); !strings.Contains(w.Body.String(), "no page for") {
		t.Fatalf("unknown kind: %s", w.Body.String())
	}
}
