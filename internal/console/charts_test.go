package console

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	applicationv1 "github.com/kstack/kstack/api/application/v1"
	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
)

// helmFake stands in for the gateway's registry (charts, chart groups),
// application and business groups. It records every request and its body.
type helmFake struct {
	mu     sync.Mutex
	reqs   []string
	bodies map[string]string
	// refuse: "METHOD path?query" → "CODE message" (CODE 409 when left out).
	refuse map[string]string
}

const appAPIBase = "/application/apis/application.tkestack.io/v1"

// The secrets the fake's objects carry, which no page may show.
const (
	leakedRepoPassword = "repo-pw-LEAK"
	leakedSecretValues = "stored-secret-LEAK"
	typedSecret        = "s3cr3t-TYPED-value"
)

func (f *helmFake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := r.Method + " " + r.URL.RequestURI()
	f.mu.Lock()
	f.reqs = append(f.reqs, key)
	f.bodies[key] = string(body)
	refusal, refused := f.refuse[key]
	f.mu.Unlock()
	status := func(code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "message": msg})
	}
	if refused {
		code := http.StatusConflict
		var c int
		if n, _ := fmt.Sscanf(refusal, "%d ", &c); n == 1 && c >= 400 {
			code, refusal = c, refusal[4:]
		}
		status(code, refusal)
		return
	}
	p, q := r.URL.Path, r.URL.Query()
	w.Header().Set("Content-Type", "application/json")
	apps := appAPIBase + "/namespaces/prj-aaaaaaaa/apps"
	switch {
	case p == "/business/apis/business.tkestack.io/v1/portal":
		fmt.Fprint(w, `{"projects":[{"name":"prj-aaaaaaaa","displayName":"Shop","role":"project-member","clusters":["cls-a"],"namespaces":["cls-a/web","cls-a/shop"]}]}`)
	case p == "/business/apis/business.tkestack.io/v1/projects":
		fmt.Fprint(w, `{"kind":"ProjectList","items":[{"metadata":{"name":"prj-aaaaaaaa"},"spec":{"displayName":"Shop"}},{"metadata":{"name":"prj-bbbbbbbb"},"spec":{"displayName":"Other"}}]}`)
	case p == "/business/apis/business.tkestack.io/v1/namespaces":
		fmt.Fprint(w, `{"kind":"NamespaceList","items":[{"metadata":{"namespace":"prj-bbbbbbbb","name":"cls-b-api"},"spec":{"projectName":"prj-bbbbbbbb","clusterName":"cls-b","namespace":"api"}}]}`)

	// ---- Charts ----
	case p == regAPI+"/charts":
		all := []map[string]any{
			{"name": "nginx", "chartGroup": "team-a", "visibility": "Project", "latestVersion": "1.2.0", "appVersion": "1.25", "description": "A web server", "versions": 2, "pull": "oci://reg:8443/team-a/nginx"},
			{"name": "redis", "chartGroup": "stable", "visibility": "Public", "latestVersion": "7.0.1", "description": "A cache", "versions": 1, "pull": "oci://reg:8443/stable/redis"},
			{"name": "tool", "chartGroup": "mine", "visibility": "User", "latestVersion": "0.1.0", "versions": 1},
		}
		items := []map[string]any{}
		for _, c := range all {
			if v := q.Get("visibility"); v == "" || c["visibility"] == v {
				items = append(items, c)
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"kind": "ChartList", "items": items})
	case p == regAPI+"/chartgroupportal":
		fmt.Fprint(w, `{"kind":"ChartGroupList","items":[`+
			`{"metadata":{"name":"team-a"},"spec":{"tenantID":"default","displayName":"Team A","visibility":"Project","projects":["prj-aaaaaaaa"],"type":"SelfBuilt","creator":"alice"},"status":{"chartCount":1}},`+
			`{"metadata":{"name":"stable"},"spec":{"tenantID":"default","visibility":"Public","type":"Imported","creator":"admin","importedInfo":{"addr":"https://charts.example.com/stable","username":"robot","password":"`+leakedRepoPassword+`","passwordSecret":"chartgroup-stable","syncInterval":"6h0m0s"}},`+
			`"status":{"phase":"Failed","message":"index.yaml: 401 Unauthorized","chartCount":1,"lastSyncTime":"2025-03-01T12:00:00Z"}}]}`)
	case p == regAPI+"/chartgroups/team-a" && r.Method == http.MethodGet:
		status(http.StatusForbidden, "pm may not getChartgroup")
	case p == regAPI+"/chartgroups/stable" && r.Method == http.MethodGet:
		fmt.Fprint(w, `{"metadata":{"name":"stable"},"spec":{"tenantID":"default","visibility":"Public","type":"Imported","creator":"admin","importedInfo":{"addr":"https://charts.example.com/stable","username":"robot","password":"`+leakedRepoPassword+`","passwordSecret":"chartgroup-stable"}},"status":{"phase":"Ready","chartCount":1}}`)
	case p == regAPI+"/chartgroups" && r.Method == http.MethodPost:
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
	case p == regAPI+"/chartgroups/team-a/charts":
		fmt.Fprint(w, `{"kind":"ChartList","items":[{"name":"nginx","chartGroup":"team-a","latestVersion":"1.2.0","versions":2,"description":"A web server"}]}`)
	case p == regAPI+"/chartgroups/stable/charts":
		fmt.Fprint(w, `{"kind":"ChartList","items":[]}`)
	case p == regAPI+"/chartgroups/team-a/charts/nginx" && r.Method == http.MethodGet:
		fmt.Fprint(w, `{"kind":"ChartVersionList","chart":"nginx","chartGroup":"team-a","items":[`+
			`{"version":"1.2.0","appVersion":"1.25","digest":"sha256:aaa","size":2048,"pushedAt":"2025-03-02T08:00:00Z"},{"version":"1.1.0","appVersion":"1.24","digest":"sha256:bbb","size":1024}]}`)
	case strings.HasPrefix(p, regAPI+"/chartgroups/team-a/charts/nginx/versions/") && r.Method == http.MethodGet:
		v := strings.TrimPrefix(p, regAPI+"/chartgroups/team-a/charts/nginx/versions/")
		_ = json.NewEncoder(w).Encode(registryv1.ChartDetail{Chart: "nginx", ChartGroup: "team-a", Version: v, AppVersion: "1.25", Description: "A web server",
			Readme: "# NGINX " + v + "\nServes pages.", Values: "replicaCount: 1\nimage:\n  tag: " + v + "\n", ValuesSchema: `{"properties":{"replicaCount":{"type":"integer"}}}`,
			Digest: "sha256:aaa", Pull: "oci://reg:8443/team-a/nginx"})
	case strings.HasSuffix(p, "/guide"):
		_ = json.NewEncoder(w).Encode(registryv1.ChartUploadGuide{Registry: "reg:8443", ChartGroup: "team-a", Username: "pm",
			Login: "helm registry login reg:8443 --username pm", Package: "helm package ./CHART-DIR", Push: "helm push CHART-VERSION.tgz oci://reg:8443/team-a",
			Pull: "helm pull oci://reg:8443/team-a/CHART --version VERSION", Notes: []string{"log in with your password or an access key"}})
	case p == regAPI+"/chartgroups/stable/sync":
		fmt.Fprint(w, `{"kind":"ChartSyncResult","chartGroup":"stable","charts":3,"versions":7,"copied":5,"skipped":1,"failed":1,"errors":["redis 6.0.0: 404"]}`)

	// ---- Applications ----
	case p == apps && r.Method == http.MethodGet, p == appAPIBase+"/apps":
		fmt.Fprint(w, `{"kind":"AppList","items":[`+sampleAppJSON("web", "")+`,`+
			`{"metadata":{"name":"busy","namespace":"prj-aaaaaaaa"},"spec":{"targetCluster":"cls-a","targetNamespace":"shop","chart":{"chartGroupName":"stable","chartName":"redis","chartVersion":"7.0.1"}},`+
			`"status":{"phase":"Upgrading","revision":3,"operation":{"type":"upgrade","user":"alice","startedAt":"2025-03-03T09:00:00Z"}}}]}`)
	case p == apps && r.Method == http.MethodPost:
		var a applicationv1.App
		_ = json.Unmarshal(body, &a)
		if a.Spec.DryRun {
			a.Status.Manifest = "apiVersion: v1\nkind: Secret\ndata:\n  password: " + base64.StdEncoding.EncodeToString([]byte(typedSecret)) +
				"\n---\nkind: ConfigMap\ndata:\n  dsn: postgres://u:" + typedSecret + "@db\n  replicas: \"2\"\n"
			a.Status.Message = "dry run: nothing was installed"
			_ = json.NewEncoder(w).Encode(a)
			return
		}
		a.Spec.Values.SecretValues = ""
		a.Status.Phase, a.Status.Revision, a.Status.Message = applicationv1.AppSucceeded, 1, "installed revision 1 of nginx 1.2.0"
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(a)
	case p == apps+"/web" && r.Method == http.MethodGet:
		fmt.Fprint(w, sampleAppJSON("web", leakedSecretValues))
	case p == apps+"/web/resources":
		fmt.Fprint(w, `{"kind":"AppResourceList","revision":2,"items":[`+
			`{"apiVersion":"apps/v1","kind":"Deployment","namespace":"web","name":"web-nginx","status":"Ready"},`+
			`{"apiVersion":"v1","kind":"Service","namespace":"web","name":"web-nginx","status":"NotReady","message":"no endpoints"},`+
			`{"apiVersion":"v1","kind":"ConfigMap","namespace":"web","name":"web-conf","status":"Missing","message":"not in the cluster"},`+
			`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","name":"web-reader","status":"Unknown","message":"you may not read it"}]}`)
	case p == apps+"/web/histories":
		fmt.Fprint(w, `{"kind":"AppHistory","items":[{"revision":2,"status":"deployed","chart":"nginx","chartVersion":"1.2.0","appVersion":"1.25","updated":"2025-03-02T10:00:00Z","description":"Upgrade complete"},`+
			`{"revision":1,"status":"superseded","chart":"nginx","chartVersion":"1.1.0","description":"Install complete"}]}`)
	case p == apps+"/web/diff":
		_ = json.NewEncoder(w).Encode(applicationv1.AppValuesDiff{From: atoi(q.Get("from")), To: atoi(q.Get("to")), FromValues: "auth:\n  password: '******'\nreplicaCount: 1\n",
			ToValues: "auth:\n  password: '******'\nreplicaCount: 2\n",
			Diff:     "--- revision " + q.Get("from") + "\n+++ revision " + q.Get("to") + "\n@@ -1,3 +1,3 @@\n auth:\n   password: '******'\n-replicaCount: 1\n+replicaCount: 2\n"})
	case p == apps+"/web" && r.Method == http.MethodPut:
		fmt.Fprint(w, `{"metadata":{"name":"web","namespace":"prj-aaaaaaaa"},"status":{"phase":"Succeeded","revision":3,"message":"upgraded to revision 3: nginx 1.1.0"}}`)
	case p == apps+"/web/rollback":
		fmt.Fprint(w, `{"metadata":{"name":"web","namespace":"prj-aaaaaaaa"},"status":{"phase":"Succeeded","revision":3,"message":"rolled back to revision 1 (now revision 3)"}}`)
	case r.Method == http.MethodDelete:
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Success","code":200}`)
	default:
		status(http.StatusNotFound, "no "+p)
	}
}

func atoi(s string) int {
	var n int
	_, _ = fmt.Sscanf(s, "%d", &n)
	return n
}

// sampleAppJSON is an installed application; secret is what a (faulty)
// API would serve as its secret values.
func sampleAppJSON(name, secret string) string {
	return `{"kind":"App","metadata":{"name":"` + name + `","namespace":"prj-aaaaaaaa","creationTimestamp":"2025-03-01T12:00:00Z"},` +
		`"spec":{"type":"HelmV3","targetCluster":"cls-a","targetNamespace":"web","chart":{"chartGroupName":"team-a","chartName":"nginx","chartVersion":"1.2.0"},` +
		`"values":{"rawValues":"replicaCount: 2\n","rawValuesType":"yaml","secretValues":"` + secret + `","secretName":"web-values","secretKeys":["auth.password"]},"wait":true,"timeout":"10m0s"},` +
		`"status":{"phase":"Succeeded","releaseStatus":"deployed","revision":2,"message":"upgraded to revision 2: nginx 1.2.0",` +
		`"lastOperation":{"type":"upgrade","user":"alice","startedAt":"2025-03-02T10:00:00Z","finishedAt":"2025-03-02T10:01:00Z","result":"Succeeded"}}}`
}

func (f *helmFake) sent(req string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.reqs {
		if r == req {
			return true
		}
	}
	return false
}

func (f *helmFake) body(req string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bodies[req]
}

func (f *helmFake) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = nil
}

// helmServer serves the chart and application pages as the
// administrator (the fake decider allows everything: the API decides).
func helmServer(t *testing.T) (*Server, *helmFake) {
	s := testServer(t)
	f := &helmFake{bodies: map[string]string{}, refuse: map[string]string{}}
	s.Serve = func(w http.ResponseWriter, r *http.Request, _ *directory.Principal) { f.serve(w, r) }
	s.Decider = &decision.Decider{}
	mux := http.NewServeMux()
	s.helmRoutesWith(mux, func(h handlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h(w, &request{Request: r, s: s, user: admin, csrf: "tok"})
		})
	})
	testMuxes.Store(s, mux)
	return s, f
}

func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(body, want) {
			t.Errorf("%s lacks %s", what, want)
		}
	}
}

func mustNotContain(t *testing.T, what, body string, bads ...string) {
	t.Helper()
	for _, bad := range bads {
		if strings.Contains(body, bad) {
			t.Errorf("%s has %s", what, bad)
		}
	}
}

func TestChartsPage(t *testing.T) {
	s, f := helmServer(t)
	for _, root := range []string{"/console/platform", "/console/business"} {
		w := do(s, "GET", root+"/charts", nil, false)
		body := w.Body.String()
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", root, w.Code, body)
		}
		mustContain(t, root+" charts", body, `id="charts"`, `id="tab-charts" aria-current="page"`, `href="`+root+`/chartgroups"`,
			`id="vis-all" aria-current="page"`, `href="`+root+`/charts?visibility=Project"`, `id="vis-public"`,
			`href="`+root+`/chartgroups/team-a/charts/nginx"`, `href="`+root+`/chartgroups/team-a"`, "1.2.0", "A web server", "(2 versions)",
			`href="`+root+`/apps/new?chart=nginx&amp;group=team-a&amp;version=1.2.0"`, "redis", "tool",
			`id="nav-charts"`, `id="nav-apps"`, `href="`+root+`/apps"`)
	}
	if w := do(s, "GET", "/console/business/charts", nil, false); !strings.Contains(w.Body.String(), `aria-label="Business"`) {
		t.Errorf("the business console's page is in the business console")
	}
	// A tab asks the API for its visibility alone.
	w := do(s, "GET", "/console/platform/charts?visibility=Public", nil, false)
	body := w.Body.String()
	if !f.sent("GET "+regAPI+"/charts?visibility=Public") || !strings.Contains(body, `id="vis-public" aria-current="page"`) ||
		!strings.Contains(body, "redis") || strings.Contains(body, "A web server") {
		t.Fatalf("the Public tab: %v\n%s", f.reqs, body)
	}
	// An unknown tab is All.
	f.reset()
	do(s, "GET", "/console/platform/charts?visibility=Secret", nil, false)
	if !f.sent("GET " + regAPI + "/charts") {
		t.Fatalf("an unknown tab: %v", f.reqs)
	}
	// The API's refusal is shown.
	f.refuse["GET "+regAPI+"/charts"] = "503 the registry is off on this platform"
	w = do(s, "GET", "/console/platform/charts", nil, false)
	mustContain(t, "a refused list", w.Body.String(), `id="charts-error"`, "the registry is off")
}

func TestChartPage(t *testing.T) {
	s, f := helmServer(t)
	w := do(s, "GET", "/console/business/chartgroups/team-a/charts/nginx", nil, false)
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, body)
	}
	mustContain(t, "the chart page", body, "Chart team-a/nginx", `id="chart-versions"`, `<strong aria-current="true">1.2.0</strong>`,
		`href="/console/business/chartgroups/team-a/charts/nginx?version=1.1.0"`, "2.0 KiB", "sha256:bbb",
		"# NGINX 1.2.0", `id="chart-values-yaml">replicaCount: 1`, `id="chart-schema-json">{&#34;properties&#34;`,
		`id="install-chart"`, `href="/console/business/apps/new?chart=nginx&amp;group=team-a&amp;version=1.2.0"`,
		`id="chart-pull">helm pull oci://reg:8443/team-a/nginx --version 1.2.0</pre>`, `data-copy="chart-pull"`,
		`id="confirm-delete-chart"`, `id="confirm-delete-version-1.1.0"`, `name="version" value="1.1.0"`)
	// Another version.
	w = do(s, "GET", "/console/business/chartgroups/team-a/charts/nginx?version=1.1.0", nil, false)
	mustContain(t, "version 1.1.0", w.Body.String(), "# NGINX 1.1.0", `<strong aria-current="true">1.1.0</strong>`, "version=1.1.0")
	// A chart the API does not have.
	w = do(s, "GET", "/console/business/chartgroups/team-a/charts/nope", nil, false)
	if w.Code != http.StatusNotFound {
		t.Fatalf("a missing chart: %d", w.Code)
	}
	if w := do(s, "GET", "/console/business/chartgroups/Bad_Group/charts/nginx", nil, false); w.Code != http.StatusNotFound {
		t.Fatalf("an invalid group: %d", w.Code)
	}

	// Deletes: a version after typing it, the chart after typing its name.
	w = do(s, "POST", "/console/business/chartgroups/team-a/charts/nginx/delete", map[string][]string{"version": {"1.1.0"}, "confirm": {"1.1.0"}}, true)
	if !f.sent("DELETE "+regAPI+"/chartgroups/team-a/charts/nginx/versions/1.1.0") ||
		w.Header().Get("HX-Redirect") != "/console/business/chartgroups/team-a/charts/nginx?notice=Version+1.1.0+of+chart+nginx+of+team-a+deleted" {
		t.Fatalf("a version delete: %v %v", f.reqs, w.Header())
	}
	w = do(s, "POST", "/console/business/chartgroups/team-a/charts/nginx/delete", map[string][]string{"confirm": {"nginx"}}, true)
	if !f.sent("DELETE "+regAPI+"/chartgroups/team-a/charts/nginx") ||
		w.Header().Get("HX-Redirect") != "/console/business/chartgroups/team-a?notice=Chart+nginx+of+team-a+deleted" {
		t.Fatalf("a chart delete: %v %v", f.reqs, w.Header())
	}
	f.reset()
	w = do(s, "POST", "/console/business/chartgroups/team-a/charts/nginx/delete", map[string][]string{"version": {"1.1.0"}, "confirm": {"nginx"}}, true)
	if len(f.reqs) != 0 || !strings.Contains(w.Body.String(), "type 1.1.0 to confirm") {
		t.Fatalf("an unconfirmed delete: %v %s", f.reqs, w.Body.String())
	}
	f.refuse["DELETE "+regAPI+"/chartgroups/team-a/charts/nginx"] = "403 pm may not delete in chart group team-a"
	w = do(s, "POST", "/console/business/chartgroups/team-a/charts/nginx/delete", map[string][]string{"confirm": {"nginx"}}, true)
	if w.Header().Get("HX-Retarget") != "#alert" || !strings.Contains(w.Body.String(), "pm may not delete in chart group team-a") {
		t.Fatalf("a refused delete: %v %s", w.Header(), w.Body.String())
	}
}

func TestChartGroupsPage(t *testing.T) {
	s, f := helmServer(t)
	w := do(s, "GET", "/console/platform/chartgroups", nil, false)
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, body)
	}
	mustContain(t, "the repositories", body, `id="tab-chartgroups" aria-current="page"`, `id="chartgroups"`, `id="cg-team-a"`, "Team A", "prj-aaaaaaaa",
		"SelfBuilt", "Imported", "https://charts.example.com/stable", "index.yaml: 401 Unauthorized", "2025-03-01 12:00:00",
		`href="/console/platform/chartgroups/team-a#guide"`, `id="sync-stable"`, `action="/console/platform/chartgroups/stable/sync"`,
		`id="confirm-delete-team-a"`, `id="force-stable"`,
		`id="cg-form"`, `name="project" value="prj-aaaaaaaa"`, "Shop (prj-aaaaaaaa)", `id="cg-import"`, `id="cg-password"`)
	mustNotContain(t, "the repositories", body, leakedRepoPassword, `id="sync-team-a"`)
	if !f.sent("GET " + regAPI + "/chartgroupportal") {
		t.Fatalf("the groups were not read from the portal: %v", f.reqs)
	}
}

func TestCreateChartGroup(t *testing.T) {
	s, f := helmServer(t)
	// Self-built, shared with projects.
	w := do(s, "POST", "/console/platform/chartgroups", map[string][]string{"name": {"team-b"}, "displayName": {"B"}, "description": {"charts of B"},
		"visibility": {"Project"}, "project": {"prj-aaaaaaaa"}, "moreProjects": {"prj-bbbbbbbb, prj-aaaaaaaa"}, "users": {"ignored"}}, true)
	if w.Code != http.StatusNoContent || !strings.HasPrefix(w.Header().Get("HX-Redirect"), "/console/platform/chartgroups/team-b?notice=Repository+team-b+created") {
		t.Fatalf("create: %d %v %s", w.Code, w.Header(), w.Body.String())
	}
	var sent registryv1.ChartGroup
	if err := json.Unmarshal([]byte(f.body("POST "+regAPI+"/chartgroups")), &sent); err != nil {
		t.Fatal(err)
	}
	if sent.Kind != "ChartGroup" || sent.Name != "team-b" || sent.Spec.Visibility != "Project" || sent.Spec.Type != registryv1.SelfBuilt || sent.Spec.DisplayName != "B" ||
		sent.Spec.Description != "charts of B" || strings.Join(sent.Spec.Projects, ",") != "prj-aaaaaaaa,prj-bbbbbbbb" || len(sent.Spec.Users) != 0 || sent.Spec.ImportedInfo != nil {
		t.Fatalf("create sent %+v", sent)
	}
	// Imported, with a password.
	w = do(s, "POST", "/console/platform/chartgroups", map[string][]string{"name": {"vendor"}, "visibility": {"Public"}, "import": {"true"},
		"addr": {"https://charts.vendor.example"}, "username": {"robot"}, "password": {"hunter2-pw"}, "syncInterval": {"6h"}, "latestVersions": {"3"}}, true)
	if !strings.HasPrefix(w.Header().Get("HX-Redirect"), "/console/platform/chartgroups/vendor?notice=") {
		t.Fatalf("an import: %d %v %s", w.Code, w.Header(), w.Body.String())
	}
	sent = registryv1.ChartGroup{}
	_ = json.Unmarshal([]byte(f.body("POST "+regAPI+"/chartgroups")), &sent)
	if i := sent.Spec.ImportedInfo; sent.Spec.Type != registryv1.Imported || i == nil || i.Addr != "https://charts.vendor.example" || i.Username != "robot" ||
		i.Password != "hunter2-pw" || i.SyncInterval == nil || i.SyncInterval.Duration.String() != "6h0m0s" || i.LatestVersions != 3 {
		t.Fatalf("an import sent %+v", sent.Spec)
	}
	// The API's refusal is shown in the form with what was typed, but the
	// password is asked for again.
	f.refuse["POST "+regAPI+"/chartgroups"] = `422 spec.importedInfo.addr "http://127.0.0.1/charts" is a loopback address`
	for _, htmx := range []bool{true, false} {
		w = do(s, "POST", "/console/platform/chartgroups", map[string][]string{"name": {"vendor"}, "visibility": {"Public"}, "import": {"true"},
			"addr": {"http://127.0.0.1/charts"}, "username": {"robot"}, "password": {"hunter2-pw"}, "syncInterval": {"6h"}}, htmx)
		body := w.Body.String()
		if w.Code != 200 {
			t.Fatalf("a refused import: %d %s", w.Code, body)
		}
		mustContain(t, "a refused import", body, `id="cg-error"`, "is a loopback address", `value="vendor"`, `value="http://127.0.0.1/charts"`, `value="robot"`,
			`value="6h"`, `id="cg-import" checked`, `id="cg-password-again"`)
		mustNotContain(t, "a refused import", body, "hunter2-pw")
		if htmx && strings.Contains(body, "<html") {
			t.Errorf("an htmx refusal is the whole page")
		}
	}
	// Forms with wrong fields are not sent.
	f.reset()
	w = do(s, "POST", "/console/platform/chartgroups", map[string][]string{"visibility": {"Project"}, "import": {"true"}, "syncInterval": {"soon"}, "latestVersions": {"x"}}, true)
	mustContain(t, "a wrong form", w.Body.String(), "name the repository", "tick or name the projects", "give the repository&#39;s URL", "is not a duration", "a number:")
	if len(f.reqs) > 1 { // the portal only
		t.Fatalf("a wrong form sent %v", f.reqs)
	}
}

func TestChartGroupPageSyncAndDelete(t *testing.T) {
	s, f := helmServer(t)
	// Read through a project: the details come from the portal.
	w := do(s, "GET", "/console/business/chartgroups/team-a", nil, false)
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, body)
	}
	mustContain(t, "the group page", body, `id="cg-details"`, "Team A", "Project: <span class=\"mono\">prj-aaaaaaaa</span>", "SelfBuilt",
		`id="cg-charts"`, `href="/console/business/chartgroups/team-a/charts/nginx"`, `id="install-nginx"`,
		`id="guide-login">helm registry login reg:8443 --username pm</pre>`, `id="guide-package">helm package ./CHART-DIR</pre>`,
		`id="guide-push">helm push CHART-VERSION.tgz oci://reg:8443/team-a</pre>`, `data-copy="guide-pull"`, "log in with your password or an access key",
		`id="confirm-delete-cg"`)
	mustNotContain(t, "the self-built group", body, `id="sync-now"`)
	// An imported group: its repository, a kept password (never shown), sync.
	w = do(s, "GET", "/console/platform/chartgroups/stable", nil, false)
	body = w.Body.String()
	mustContain(t, "the imported group", body, `id="cg-addr">https://charts.example.com/stable</dd>`, "robot", `id="cg-password">kept by the platform (never shown)`,
		`id="sync-now"`, `id="no-charts"`, "they come with the next sync")
	mustNotContain(t, "the imported group", body, leakedRepoPassword)

	w = do(s, "POST", "/console/platform/chartgroups/stable/sync", map[string][]string{}, true)
	if !f.sent("POST "+regAPI+"/chartgroups/stable/sync") || !strings.HasPrefix(w.Header().Get("HX-Redirect"),
		"/console/platform/chartgroups/stable?notice=Repository+stable+synced%3A+its+index+lists+3+charts+and+7+versions%3B+5+copied%2C+1+already+here%2C+1+failed+%28redis+6.0.0%3A+404%29") {
		t.Fatalf("a sync: %v %v", f.reqs, w.Header())
	}
	f.refuse["POST "+regAPI+"/chartgroups/team-a/sync"] = "400 chart group team-a is not imported: only groups of type Imported sync from a repository"
	w = do(s, "POST", "/console/platform/chartgroups/team-a/sync", map[string][]string{}, true)
	if w.Header().Get("HX-Retarget") != "#alert" || !strings.Contains(w.Body.String(), "is not imported") {
		t.Fatalf("a refused sync: %v %s", w.Header(), w.Body.String())
	}

	// Delete: confirmed by the name; refused while it holds charts; forced.
	f.reset()
	do(s, "POST", "/console/platform/chartgroups/team-a/delete", map[string][]string{"confirm": {"team"}}, true)
	if len(f.reqs) != 0 {
		t.Fatalf("an unconfirmed delete sent %v", f.reqs)
	}
	f.refuse["DELETE "+regAPI+"/chartgroups/team-a"] = "chart group team-a still holds 1 chart (e.g. nginx)"
	w = do(s, "POST", "/console/platform/chartgroups/team-a/delete", map[string][]string{"confirm": {"team-a"}}, true)
	if w.Header().Get("HX-Retarget") != "#alert" || !strings.Contains(w.Body.String(), "still holds 1 chart") {
		t.Fatalf("a refused delete: %v %s", w.Header(), w.Body.String())
	}
	w = do(s, "POST", "/console/platform/chartgroups/team-a/delete", map[string][]string{"confirm": {"team-a"}, "force": {"true"}}, true)
	if !f.sent("DELETE "+regAPI+"/chartgroups/team-a?force=true") || w.Header().Get("HX-Redirect") != "/console/platform/chartgroups?notice=Repository+team-a+deleted" {
		t.Fatalf("a forced delete: %v %v", f.reqs, w.Header())
	}
}

// helmPages are the chart and application pages with h wherever users or
// the API put text.
func helmPages(h string) []struct {
	name, block string
	data        any
} {
	sc := helmScope{Section: "platform", Root: "/x/" + h}
	tabs := []tab{{Name: h, Title: h, URL: "/x/" + h, Current: true}}
	crow := chartRow{Name: h, Group: h, Latest: h, AppVersion: h, Description: h, Visibility: h, Pushed: h, Pull: h, Versions: 2, URL: "/x/" + h, GroupURL: "/x/" + h, InstallURL: "/x/" + h}
	grow := chartGroupRow{Name: h, DisplayName: h, Description: h, Tenant: h, Visibility: h, Members: h, Type: "Imported", Phase: h, Message: h, LastSync: h, Addr: h, Charts: 1,
		URL: "/x/" + h, GuideURL: "/x/" + h, SyncURL: "/x/" + h, DeleteURL: "/x/" + h}
	cgf := chartGroupForm{Name: h, DisplayName: h, Description: h, Visibility: h, Users: h, MoreProjects: h, Projects: map[string]bool{h: true}, Import: true,
		Addr: h, Username: h, SyncInterval: h, LatestVersions: h, PasswordGiven: true, Choices: []choice{{Value: h, Label: h}}, Error: h,
		Errors: map[string]string{"name": h, "addr": h, "projects": h, "syncInterval": h}}
	group := &registryv1.ChartGroup{Spec: registryv1.ChartGroupSpec{DisplayName: h, Description: h, Creator: h, Type: registryv1.Imported,
		ImportedInfo: &registryv1.ImportedInfo{Addr: h, Username: h, LatestVersions: 2}}}
	group.Name = h
	af := appForm{Scope: sc, Name: h, Target: h, Project: h, Cluster: h, Namespace: h, Chart: h, Version: h, Values: h, Wait: true, Timeout: h, SecretGiven: true,
		Error: h, Errors: map[string]string{"name": h, "target": h, "chart": h, "values": h, "secretValues": h, "timeout": h},
		Targets: []targetGroup{{Label: h, Options: []choice{{Value: h, Label: h}}}}, Charts: []choice{{Value: h, Label: h}}, Versions: []choice{{Value: h, Label: h}},
		VersionsErr: h, Defaults: &registryv1.ChartDetail{Chart: h, Version: h, Values: h, ValuesSchema: h}, ChartURL: "/x/" + h, Manifest: h, DryRunMessage: h}
	app := &applicationv1.App{Spec: applicationv1.AppSpec{Name: h, Values: applicationv1.AppValues{RawValues: h}}}
	row := appRow{Name: h, Project: h, Cluster: h, Namespace: h, Group: h, Chart: h, Version: h, Revision: 2, Phase: h, ReleaseStatus: h, Message: h, Operation: h,
		URL: "/x/" + h, NamespaceURL: "/x/" + h, ChartURL: "/x/" + h}
	base := appData{Scope: sc, Project: h, Name: h, App: app, Row: row, URL: "/x/" + h, Tabs: tabs, CanUpdate: true, CanDelete: true, LastOperation: h, SecretKeys: h, Created: h}
	withTab := func(tabName string, mod func(d *appData)) appData {
		d := base
		d.Tab = tabName
		mod(&d)
		return d
	}
	up := upgradeForm{Version: h, Values: h, Timeout: h, Wait: true, SecretGiven: true, Versions: []choice{{Value: h, Label: h}}, VersionsErr: h, Error: h,
		Errors: map[string]string{"version": h, "values": h}}
	return []struct {
		name, block string
		data        any
	}{
		{"charts", "layout", chartsData{Scope: sc, Tabs: tabs, VisTabs: tabs, Visibility: h, Rows: []chartRow{crow}, Err: h}},
		{"charts", "layout", chartsData{Scope: sc, Tabs: tabs}},
		{"chart", "layout", chartData{Scope: sc, Group: h, Chart: h, Version: h, InstallURL: "/x/" + h, GroupURL: "/x/" + h, DeleteURL: "/x/" + h, CanDelete: true, PullCmd: h,
			Versions:  []chartVersionRow{{Version: h, AppVersion: h, Description: h, Digest: h, Size: h, Pushed: h, URL: "/x/" + h}, {Version: h, Current: true}},
			Detail:    &registryv1.ChartDetail{Version: h, AppVersion: h, Description: h, Home: h, Keywords: []string{h}, Readme: h, Values: h, ValuesSchema: h, Digest: h},
			DetailErr: h}},
		{"chart", "layout", chartData{Scope: sc, Group: h, Chart: h, Detail: &registryv1.ChartDetail{}}},
		{"chartgroups", "layout", chartGroupsData{Scope: sc, Tabs: tabs, Rows: []chartGroupRow{grow, {Name: h, Type: h}}, Err: h, CanCreate: true, ShowTenant: true, Form: cgf}},
		{"chartgroups", "cgform", chartGroupsData{Scope: sc, CanCreate: true, Form: cgf}},
		{"chartgroup", "layout", chartGroupData{Scope: sc, Name: h, Group: group, Row: grow, Charts: []chartRow{crow}, Err: h, GuideErr: h, CanSync: true, CanDelete: true,
			PasswordKept: true, SyncInterval: h, LastAttempt: h,
			Guide: &registryv1.ChartUploadGuide{Registry: h, ChartGroup: h, Username: h, Login: h, Package: h, Push: h, Pull: h, Notes: []string{h}}}},
		{"apps", "layout", appsData{Scope: sc, Project: h, All: true, CanAll: true, Projects: []choice{{Value: h, Label: h}}, Rows: []appRow{row}, Err: h, CanCreate: true, NewURL: "/x/" + h}},
		{"apps", "layout", appsData{Scope: sc}},
		{"appnew", "layout", af},
		{"appnew", "layout", appForm{Scope: sc, Errors: map[string]string{}}},
		{"appnew", "appanswer", af},
		{"appnew", "versionfield", af},
		{"app", "layout", withTab("resources", func(d *appData) {
			d.Resources = []appResourceRow{{Kind: h, APIVersion: h, Namespace: h, Name: h, Status: h, Message: h, URL: "/x/" + h}}
			d.ResourcesErr = h
		})},
		{"app", "layout", withTab("details", func(d *appData) {})},
		{"app", "layout", withTab("history", func(d *appData) {
			d.History = []appRevisionRow{{Revision: 2, Status: h, Chart: h, Version: h, AppVersion: h, Updated: h, Desc: h}, {Revision: 1, Current: true}}
			d.Revisions, d.From, d.To, d.HistoryErr, d.DiffErr = []int{2, 1}, 1, 2, h, h
			d.Diff = &appDiff{From: 1, To: 2, Lines: []diffLine{{Text: h, Class: "diff-add"}, {Text: h}}, FromValues: h, ToValues: h}
		})},
		{"app", "layout", withTab("upgrade", func(d *appData) { d.Upgrade = up })},
		{"app", "upgraderesult", up},
	}
}

func TestHelmPagesRenderAndEscape(t *testing.T) {
	s := testServer(t)
	user := &directory.Principal{Username: "alice", Tenant: "default"}
	for _, p := range helmPages(hostile) {
		t.Run(p.name+"/"+p.block, func(t *testing.T) {
			for _, section := range []string{"platform", "business"} {
				w := httptest.NewRecorder()
				s.execute(w, 200, p.name, p.block, view{User: user, CSRF: "tok", Section: section, Title: hostile, Error: hostile, Notice: hostile,
					Crumbs: []crumb{{hostile, "/console/"}}, Data: p.data})
				body := w.Body.String()
				if w.Code != 200 {
					t.Fatalf("code %d: %s", w.Code, body)
				}
				for _, bad := range []string{"<script>alert", "<img src=x", "onerror=alert(2)>", "<script>", " onclick=", " onload=", "hx-on"} {
					if strings.Contains(body, bad) {
						t.Errorf("%q unescaped in:\n%s", bad, body)
					}
				}
			}
		})
	}
}
