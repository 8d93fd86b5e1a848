package console

import (
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	"github.com/kstack/kstack/internal/alarmrule"
	"github.com/kstack/kstack/internal/auth/directory"
)

// hostile is a user-supplied string that must never become markup.
const hostile = `<script>alert(1)</script><img src=x onerror=alert(2)>"'&`

// pages are every page and fragment the console renders, with data that
// carries the hostile string wherever users can put text.
func pages() []struct {
	name, block string
	data        any
} {
	h := hostile
	table := &table{Kind: kinds["pods"], Columns: kinds["pods"].Columns, Rows: []tableRow{{Name: h, Namespace: h, Link: "/console/business/c/" + h, Cells: txt(h, h)}}}
	prj := &businessv1.Project{ObjectMeta: metav1.ObjectMeta{Name: "prj-abcdefgh"}, Spec: businessv1.ProjectSpec{DisplayName: h,
		Members: []businessv1.ProjectMember{{Username: h, Role: "project-member"}}}}
	ns := businessv1.Namespace{Spec: businessv1.NamespaceSpec{ClusterName: "cls-1", Namespace: h, Hard: corev1.ResourceList{"pods": resource.MustParse("3")}}, Status: businessv1.NamespaceStatus{Message: h}}
	nsv := nsView{Cluster: "cls-1", Namespace: h, Base: "/console/business/cls-1/x", Kind: "pods", Tabs: []tab{{Name: "pods", Title: "Pods", URL: "/x", Current: true}}, CanCreate: true}
	return append([]struct {
		name, block string
		data        any
	}{
		{"overview", "layout", overviewData{Clusters: 1, ByPhase: []phaseCount{{h, 1}}, Problems: []clusterRow{{ID: h, Name: h, Phase: "Failed", Message: h}}}},
		{"clusters", "layout", clustersData{Q: h, Live: "/console/platform/clusters?q=x", Rows: []clusterRow{{ID: "cls-1", Name: h, Phase: "Running", Message: h}}, CanImport: true}},
		{"clusters", "rows", clustersData{Q: h}},
		{"import", "layout", importData{Mode: "token", Name: h, Kubeconfig: h, Server: h, CA: h, Errors: map[string]string{"token": h}, Error: h}},
		{"cluster", "layout", clusterDetailData{Cluster: clusterRow{ID: "cls-1", Name: h}, Tab: "nodes", CanNodeOp: true,
			Nodes: []nodeRow{{Name: h, Labels: []string{"app=" + h}, Taints: []string{h}, Unschedulable: true}}}},
		{"cluster", "layout", clusterDetailData{Cluster: clusterRow{ID: "cls-1"}, Tab: "events", Table: table, Err: h}},
		{"cluster", "layout", clusterDetailData{Cluster: clusterRow{ID: "cls-1"}, Tab: "persisted-events", Events: &eventSearch{CanToggle: true,
			recordResults: recordResults{Form: recordForm{Range: h, Start: h, End: h, Values: map[string]string{"namespace": h, "kind": h, "name": h, "reason": h},
				Errors: map[string]string{"start": h, "range": h}, Error: h, Ranges: timeRanges}, Older: "/x?" + h, Newest: "/x?" + h, Export: "/x?" + h, Searched: true},
			Rows: []eventRow{{LastSeen: h, Type: h, Reason: h, Object: h, Namespace: h, Message: h, Count: 2}}}}},
		{"cluster", "layout", clusterDetailData{Cluster: clusterRow{ID: "cls-1"}, Tab: "persisted-events", Events: &eventSearch{On: true,
			recordResults: recordResults{Form: recordForm{Values: map[string]string{}, Errors: map[string]string{}, Ranges: timeRanges}, Searched: true}}}},
		{"audit", "layout", auditData{All: true, recordResults: recordResults{Form: recordForm{Range: "custom", Start: h, End: h,
			Values: map[string]string{"user": h, "cluster": h, "namespace": h, "resource": h, "verb": h, "result": h},
			Errors: map[string]string{"end": h}, Error: h, Ranges: timeRanges}, Older: "/x?" + h, Newest: "/x?" + h, Export: "/x?" + h, Searched: true},
			Rows: []auditRow{{Time: h, User: h, Verb: h, Resource: h, Namespace: h, Cluster: h, Code: h, Via: h, Source: h, Latency: h, Failed: true}}}},
		{"audit", "layout", auditData{recordResults: recordResults{Form: recordForm{Values: map[string]string{}, Errors: map[string]string{}, Ranges: timeRanges}}}},
		{"projects", "layout", map[string]any{"Rows": []projectRow{{ID: "prj-1", Name: h, Clusters: []string{h}}}, "Pager": pager{}, "Q": h, "CanCreate": true}},
		{"projectnew", "layout", projectFormData{Name: h, AllClusters: []clusterRow{{ID: "cls-1", Name: h}}, Errors: map[string]string{"cls-1.pods": h}, Error: h}},
		{"project", "layout", projectDetailData{Project: prj, Quotas: map[string][]quotaBar{"cls-1": {{Resource: "CPU", Hard: "2", HardV: 2}}},
			ClusterNames: []string{"cls-1"}, Namespaces: []businessv1.Namespace{ns}, CanEdit: true, CanNamespace: true,
			Errors: map[string]string{"form": h}, Form: map[string]string{"namespace": h}}},
		{"users", "layout", map[string]any{"Rows": []userRow{{Username: h, DisplayName: h}}, "Pager": pager{}, "Q": "", "CanCreate": true, "Form": map[string]string{"username": h}, "FormError": h}},
		{"groups", "layout", map[string]any{"Rows": []authv1.Group{{Spec: authv1.GroupSpec{Name: h, Description: h, Members: []string{h}}}}, "Pager": pager{},
			"CanCreate": true, "Form": map[string]string{"name": h, "members": h}, "FormError": h}},
		{"policies", "layout", map[string]any{"Rows": []authv1.Policy{{Spec: authv1.PolicySpec{Description: h, Statements: []authv1.Statement{{Actions: []string{h}, Resources: []string{h}, Effect: "allow"}}}}}, "Pager": pager{},
			"All": []authv1.Policy{{ObjectMeta: metav1.ObjectMeta{Name: h}}}, "Bindings": []authv1.PolicyBinding{{Spec: authv1.PolicyBindingSpec{PolicyName: h, Users: []string{h}, Groups: []string{h}}}},
			"CanBind": true, "Form": map[string]string{"policy": h, "users": h}, "FormError": h}},
		{"credentials", "layout", map[string]any{"Rows": []keyView{{Name: h, Description: h}}, "Created": &keyView{Name: h, Key: h}, "FormError": h}},
		{"business", "layout", []businessProject{{Name: "prj-1", DisplayName: h, Role: "project-member", Namespaces: []businessNS{{Cluster: "cls-1", Namespace: h, URL: "/console/business/cls-1/x"}}}}},
		{"nslist", "layout", listData{NS: nsv, Q: h, Table: table, Pager: pager{Shown: h}, Live: "/x?fragment=rows"}},
		{"object", "layout", objectData{NS: nsv, Kind: kinds["deployments"], Name: h, YAML: h, Fields: [][2]string{{"Labels", h}}, Problems: []string{h},
			Pods: table, Events: table, Scalable: true, Images: []containerImage{{h, h}}, CanWrite: true, CanDelete: true, Rollback: true, EditErr: h}},
		{"object", "layout", objectData{NS: nsv, Kind: kinds["pods"], Name: h, YAML: h, Containers: []string{"app"}, CanLogs: true, CanExec: true}},
		{"object", "layout", objectData{NS: nsv, Kind: kinds["secrets"], Name: h, CanReveal: true}},
		{"object", "secretvalues", [][2]string{{h, h}}},
		{"workload", "layout", workloadForm{NS: nsv, Kinds: workloadKinds, Kind: "deployments", Name: h, Labels: h, Volumes: h,
			Containers: []containerForm{{Name: h, Image: h, Env: h, Errors: map[string]string{"image": h}}}, Errors: map[string]string{"name": h}, Error: h}},
		{"workload", "layout", workloadForm{NS: nsv, Kinds: workloadKinds, Kind: "tapps", Name: h, Containers: []containerForm{newContainer(0)},
			MissingAddon: "TApp", AddonsURL: "/x?" + h, Errors: map[string]string{}, Error: h}},
		{"workload", "form", workloadForm{NS: nsv, Kinds: workloadKinds, Kind: "deployments", Name: h, MissingAddon: "CronHPA", AddonsURL: "/x?" + h,
			Errors: map[string]string{}, Error: h}},
		{"workload", "container", map[string]any{"C": newContainer(1), "Next": 2, "Base": "/x"}},
		{"yaml", "layout", yamlData{NS: nsv, YAML: h, Error: h}},
		{"shell", "layout", objectData{NS: nsv, Kind: kinds["pods"], Name: h, Containers: []string{"app"}}},
		{"object", "layout", objectData{NS: nsv, Kind: kinds["jobs"], Name: h, LogsURL: "/x/" + h}},
		{"workloadlogs", "layout", workloadLogsData{NS: nsv, Kind: kinds["deployments"], Name: h, ObjectURL: "/x/" + h, LogsURL: "/x/" + h + "/logs", Q: h, Tail: 200, Tails: logTails,
			Logs: mergeLogs([]logSource{{Pod: h, Container: h, Data: []byte("2026-01-02T10:00:00Z " + h + "\n")}}, "script"), Pods: 1, Skipped: 3, LimitBytes: 1024,
			Streams: []logStream{{Pod: h, Container: h, Lines: 1, Truncated: true}, {Pod: h, Container: h, Err: h}}}},
		{"workloadlogs", "results", workloadLogsData{NS: nsv, Kind: kinds["jobs"], Name: h, Q: h, Err: h}},
		{"workloadlogs", "layout", workloadLogsData{NS: nsv, Kind: kinds["statefulsets"], Name: h, Tails: logTails}},
		{"logrules", "layout", logRulesData{Project: h, ProjectName: h, Base: "/x/" + h, CanCreate: true, CanDelete: true, Err: h,
			Rows: []logRuleRow{hostileRule(h)}, Form: hostileRuleForm(h)}},
		{"logrules", "layout", logRulesData{All: true, Base: "/x", CanDelete: true, Rows: []logRuleRow{hostileRule(h), {Name: h, ClusterRule: true, Phase: h}}}},
		{"logrules", "ruleform", logRulesData{Project: h, Base: "/x/" + h, CanCreate: true, Form: hostileRuleForm(h)}},
		{"cluster", "layout", clusterDetailData{Cluster: clusterRow{ID: "cls-1"}, Tab: "monitoring", Monitor: &clusterMonitor{On: true, CanToggle: true, Status: h, Failing: true,
			View: hostileMonitor(h)}}},
		{"node", "layout", nodeDetailData{Cluster: "cls-1", Node: nodeRow{Name: h, Status: h, Roles: h, Version: h, CPU: h, Memory: h, Labels: []string{h}, Taints: []string{h}}, Monitor: hostileMonitor(h)}},
		{"nsmonitor", "layout", nsMonitorData{NS: nsv, Monitor: hostileMonitor(h)}},
		{"object", "layout", objectData{NS: nsv, Kind: kinds["pods"], Name: h, Monitor: hostileMonitor(h)}},
		{"overview", "layout", overviewData{Monitor: hostileMonitor(h)}},
		// A valid range: the charts are drawn.
		{"overview", "layout", overviewData{Monitor: func() *monitorView { m := hostileMonitor(h); m.Range = readMonitorRange(nil); return m }()}},
		{"project", "layout", projectDetailData{Project: prj, Monitor: hostileMonitor(h)}},
		{"tapps", "layout", tappsData{NS: nsv, Err: h, More: h, Rows: []tappRow{{Name: h, URL: "/x/" + h, Replicas: h, AppStatus: h, Templates: h, Images: h, Age: h}}}},
		{"tapps", "layout", tappsData{NS: nsv, AddonMissing: true, AddonsURL: "/x?" + h}},
		{"tapp", "layout", &tappData{NS: nsv, Name: h, AppStatus: h, UpdateTmpl: h, CanWrite: true, PodErr: h, Error: h,
			Instances: []tappInstance{{ID: h, Template: h, Status: h, Desired: h, Pod: h, PodURL: "/x/" + h, Phase: h, PodTemplate: h, Images: []string{h}},
				{ID: h, Killed: true, Pod: h}},
			Templates: []tappTemplate{{Name: h, Images: []string{h}}}, Containers: []containerImage{{h, h}},
			Errors: map[string]string{"id": h, "ids": h, "template": h, "replicas": h, "name": h, "image": h},
			Form:   map[string]string{"template": h, "replicas": h, "name": h, "image." + h: h}, Chosen: map[string]bool{h: true}}},
		{"tapp", "layout", &tappData{NS: nsv, Name: h, Err: h}},
		{"error", "layout", nil},
		{"loggedout", "layout", "/console/"},
	}, alarmPages(h)...)
}

// alarmPages are the Monitoring & Alarms pages with h wherever users put text.
func alarmPages(h string) []struct {
	name, block string
	data        any
} {
	sc := func(name string) alarmScope {
		return alarmScope{Project: h, Namespace: h, Base: "/x/" + h, Section: "business", Tab: name, Tabs: []tab{{Name: name, Title: h, URL: "/x/" + h, Current: true}}}
	}
	rf := recordForm{Range: "custom", Start: h, End: h, Values: map[string]string{"policy": h, "status": h, "namespace": h, "channel": h, "receiver": h, "verb": h, "result": h},
		Errors: map[string]string{"start": h}, Error: h, Ranges: timeRanges}
	pf := policyForm{Scope: sc("settings"), Edit: h, ResourceVersion: h, DisplayName: h, Target: h, ObjectType: h, WorkloadKind: h, WorkloadName: h, Nodes: h,
		PeriodMinutes: h, Expr: h, ExprPeriods: h, RepeatInterval: h, SendResolved: true,
		Conditions: []conditionRow{{h, h, h, h}}, Notifications: []notifyRow{{h, h}}, Receivers: map[string]bool{h: true}, ReceiverGroups: map[string]bool{h: true},
		Error: h, Errors: map[string]string{"displayName": h, "target": h, "conditions": h, "notifications": h, "expr": h, "repeatInterval": h},
		Targets: []ruleTarget{{h, h}}, ObjectTypes: []string{h}, Channels: []choice{{Value: h, Label: h}}, Templates: []choice{{Value: h, Label: h}},
		AllReceivers: []choice{{Value: h, Label: h}}, AllGroups: []choice{{Value: h, Label: h}}, WorkloadKinds: []string{h}}
	pf.Metrics = append(pf.Metrics, alarmMetric(h))
	cf := channelForm{Name: h, DisplayName: h, Type: h, SMTPHost: h, SMTPPort: h, TLS: h, From: h, Username: h, CABundle: h, URL: h, Headers: h, Timeout: h,
		SecretHeaderNames: h, Provider: h, Endpoint: h, Params: h, Concurrency: h, Error: h, Errors: map[string]string{"type": h, "headers": h}, Types: []string{h}}
	tf := templateForm{Name: h, DisplayName: h, ChannelType: h, Subject: h, Body: h, ContentType: h, Error: h, Types: []string{h}, DefaultURL: "/x/" + h}
	return []struct {
		name, block string
		data        any
	}{
		{"alarms", "layout", settingsData{Scope: sc("settings"), Err: h, CanCreate: true, CanDelete: true, CanSilence: true,
			Policies: []policyRow{{Name: h, DisplayName: h, Cluster: h, Namespace: h, Object: h, Period: h, Phase: h, Message: h, Conditions: []string{h},
				Rules: []monitorv1.CompiledRule{{Name: h, Expr: h, For: h}}, Firing: 2, EditURL: "/x/" + h, CopyURL: "/x/" + h, RecordsURL: "/x/" + h}},
			Silences: []silenceRow{{Name: h, Matchers: h, State: h, Starts: h, Ends: h, CreatedBy: h, Comment: h, ExpireURL: "/x/" + h}},
			Silence:  silenceForm{Matchers: h, For: h, Comment: h, Error: h}}},
		{"alarms", "layout", settingsData{Scope: sc("settings")}},
		{"alarms", "layout", recordsData{Scope: sc("records"), Kind: "alarms", Cluster: h, Clusters: []string{h}, AlarmsURL: "/x/" + h, NotifyURL: "/x/" + h,
			recordResults: recordResults{Form: rf, Older: "/x?" + h, Newest: "/x?" + h, Searched: true},
			Alarms:        []alarmRecordRow{{Fired: h, Status: h, Policy: h, PolicyName: h, Cluster: h, Namespace: h, Object: h, Metric: h, Value: h, Resolved: h}}}},
		{"alarms", "layout", recordsData{Scope: sc("records"), Kind: "notifications", recordResults: recordResults{Form: rf, Searched: true},
			Notifications: []notificationRecordRow{{Time: h, Verb: h, Channel: h, Type: h, Receiver: h, To: h, Status: h, Code: h, Attempts: h, Detail: h, Failed: true}}}},
		{"alarms", "layout", channelsData{Scope: sc("channels"), Err: h, CanCreate: true, CanDelete: true, CanTest: true, Form: cf,
			Rows:      []channelRow{{Name: h, DisplayName: h, Type: h, Address: h, Concurrency: h, Headers: []string{h}, SecretsKept: true, DeleteURL: "/x/" + h, TestURL: "/x/" + h}},
			Receivers: []choice{{Value: h, Label: h}}, Templates: []choice{{Value: h, Label: h}}}},
		{"alarms", "channelform", channelsData{Scope: sc("channels"), CanCreate: true, Form: cf}},
		{"alarms", "testresult", testResult{Channel: h, Status: h, Code: h, Error: h}},
		{"alarms", "testresult", testResult{Channel: h, Status: "sent", Code: h, Sent: true}},
		{"alarms", "layout", templatesData{Scope: sc("templates"), Err: h, CanCreate: true, CanDelete: true, Form: tf, Variables: []string{h}, Funcs: []string{h},
			Rows: []templateRow{{Name: h, DisplayName: h, ChannelType: h, Subject: h, Body: h, ContentType: h, DeleteURL: "/x/" + h}}}},
		{"alarms", "templateform", templatesData{Scope: sc("templates"), CanCreate: true, Form: tf}},
		{"alarms", "layout", receiversData{Scope: sc("receivers"), Err: h, CanCreate: true, CanDelete: true, CanCreateGroup: true, CanDeleteGroup: true,
			Rows:      []receiverRow{{Name: h, DisplayName: h, Username: h, Email: h, Mobile: h, WeChat: h, DeleteURL: "/x/" + h}},
			Groups:    []groupRow{{Name: h, DisplayName: h, DeleteURL: "/x/" + h, Receivers: []string{h}}},
			Form:      receiverForm{Name: h, DisplayName: h, Username: h, Email: h, Mobile: h, WeChat: h, Error: h},
			GroupForm: groupForm{Name: h, DisplayName: h, Receivers: map[string]bool{h: true}, Error: h}, Choices: []choice{{Value: h, Label: h}}}},
		{"alarmpolicy", "layout", pf},
		{"alarmpolicy", "policyform", pf},
		{"alarmpolicy", "layout", policyForm{Scope: alarmScope{Base: "/x", Section: "platform", Tab: "settings"}, Errors: map[string]string{}}},
	}
}

// hostileMonitor is a monitoring section with h wherever a page or its
// query (the range's custom times) puts text.
func hostileMonitor(h string) *monitorView {
	return &monitorView{Range: readMonitorRange(url.Values{"range": {"custom"}, "step": {h}, "start": {h}, "end": {h}}), Action: "/x/" + h, Keep: [][2]string{{"tab", h}}, Cluster: h,
		Charts: append(projectCharts(h, []string{h}), chart{ID: h, Title: h, Unit: h, Cluster: h, Series: []chartSeries{{h, selector("m", "pod", h)}}})}
}

func alarmMetric(h string) alarmrule.Metric {
	return alarmrule.Metric{Name: h, Unit: h, Agg: h, Object: monitorv1.ObjectType(h)}
}

func hostileRule(h string) logRuleRow {
	return logRuleRow{Name: h, Home: h, Project: h, Cluster: h, Namespace: h, Input: h, Details: []string{h}, Phase: h, Message: h, Updated: h,
		DeleteURL: "/x/" + h + "/delete", ProjectRulesURL: "/x/" + h,
		Outputs: []outputRow{{Name: h, Type: h, Target: h, Username: h, PasswordKept: true, Reported: true, LastError: h, LastErrorAt: h}, {Name: h, Healthy: true}}}
}

func hostileRuleForm(h string) ruleForm {
	return ruleForm{Name: h, Target: h, Input: h, Workloads: h, FileKind: h, FileWorkload: h, FileContainer: h, FilePath: h, HostFiles: h,
		KafkaBrokers: h, KafkaTopic: h, KafkaUser: h, ESAddresses: h, ESIndex: h, ESUser: h, LokiURL: h, LokiTenant: h, LokiUser: h,
		Errors: map[string]string{"name": h, "target": h, "input": h, "workloads": h}, Error: h,
		Targets: []ruleTarget{{Value: h, Label: h}}, Inputs: []string{h, "HostFile"}, WorkloadKinds: []string{h}}
}

func testServer(t *testing.T) *Server {
	s := &Server{Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
	if err := s.parseTemplates(); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPagesRenderAndEscape renders every page with hostile text in each
// user-supplied field: the page renders, and the text never becomes markup.
func TestPagesRenderAndEscape(t *testing.T) {
	s := testServer(t)
	user := &directory.Principal{Username: "alice", Tenant: "default"}
	for _, p := range pages() {
		t.Run(p.name+"/"+p.block, func(t *testing.T) {
			w := httptest.NewRecorder()
			s.execute(w, 200, p.name, p.block, view{User: user, CSRF: "tok", Section: "business", Title: hostile, Error: hostile, Notice: hostile,
				Crumbs: []crumb{{hostile, "/console/"}}, Data: p.data})
			body := w.Body.String()
			if w.Code != 200 {
				t.Fatalf("code %d: %s", w.Code, body)
			}
			for _, bad := range []string{"<script>alert", "<img src=x", "onerror=alert(2)>"} {
				if strings.Contains(body, bad) {
					t.Errorf("%q unescaped in:\n%s", bad, body)
				}
			}
			if p.block == "layout" && !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Errorf("the hostile title is not in the page, escaped:\n%s", body)
			}
			// No inline scripts or handlers: the CSP forbids them, so they would break.
			for _, inline := range []string{"<script>", " onclick=", " onload=", "hx-on"} {
				if strings.Contains(body, inline) {
					t.Errorf("inline script %q in the page", inline)
				}
			}
		})
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/console/platform?x=1": "/console/platform?x=1",
		"//evil.example/":       "/console/",
		"https://evil.example/": "/console/",
		"/console/\\evil":       "/console/",
		"/oidc/login":           "/console/",
		"":                      "/console/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCSRFToken(t *testing.T) {
	a, b := csrfToken("session-1"), csrfToken("session-2")
	if a == b || a == "" || strings.Contains(a, "session") {
		t.Fatalf("csrf tokens %q %q", a, b)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// The logged-out page says only its own texts, whatever a link asks.
func TestLoggedOutSaysOnlyItsOwnWords(t *testing.T) {
	s := testServer(t)
	w := httptest.NewRecorder()
	s.loggedOut(w, httptest.NewRequest("GET", "/console/logged-out?reason=Call+555+now&next=//evil.example/", nil))
	body := w.Body.String()
	if strings.Contains(body, "555") || strings.Contains(body, "evil.example") || !strings.Contains(body, "You are not logged in.") {
		t.Fatalf("the page:\n%s", body)
	}
	w = httptest.NewRecorder()
	s.loggedOut(w, httptest.NewRequest("GET", "/console/logged-out?reason=logout", nil))
	if !strings.Contains(w.Body.String(), "You have logged out.") {
		t.Fatal("the logout text is missing")
	}
}
