package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	logagentv1 "github.com/kstack/kstack/api/logagent/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/inprocess"
	"github.com/kstack/kstack/internal/platformscheme"
)

func postForm(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func TestParseRuleForm(t *testing.T) {
	// A project's rule of two workloads' output, to two sinks.
	f, lc := parseRuleForm(postForm("name", "shop-logs", "target", "prj-other/cls-a/web", "input", "ContainerStdout",
		"workloads", "deployment/shop\n\nStatefulSet db\n", "kafka.brokers", "k1.example:9092, k2.example:9092", "kafka.topic", "logs",
		"kafka.username", "agent", "kafka.password", "s3cret", "loki.url", "https://loki.example", "loki.tenantID", "team-a"), "prj-aaaaaaaa")
	if lc == nil {
		t.Fatalf("errors %v", f.Errors)
	}
	// The page's project counts, not the one the choice names: admission
	// then refuses a namespace of another project.
	if lc.Namespace != "prj-aaaaaaaa" || lc.Name != "shop-logs" || lc.Spec.ClusterName != "cls-a" || lc.Spec.Namespace != "web" {
		t.Errorf("rule %s/%s in %s/%s", lc.Namespace, lc.Name, lc.Spec.ClusterName, lc.Spec.Namespace)
	}
	if got := fmt.Sprint(lc.Spec.Input.Workloads); got != "[{Deployment shop} {StatefulSet db}]" {
		t.Errorf("workloads %s", got)
	}
	if len(lc.Spec.Outputs) != 2 || lc.Spec.Outputs[0].Kafka == nil || fmt.Sprint(lc.Spec.Outputs[0].Kafka.Brokers) != "[k1.example:9092 k2.example:9092]" ||
		lc.Spec.Outputs[0].Kafka.Password != "s3cret" || lc.Spec.Outputs[0].Kafka.Username != "agent" ||
		lc.Spec.Outputs[1].Loki == nil || lc.Spec.Outputs[1].Loki.TenantID != "team-a" || lc.Spec.Outputs[1].Name != "loki" {
		t.Errorf("outputs %+v", lc.Spec.Outputs)
	}
	if strings.Contains(fmt.Sprintf("%+v", f), "s3cret") {
		t.Error("the form keeps the password, to show it back")
	}

	// A file in a container.
	_, lc = parseRuleForm(postForm("target", "p/cls-a/web", "input", "ContainerFile", "file.kind", "Deployment", "file.workload", "shop",
		"file.container", "app", "file.path", "/var/log/app/*.log", "es.addresses", "https://es.example:9200", "es.index", "logs"), "prj-aaaaaaaa")
	if lc == nil || lc.GenerateName != "lc-" || len(lc.Spec.Input.ContainerFiles) != 1 || lc.Spec.Input.ContainerFiles[0].Path != "/var/log/app/*.log" ||
		lc.Spec.Input.ContainerFiles[0].Container != "app" || len(lc.Spec.Outputs) != 1 || lc.Spec.Outputs[0].Type != "elasticsearch" {
		t.Errorf("container file rule %+v", lc)
	}

	// Files on the nodes, and every namespace, are cluster rules, in the platform's namespace.
	_, lc = parseRuleForm(postForm("target", "prj-aaaaaaaa/cls-a/web", "input", "HostFile", "hostFiles", "/var/log/messages\n/var/log/syslog"), "prj-aaaaaaaa")
	if lc == nil || lc.Namespace != systemNamespace || lc.Spec.Namespace != "" || fmt.Sprint(lc.Spec.Input.HostFiles) != "[/var/log/messages /var/log/syslog]" {
		t.Errorf("host file rule %+v", lc)
	}
	_, lc = parseRuleForm(postForm("target", "/cls-a/", "input", "ContainerStdout"), "")
	if lc == nil || lc.Namespace != systemNamespace || lc.Spec.Namespace != "" || lc.Spec.ClusterName != "cls-a" {
		t.Errorf("cluster rule %+v", lc)
	}
	// On the platform's page the choice names the project.
	_, lc = parseRuleForm(postForm("target", "prj-bbbbbbbb/cls-a/db", "input", "ContainerStdout"), "")
	if lc == nil || lc.Namespace != "prj-bbbbbbbb" || lc.Spec.Namespace != "db" {
		t.Errorf("platform page's project rule %+v", lc)
	}

	// What the console cannot build an object from.
	for _, tt := range []struct {
		form  url.Values
		field string
	}{
		{postForm("input", "ContainerStdout"), "target"},
		{postForm("target", "cls-a", "input", "ContainerStdout"), "target"},
		{postForm("target", "p/cls-a/web", "input", "Everything"), "input"},
		{postForm("target", "p/cls-a/web", "workloads", "shop"), "workloads"},
	} {
		f, lc := parseRuleForm(tt.form, "p")
		if lc != nil || f.Errors[tt.field] == "" {
			t.Errorf("%v: rule %v, errors %v", tt.form, lc, f.Errors)
		}
	}
}

// fakePlatform stands in for the gateway: the portal, and the platform's
// API for LogCollectors and business Namespaces.
type fakePlatform struct {
	mu      sync.Mutex
	reqs    []string
	created []byte
	refuse  string
	rules   []logagentv1.LogCollector
}

func (f *fakePlatform) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	writeJSON := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	p := r.URL.Path
	switch {
	case p == "/business/apis/business.tkestack.io/v1/portal":
		fmt.Fprint(w, `{"projects":[{"name":"prj-aaaaaaaa","displayName":"Shop","role":"project-member","clusters":["cls-a"],"namespaces":["cls-a/web","cls-a/api"]}]}`)
	case r.Method == http.MethodGet && strings.HasSuffix(p, "/logcollectors"):
		writeJSON(200, &logagentv1.LogCollectorList{TypeMeta: metav1.TypeMeta{APIVersion: "logagent.tkestack.io/v1", Kind: "LogCollectorList"}, Items: f.rules})
	case r.Method == http.MethodGet && strings.HasSuffix(p, "/namespaces") && strings.Contains(p, "business.tkestack.io"):
		writeJSON(200, &businessv1.NamespaceList{TypeMeta: metav1.TypeMeta{APIVersion: "business.tkestack.io/v1", Kind: "NamespaceList"}, Items: []businessv1.Namespace{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "prj-bbbbbbbb", Name: "cls-a-db"}, Spec: businessv1.NamespaceSpec{ProjectName: "prj-bbbbbbbb", ClusterName: "cls-a", Namespace: "db"}}}})
	case r.Method == http.MethodPost && strings.HasSuffix(p, "/logcollectors"):
		f.mu.Lock()
		f.created = body
		f.mu.Unlock()
		if f.refuse != "" {
			writeJSON(422, &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusFailure, Code: 422, Reason: metav1.StatusReasonInvalid, Message: f.refuse})
			return
		}
		var lc logagentv1.LogCollector
		_ = json.Unmarshal(body, &lc)
		if lc.Name == "" {
			lc.Name = lc.GenerateName + "x1y2z"
		}
		writeJSON(201, &lc)
	case r.Method == http.MethodDelete:
		writeJSON(200, &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusSuccess})
	default:
		writeJSON(404, &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusFailure, Code: 404, Reason: metav1.StatusReasonNotFound, Message: "no " + p})
	}
}

func (f *fakePlatform) sent(method, suffix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.reqs {
		if strings.HasPrefix(r, method+" ") && strings.HasSuffix(r, suffix) {
			return true
		}
	}
	return false
}

func platformServer(t *testing.T) (*Server, *fakePlatform) {
	s := testServer(t)
	f := &fakePlatform{}
	s.Serve = func(w http.ResponseWriter, r *http.Request, _ *directory.Principal) { f.serve(w, r) }
	s.Decider = &decision.Decider{}
	s.Scheme = platformscheme.New()
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(logagentv1.GroupVersion.WithKind("LogCollector"), meta.RESTScopeNamespace)
	m.Add(businessv1.GroupVersion.WithKind("Namespace"), meta.RESTScopeNamespace)
	s.Mapper = m
	s.PlatformConfig = func(p *directory.Principal) *rest.Config {
		return &rest.Config{Host: inprocess.Host + "/platform", Transport: &inprocess.Transport{Serve: f.serve}}
	}
	s.Clusters = func(_ context.Context, _ *directory.Principal) ([]platformv1.Cluster, error) {
		return []platformv1.Cluster{{ObjectMeta: metav1.ObjectMeta{Name: "global"}}, {ObjectMeta: metav1.ObjectMeta{Name: "cls-z"}}}, nil
	}
	return s, f
}

func sampleRule() logagentv1.LogCollector {
	now := metav1.Now()
	return logagentv1.LogCollector{ObjectMeta: metav1.ObjectMeta{Namespace: "prj-aaaaaaaa", Name: "shop-logs"},
		Spec: logagentv1.LogCollectorSpec{ClusterName: "cls-a", Namespace: "web", ProjectName: "prj-aaaaaaaa",
			Input: logagentv1.LogInput{Type: logagentv1.InputStdout, Workloads: []logagentv1.WorkloadRef{{Kind: "Deployment", Name: "shop"}}},
			Outputs: []logagentv1.LogOutput{
				{Name: "kafka", Type: "kafka", Kafka: &logagentv1.KafkaOutput{Brokers: []string{"kafka.example:9092"}, Topic: "logs",
					Credentials: logagentv1.Credentials{Username: "agent", PasswordSecret: "logcollector-prj-aaaaaaaa-shop-logs"}}},
				{Name: "loki", Type: "loki", Loki: &logagentv1.LokiOutput{URL: "https://loki.example"}}}},
		Status: logagentv1.LogCollectorStatus{Phase: "Failing", Message: "output loki cannot be reached", LastUpdateTime: &now,
			Outputs: []logagentv1.OutputStatus{
				{Name: "kafka", Delivered: 1200, Queued: 3, Dropped: 0, Healthy: true},
				{Name: "loki", Delivered: 10, Queued: 500, Dropped: 42, LastError: "dial tcp: connection refused", LastErrorTime: &now}}}}
}

func ruleRequest(s *Server, method, target string, form url.Values, path ...string) *request {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	hr := httptest.NewRequest(method, target, body)
	if form != nil {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r := &request{Request: hr, s: s, user: admin, csrf: "tok"}
	for i := 0; i+1 < len(path); i += 2 {
		r.SetPathValue(path[i], path[i+1])
	}
	return r
}

func TestProjectLogRulesPage(t *testing.T) {
	s, f := platformServer(t)
	f.rules = []logagentv1.LogCollector{sampleRule()}
	w := httptest.NewRecorder()
	s.projectLogRules(w, ruleRequest(s, "GET", "/console/business/projects/prj-aaaaaaaa/logrules", nil, "project", "prj-aaaaaaaa"))
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("code %d: %s", w.Code, body)
	}
	if !f.sent("GET", "/platform/apis/logagent.tkestack.io/v1/namespaces/prj-aaaaaaaa/logcollectors") {
		t.Errorf("the project's rules were not listed: %v", f.reqs)
	}
	for _, want := range []string{"Log collection of Shop", `id="rule-shop-logs"`, "cls-a", "web", "Deployment/shop",
		"kafka.example:9092 · topic logs", "user agent", "password kept by the platform", "delivered 1200 · queued 3 · dropped 0", "healthy",
		"delivered 10 · queued 500 · dropped 42", "unhealthy", "last error: dial tcp: connection refused", `class="status-Failing">Failing`,
		"output loki cannot be reached", `action="/console/business/projects/prj-aaaaaaaa/logrules/shop-logs/delete"`,
		// The form: the project's namespaces, and for an administrator cluster rules and files on nodes.
		`<option value="prj-aaaaaaaa/cls-a/web">web in cls-a</option>`, `<option value="prj-aaaaaaaa/cls-a/api">api in cls-a</option>`,
		`value="prj-aaaaaaaa/cls-a/"`, `<option value="HostFile">`, `name="hostFiles"`, `type="password" name="kafka.password"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "logcollector-prj-aaaaaaaa-shop-logs") {
		t.Error("the page names the password's Secret")
	}
}

func TestAllLogRulesPage(t *testing.T) {
	s, f := platformServer(t)
	cluster := sampleRule()
	cluster.Namespace, cluster.Name, cluster.Spec.Namespace, cluster.Spec.ProjectName = systemNamespace, "node-logs", "", ""
	cluster.Spec.Input = logagentv1.LogInput{Type: logagentv1.InputHostFile, HostFiles: []string{"/var/log/messages"}}
	f.rules = []logagentv1.LogCollector{sampleRule(), cluster}
	w := httptest.NewRecorder()
	s.allLogRules(w, ruleRequest(s, "GET", "/console/platform/logrules", nil))
	body := w.Body.String()
	if !f.sent("GET", "/platform/apis/logagent.tkestack.io/v1/logcollectors") {
		t.Errorf("every rule was not listed: %v", f.reqs)
	}
	for _, want := range []string{`<a href="/console/business/projects/prj-aaaaaaaa/logrules">prj-aaaaaaaa</a>`, "cluster rule", "every namespace", "/var/log/messages",
		`action="/console/platform/logrules/kstack-system/node-logs/delete"`, `action="/console/platform/logrules/prj-aaaaaaaa/shop-logs/delete"`,
		// Every project's namespaces, and every member cluster (not global).
		`<option value="prj-bbbbbbbb/cls-a/db">db in cls-a (project prj-bbbbbbbb)</option>`, `value="/cls-z/"`, `value="/cls-a/"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, `value="/global/"`) {
		t.Error("the global cluster is offered")
	}
}

// Admission's refusal is shown next to the form, in the API's words, and
// the passwords are not sent back.
func TestCreateLogRuleShowsTheAPIsRefusal(t *testing.T) {
	s, f := platformServer(t)
	f.refuse = `spec.outputs[0].loki.url: "http://127.0.0.1:3100" is a loopback address <b>`
	form := postForm("csrf", "tok", "name", "shop-logs", "target", "prj-aaaaaaaa/cls-a/web", "input", "ContainerStdout",
		"loki.url", "http://127.0.0.1:3100", "loki.username", "agent", "loki.password", "pa55word-xyz")
	r := ruleRequest(s, "POST", "/console/business/projects/prj-aaaaaaaa/logrules", form, "project", "prj-aaaaaaaa")
	r.Header.Set("HX-Request", "true")
	w := httptest.NewRecorder()
	s.createLogRule(w, r)
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, `id="rule-error">spec.outputs[0].loki.url: &#34;http://127.0.0.1:3100&#34; is a loopback address &lt;b&gt;</div>`) {
		t.Fatalf("code %d:\n%s", w.Code, body)
	}
	if strings.Contains(body, "<html") || !strings.HasPrefix(strings.TrimSpace(body), `<form id="rule-form"`) {
		t.Errorf("an htmx post gets the form alone:\n%.300s", body)
	}
	if strings.Contains(body, "pa55word-xyz") || !strings.Contains(body, `value="http://127.0.0.1:3100"`) || !strings.Contains(body, "type them again") {
		t.Error("the form does not keep what was typed but the password")
	}
	// What was sent: the rule, with its password (admission moves it into a Secret).
	var sent logagentv1.LogCollector
	if err := json.Unmarshal(f.created, &sent); err != nil || !f.sent("POST", "/platform/apis/logagent.tkestack.io/v1/namespaces/prj-aaaaaaaa/logcollectors") {
		t.Fatalf("sent %s (%v); requests %v", f.created, err, f.reqs)
	}
	if sent.Spec.Outputs[0].Loki.Password != "pa55word-xyz" || sent.Spec.Namespace != "web" || sent.Spec.ClusterName != "cls-a" {
		t.Errorf("sent %+v", sent.Spec)
	}

	// Without htmx, the whole page with the form's error.
	r = ruleRequest(s, "POST", "/console/business/projects/prj-aaaaaaaa/logrules", form, "project", "prj-aaaaaaaa")
	w = httptest.NewRecorder()
	s.createLogRule(w, r)
	if body := w.Body.String(); !strings.Contains(body, "<html") || !strings.Contains(body, "is a loopback address") {
		t.Errorf("plain post:\n%s", body)
	}
}

func TestCreateLogRuleRedirects(t *testing.T) {
	s, f := platformServer(t)
	r := ruleRequest(s, "POST", "/console/platform/logrules", postForm("csrf", "tok", "target", "/cls-z/", "input", "HostFile",
		"hostFiles", "/var/log/messages", "kafka.brokers", "kafka.example:9092", "kafka.topic", "logs"))
	r.Header.Set("HX-Request", "true")
	w := httptest.NewRecorder()
	s.createLogRule(w, r)
	if loc := w.Header().Get("HX-Redirect"); !strings.HasPrefix(loc, "/console/platform/logrules?notice=") || !strings.Contains(loc, "lc-x1y2z") {
		t.Errorf("redirect %q (%d %s)", loc, w.Code, w.Body.String())
	}
	if !f.sent("POST", "/namespaces/"+systemNamespace+"/logcollectors") {
		t.Errorf("a cluster rule was not made in %s: %v", systemNamespace, f.reqs)
	}
}

func TestDeleteLogRuleAsksForTheName(t *testing.T) {
	s, f := platformServer(t)
	r := ruleRequest(s, "POST", "/console/business/projects/prj-aaaaaaaa/logrules/shop-logs/delete", postForm("confirm", "shop"),
		"project", "prj-aaaaaaaa", "name", "shop-logs")
	r.Header.Set("HX-Request", "true")
	w := httptest.NewRecorder()
	s.deleteLogRule(w, r)
	if !strings.Contains(w.Body.String(), "type the name shop-logs to confirm") || w.Header().Get("HX-Retarget") != "#alert" || f.sent("DELETE", "") {
		t.Fatalf("a wrong name: %d %v %s", w.Code, w.Header(), w.Body.String())
	}
	r = ruleRequest(s, "POST", "/console/business/projects/prj-aaaaaaaa/logrules/shop-logs/delete", postForm("confirm", "shop-logs"),
		"project", "prj-aaaaaaaa", "name", "shop-logs")
	w = httptest.NewRecorder()
	s.deleteLogRule(w, r)
	if w.Code != http.StatusSeeOther || !f.sent("DELETE", "/platform/apis/logagent.tkestack.io/v1/namespaces/prj-aaaaaaaa/logcollectors/shop-logs") {
		t.Fatalf("delete: %d %v", w.Code, f.reqs)
	}
	// The platform's page names the rule's namespace.
	r = ruleRequest(s, "POST", "/console/platform/logrules/kstack-system/node-logs/delete", postForm("confirm", "node-logs"),
		"namespace", "kstack-system", "name", "node-logs")
	w = httptest.NewRecorder()
	s.deleteLogRule(w, r)
	if w.Code != http.StatusSeeOther || !f.sent("DELETE", "/namespaces/kstack-system/logcollectors/node-logs") {
		t.Fatalf("delete: %d %v", w.Code, f.reqs)
	}
}

// The routes register without conflicts (the mux panics on one).
func TestRoutesRegister(t *testing.T) {
	s := &Server{Log: testServer(t).Log}
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
}
