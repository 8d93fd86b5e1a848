package logagentapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	logagentv1 "github.com/kstack/kstack/api/logagent/v1"
	"github.com/kstack/kstack/internal/clustercache"
	"github.com/kstack/kstack/internal/logagent"
	"github.com/kstack/kstack/internal/platformscheme"
)

// reconciler is the controller over a fake platform holding objs, with no
// member connected (clustercache has no way to hand it a fake clientset:
// render, apply and the status are tested on their own).
func reconciler(t *testing.T, objs ...client.Object) (*Reconciler, client.Client) {
	t.Helper()
	c := fake.NewClientBuilder().WithScheme(platformscheme.New()).WithObjects(objs...).
		WithStatusSubresource(&logagentv1.LogCollector{}).Build()
	return &Reconciler{Client: c, Cache: clustercache.New(nil), SystemNamespace: sysNS, Log: slog.New(slog.DiscardHandler)}, c
}

func passwordSecret(ns, name string, data map[string]string, created time.Time) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: sysNS, Name: "logcollector-" + ns + "-" + name,
		Labels:            map[string]string{LabelCollector: ns + "." + name, "kstack.io/tenant": "default"},
		CreationTimestamp: metav1.NewTime(created)}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestRender(t *testing.T) {
	withLabels := withCreds(loki("l", "https://loki.example"), "lu", "", "logcollector-"+sysNS+"-host")
	withLabels.Loki.TenantID, withLabels.Loki.Labels = "ops", map[string]string{"team": "infra"}
	files := containerFile("/app/logs/*.log")
	files.ContainerFiles = append(files.ContainerFiles, logagentv1.ContainerFileRef{
		Workload: logagentv1.WorkloadRef{Kind: "StatefulSet", Name: "db"}, Container: "pg", Path: "/var/lib/pg/log/**"})
	wl := workloads("api")
	wl.Workloads = append(wl.Workloads, logagentv1.WorkloadRef{Kind: "CronJob", Name: "nightly"})
	// Out of order: the configuration is sorted by rule name.
	rules := []logagentv1.LogCollector{
		*rule(prjA, "workloads", "cls-a", "web", wl, es("e", "https://es.example:9200")),
		*rule(prjA, "stdout", "cls-a", "web", stdout, withCreds(kafka("k", "kafka.example:9092", "kafka.example:9093"), "ku", "", "logcollector-"+prjA+"-stdout")),
		*rule(sysNS, "host", "cls-a", "", hostFiles("/var/log/*.log", "/var/log/nginx/**"), withLabels),
		*rule(prjA, "files", "cls-a", "web", files, withCreds(es("e", "https://es.example"), "eu", "", "logcollector-"+prjA+"-files"), loki("l", "https://loki.example")),
		*rule(sysNS, "all", "cls-a", "", stdout, kafka("k", "kafka.example:9092")),
	}
	r, _ := reconciler(t,
		passwordSecret(prjA, "stdout", map[string]string{"k": "kpw"}, time.Now()),
		passwordSecret(prjA, "files", map[string]string{"e": "epw", "gone": "old"}, time.Now()),
		passwordSecret(sysNS, "host", map[string]string{"l": "lpw"}, time.Now()),
	)
	cfg, secrets, err := r.render(context.Background(), "cls-a", rules)
	if err != nil {
		t.Fatal(err)
	}
	want := &logagent.Config{Rules: []logagent.Rule{
		{Name: sysNS + "/all", Namespaces: []string{logagent.AllNamespaces},
			Sinks: []logagent.Sink{{Name: "k", Type: "kafka", Kafka: &logagent.KafkaSink{Brokers: []string{"kafka.example:9092"}, Topic: "logs"}}}},
		{Name: sysNS + "/host", HostFiles: []string{"/var/log/*.log", "/var/log/nginx/**"},
			Sinks: []logagent.Sink{{Name: "l", Type: "loki", Loki: &logagent.LokiSink{URL: "https://loki.example", TenantID: "ops", Username: "lu",
				PasswordKey: sysNS + ".host.l", Labels: map[string]string{"team": "infra"}}}}},
		{Name: prjA + "/files", ContainerFiles: []logagent.ContainerFile{
			{Workload: logagent.Workload{Namespace: "web", Kind: "Deployment", Name: "api"}, Container: "app", Path: "/app/logs/*.log"},
			{Workload: logagent.Workload{Namespace: "web", Kind: "StatefulSet", Name: "db"}, Container: "pg", Path: "/var/lib/pg/log/**"}},
			Sinks: []logagent.Sink{
				{Name: "e", Type: "elasticsearch", Elasticsearch: &logagent.ESSink{Addresses: []string{"https://es.example"}, Index: "logs", Username: "eu", PasswordKey: prjA + ".files.e"}},
				{Name: "l", Type: "loki", Loki: &logagent.LokiSink{URL: "https://loki.example"}}}},
		{Name: prjA + "/stdout", Namespaces: []string{"web"},
			Sinks: []logagent.Sink{{Name: "k", Type: "kafka", Kafka: &logagent.KafkaSink{Brokers: []string{"kafka.example:9092", "kafka.example:9093"}, Topic: "logs",
				Username: "ku", PasswordKey: prjA + ".stdout.k"}}}},
		{Name: prjA + "/workloads", Workloads: []logagent.Workload{{Namespace: "web", Kind: "Deployment", Name: "api"}, {Namespace: "web", Kind: "CronJob", Name: "nightly"}},
			Sinks: []logagent.Sink{{Name: "e", Type: "elasticsearch", Elasticsearch: &logagent.ESSink{Addresses: []string{"https://es.example:9200"}, Index: "logs"}}}},
	}}
	if !equality.Semantic.DeepEqual(cfg, want) {
		got, _ := json.MarshalIndent(cfg, "", "  ")
		exp, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("config\n%s\nwant\n%s", got, exp)
	}
	wantSecrets := map[string]string{prjA + ".stdout.k": "kpw", prjA + ".files.e": "epw", sysNS + ".host.l": "lpw"}
	if len(secrets) != len(wantSecrets) {
		t.Errorf("secrets %v, want the keys of %v", secrets, wantSecrets)
	}
	for k, v := range wantSecrets {
		if string(secrets[k]) != v {
			t.Errorf("secret %s = %q, want %q", k, secrets[k], v)
		}
	}
	// What the platform renders is what the agent takes.
	if err := cfg.Validate(); err != nil {
		t.Errorf("the agent refuses the rendered config: %v", err)
	}

	// No rules: an empty list, not null.
	cfg, secrets, err = r.render(context.Background(), "cls-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(cfg); string(b) != `{"rules":[]}` || len(secrets) != 0 {
		t.Errorf("no rules render %s and %v", b, secrets)
	}

	// A password Secret that is not there fails the whole render, rather
	// than giving the agent a rule without its password.
	missing := []logagentv1.LogCollector{*rule(prjA, "lost", "cls-a", "web", stdout, withCreds(goodK, "u", "", "logcollector-"+prjA+"-lost"))}
	if _, _, err := r.render(context.Background(), "cls-a", missing); err == nil || !strings.Contains(err.Error(), "rule "+prjA+"/lost output k") {
		t.Errorf("render with a missing password Secret: %v", err)
	}
}

// writes are the create and update actions on the fake member, as
// "verb resource".
func writes(cs *k8sfake.Clientset) []string {
	var out []string
	for _, a := range cs.Actions() {
		if a.GetVerb() == "create" || a.GetVerb() == "update" {
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
		}
	}
	return out
}

func TestApply(t *testing.T) {
	ctx := context.Background()
	cs := k8sfake.NewClientset()
	member := func() (string, map[string][]byte) {
		t.Helper()
		cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "kstack-logagent", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sec, err := cs.CoreV1().Secrets("kube-system").Get(ctx, "kstack-logagent-sinks", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cm.Data["config.json"], sec.Data
	}
	cfg1 := &logagent.Config{Rules: []logagent.Rule{{Name: prjA + "/r", Namespaces: []string{"web"},
		Sinks: []logagent.Sink{{Name: "k", Type: "kafka", Kafka: &logagent.KafkaSink{Brokers: []string{"kafka.example:9092"}, Topic: "logs", Username: "u", PasswordKey: prjA + ".r.k"}}}}}}
	secrets1 := map[string][]byte{prjA + ".r.k": []byte("one")}

	// Created, the Secret first.
	if err := apply(ctx, cs, cfg1, secrets1); err != nil {
		t.Fatal(err)
	}
	if got := writes(cs); strings.Join(got, ",") != "create secrets,create configmaps" {
		t.Errorf("first apply writes %v, want the Secret then the ConfigMap created", got)
	}
	data, sec := member()
	if want, _ := json.Marshal(cfg1); data != string(want) {
		t.Errorf("config.json %s, want %s", data, want)
	}
	var back logagent.Config
	if err := json.Unmarshal([]byte(data), &back); err != nil || !equality.Semantic.DeepEqual(&back, cfg1) {
		t.Errorf("config.json reads back as %+v (%v)", back, err)
	}
	if !equality.Semantic.DeepEqual(sec, secrets1) {
		t.Errorf("sinks Secret %v, want %v", sec, secrets1)
	}

	// Unchanged: nothing is rewritten.
	cs.ClearActions()
	if err := apply(ctx, cs, cfg1, map[string][]byte{prjA + ".r.k": []byte("one")}); err != nil {
		t.Fatal(err)
	}
	for _, w := range writes(cs) {
		if strings.HasPrefix(w, "update") {
			t.Errorf("an unchanged apply writes: %v", writes(cs))
		}
	}

	// Changed: both updated, the Secret first.
	cfg2 := &logagent.Config{Rules: append(cfg1.Rules, logagent.Rule{Name: sysNS + "/host", HostFiles: []string{"/var/log/*.log"},
		Sinks: []logagent.Sink{{Name: "l", Type: "loki", Loki: &logagent.LokiSink{URL: "https://loki.example"}}}})}
	secrets2 := map[string][]byte{prjA + ".r.k": []byte("two")}
	cs.ClearActions()
	if err := apply(ctx, cs, cfg2, secrets2); err != nil {
		t.Fatal(err)
	}
	var updates []string
	for _, w := range writes(cs) {
		if strings.HasPrefix(w, "update") {
			updates = append(updates, w)
		}
	}
	if strings.Join(updates, ",") != "update secrets,update configmaps" {
		t.Errorf("a changed apply updates %v, want the Secret then the ConfigMap", updates)
	}
	data, sec = member()
	if want, _ := json.Marshal(cfg2); data != string(want) {
		t.Errorf("config.json %s, want %s", data, want)
	}
	if string(sec[prjA+".r.k"]) != "two" {
		t.Errorf("sinks Secret %v, want the new password", sec)
	}

	// Only the configuration changed: the Secret is left alone.
	cs.ClearActions()
	if err := apply(ctx, cs, cfg1, secrets2); err != nil {
		t.Fatal(err)
	}
	updates = nil
	for _, w := range writes(cs) {
		if strings.HasPrefix(w, "update") {
			updates = append(updates, w)
		}
	}
	if strings.Join(updates, ",") != "update configmaps" {
		t.Errorf("a config-only change updates %v, want the ConfigMap only", updates)
	}

	// The last rule gone: no rules, and no passwords left in the member.
	if err := apply(ctx, cs, &logagent.Config{Rules: []logagent.Rule{}}, map[string][]byte{}); err != nil {
		t.Fatal(err)
	}
	data, sec = member()
	if data != `{"rules":[]}` || len(sec) != 0 {
		t.Errorf("after the last rule: config %s, passwords %v", data, sec)
	}

	// A member that refuses the write fails the apply.
	cs.PrependReactor("*", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("secrets"), "", nil)
	})
	if err := apply(ctx, cs, cfg1, secrets1); !apierrors.IsForbidden(err) {
		t.Errorf("apply into a member that refuses: %v", err)
	}
}

func statusConfigMap(name string, st logagent.Status) *corev1.ConfigMap {
	b, _ := json.Marshal(st)
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: logagent.StatusPrefix + name},
		Data: map[string]string{logagent.StatusKey: string(b)}}
}

func TestReadReports(t *testing.T) {
	cs := k8sfake.NewClientset(
		statusConfigMap("node-1", logagent.Status{Agent: "node-1", Rules: []logagent.RuleStatus{{Rule: prjA + "/r"}}}),
		statusConfigMap("node-2", logagent.Status{Agent: "node-2"}),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: logagent.StatusPrefix + "broken"}, Data: map[string]string{logagent.StatusKey: "{"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: logagent.ConfigMapName}, Data: map[string]string{logagent.ConfigKey: `{"rules":[]}`}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "not-an-agent"}, Data: map[string]string{logagent.StatusKey: `{"agent":"impostor"}`}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: logagent.StatusPrefix + "elsewhere"},
			Data: map[string]string{logagent.StatusKey: `{"agent":"elsewhere"}`}},
	)
	reports, err := readReports(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	var agents []string
	for _, r := range reports {
		agents = append(agents, r.Agent)
	}
	if strings.Join(agents, ",") != "node-1,node-2" {
		t.Errorf("reports of %v, want node-1 and node-2 (a broken report, other ConfigMaps and another namespace's left out)", agents)
	}
}

func TestUpdateStatus(t *testing.T) {
	ctx := context.Background()
	name := prjA + "/r"
	at := time.Date(2025, 3, 1, 10, 0, 0, 123456789, time.UTC) // an agent's time.Now(): nanoseconds
	sink := func(s string, delivered, queued, dropped int64, healthy bool, lastErr string) logagent.SinkStatus {
		ss := logagent.SinkStatus{Sink: s, Type: "kafka", Delivered: delivered, Queued: queued, Dropped: dropped, Healthy: healthy, LastError: lastErr}
		if lastErr != "" {
			ss.LastErrorTime = &at
		}
		return ss
	}
	report := func(agent string, rules ...logagent.RuleStatus) logagent.Status {
		return logagent.Status{Agent: agent, Updated: at, Rules: rules}
	}
	healthy := []logagent.Status{
		report("node-1",
			logagent.RuleStatus{Rule: name, Sinks: []logagent.SinkStatus{sink("k", 10, 2, 1, true, ""), sink("l", 5, 0, 0, true, "")}},
			logagent.RuleStatus{Rule: prjA + "/other", Sinks: []logagent.SinkStatus{sink("k", 1000, 1000, 1000, false, "not ours")}}),
		report("node-2",
			logagent.RuleStatus{Rule: name, Sinks: []logagent.SinkStatus{sink("k", 7, 3, 0, true, ""), sink("l", 1, 0, 4, true, ""), sink("removed", 99, 0, 0, true, "")}}),
		report("node-3"), // runs no pod of the rule
	}
	failing := []logagent.Status{
		healthy[0],
		report("node-2",
			logagent.RuleStatus{Rule: name, Sinks: []logagent.SinkStatus{sink("k", 7, 3, 0, true, ""), sink("l", 1, 6, 4, false, "dial tcp: connection refused")}}),
	}
	refused := []logagent.Status{
		report("node-1", logagent.RuleStatus{Rule: name, Error: `host file "/etc/shadow" refused`, Sinks: []logagent.SinkStatus{sink("k", 1, 0, 0, true, "")}}),
	}
	out := func(n string, delivered, queued, dropped int64, healthy bool, lastErr string) logagentv1.OutputStatus {
		o := logagentv1.OutputStatus{Name: n, Delivered: delivered, Queued: queued, Dropped: dropped, Healthy: healthy, LastError: lastErr}
		if lastErr != "" {
			t := metav1.NewTime(at.Truncate(time.Second)) // metav1.Time is stored to the second
			o.LastErrorTime = &t
		}
		return o
	}
	for _, tc := range []struct {
		name    string
		reports []logagent.Status
		phase   string
		msg     string
		outputs []logagentv1.OutputStatus
	}{
		{"no agent", nil, "Pending", "no log agent of the cluster has reported this rule yet",
			[]logagentv1.OutputStatus{out("k", 0, 0, 0, true, ""), out("l", 0, 0, 0, true, "")}},
		{"agents without the rule", []logagent.Status{report("node-1"), healthy[2]}, "Pending", "no log agent",
			[]logagentv1.OutputStatus{out("k", 0, 0, 0, true, ""), out("l", 0, 0, 0, true, "")}},
		{"summed", healthy, "Running", "",
			[]logagentv1.OutputStatus{out("k", 17, 5, 1, true, ""), out("l", 6, 0, 4, true, "")}},
		{"an output failing on one agent", failing, "Failing", "output l (agent node-2): dial tcp: connection refused",
			[]logagentv1.OutputStatus{out("k", 17, 5, 1, true, ""), out("l", 6, 6, 4, false, "dial tcp: connection refused")}},
		{"a rule an agent refused", refused, "Failing", `agent node-1: host file "/etc/shadow" refused`,
			[]logagentv1.OutputStatus{out("k", 1, 0, 0, true, ""), out("l", 0, 0, 0, true, "")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, c := reconciler(t, rule(prjA, "r", "cls-a", "web", stdout, goodK, loki("l", "https://loki.example")))
			read := func() *logagentv1.LogCollector {
				t.Helper()
				var lc logagentv1.LogCollector
				if err := c.Get(ctx, types.NamespacedName{Namespace: prjA, Name: "r"}, &lc); err != nil {
					t.Fatal(err)
				}
				return &lc
			}
			if err := r.updateStatus(ctx, read(), tc.reports); err != nil {
				t.Fatal(err)
			}
			lc := read()
			st := lc.Status
			if st.Phase != tc.phase || !strings.Contains(st.Message, tc.msg) || (tc.msg == "" && st.Message != "") {
				t.Errorf("phase %s %q, want %s %q", st.Phase, st.Message, tc.phase, tc.msg)
			}
			if !equality.Semantic.DeepEqual(st.Outputs, tc.outputs) {
				t.Errorf("outputs\n%+v\nwant\n%+v", st.Outputs, tc.outputs)
			}
			if st.LastUpdateTime == nil {
				t.Error("no lastUpdateTime")
			}
			// The same reports again, on the rule as the cache has it:
			// nothing is written (each write would reconcile again).
			rv := lc.ResourceVersion
			if err := r.updateStatus(ctx, lc, tc.reports); err != nil {
				t.Fatal(err)
			}
			if got := read().ResourceVersion; got != rv {
				t.Errorf("unchanged reports rewrote the status (resourceVersion %s -> %s)", rv, got)
			}
		})
	}

	// The figures move: the status follows.
	r, c := reconciler(t, rule(prjA, "r", "cls-a", "web", stdout, goodK, loki("l", "https://loki.example")))
	var lc logagentv1.LogCollector
	key := types.NamespacedName{Namespace: prjA, Name: "r"}
	for _, reps := range [][]logagent.Status{failing, healthy} {
		if err := c.Get(ctx, key, &lc); err != nil {
			t.Fatal(err)
		}
		if err := r.updateStatus(ctx, &lc, reps); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Get(ctx, key, &lc); err != nil {
		t.Fatal(err)
	}
	if lc.Status.Phase != "Running" || lc.Status.Message != "" || !lc.Status.Outputs[1].Healthy || lc.Status.Outputs[1].LastError != "" {
		t.Errorf("a recovered output: %+v", lc.Status)
	}
}

func TestCollectOrphans(t *testing.T) {
	ctx := context.Background()
	old := time.Now().Add(-2 * orphanGrace)
	unlabelled := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: sysNS, Name: "kstack-ca", CreationTimestamp: metav1.NewTime(old)}}
	elsewhere := passwordSecret(prjA, "gone-elsewhere", nil, old)
	elsewhere.Namespace = "default"
	r, c := reconciler(t,
		rule(prjA, "live", "cls-a", "web", stdout, goodK),
		rule(sysNS, "live", "cls-b", "", stdout, goodK),
		passwordSecret(prjA, "live", map[string]string{"k": "pw"}, old),
		passwordSecret(sysNS, "live", map[string]string{"k": "pw"}, old),
		passwordSecret(prjA, "gone", map[string]string{"k": "pw"}, old),
		passwordSecret(prjA, "just-made", map[string]string{"k": "pw"}, time.Now().Add(-orphanGrace/2)),
		unlabelled, elsewhere,
	)
	var all logagentv1.LogCollectorList
	if err := c.List(ctx, &all); err != nil {
		t.Fatal(err)
	}
	if err := r.collectOrphans(ctx, all.Items); err != nil {
		t.Fatal(err)
	}
	left := func() []string {
		var secs corev1.SecretList
		if err := c.List(ctx, &secs); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range secs.Items {
			names = append(names, s.Namespace+"/"+s.Name)
		}
		sort.Strings(names)
		return names
	}
	want := []string{
		"default/logcollector-" + prjA + "-gone-elsewhere",
		sysNS + "/kstack-ca",
		sysNS + "/logcollector-" + sysNS + "-live",
		sysNS + "/logcollector-" + prjA + "-just-made",
		sysNS + "/logcollector-" + prjA + "-live",
	}
	if got := left(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Secrets left %v, want %v", got, want)
	}

	// A rule that is gone, its Secret past the grace: Reconcile removes it
	// even with the cluster not connected, and comes back while the
	// cluster has rules.
	if err := c.Delete(ctx, rule(prjA, "live", "cls-a", "web", stdout, goodK)); err != nil {
		t.Fatal(err)
	}
	res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: "cls-b"}})
	if err != nil || res.RequeueAfter != statusEvery {
		t.Errorf("a cluster with rules, not connected: %+v %v, want a retry after %s", res, err, statusEvery)
	}
	want = want[:4]
	if got := left(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Secrets left %v, want %v", got, want)
	}
	res, err = r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: "cls-a"}})
	if err != nil || res.RequeueAfter != 0 {
		t.Errorf("a cluster without rules, not connected: %+v %v, want nothing to do", res, err)
	}
}
