package cli

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func alarmPolicyPath(ns string) string { return monitorPath + "/namespaces/" + ns + "/alarmpolicies" }
func alarmSilencePath(ns string) string {
	return monitorPath + "/namespaces/" + ns + "/alarmsilences"
}
func notifyPathOf(ns, plural string) string { return notifyPath + "/namespaces/" + ns + "/" + plural }

func servedPolicy(ns, name string) map[string]any {
	return map[string]any{
		"apiVersion": "monitor.tkestack.io/v1", "kind": "AlarmPolicy",
		"metadata": map[string]any{"name": name, "namespace": ns, "resourceVersion": "7"},
		"spec": map[string]any{
			"displayName": "shop restarts", "clusterName": "cls-a", "namespace": "web", "projectName": ns,
			"objectType": "Pod", "object": map[string]any{"workload": map[string]any{"kind": "Deployment", "name": "shop"}},
			"periodMinutes": 1,
			"conditions":    []any{map[string]any{"metric": "k8s_pod_restart_total", "operator": ">", "threshold": "2", "periods": 2}},
			"notifications": []any{map[string]any{"channel": map[string]any{"name": "chn-1"}, "template": map[string]any{"name": "tpl-1"}}},
		},
		"status": map[string]any{"phase": "Active", "firing": 1, "rules": []any{map[string]any{"name": name + "-c0", "expr": "x > 2", "for": "1m"}}},
	}
}

func TestAlarmPolicyListGetDelete(t *testing.T) {
	f := newFakePlatform(t)
	f.put(alarmPolicyPath("prj-1")+"/alarm-a", servedPolicy("prj-1", "alarm-a"))
	f.put(alarmPolicyPath("kstack-system")+"/alarm-c", map[string]any{
		"metadata": map[string]any{"name": "alarm-c", "namespace": "kstack-system"},
		"spec": map[string]any{"clusterName": "cls-a", "objectType": "Node", "periodMinutes": 5, "expr": "up == 0",
			"object": map[string]any{"nodes": []any{"n1", "n2"}}},
	})

	r := f.must("alarm", "policy", "list", "--project", "prj-1")
	lines := strings.Split(strings.TrimRight(r.Out, "\n"), "\n")
	if len(lines) != 2 || !regexp.MustCompile(`^NAME\s+DISPLAY NAME\s+CLUSTER\s+NAMESPACE\s+OBJECT\s+CONDITIONS\s+PERIOD\s+PHASE\s+FIRING$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^alarm-a\s+shop restarts\s+cls-a\s+web\s+Pod Deployment/shop\s+k8s_pod_restart_total>2 x2\s+1m\s+Active\s+1$`).MatchString(lines[1]) {
		t.Fatalf("policy list printed:\n%s", r.Out)
	}
	// Without --project: the cluster policies of kstack-system.
	r = f.must("alarm", "policy", "list")
	if !regexp.MustCompile(`(?m)^alarm-c\s+-\s+cls-a\s+-\s+Node n1,n2\s+expr\s+5m\s+Pending\s+0$`).MatchString(r.Out) {
		t.Fatalf("cluster policy list printed:\n%s", r.Out)
	}
	r = f.must("alarm", "policy", "get", "alarm-a", "-p", "prj-1", "-o", "yaml")
	if !strings.Contains(r.Out, "kind: AlarmPolicy") || !strings.Contains(r.Out, "expr: x > 2") {
		t.Fatalf("get -o yaml printed:\n%s", r.Out)
	}
	if r := f.must("alarm", "policy", "list", "-p", "prj-1", "-o", "name"); r.Out != "alarm-a\n" {
		t.Fatalf("list -o name printed %q", r.Out)
	}
	r = f.must("alarm", "policy", "delete", "alarm-a", "--project", "prj-1")
	if r.Out != "alarm policy alarm-a deleted\n" || f.get(alarmPolicyPath("prj-1")+"/alarm-a") != nil {
		t.Fatalf("delete printed %q", r.Out)
	}
}

func TestAlarmPolicyCreateAndCopy(t *testing.T) {
	f := newFakePlatform(t)
	// An exported policy: status and resourceVersion are dropped, the namespace filled in.
	file := writeFile(t, "p.yaml", `apiVersion: monitor.tkestack.io/v1
kind: AlarmPolicy
metadata: {name: shop-restarts, resourceVersion: "9"}
spec:
  displayName: shop restarts
  clusterName: cls-a
  namespace: web
  objectType: Pod
  periodMinutes: 1
  conditions: [{metric: k8s_pod_restart_total, operator: ">", threshold: "2", periods: 2}]
  notifications: [{channel: {name: chn-1}, template: {name: tpl-1}}]
status: {phase: Active}
`)
	r := f.must("alarm", "policy", "create", "-f", file, "--project", "prj-1")
	if r.Out != "alarm policy shop-restarts created\n" {
		t.Fatalf("create printed %q", r.Out)
	}
	w := f.writes()
	if len(w) != 1 || w[0].Method != http.MethodPost || w[0].Path != alarmPolicyPath("prj-1") {
		t.Fatalf("create sent %v", w)
	}
	meta := w[0].Body["metadata"].(map[string]any)
	if meta["namespace"] != "prj-1" || meta["resourceVersion"] != nil || w[0].Body["status"].(map[string]any)["phase"] != nil {
		t.Fatalf("create sent %v", w[0].Body)
	}
	// Another project's namespace in the file, an unknown field: refused before sending.
	bad := writeFile(t, "b.yaml", "apiVersion: monitor.tkestack.io/v1\nkind: AlarmPolicy\nmetadata: {name: x, namespace: prj-2}\nspec: {clusterName: c}\n")
	if r := f.kstack("", "alarm", "policy", "create", "-f", bad, "-p", "prj-1"); r.Error == nil || !strings.Contains(r.Error.Error(), "metadata.namespace is prj-2") {
		t.Fatalf("create into another namespace: %v", r.Error)
	}
	unknown := writeFile(t, "u.yaml", "kind: AlarmPolicy\nspec: {clusterName: c, treshold: 2}\n")
	if r := f.kstack("", "alarm", "policy", "create", "-f", unknown, "-p", "prj-1"); r.Error == nil || !strings.Contains(r.Error.Error(), `unknown field "treshold"`) {
		t.Fatalf("unknown field: %v", r.Error)
	}
	if r := f.kstack("", "alarm", "policy", "create", "-f", writeFile(t, "k.yaml", "kind: Channel\n"), "-p", "prj-1"); r.Error == nil || !strings.Contains(r.Error.Error(), "not a monitor.tkestack.io/v1 AlarmPolicy") {
		t.Fatalf("wrong kind: %v", r.Error)
	}
	if len(f.writes()) != 1 {
		t.Fatalf("refused creates sent %v", f.writes())
	}

	// copy: the source's spec under a new display name, named by the platform.
	f.put(alarmPolicyPath("prj-1")+"/alarm-a", servedPolicy("prj-1", "alarm-a"))
	f.reset()
	r = f.must("alarm", "policy", "copy", "alarm-a", "shop restarts (staging)", "--project", "prj-1")
	if !regexp.MustCompile(`^alarm policy alarm-\d+ created\n$`).MatchString(r.Out) {
		t.Fatalf("copy printed %q", r.Out)
	}
	w = f.writes()
	if len(w) != 1 || w[0].Path != alarmPolicyPath("prj-1") {
		t.Fatalf("copy sent %v", w)
	}
	spec := w[0].Body["spec"].(map[string]any)
	meta = w[0].Body["metadata"].(map[string]any)
	if spec["displayName"] != "shop restarts (staging)" || spec["clusterName"] != "cls-a" || len(spec["conditions"].([]any)) != 1 ||
		meta["generateName"] != "alarm-" || w[0].Body["status"] != nil && len(w[0].Body["status"].(map[string]any)) > 0 {
		t.Fatalf("copy sent %v", w[0].Body)
	}
	if r := f.kstack("", "alarm", "policy", "copy", "gone", "x", "-p", "prj-1"); r.Error == nil || !strings.Contains(r.Error.Error(), "not found") {
		t.Fatalf("copy of a missing policy: %v", r.Error)
	}
}

func TestAlarmSilences(t *testing.T) {
	f := newFakePlatform(t)
	before := time.Now().Add(-time.Second)
	r := f.must("alarm", "silence", "create", "-p", "prj-1", "--matcher", "alarm_policy=prj-1/alarm-a", "--matcher", "pod=~shop-.*",
		"--matcher", "node!=n1", "--for", "2h", "--comment", "deploying")
	if !regexp.MustCompile(`^alarm silence asil-\d+ created\n$`).MatchString(r.Out) {
		t.Fatalf("create printed %q", r.Out)
	}
	w := f.writes()
	if len(w) != 1 || w[0].Path != alarmSilencePath("prj-1") {
		t.Fatalf("create sent %v", w)
	}
	spec := w[0].Body["spec"].(map[string]any)
	ms := spec["matchers"].([]any)
	want := []map[string]any{{"name": "alarm_policy", "type": "=", "value": "prj-1/alarm-a"}, {"name": "pod", "type": "=~", "value": "shop-.*"}, {"name": "node", "type": "!=", "value": "n1"}}
	for i, m := range want {
		got := ms[i].(map[string]any)
		for k, v := range m {
			if got[k] != v {
				t.Fatalf("matcher %d: %v, want %v", i, got, m)
			}
		}
	}
	ends, _ := time.Parse(time.RFC3339, spec["endsAt"].(string))
	if d := ends.Sub(before); d < 2*time.Hour || d > 2*time.Hour+time.Minute || spec["comment"] != "deploying" {
		t.Fatalf("ends %s (in %s), comment %v", ends, d, spec["comment"])
	}
	for _, bad := range [][]string{{"--matcher", "=x", "--for", "1h"}, {"--matcher", "novalue", "--for", "1h"}, {"--matcher", "a=b"}, {"--for", "1h"}} {
		if r := f.kstack("", append([]string{"alarm", "silence", "create", "-p", "prj-1"}, bad...)...); r.Error == nil {
			t.Fatalf("create %v: no error", bad)
		}
	}

	// list: the state at now.
	name := regexp.MustCompile(`asil-\d+`).FindString(r.Out)
	f.put(alarmSilencePath("prj-1")+"/old", map[string]any{"metadata": map[string]any{"name": "old"},
		"spec": map[string]any{"matchers": []any{map[string]any{"name": "a", "value": "b"}}, "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-01-01T01:00:00Z", "createdBy": "alice"}})
	r = f.must("alarm", "silence", "list", "-p", "prj-1")
	if !regexp.MustCompile(`(?m)^`+name+`\s+alarm_policy="prj-1/alarm-a",pod=~"shop-\.\*",node!="n1"\s+active\s`).MatchString(r.Out) ||
		!regexp.MustCompile(`(?m)^old\s+a="b"\s+expired\s+2026-01-01T00:00:00Z\s+2026-01-01T01:00:00Z\s+alice\s+$`).MatchString(r.Out) {
		t.Fatalf("list printed:\n%s", r.Out)
	}

	// expire: a merge patch of endsAt to now.
	f.reset()
	r = f.must("alarm", "silence", "expire", name, "-p", "prj-1")
	w = f.writes()
	if r.Out != "alarm silence "+name+" expired\n" || len(w) != 1 || w[0].Method != http.MethodPatch || w[0].Path != alarmSilencePath("prj-1")+"/"+name {
		t.Fatalf("expire printed %q, sent %v", r.Out, w)
	}
	end, _ := time.Parse(time.RFC3339, w[0].Body["spec"].(map[string]any)["endsAt"].(string))
	if time.Since(end) > time.Minute || time.Until(end) > time.Second {
		t.Fatalf("expire set endsAt %s", end)
	}

	// create -f.
	file := writeFile(t, "s.yaml", "kind: AlarmSilence\nmetadata: {name: s1}\nspec: {matchers: [{name: a, value: b}], endsAt: '2030-01-01T00:00:00Z'}\n")
	if r := f.must("alarm", "silence", "create", "-f", file); r.Out != "alarm silence s1 created\n" || f.get(alarmSilencePath("kstack-system")+"/s1") == nil {
		t.Fatalf("create -f printed %q", r.Out)
	}
	if r := f.kstack("", "alarm", "silence", "create", "-f", file, "--for", "1h"); r.Error == nil || !strings.Contains(r.Error.Error(), "drop --matcher, --for") {
		t.Fatalf("create -f with --for: %v", r.Error)
	}
}

func alarmRecord(status string) map[string]any {
	return map[string]any{
		"id": 1, "kind": "alarm", "time": "2026-01-02T10:00:00Z", "tenant": "default", "cluster": "cls-a", "namespace": "web", "project": "prj-1",
		"resource": "alarmpolicy", "name": "prj-1/alarm-a", "verb": status, "uid": "u1",
		"data": map[string]any{"policy": map[string]any{"namespace": "prj-1", "name": "alarm-a", "displayName": "shop restarts"},
			"objectType": "Pod", "condition": "0", "metric": "k8s_pod_restart_total", "labels": map[string]any{"pod": "shop-1"},
			"value": "5", "firedAt": "2026-01-02T10:00:00Z", "resolvedAt": "2026-01-02T10:05:00Z", "status": status},
	}
}

func TestAlarmRecords(t *testing.T) {
	f := newFakePlatform(t)
	clusterPath := monitorPath + "/clusters/cls-a/alarms"
	projectPath := monitorPath + "/namespaces/prj-1/alarms"
	f.records[clusterPath] = []map[string]any{alarmRecord("resolved"), alarmRecord("firing")}
	f.records[projectPath] = []map[string]any{alarmRecord("firing")}

	r := f.must("alarm", "records", "--cluster", "cls-a", "--policy", "prj-1/alarm-a", "--status", "resolved", "-n", "web", "--since", "1h", "--limit", "1")
	lines := strings.Split(strings.TrimRight(r.Out, "\n"), "\n")
	if len(lines) != 2 || !regexp.MustCompile(`^FIRED\s+STATUS\s+POLICY\s+CLUSTER\s+NAMESPACE\s+OBJECT\s+METRIC\s+VALUE\s+RESOLVED$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^2026-01-02T10:00:00Z\s+resolved\s+shop restarts \(prj-1/alarm-a\)\s+cls-a\s+web\s+shop-1\s+k8s_pod_restart_total\s+5\s+2026-01-02T10:05:00Z$`).MatchString(lines[1]) {
		t.Fatalf("records printed:\n%s", r.Out)
	}
	if r.Err != "more: use --continue 1 or --all\n" {
		t.Fatalf("stderr %q", r.Err)
	}
	q := f.lastQuery(t, clusterPath)
	for k, v := range map[string]string{"policy": "prj-1/alarm-a", "status": "resolved", "namespace": "web", "limit": "1"} {
		if q.Get(k) != v {
			t.Fatalf("sent %s=%q, want %q (%v)", k, q.Get(k), v, q)
		}
	}
	if q.Get("startTime") == "" {
		t.Fatalf("--since sent no startTime: %v", q)
	}
	// --all follows the pages; a policy NAME is of the project.
	r = f.must("alarm", "records", "--cluster", "cls-a", "--all", "--limit", "1")
	if strings.Count(r.Out, "\n") != 3 || r.Err != "" {
		t.Fatalf("--all printed %q %q", r.Out, r.Err)
	}
	f.must("alarm", "records", "--project", "prj-1", "--policy", "alarm-a")
	if q := f.lastQuery(t, projectPath); q.Get("policy") != "prj-1/alarm-a" {
		t.Fatalf("project search sent %v", q)
	}
	r = f.must("alarm", "records", "--project", "prj-1", "-o", "json")
	var l struct {
		Items []struct{ Name, Verb string }
	}
	if err := json.Unmarshal([]byte(r.Out), &l); err != nil || len(l.Items) != 1 || l.Items[0].Verb != "firing" {
		t.Fatalf("-o json printed %q (%v)", r.Out, err)
	}
	r = f.must("alarm", "records", "--project", "prj-1", "--export")
	if !strings.Contains(r.Out, `"uid":"u1"`) {
		t.Fatalf("--export printed %q", r.Out)
	}
	for _, bad := range [][]string{{"--status", "open", "--project", "p"}, {}, {"--cluster", "a", "--project", "b"}} {
		if r := f.kstack("", append([]string{"alarm", "records"}, bad...)...); r.Error == nil {
			t.Fatalf("records %v: no error", bad)
		}
	}
}

func TestAlarmMetrics(t *testing.T) {
	f := newFakePlatform(t)
	r := f.must("alarm", "metrics", "--object", "pod")
	if !regexp.MustCompile(`(?m)^Pod\s+k8s_pod_restart_total\s+restarts\s+last$`).MatchString(r.Out) || strings.Contains(r.Out, "k8s_node_") {
		t.Fatalf("metrics printed:\n%s", r.Out)
	}
	if r := f.kstack("", "alarm", "metrics", "--object", "disk"); r.Error == nil {
		t.Fatal("--object disk: no error")
	}
}

func TestNotifyChannels(t *testing.T) {
	f := newFakePlatform(t)
	file := writeFile(t, "c.yaml", `apiVersion: notify.tkestack.io/v1
kind: Channel
metadata: {name: chn-mail}
spec:
  type: email
  email: {smtpHost: smtp.example.com, smtpPort: 587, tls: starttls, from: a@example.com, username: u, password: s3cret}
`)
	r := f.must("notify", "channel", "create", "-f", file, "-p", "prj-1", "-o", "yaml")
	w := f.writes()
	if len(w) != 1 || w[0].Path != notifyPathOf("prj-1", "channels") {
		t.Fatalf("create sent %v", w)
	}
	// The password goes to the platform, and is never printed back.
	if w[0].Body["spec"].(map[string]any)["email"].(map[string]any)["password"] != "s3cret" || strings.Contains(r.Out, "s3cret") {
		t.Fatalf("create sent %v, printed:\n%s", w[0].Body, r.Out)
	}
	f.put(notifyPathOf("prj-1", "channels")+"/chn-hook", map[string]any{"metadata": map[string]any{"name": "chn-hook"},
		"spec": map[string]any{"type": "webhook", "displayName": "hook", "concurrency": 8,
			"webhook": map[string]any{"url": "https://hooks.example/x", "headers": []any{map[string]any{"name": "Authorization", "value": "leak", "secret": true}}}}})
	r = f.must("notify", "channel", "list", "-p", "prj-1")
	if !regexp.MustCompile(`(?m)^chn-hook\s+hook\s+webhook\s+https://hooks\.example/x\s+8$`).MatchString(r.Out) ||
		!regexp.MustCompile(`(?m)^chn-mail\s+-\s+email\s+smtp\.example\.com:587 \(starttls\) from a@example\.com\s+4$`).MatchString(r.Out) {
		t.Fatalf("list printed:\n%s", r.Out)
	}

	// test: the request, and the result; a failure exits non-zero.
	testPath := notifyPathOf("prj-1", "channels") + "/chn-mail/test"
	f.actions[testPath] = func(body map[string]any) (int, any) {
		return http.StatusOK, map[string]any{"status": "failed", "code": 535, "error": "SMTP server refused authentication: 535 5.7.8 bad credentials"}
	}
	r = f.kstack("", "notify", "channel", "test", "chn-mail", "-p", "prj-1", "--receiver", "kstack-system/rcv-ops", "--template", "tpl-1")
	if r.Error == nil || !strings.Contains(r.Error.Error(), "did not deliver") ||
		!regexp.MustCompile(`(?m)^failed\s+535\s+SMTP server refused authentication: 535 5\.7\.8 bad credentials$`).MatchString(r.Out) {
		t.Fatalf("test printed %q, %v", r.Out, r.Error)
	}
	last := f.all()[len(f.all())-1]
	if last.Path != testPath || last.Body["receiver"].(map[string]any)["namespace"] != "kstack-system" || last.Body["receiver"].(map[string]any)["name"] != "rcv-ops" ||
		last.Body["template"].(map[string]any)["name"] != "tpl-1" {
		t.Fatalf("test sent %v", last)
	}
	f.actions[testPath] = func(map[string]any) (int, any) { return http.StatusOK, map[string]any{"status": "sent", "code": 250} }
	r = f.must("notify", "channel", "test", "chn-mail", "-p", "prj-1", "-o", "json")
	var res struct {
		Status string
		Code   int
	}
	if err := json.Unmarshal([]byte(r.Out), &res); err != nil || res.Status != "sent" || res.Code != 250 {
		t.Fatalf("test -o json printed %q", r.Out)
	}
	if r := f.kstack("", "notify", "channel", "test", "chn-mail", "--receiver", "a/b/c"); r.Error == nil {
		t.Fatal("--receiver a/b/c: no error")
	}
}

func TestNotifyTemplatesReceivers(t *testing.T) {
	f := newFakePlatform(t)
	r := f.must("notify", "template", "default", "webhook")
	var tpl struct {
		Kind string
		Spec struct{ ChannelType, Body, ContentType string }
	}
	if err := yaml.Unmarshal([]byte(r.Out), &tpl); err != nil || tpl.Kind != "Template" || tpl.Spec.ChannelType != "webhook" || !strings.Contains(tpl.Spec.Body, `"version": "4"`) {
		t.Fatalf("template default printed %q (%v)", r.Out, err)
	}
	// What default prints can be created as it is.
	r = f.must("notify", "template", "create", "-f", writeFile(t, "t.yaml", r.Out), "-p", "prj-1")
	if r.Out != "template tpl-webhook created\n" {
		t.Fatalf("create printed %q", r.Out)
	}
	r = f.must("notify", "template", "list", "-p", "prj-1")
	if !regexp.MustCompile(`(?m)^tpl-webhook\s+Default webhook \(Alertmanager v4\)\s+webhook\s+-\s+application/json$`).MatchString(r.Out) {
		t.Fatalf("template list printed:\n%s", r.Out)
	}
	if r := f.kstack("", "notify", "template", "default", "fax"); r.Error == nil {
		t.Fatal("default fax: no error")
	}

	f.put(notifyPathOf("kstack-system", "receivers")+"/rcv-a", map[string]any{"metadata": map[string]any{"name": "rcv-a"},
		"spec": map[string]any{"displayName": "Alice", "email": "alice@example.com", "mobile": "+8613800000000"}})
	r = f.must("notify", "receiver", "list")
	if !regexp.MustCompile(`(?m)^rcv-a\s+Alice\s+-\s+alice@example\.com\s+\+8613800000000\s+-$`).MatchString(r.Out) {
		t.Fatalf("receiver list printed:\n%s", r.Out)
	}
	r = f.must("notify", "receivergroup", "create", "-f", writeFile(t, "g.yaml", "kind: ReceiverGroup\nmetadata: {name: oncall}\nspec: {receivers: [{name: rcv-b}, {namespace: kstack-system, name: rcv-a}]}\n"), "-p", "prj-1")
	if r.Out != "receiver group oncall created\n" {
		t.Fatalf("group create printed %q", r.Out)
	}
	r = f.must("notify", "receivergroup", "get", "oncall", "-p", "prj-1")
	if !regexp.MustCompile(`(?m)^oncall\s+-\s+rcv-b,kstack-system/rcv-a$`).MatchString(r.Out) {
		t.Fatalf("group get printed:\n%s", r.Out)
	}
	if r := f.must("notify", "receivergroup", "delete", "oncall", "-p", "prj-1"); r.Out != "receiver group oncall deleted\n" {
		t.Fatalf("group delete printed %q", r.Out)
	}
}

func TestNotifyRecords(t *testing.T) {
	f := newFakePlatform(t)
	path := notifyPath + "/namespaces/prj-1/notifications"
	f.records[path] = []map[string]any{{
		"kind": "notification", "time": "2026-01-02T10:00:30Z", "cluster": "cls-a", "namespace": "web", "project": "prj-1",
		"resource": "channel", "name": "prj-1/chn-hook", "verb": "firing", "user": "rcv-a", "code": 503,
		"data": map[string]any{"status": "failed", "attempts": 6, "lastError": "503 Service Unavailable", "channelType": "webhook"},
	}, {
		"kind": "notification", "time": "2026-01-02T10:00:20Z", "cluster": "cls-a", "resource": "channel", "name": "prj-1/chn-mail", "verb": "test", "user": "rcv-a", "code": 250,
		"data": map[string]any{"status": "sent", "attempts": 1, "channelType": "email", "to": []any{"alice@example.com"}, "subject": "[FIRING] x"},
	}}
	r := f.must("notify", "records", "--project", "prj-1", "--channel", "chn-hook", "--receiver", "rcv-a", "--verb", "firing", "--result", "failure")
	lines := strings.Split(strings.TrimRight(r.Out, "\n"), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^TIME\s+VERB\s+CHANNEL\s+TYPE\s+RECEIVER\s+TO\s+STATUS\s+ATTEMPTS\s+CODE\s+DETAIL$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^2026-01-02T10:00:30Z\s+firing\s+prj-1/chn-hook\s+webhook\s+rcv-a\s+-\s+failed\s+6\s+503\s+503 Service Unavailable$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^2026-01-02T10:00:20Z\s+test\s+prj-1/chn-mail\s+email\s+rcv-a\s+alice@example\.com\s+sent\s+1\s+250\s+\[FIRING\] x$`).MatchString(lines[2]) {
		t.Fatalf("records printed:\n%s", r.Out)
	}
	q := f.lastQuery(t, path)
	for k, v := range map[string]string{"channel": "prj-1/chn-hook", "receiver": "rcv-a", "verb": "firing", "result": "failure"} {
		if q.Get(k) != v {
			t.Fatalf("sent %s=%q, want %q", k, q.Get(k), v)
		}
	}
	f.records[notifyPath+"/clusters/cls-a/notifications"] = f.records[path]
	f.must("notify", "records", "--cluster", "cls-a", "--channel", "chn-x")
	if q := f.lastQuery(t, notifyPath+"/clusters/cls-a/notifications"); q.Get("channel") != "kstack-system/chn-x" {
		t.Fatalf("cluster search sent %v", q)
	}
	if r := f.kstack("", "notify", "records", "--project", "p", "--verb", "sent"); r.Error == nil {
		t.Fatal("--verb sent: no error")
	}
}
