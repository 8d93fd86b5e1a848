package cli

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func logRulesPathOf(ns string) string { return logagentPath + "/namespaces/" + ns + "/logcollectors" }

// A rule as the platform serves it: outputs k (kafka) and l (loki), and what
// the agents reported of each.
func servedLogRule(ns, name string) map[string]any {
	return map[string]any{
		"apiVersion": "logagent.tkestack.io/v1", "kind": "LogCollector",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"clusterName": "cls-a", "namespace": "web", "projectName": ns,
			"input": map[string]any{"type": "ContainerStdout", "workloads": []any{map[string]any{"kind": "Deployment", "name": "shop"}}},
			"outputs": []any{
				map[string]any{"name": "k", "type": "kafka", "kafka": map[string]any{"brokers": []any{"kafka.example:9092"}, "topic": "logs", "username": "agent", "passwordSecret": "logcollector-" + ns + "-" + name}},
				map[string]any{"name": "l", "type": "loki", "loki": map[string]any{"url": "https://loki.example"}},
			},
		},
		"status": map[string]any{
			"phase":   "Failing",
			"message": "output k: dial tcp 10.0.0.9:9092: connect: connection refused; the agents keep the lines on disk and retry every few seconds",
			"outputs": []any{
				map[string]any{"name": "k", "delivered": 10, "queued": 5, "dropped": 2, "healthy": false, "lastError": "dial tcp 10.0.0.9:9092: connect: connection refused", "lastErrorTime": "2026-01-02T10:00:00Z"},
				map[string]any{"name": "l", "delivered": 32, "queued": 0, "dropped": 1, "healthy": true},
			},
		},
	}
}

func TestLogRuleListAndGet(t *testing.T) {
	f := newFakePlatform(t)
	f.put(logRulesPathOf("prj-1")+"/shop-logs", servedLogRule("prj-1", "shop-logs"))
	f.put(logRulesPathOf("prj-1")+"/new-rule", map[string]any{
		"metadata": map[string]any{"name": "new-rule", "namespace": "prj-1"},
		"spec": map[string]any{"clusterName": "cls-b", "namespace": "api", "input": map[string]any{"type": "ContainerStdout"},
			"outputs": []any{map[string]any{"name": "elasticsearch", "type": "elasticsearch", "elasticsearch": map[string]any{"addresses": []any{"https://es.example:9200"}, "index": "logs"}}}},
	})
	f.put(logRulesPathOf("prj-2")+"/other", servedLogRule("prj-2", "other"))

	r := f.must("logrule", "list", "--project", "prj-1")
	lines := strings.Split(strings.TrimRight(r.Out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("logrule list printed %q", r.Out)
	}
	if !regexp.MustCompile(`^NAME\s+CLUSTER\s+NAMESPACE\s+INPUT\s+OUTPUTS\s+PHASE\s+DELIVERED\s+DROPPED\s+MESSAGE$`).MatchString(lines[0]) {
		t.Errorf("headers: %q", lines[0])
	}
	// Not reported yet: Pending, and - for the sums.
	if !regexp.MustCompile(`^new-rule\s+cls-b\s+api\s+ContainerStdout\s+elasticsearch:elasticsearch\s+Pending\s+-\s+-\s*$`).MatchString(lines[1]) {
		t.Errorf("a pending rule: %q", lines[1])
	}
	// Sums over the outputs, the message on one line and cut.
	m := regexp.MustCompile(`^shop-logs\s+cls-a\s+web\s+ContainerStdout\s+k:kafka,l:loki\s+Failing\s+42\s+3\s+(.*)$`).FindStringSubmatch(lines[2])
	if m == nil {
		t.Fatalf("a reported rule: %q", lines[2])
	}
	if msg := m[1]; len(msg) != 60 || !strings.HasPrefix(msg, "output k: dial tcp") || !strings.HasSuffix(msg, "...") {
		t.Errorf("message %q: want it cut to 60 characters", msg)
	}
	if strings.Contains(r.Out, "other") {
		t.Errorf("list showed another project's rule: %q", r.Out)
	}

	// -o json: the list as served; -o name: the names.
	r = f.must("logrule", "list", "--project", "prj-1", "-o", "json")
	var l struct {
		Items []struct {
			Metadata struct{ Name string }
			Status   struct{ Phase string }
		}
	}
	if err := json.Unmarshal([]byte(r.Out), &l); err != nil || len(l.Items) != 2 || l.Items[1].Status.Phase != "Failing" {
		t.Errorf("list -o json printed %q (%v)", r.Out, err)
	}
	if r := f.must("logrule", "list", "--project", "prj-1", "-o", "name"); r.Out != "new-rule\nshop-logs\n" {
		t.Errorf("list -o name printed %q", r.Out)
	}

	// get: the list's row; -o yaml: the whole object.
	r = f.must("logrule", "get", "shop-logs", "--project", "prj-1")
	if !strings.HasPrefix(r.Out, "NAME ") || !regexp.MustCompile(`(?m)^shop-logs\s+cls-a\s+web\s+ContainerStdout\s+k:kafka,l:loki\s+Failing\s+42\s+3\s`).MatchString(r.Out) {
		t.Errorf("get printed %q", r.Out)
	}
	r = f.must("logrule", "get", "shop-logs", "--project", "prj-1", "-o", "yaml")
	if !strings.Contains(r.Out, "kind: LogCollector") || !strings.Contains(r.Out, "topic: logs") || !strings.Contains(r.Out, "lastError:") {
		t.Errorf("get -o yaml printed %q", r.Out)
	}
	if w := f.all(); w[len(w)-1].Path != logRulesPathOf("prj-1")+"/shop-logs" {
		t.Errorf("get asked %v", w[len(w)-1])
	}
	if r := f.kstack("", "logrule", "get", "gone", "--project", "prj-1"); r.Error == nil || !strings.Contains(r.Error.Error(), "not found") {
		t.Errorf("get of a missing rule: %v", r.Error)
	}

	// Cluster rules: kstack-system; * for every namespace, - for the nodes.
	f.put(logRulesPathOf("kstack-system")+"/all-stdout", map[string]any{"metadata": map[string]any{"name": "all-stdout"},
		"spec":   map[string]any{"clusterName": "cls-a", "input": map[string]any{"type": "ContainerStdout"}, "outputs": []any{map[string]any{"name": "loki", "type": "loki"}}},
		"status": map[string]any{"phase": "Running", "outputs": []any{map[string]any{"name": "loki", "delivered": 7, "healthy": true}}}})
	f.put(logRulesPathOf("kstack-system")+"/node-syslog", map[string]any{"metadata": map[string]any{"name": "node-syslog"},
		"spec": map[string]any{"clusterName": "cls-a", "input": map[string]any{"type": "HostFile", "hostFiles": []any{"/var/log/syslog"}}, "outputs": []any{map[string]any{"name": "loki", "type": "loki"}}}})
	r = f.must("logrule", "list", "--cluster-rules")
	if !regexp.MustCompile(`(?m)^all-stdout\s+cls-a\s+\*\s+ContainerStdout\s+loki:loki\s+Running\s+7\s+0\s*$`).MatchString(r.Out) ||
		!regexp.MustCompile(`(?m)^node-syslog\s+cls-a\s+-\s+HostFile\s+loki:loki\s+Pending\s+-\s+-\s*$`).MatchString(r.Out) {
		t.Errorf("list --cluster-rules printed %q", r.Out)
	}
}

func TestLogRuleStatus(t *testing.T) {
	f := newFakePlatform(t)
	rule := servedLogRule("prj-1", "shop-logs")
	// An output the agents have not reported yet.
	spec := rule["spec"].(map[string]any)
	spec["outputs"] = append(spec["outputs"].([]any), map[string]any{"name": "e", "type": "elasticsearch"})
	f.put(logRulesPathOf("prj-1")+"/shop-logs", rule)

	r := f.must("logrule", "status", "shop-logs", "--project", "prj-1")
	lines := strings.Split(strings.TrimRight(r.Out, "\n"), "\n")
	want := []string{
		`^OUTPUT\s+TYPE\s+DELIVERED\s+QUEUED\s+DROPPED\s+HEALTHY\s+LAST ERROR$`,
		`^k\s+kafka\s+10\s+5\s+2\s+false\s+dial tcp 10\.0\.0\.9:9092: connect: connection refused$`,
		`^l\s+loki\s+32\s+0\s+1\s+true\s*$`,
		`^e\s+elasticsearch\s+-\s+-\s+-\s+-\s*$`,
	}
	if len(lines) != len(want) {
		t.Fatalf("status printed %q", r.Out)
	}
	for i, w := range want {
		if !regexp.MustCompile(w).MatchString(lines[i]) {
			t.Errorf("status line %d: %q does not match %s", i, lines[i], w)
		}
	}
	// -o json: the status, with the errors' times.
	r = f.must("logrule", "status", "shop-logs", "--project", "prj-1", "-o", "json")
	var st struct {
		Phase   string
		Outputs []struct {
			Name          string
			Delivered     int64
			LastErrorTime string
		}
	}
	if err := json.Unmarshal([]byte(r.Out), &st); err != nil || st.Phase != "Failing" || len(st.Outputs) != 2 || st.Outputs[0].LastErrorTime != "2026-01-02T10:00:00Z" {
		t.Errorf("status -o json printed %q (%v)", r.Out, err)
	}
	// status has no object names.
	if r := f.kstack("", "logrule", "status", "shop-logs", "--project", "prj-1", "-o", "name"); r.Error == nil {
		t.Error("status -o name: no error")
	}
}

// lastWrite is the body of the last request that could change something.
func (f *fakePlatform) lastWrite(t *testing.T) fakeRequest {
	t.Helper()
	w := f.writes()
	if len(w) == 0 {
		t.Fatal("nothing was sent")
	}
	return w[len(w)-1]
}

// sentRule is the LogCollector of the last write, and its password(s).
func sentRule(t *testing.T, req fakeRequest) map[string]any {
	t.Helper()
	if req.Method != "POST" {
		t.Fatalf("sent %v", req)
	}
	return req.Body
}

func TestLogRuleCreateFromFile(t *testing.T) {
	f := newFakePlatform(t)
	const secret = "Kafka-S3cret-pw"
	file := writeFile(t, "rule.yaml", `apiVersion: logagent.tkestack.io/v1
kind: LogCollector
metadata:
  name: shop-logs
  resourceVersion: "12"
spec:
  clusterName: cls-a
  namespace: web
  input:
    type: ContainerFile
    containerFiles:
    - workload: {kind: Deployment, name: shop}
      container: app
      path: /var/app/*.log
  outputs:
  - name: k
    type: kafka
    kafka: {brokers: ["kafka.example:9092"], topic: logs, username: agent, password: `+secret+`}
status:
  phase: Running
`)
	r := f.must("logrule", "create", "-f", file, "--project", "prj-1")
	if r.Out != "logrule shop-logs created\n" {
		t.Errorf("create -f printed %q", r.Out)
	}
	req := f.lastWrite(t)
	if req.Path != logRulesPathOf("prj-1") {
		t.Errorf("create -f sent %v", req)
	}
	b := sentRule(t, req)
	meta := b["metadata"].(map[string]any)
	spec := b["spec"].(map[string]any)
	files := spec["input"].(map[string]any)["containerFiles"].([]any)
	kafka := spec["outputs"].([]any)[0].(map[string]any)["kafka"].(map[string]any)
	if b["kind"] != "LogCollector" || b["apiVersion"] != "logagent.tkestack.io/v1" || meta["name"] != "shop-logs" || meta["namespace"] != "prj-1" ||
		meta["resourceVersion"] != nil || len(files) != 1 || kafka["password"] != secret || kafka["username"] != "agent" {
		t.Errorf("create -f sent %v", b)
	}
	if st, _ := b["status"].(map[string]any); len(st) > 0 {
		t.Errorf("create -f sent a status: %v", st)
	}

	// The object printed with -o, even when the platform echoed the
	// password (the fake does), never shows it.
	for _, out := range []string{"json", "yaml"} {
		f.reset()
		r := f.must("logrule", "create", "-f", file, "--project", "prj-"+out, "-o", out)
		if strings.Contains(r.Out+r.Err, secret) {
			t.Errorf("create -f -o %s printed the password: %q", out, r.Out)
		}
		if !strings.Contains(r.Out, "shop-logs") || !strings.Contains(r.Out, "kafka.example:9092") {
			t.Errorf("create -f -o %s printed %q", out, r.Out)
		}
		if sentRule(t, f.lastWrite(t))["metadata"].(map[string]any)["namespace"] != "prj-"+out {
			t.Errorf("create -f -o %s sent %v", out, f.lastWrite(t))
		}
	}

	// JSON on stdin, a cluster rule: kstack-system.
	f.reset()
	r = f.kstack(`{"metadata":{"name":"node-syslog"},"spec":{"clusterName":"cls-a","input":{"type":"HostFile","hostFiles":["/var/log/syslog"]},"outputs":[{"name":"l","type":"loki","loki":{"url":"https://loki.example"}}]}}`,
		"logrule", "create", "-f", "-", "--cluster-rules")
	if r.Error != nil || r.Out != "logrule node-syslog created\n" {
		t.Fatalf("create -f - --cluster-rules: %v, printed %q", r.Error, r.Out)
	}
	b = sentRule(t, f.lastWrite(t))
	if f.lastWrite(t).Path != logRulesPathOf("kstack-system") || b["metadata"].(map[string]any)["namespace"] != "kstack-system" || b["kind"] != "LogCollector" {
		t.Errorf("create -f - --cluster-rules sent %v %v", f.lastWrite(t), b)
	}

	// What the file must be, checked before anything is sent.
	f.reset()
	cases := []struct{ data, want string }{
		{"metadata: {name: a, namespace: prj-2}\nspec: {clusterName: cls-a}\n", "metadata.namespace is prj-2, but the rule goes to prj-1"},
		{"metadata: {name: a}\nspec: {clusterName: cls-a, outputs: [{name: k, type: kafka, kafka: {brokres: [x]}}]}\n", `unknown field "brokres"`},
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", "holds a v1 ConfigMap, not a logagent.tkestack.io/v1 LogCollector"},
		{"metadata: {name: a}\n---\nmetadata: {name: b}\n", "holds 2 documents: give one LogCollector"},
		{"", "holds 0 documents"},
		{"spec: [\n", "is not YAML or JSON"},
	}
	for _, c := range cases {
		p := writeFile(t, "bad.yaml", c.data)
		if r := f.kstack("", "logrule", "create", "-f", p, "--project", "prj-1"); r.Error == nil || !strings.Contains(r.Error.Error(), c.want) {
			t.Errorf("create -f of %q: %v, want %q", c.data, r.Error, c.want)
		}
	}
	if r := f.kstack("", "logrule", "create", "-f", "/nonexistent/rule.yaml", "--project", "prj-1"); r.Error == nil || !strings.Contains(r.Error.Error(), "reading -f") {
		t.Errorf("create -f of a missing file: %v", r.Error)
	}
	if w := f.all(); len(w) > 0 {
		t.Errorf("refused files sent %v", w)
	}
}

func TestLogRuleCreateFromFlags(t *testing.T) {
	f := newFakePlatform(t)
	r := f.must("logrule", "create", "shop-logs", "--project", "prj-1", "--cluster", "cls-a", "--namespace", "web",
		"--workload", "deployment/shop", "--workload", "StatefulSet/db,cronjob/report", "--kafka", "k1.example:9092,k2.example:9092/shop-logs")
	if r.Out != "logrule shop-logs created\n" {
		t.Errorf("create printed %q", r.Out)
	}
	req := f.lastWrite(t)
	if req.Path != logRulesPathOf("prj-1") {
		t.Errorf("create sent %v", req)
	}
	data, _ := json.Marshal(sentRule(t, req))
	want := `{"apiVersion":"logagent.tkestack.io/v1","kind":"LogCollector","metadata":{"name":"shop-logs","namespace":"prj-1"},` +
		`"spec":{"clusterName":"cls-a","input":{"type":"ContainerStdout","workloads":[{"kind":"Deployment","name":"shop"},{"kind":"StatefulSet","name":"db"},{"kind":"CronJob","name":"report"}]},` +
		`"namespace":"web","outputs":[{"kafka":{"brokers":["k1.example:9092","k2.example:9092"],"topic":"shop-logs"},"name":"kafka","type":"kafka"}]},"status":{}}`
	if string(data) != want {
		t.Errorf("create sent\n%s\nwant\n%s", data, want)
	}

	// Elasticsearch with a password from stdin: sent, never printed.
	const secret = "Es-Passw0rd-42"
	for _, out := range []string{"table", "json", "yaml"} {
		f.reset()
		r = f.kstack(secret+"\n", "logrule", "create", "web-logs-"+out, "--project", "prj-1", "--cluster", "cls-a", "-n", "web",
			"--elasticsearch", "https://es1.example:9200,https://es2.example:9200/web", "--username", "agent", "--password-stdin", "-o", out)
		if r.Error != nil {
			t.Fatalf("create --elasticsearch -o %s: %v", out, r.Error)
		}
		if strings.Contains(r.Out+r.Err, secret) {
			t.Errorf("create -o %s printed the password: out %q err %q", out, r.Out, r.Err)
		}
		es := sentRule(t, f.lastWrite(t))["spec"].(map[string]any)["outputs"].([]any)[0].(map[string]any)
		e := es["elasticsearch"].(map[string]any)
		if es["name"] != "elasticsearch" || es["type"] != "elasticsearch" || e["index"] != "web" || len(e["addresses"].([]any)) != 2 ||
			e["username"] != "agent" || e["password"] != secret {
			t.Errorf("create --elasticsearch sent %v", es)
		}
		if out == "yaml" {
			var lc map[string]any
			if err := yaml.Unmarshal([]byte(r.Out), &lc); err != nil || lc["kind"] != "LogCollector" {
				t.Errorf("create -o yaml printed %q (%v)", r.Out, err)
			}
		}
	}

	// A cluster rule: every namespace, to Loki; files on the nodes.
	f.reset()
	f.must("logrule", "create", "all-stdout", "--cluster-rules", "--cluster", "cls-a", "--loki", "https://loki.example:3100")
	b := sentRule(t, f.lastWrite(t))
	spec := b["spec"].(map[string]any)
	if f.lastWrite(t).Path != logRulesPathOf("kstack-system") || spec["namespace"] != nil || spec["input"].(map[string]any)["type"] != "ContainerStdout" ||
		spec["outputs"].([]any)[0].(map[string]any)["loki"].(map[string]any)["url"] != "https://loki.example:3100" {
		t.Errorf("create --cluster-rules sent %v %v", f.lastWrite(t), b)
	}
	f.must("logrule", "create", "node-logs", "--cluster-rules", "--cluster", "cls-a", "--host-file", "/var/log/{syslog,messages}", "--host-file", "/var/log/auth.log",
		"--loki", "http://loki.example:3100")
	in := sentRule(t, f.lastWrite(t))["spec"].(map[string]any)["input"].(map[string]any)
	if in["type"] != "HostFile" || len(in["hostFiles"].([]any)) != 2 || in["hostFiles"].([]any)[0] != "/var/log/{syslog,messages}" {
		t.Errorf("create --host-file sent %v", in)
	}

	// delete
	if r := f.must("logrule", "delete", "shop-logs", "--project", "prj-1"); r.Out != "logrule shop-logs deleted\n" || f.get(logRulesPathOf("prj-1")+"/shop-logs") != nil {
		t.Errorf("delete printed %q", r.Out)
	}
	if r := f.must("logrule", "delete", "all-stdout", "--cluster-rules", "-o", "name"); r.Out != "all-stdout\n" || f.get(logRulesPathOf("kstack-system")+"/all-stdout") != nil {
		t.Errorf("delete --cluster-rules -o name printed %q", r.Out)
	}
}

// Wrong flags are refused with what to give, before anything is sent and
// before the password is read.
func TestLogRuleFlagErrors(t *testing.T) {
	f := newFakePlatform(t)
	file := writeFile(t, "rule.yaml", "metadata: {name: a}\n")
	base := []string{"logrule", "create", "shop", "--project", "prj-1", "--cluster", "cls-a", "--namespace", "web"}
	with := func(args ...string) []string { return append(append([]string(nil), base...), args...) }
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"logrule", "list"}, "give at least one of --project, --cluster-rules"},
		{[]string{"logrule", "get", "a", "--project", "p", "--cluster-rules"}, "give only one of --project, --cluster-rules"},
		{[]string{"logrule", "status", "a"}, "give at least one of --project, --cluster-rules"},
		{[]string{"logrule", "delete", "a"}, "give at least one of --project, --cluster-rules"},
		{[]string{"logrule", "create", "shop", "--cluster", "cls-a", "--kafka", "k:9092/t"}, "give at least one of --project, --cluster-rules"},
		{[]string{"logrule", "create", "--project", "prj-1"}, "give the rule's NAME and flags (--cluster, an output), or -f FILE"},
		{[]string{"logrule", "create", "shop", "--project", "prj-1", "--kafka", "k:9092/t"}, "--cluster is required: the member cluster ID"},
		{[]string{"logrule", "create", "shop", "--project", "prj-1", "--cluster", "cls-a", "--kafka", "k:9092/t"}, "--namespace is required: the namespace of project prj-1"},
		{with(), "give the output: --kafka BROKER/TOPIC, --loki URL or --elasticsearch URL/INDEX"},
		{with("--kafka", "kafka.example:9092"), `--kafka "kafka.example:9092": want BROKER/TOPIC, e.g. kafka.example:9092/logs`},
		{with("--kafka", "a:9092,,b:9092/t"), "want BROKER/TOPIC"},
		{with("--kafka", "kafka://k:9092/t"), "want BROKER/TOPIC"},
		{with("--elasticsearch", "https://es.example:9200"), `--elasticsearch "https://es.example:9200": want URL/INDEX`},
		{with("--elasticsearch", "es.example:9200/logs"), "want URL/INDEX"},
		{with("--elasticsearch", "https://es.example:9200/"), "want URL/INDEX"},
		{with("--loki", "loki.example:3100"), `--loki "loki.example:3100": want Loki's URL`},
		{with("--kafka", "k:9092/t", "--loki", "https://l"), "give only one of --kafka, --loki, --elasticsearch"},
		{with("--kafka", "k:9092/t", "--workload", "shop"), `--workload "shop": want KIND/NAME, e.g. Deployment/shop`},
		{with("--kafka", "k:9092/t", "--workload", "Pod/shop"), `--workload "Pod/shop": KIND is one of Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet, TApp`},
		{with("--kafka", "k:9092/t", "--host-file", "/var/log/x"), "--host-file: files on the nodes are collected by cluster rules"},
		{with("--kafka", "k:9092/t", "--password-stdin"), "--password-stdin: give the output's --username too"},
		{[]string{"logrule", "create", "shop", "--cluster-rules", "--cluster", "cls-a", "--namespace", "web", "--loki", "https://l"}, "--namespace: a cluster rule collects every namespace"},
		{[]string{"logrule", "create", "shop", "--cluster-rules", "--cluster", "cls-a", "--workload", "Deployment/a", "--loki", "https://l"}, "--workload names workloads of a project's namespace"},
		{[]string{"logrule", "create", "-f", file, "--project", "prj-1", "--cluster", "cls-a", "--password-stdin"}, "-f takes the whole rule from the file: drop --cluster, --password-stdin"},
		{[]string{"logrule", "create", "shop", "-f", file, "--project", "prj-1"}, "-f: the rule's name comes from the file (metadata.name): drop shop"},
		{[]string{"logrule", "create", "a", "b", "--project", "prj-1"}, "accepts at most 1 arg"},
	}
	for _, c := range cases {
		r := f.kstack("Not-Read-Passw0rd\n", c.args...)
		if r.Error == nil || !strings.Contains(r.Error.Error(), c.want) {
			t.Errorf("kstack %v: %v, want %q", c.args, r.Error, c.want)
		}
		if r.Error != nil && strings.Contains(r.Error.Error()+r.Out+r.Err, "Not-Read-Passw0rd") {
			t.Errorf("kstack %v printed the password", c.args)
		}
	}
	// An empty stdin is no password.
	r := f.kstack("", with("--kafka", "k:9092/t", "--username", "agent", "--password-stdin")...)
	if r.Error == nil || !strings.Contains(r.Error.Error(), "--password-stdin: stdin holds no password") {
		t.Errorf("an empty stdin: %v", r.Error)
	}
	if reqs := f.all(); len(reqs) > 0 {
		t.Fatalf("refused commands sent %v", reqs)
	}
}
