package alarmrule

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
)

func projectPolicy() *monitorv1.AlarmPolicy {
	return &monitorv1.AlarmPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "prj-a", Name: "alarm-x"},
		Spec: monitorv1.AlarmPolicySpec{
			TenantID:      "t1",
			DisplayName:   "restarts",
			ClusterName:   "cls-1",
			Namespace:     "web",
			ProjectName:   "prj-a",
			ObjectType:    monitorv1.ObjectPod,
			PeriodMinutes: 2,
			Conditions: []monitorv1.AlarmCondition{
				{Metric: "k8s_pod_restart_total", Operator: ">", Threshold: "3", Periods: 2},
				{Metric: "k8s_pod_cpu_core_used", Operator: "<", Threshold: "0.5", Periods: 1},
			},
		},
	}
}

func clusterPolicy() *monitorv1.AlarmPolicy {
	return &monitorv1.AlarmPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kstack-system", Name: "alarm-y"},
		Spec: monitorv1.AlarmPolicySpec{
			ClusterName:   "cls-1",
			ObjectType:    monitorv1.ObjectNode,
			PeriodMinutes: 1,
			Conditions: []monitorv1.AlarmCondition{
				{Metric: "k8s_node_cpu_usage", Operator: ">", Threshold: "80", Periods: 3},
			},
		},
	}
}

func TestPolicyKey(t *testing.T) {
	k := PolicyKey("prj-a", "alarm-x")
	if k != "prj-a/alarm-x" {
		t.Fatal(k)
	}
	ns, n := SplitPolicyKey(k)
	if ns != "prj-a" || n != "alarm-x" {
		t.Fatal(ns, n)
	}
	if ns, n := SplitPolicyKey("x"); ns != "" || n != "x" {
		t.Fatal(ns, n)
	}
}

func TestCompileProjectPod(t *testing.T) {
	p := projectPolicy()
	p.Spec.Object.Workload = &monitorv1.WorkloadRef{Kind: "Deployment", Name: "api"}
	p.Spec.Expr = `sum by (pod) (k8s_pod_restart_total{namespace="other"}) > 1`
	p.Spec.ExprPeriods = 3
	rules, err := Compile(p, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 3 {
		t.Fatalf("rules %d", len(rules))
	}
	want := []struct {
		name, expr string
		forD       time.Duration
		cond       string
		metric     string
	}{
		{"alarm-x-c0", `k8s_pod_restart_total{cluster="cls-1",namespace="web",workload_kind="Deployment",workload_name="api"} > 3`, 2 * time.Minute, "0", "k8s_pod_restart_total"},
		{"alarm-x-c1", `avg_over_time(k8s_pod_cpu_core_used{cluster="cls-1",namespace="web",workload_kind="Deployment",workload_name="api"}[2m]) < 0.5`, 0, "1", "k8s_pod_cpu_core_used"},
		{"alarm-x-expr", `sum by (pod) (k8s_pod_restart_total{namespace="other"}) > 1`, 4 * time.Minute, "expr", ""},
	}
	for i, w := range want {
		r := rules[i]
		if r.Name != w.name || r.Expr != w.expr || r.For != w.forD {
			t.Errorf("rule %d: %q %q %s, want %q %q %s", i, r.Name, r.Expr, r.For, w.name, w.expr, w.forD)
		}
		if r.Labels[LabelPolicy] != "prj-a/alarm-x" || r.Labels[LabelTenant] != "t1" || r.Labels[LabelCluster] != "cls-1" ||
			r.Labels[LabelNamespace] != "web" || r.Labels[LabelProject] != "prj-a" || r.Labels[LabelCondition] != w.cond || r.Labels[LabelMetric] != w.metric {
			t.Errorf("rule %d labels %v", i, r.Labels)
		}
		if _, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr); err != nil {
			t.Errorf("rule %d does not parse: %v", i, err)
		}
	}
	if a := rules[0].Annotations; a[AnnotationMetric] != "k8s_pod_restart_total" || a[AnnotationOperator] != ">" || a[AnnotationThreshold] != "3" {
		t.Errorf("annotations %v", a)
	}
	if _, ok := rules[2].Labels[LabelMetric]; !ok {
		t.Error("the expr rule must blank alarm_metric")
	}
}

func TestCompileCluster(t *testing.T) {
	p := clusterPolicy()
	rules, err := Compile(p, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := rules[0]
	if r.Expr != `avg_over_time(k8s_node_cpu_usage{cluster="cls-1"}[3s]) > 80` || r.For != 6*time.Second {
		t.Fatalf("%q %s", r.Expr, r.For)
	}
	if r.Labels[LabelTenant] != "default" {
		t.Errorf("tenant %q", r.Labels[LabelTenant])
	}
	if _, ok := r.Labels[LabelNamespace]; ok {
		t.Errorf("cluster policy sets namespace: %v", r.Labels)
	}
	if _, ok := r.Labels[LabelProject]; ok {
		t.Errorf("cluster policy sets project: %v", r.Labels)
	}

	p.Spec.Object.Nodes = []string{"n1"}
	rules, _ = Compile(p, time.Minute)
	if got := rules[0].Expr; got != `avg_over_time(k8s_node_cpu_usage{cluster="cls-1",node="n1"}[1m]) > 80` {
		t.Error(got)
	}
	p.Spec.Object.Nodes = []string{"n.1", `a"|b`, "c)|.*"}
	rules, _ = Compile(p, time.Minute)
	e, err := parser.NewParser(parser.Options{}).ParseExpr(rules[0].Expr)
	if err != nil {
		t.Fatalf("%s: %v", rules[0].Expr, err)
	}
	var node string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			for _, m := range vs.LabelMatchers {
				if m.Name == LabelNode {
					node = m.Value
					for _, ok := range []string{"n.1", `a"|b`, "c)|.*"} {
						if !m.Matches(ok) {
							t.Errorf("%q does not match %q", m, ok)
						}
					}
					for _, no := range []string{"nx1", "a", "b", "c", "anything", ""} {
						if m.Matches(no) {
							t.Errorf("%q matches %q", m, no)
						}
					}
				}
			}
		}
		return nil
	})
	if node == "" {
		t.Fatalf("no node matcher in %s", rules[0].Expr)
	}

	// Cluster-wide pods: no namespace.
	p = clusterPolicy()
	p.Spec.ObjectType = monitorv1.ObjectPod
	p.Spec.Conditions = []monitorv1.AlarmCondition{{Metric: "k8s_pod_status_ready", Operator: "<", Threshold: "1", Periods: 1}}
	rules, err = Compile(p, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if rules[0].Expr != `k8s_pod_status_ready{cluster="cls-1"} < 1` {
		t.Error(rules[0].Expr)
	}
}

func TestInjectionInWorkloadName(t *testing.T) {
	p := projectPolicy()
	p.Spec.Object.Workload = &monitorv1.WorkloadRef{Kind: "Deployment", Name: `x"} or k8s_pod_restart_total{namespace="other`}
	rules, err := Compile(p, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	e, err := parser.NewParser(parser.Options{}).ParseExpr(rules[0].Expr)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.(*parser.BinaryExpr); !ok {
		t.Fatalf("%T", e)
	}
	n := 0
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			n++
			for _, m := range vs.LabelMatchers {
				if m.Name == LabelNamespace && m.Value != "web" {
					t.Errorf("namespace %q", m.Value)
				}
				if m.Name == LabelWorkloadName && m.Value != p.Spec.Object.Workload.Name {
					t.Errorf("workload %q", m.Value)
				}
			}
		}
		return nil
	})
	if n != 1 {
		t.Errorf("%d selectors in %s", n, rules[0].Expr)
	}
}

func TestNegativeAndExponentThreshold(t *testing.T) {
	p := clusterPolicy()
	p.Spec.Conditions[0].Threshold = "-1.5e3"
	rules, err := Compile(p, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(rules[0].Expr, "> -1500") {
		t.Error(rules[0].Expr)
	}
	if rules[0].Annotations[AnnotationThreshold] != "-1.5e3" {
		t.Error(rules[0].Annotations)
	}
}

func TestMetricsCatalog(t *testing.T) {
	for _, ot := range []monitorv1.ObjectType{monitorv1.ObjectCluster, monitorv1.ObjectNode, monitorv1.ObjectPod} {
		ms := Metrics(ot)
		if len(ms) == 0 {
			t.Fatalf("%s: none", ot)
		}
		prefix := map[monitorv1.ObjectType]string{monitorv1.ObjectCluster: "k8s_cluster_", monitorv1.ObjectNode: "k8s_node_", monitorv1.ObjectPod: "k8s_pod_"}[ot]
		for _, m := range ms {
			if m.Object != ot || !strings.HasPrefix(m.Name, prefix) || (m.Agg != AggAvg && m.Agg != AggLast) || m.Unit == "" {
				t.Errorf("%+v", m)
			}
			if neverCollected(m.Name) {
				t.Errorf("%s is never collected", m.Name)
			}
		}
	}
	if m, ok := MetricFor(monitorv1.ObjectPod, "k8s_pod_restart_total"); !ok || m.Agg != AggLast {
		t.Error(m, ok)
	}
	// Metrics returns a copy.
	Metrics(monitorv1.ObjectPod)[0].Name = "x"
	if Metrics(monitorv1.ObjectPod)[0].Name == "x" {
		t.Error("Metrics shares the catalog")
	}
}

func TestCheckSpecErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(p *monitorv1.AlarmPolicy)
		want string
	}{
		{"unknown metric", func(p *monitorv1.AlarmPolicy) { p.Spec.Conditions[0].Metric = "k8s_pod_foo" },
			`spec.conditions[0].metric "k8s_pod_foo": unknown metric for Pod policies; known: k8s_pod_rate_cpu_core_used_node, `},
		{"metric of another object", func(p *monitorv1.AlarmPolicy) { p.Spec.Conditions[1].Metric = "k8s_node_cpu_usage" },
			`spec.conditions[1].metric "k8s_node_cpu_usage": unknown metric for Pod policies`},
		{"fs metric", func(p *monitorv1.AlarmPolicy) { p.Spec.Conditions[0].Metric = "k8s_pod_fs_read_bytes" },
			`spec.conditions[0].metric "k8s_pod_fs_read_bytes" is never collected`},
		{"no metric", func(p *monitorv1.AlarmPolicy) { p.Spec.Conditions[0].Metric = "" },
			`spec.conditions[0].metric is required`},
		{"threshold abc", func(p *monitorv1.AlarmPolicy) { p.Spec.Conditions[0].Threshold = "abc" },
			`spec.conditions[0].threshold "abc" is not a number`},
		{"threshold empty", func(p *monitorv1.AlarmPolicy) { p.Spec.Conditions[0].Threshold = "" },
			`spec.conditions[0].threshold "" is not a number`},
		{"threshold NaN", func(p *monitorv1.AlarmPolicy) { p.Spec.Conditions[1].Threshold = "NaN" },
			`spec.conditions[1].threshold "NaN" is not a finite number`},
		{"threshold Inf", func(p *monitorv1.AlarmPolicy) { p.Spec.Conditions[0].Threshold = "+Inf" },
			`spec.conditions[0].threshold "+Inf" is not a finite number`},
		{"threshold overflow", func(p *monitorv1.AlarmPolicy) { p.Spec.Conditions[0].Threshold = "1e999" },
			`spec.conditions[0].threshold "1e999" is not a number`},
		{"operator", func(p *monitorv1.AlarmPolicy) { p.Spec.Conditions[0].Operator = "=" },
			`spec.conditions[0].operator "=": use > or <`},
		{"operator >=", func(p *monitorv1.AlarmPolicy) { p.Spec.Conditions[0].Operator = ">=" },
			`spec.conditions[0].operator ">=": use > or <`},
		{"periods 0", func(p *monitorv1.AlarmPolicy) { p.Spec.Conditions[0].Periods = 0 },
			`spec.conditions[0].periods 0: 1 to 10`},
		{"periods 11", func(p *monitorv1.AlarmPolicy) { p.Spec.Conditions[1].Periods = 11 },
			`spec.conditions[1].periods 11: 1 to 10`},
		{"periodMinutes 7", func(p *monitorv1.AlarmPolicy) { p.Spec.PeriodMinutes = 7 },
			`spec.periodMinutes 7 is out of range: 1 to 5 minutes`},
		{"periodMinutes 0", func(p *monitorv1.AlarmPolicy) { p.Spec.PeriodMinutes = 0 },
			`spec.periodMinutes 0 is out of range: 1 to 5 minutes`},
		{"exprPeriods", func(p *monitorv1.AlarmPolicy) { p.Spec.ExprPeriods = 11 },
			`spec.exprPeriods 11: 1 to 10 (0 means 1)`},
		{"exprPeriods negative", func(p *monitorv1.AlarmPolicy) { p.Spec.ExprPeriods = -1 },
			`spec.exprPeriods -1: 1 to 10 (0 means 1)`},
		{"expr parse", func(p *monitorv1.AlarmPolicy) { p.Spec.Expr = "k8s_pod_restart_total >" },
			`spec.expr: 1:24: parse error: unexpected end of input`},
		{"expr parse 2", func(p *monitorv1.AlarmPolicy) { p.Spec.Expr = "sum(rate(x[5m])" },
			`spec.expr: 1:16: parse error: unclosed left parenthesis`},
		{"expr scalar", func(p *monitorv1.AlarmPolicy) { p.Spec.Expr = "1 + 1" },
			`spec.expr: must be an instant vector expression, not scalar`},
		{"expr range", func(p *monitorv1.AlarmPolicy) { p.Spec.Expr = "k8s_pod_restart_total[5m]" },
			`spec.expr: must be an instant vector expression, not a range vector`},
		{"expr string", func(p *monitorv1.AlarmPolicy) { p.Spec.Expr = `"a"` },
			`spec.expr: must be an instant vector expression, not string`},
		{"nothing", func(p *monitorv1.AlarmPolicy) { p.Spec.Conditions = nil; p.Spec.Expr = "  " },
			`give at least one condition or spec.expr`},
		{"too many", func(p *monitorv1.AlarmPolicy) {
			for len(p.Spec.Conditions) <= MaxConditions {
				p.Spec.Conditions = append(p.Spec.Conditions, p.Spec.Conditions[0])
			}
		}, `spec.conditions: 11 conditions, at most 10`},
		{"node in a project", func(p *monitorv1.AlarmPolicy) {
			p.Spec.ObjectType = monitorv1.ObjectNode
			p.Spec.Object.Workload = nil
		}, `spec.objectType Node is for cluster policies (leave spec.namespace empty)`},
		{"cluster in a project", func(p *monitorv1.AlarmPolicy) { p.Spec.ObjectType = monitorv1.ObjectCluster },
			`spec.objectType Cluster is for cluster policies (leave spec.namespace empty)`},
		{"object type", func(p *monitorv1.AlarmPolicy) { p.Spec.ObjectType = "Service" },
			`spec.objectType "Service": use Cluster, Node or Pod`},
		{"no object type", func(p *monitorv1.AlarmPolicy) { p.Spec.ObjectType = "" },
			`spec.objectType is required`},
		{"nodes on pods", func(p *monitorv1.AlarmPolicy) { p.Spec.Object.Nodes = []string{"n1"} },
			`spec.object.nodes is for Node policies, not Pod`},
		{"workload kind", func(p *monitorv1.AlarmPolicy) { p.Spec.Object.Workload = &monitorv1.WorkloadRef{Name: "x"} },
			`spec.object.workload.kind is required`},
		{"workload name", func(p *monitorv1.AlarmPolicy) { p.Spec.Object.Workload = &monitorv1.WorkloadRef{Kind: "Deployment"} },
			`spec.object.workload.name is required`},
		{"cluster", func(p *monitorv1.AlarmPolicy) { p.Spec.ClusterName = "" },
			`spec.clusterName is required`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := projectPolicy()
			c.edit(p)
			err := CheckSpec(&p.Spec)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("got %v\nwant %s", err, c.want)
			}
			if _, err2 := Compile(p, time.Minute); err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("Compile: %v", err2)
			}
		})
	}

	clusterCases := []struct {
		name string
		edit func(p *monitorv1.AlarmPolicy)
		want string
	}{
		{"workload on nodes", func(p *monitorv1.AlarmPolicy) {
			p.Spec.Object.Workload = &monitorv1.WorkloadRef{Kind: "Deployment", Name: "x"}
		},
			`spec.object.workload is for Pod policies, not Node`},
		{"workload without namespace", func(p *monitorv1.AlarmPolicy) {
			p.Spec.ObjectType = monitorv1.ObjectPod
			p.Spec.Conditions[0].Metric = "k8s_pod_restart_total"
			p.Spec.Object.Workload = &monitorv1.WorkloadRef{Kind: "Deployment", Name: "x"}
		}, `spec.object.workload needs spec.namespace`},
		{"empty node", func(p *monitorv1.AlarmPolicy) { p.Spec.Object.Nodes = []string{"a", ""} },
			`spec.object.nodes[1] is empty`},
		{"pod metric on nodes", func(p *monitorv1.AlarmPolicy) { p.Spec.Conditions[0].Metric = "k8s_pod_restart_total" },
			`spec.conditions[0].metric "k8s_pod_restart_total": unknown metric for Node policies; known: k8s_node_cpu_usage`},
		{"node fs", func(p *monitorv1.AlarmPolicy) { p.Spec.Conditions[0].Metric = "k8s_node_fs_write_bytes" },
			`spec.conditions[0].metric "k8s_node_fs_write_bytes" is never collected`},
	}
	for _, c := range clusterCases {
		t.Run(c.name, func(t *testing.T) {
			p := clusterPolicy()
			c.edit(p)
			err := CheckSpec(&p.Spec)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("got %v\nwant %s", err, c.want)
			}
		})
	}
	if err := CheckSpec(nil); err == nil {
		t.Error("nil spec")
	}
}

func TestCheckSpecGood(t *testing.T) {
	for _, p := range []*monitorv1.AlarmPolicy{projectPolicy(), clusterPolicy()} {
		if err := CheckSpec(&p.Spec); err != nil {
			t.Fatal(err)
		}
	}
	p := projectPolicy()
	p.Spec.Conditions = nil
	p.Spec.Expr = `k8s_pod_restart_total > 0`
	if err := CheckSpec(&p.Spec); err != nil {
		t.Fatal(err)
	}
	rules, err := Compile(p, time.Minute)
	if err != nil || len(rules) != 1 || rules[0].For != 0 {
		t.Fatal(rules, err)
	}
}
