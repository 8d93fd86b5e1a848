// Package alarmrule checks alarm policies and compiles them to PromQL
// alerting rules. It does no I/O: the scope a policy reads is decided by
// internal/alarmscope, and the rules are run by internal/alarmeval.
//
// Conditions are compiled by building PromQL syntax trees
// (parser.VectorSelector, parser.Call, parser.BinaryExpr) and printing them,
// never by pasting strings, so that no label value a user chose (a node's or
// a workload's name) can change the expression.
package alarmrule

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
)

// Labels every alert of a policy carries. The rule's labels override the
// labels of the series the expression returns, so a raw expression cannot
// forge them.
const (
	LabelPolicy    = "alarm_policy"    // "<namespace>/<name>" of the AlarmPolicy
	LabelCondition = "alarm_condition" // "0".."9" or "expr"
	LabelMetric    = "alarm_metric"    // the condition's metric name ("" for expr)
	LabelTenant    = "tenant"
	LabelProject   = "project"
	// LabelCluster and LabelNamespace are the series' own labels
	// (metricstore's), set from the policy.
	LabelCluster   = "cluster"
	LabelNamespace = "namespace"
	// Series labels the selectors use (internal/metricscollect).
	LabelNode         = "node"
	LabelWorkloadKind = "workload_kind"
	LabelWorkloadName = "workload_name"
)

// Annotations of a compiled rule (fixed, never user templates).
const (
	AnnotationMetric    = "metric"
	AnnotationOperator  = "operator"
	AnnotationThreshold = "threshold"
)

// ConditionExpr is the LabelCondition value of a policy's raw expression.
const ConditionExpr = "expr"

// Limits of a policy's spec.
const (
	MinPeriodMinutes = 1
	MaxPeriodMinutes = 5
	MinPeriods       = 1
	MaxPeriods       = 10
	MaxExprPeriods   = 10
	MaxConditions    = 10
)

// PolicyKey is the LabelPolicy value of a policy: "<namespace>/<name>".
func PolicyKey(namespace, name string) string { return namespace + "/" + name }

// SplitPolicyKey is the inverse of PolicyKey. A key without "/" is a name
// with no namespace.
func SplitPolicyKey(key string) (namespace, name string) {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[:i], key[i+1:]
	}
	return "", key
}

// Rule is one alerting rule compiled from a policy.
type Rule struct {
	Name        string            // "<policy name>-c0" / "<policy name>-expr"
	Expr        string            // PromQL (built from AST nodes, printed)
	For         time.Duration     // (periods-1) × period
	Labels      map[string]string // the Label* above, plus cluster, and namespace for project policies
	Annotations map[string]string // metric, operator, threshold (conditions only)
}

// exprParser is PromQL's parser with its default options, as the metric
// store's engine parses queries.
var exprParser = parser.NewParser(parser.Options{})

// CheckSpec checks what can be checked of a policy without reading
// anything: the object type against the namespace, the period, each
// condition (metric of the catalog, operator, threshold, periods) and the
// raw expression (the parser's own message). It returns the first problem.
// That the cluster, namespace, receivers and channels exist, and the
// repeat interval, are checked by the API (they need reads and flags).
func CheckSpec(spec *monitorv1.AlarmPolicySpec) error {
	if spec == nil {
		return errors.New("spec is required")
	}
	if spec.ClusterName == "" {
		return errors.New("spec.clusterName is required")
	}
	switch spec.ObjectType {
	case monitorv1.ObjectCluster, monitorv1.ObjectNode:
		if spec.Namespace != "" {
			return fmt.Errorf("spec.objectType %s is for cluster policies (leave spec.namespace empty)", spec.ObjectType)
		}
	case monitorv1.ObjectPod:
	case "":
		return errors.New("spec.objectType is required: Cluster, Node or Pod")
	default:
		return fmt.Errorf("spec.objectType %q: use Cluster, Node or Pod", spec.ObjectType)
	}
	if len(spec.Object.Nodes) > 0 && spec.ObjectType != monitorv1.ObjectNode {
		return fmt.Errorf("spec.object.nodes is for Node policies, not %s", spec.ObjectType)
	}
	for i, n := range spec.Object.Nodes {
		if n == "" {
			return fmt.Errorf("spec.object.nodes[%d] is empty", i)
		}
	}
	if w := spec.Object.Workload; w != nil {
		if spec.ObjectType != monitorv1.ObjectPod {
			return fmt.Errorf("spec.object.workload is for Pod policies, not %s", spec.ObjectType)
		}
		if spec.Namespace == "" {
			return errors.New("spec.object.workload needs spec.namespace: a workload is in one namespace")
		}
		if w.Kind == "" {
			return errors.New("spec.object.workload.kind is required")
		}
		if w.Name == "" {
			return errors.New("spec.object.workload.name is required")
		}
	}
	if spec.PeriodMinutes < MinPeriodMinutes || spec.PeriodMinutes > MaxPeriodMinutes {
		return fmt.Errorf("spec.periodMinutes %d is out of range: %d to %d minutes", spec.PeriodMinutes, MinPeriodMinutes, MaxPeriodMinutes)
	}
	if len(spec.Conditions) > MaxConditions {
		return fmt.Errorf("spec.conditions: %d conditions, at most %d", len(spec.Conditions), MaxConditions)
	}
	for i := range spec.Conditions {
		if _, _, err := checkCondition(spec.ObjectType, i, &spec.Conditions[i]); err != nil {
			return err
		}
	}
	if spec.ExprPeriods < 0 || spec.ExprPeriods > MaxExprPeriods {
		return fmt.Errorf("spec.exprPeriods %d: 1 to %d (0 means 1)", spec.ExprPeriods, MaxExprPeriods)
	}
	if strings.TrimSpace(spec.Expr) != "" {
		if _, err := parseExpr(spec.Expr); err != nil {
			return err
		}
	}
	if len(spec.Conditions) == 0 && strings.TrimSpace(spec.Expr) == "" {
		return errors.New("give at least one condition or spec.expr")
	}
	return nil
}

// checkCondition checks condition i and returns its catalog entry and threshold.
func checkCondition(ot monitorv1.ObjectType, i int, c *monitorv1.AlarmCondition) (Metric, float64, error) {
	path := fmt.Sprintf("spec.conditions[%d]", i)
	if c.Metric == "" {
		return Metric{}, 0, fmt.Errorf("%s.metric is required; known for %s policies: %s", path, ot, metricNames(ot))
	}
	if neverCollected(c.Metric) {
		return Metric{}, 0, fmt.Errorf("%s.metric %q is never collected (docs/metrics.md: disk I/O is absent everywhere)", path, c.Metric)
	}
	m, ok := MetricFor(ot, c.Metric)
	if !ok {
		return Metric{}, 0, fmt.Errorf("%s.metric %q: unknown metric for %s policies; known: %s", path, c.Metric, ot, metricNames(ot))
	}
	if c.Operator != ">" && c.Operator != "<" {
		return Metric{}, 0, fmt.Errorf("%s.operator %q: use > or <", path, c.Operator)
	}
	t, err := strconv.ParseFloat(c.Threshold, 64)
	if err != nil {
		return Metric{}, 0, fmt.Errorf("%s.threshold %q is not a number", path, c.Threshold)
	}
	if math.IsNaN(t) || math.IsInf(t, 0) {
		return Metric{}, 0, fmt.Errorf("%s.threshold %q is not a finite number", path, c.Threshold)
	}
	if c.Periods < MinPeriods || c.Periods > MaxPeriods {
		return Metric{}, 0, fmt.Errorf("%s.periods %d: %d to %d", path, c.Periods, MinPeriods, MaxPeriods)
	}
	return m, t, nil
}

// parseExpr parses a raw expression; it must be an instant vector.
func parseExpr(s string) (parser.Expr, error) {
	e, err := exprParser.ParseExpr(s)
	if err != nil {
		return nil, fmt.Errorf("spec.expr: %s", err.Error())
	}
	switch t := e.Type(); t {
	case parser.ValueTypeVector:
		return e, nil
	case parser.ValueTypeMatrix:
		return nil, errors.New("spec.expr: must be an instant vector expression, not a range vector")
	default:
		return nil, fmt.Errorf("spec.expr: must be an instant vector expression, not %s", t)
	}
}

// Period is one statistics period of a policy: periodMinutes × unit.
func Period(spec *monitorv1.AlarmPolicySpec, unit time.Duration) time.Duration {
	if unit <= 0 {
		unit = time.Minute
	}
	return time.Duration(spec.PeriodMinutes) * unit
}

// Compile checks p and compiles it to one rule per condition and one for
// the raw expression. unit is the length of one "minute" of periodMinutes
// (1m; tests shorten it). Each rule is evaluated once a period; a condition
// of N periods fires at the N-th evaluation in a row that finds it true, so
// its For is (N-1) periods.
func Compile(p *monitorv1.AlarmPolicy, unit time.Duration) ([]Rule, error) {
	spec := &p.Spec
	if err := CheckSpec(spec); err != nil {
		return nil, err
	}
	period := Period(spec, unit)
	base := ruleLabels(p)
	matchers, err := selectorMatchers(spec)
	if err != nil {
		return nil, err
	}
	var out []Rule
	for i := range spec.Conditions {
		c := &spec.Conditions[i]
		m, t, err := checkCondition(spec.ObjectType, i, c)
		if err != nil {
			return nil, err
		}
		expr, err := conditionExpr(m, matchers, c.Operator, t, period)
		if err != nil {
			return nil, err
		}
		l := cloneMap(base)
		l[LabelCondition] = strconv.Itoa(i)
		l[LabelMetric] = m.Name
		out = append(out, Rule{
			Name:   fmt.Sprintf("%s-c%d", p.Name, i),
			Expr:   expr.String(),
			For:    time.Duration(c.Periods-1) * period,
			Labels: l,
			Annotations: map[string]string{
				AnnotationMetric:    m.Name,
				AnnotationOperator:  c.Operator,
				AnnotationThreshold: c.Threshold,
			},
		})
	}
	if strings.TrimSpace(spec.Expr) != "" {
		e, err := parseExpr(spec.Expr)
		if err != nil {
			return nil, err
		}
		n := spec.ExprPeriods
		if n < 1 {
			n = 1
		}
		l := cloneMap(base)
		l[LabelCondition] = ConditionExpr
		// Empty: removes an alarm_metric label the expression's series may carry.
		l[LabelMetric] = ""
		out = append(out, Rule{
			Name:        p.Name + "-expr",
			Expr:        e.String(),
			For:         time.Duration(n-1) * period,
			Labels:      l,
			Annotations: map[string]string{},
		})
	}
	return out, nil
}

// ruleLabels are the labels every rule of p sets: the policy, its tenant
// and cluster, and for a project policy its namespace and project.
func ruleLabels(p *monitorv1.AlarmPolicy) map[string]string {
	tenant := p.Spec.TenantID
	if tenant == "" {
		tenant = authv1.DefaultTenant
	}
	l := map[string]string{
		LabelPolicy:  PolicyKey(p.Namespace, p.Name),
		LabelTenant:  tenant,
		LabelCluster: p.Spec.ClusterName,
	}
	if p.Spec.Namespace != "" {
		l[LabelNamespace] = p.Spec.Namespace
		project := p.Spec.ProjectName
		if project == "" {
			project = p.Namespace
		}
		l[LabelProject] = project
	}
	return l
}

// selectorMatchers are the label matchers (without the metric name) of
// the objects the policy watches.
func selectorMatchers(spec *monitorv1.AlarmPolicySpec) ([]*labels.Matcher, error) {
	ms := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, LabelCluster, spec.ClusterName)}
	switch spec.ObjectType {
	case monitorv1.ObjectNode:
		switch len(spec.Object.Nodes) {
		case 0:
		case 1:
			ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, LabelNode, spec.Object.Nodes[0]))
		default:
			quoted := make([]string, len(spec.Object.Nodes))
			for i, n := range spec.Object.Nodes {
				quoted[i] = regexp.QuoteMeta(n)
			}
			m, err := labels.NewMatcher(labels.MatchRegexp, LabelNode, "^(?:"+strings.Join(quoted, "|")+")$")
			if err != nil {
				return nil, fmt.Errorf("spec.object.nodes: %w", err)
			}
			ms = append(ms, m)
		}
	case monitorv1.ObjectPod:
		if spec.Namespace != "" {
			ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, LabelNamespace, spec.Namespace))
		}
		if w := spec.Object.Workload; w != nil {
			ms = append(ms,
				labels.MustNewMatcher(labels.MatchEqual, LabelWorkloadKind, w.Kind),
				labels.MustNewMatcher(labels.MatchEqual, LabelWorkloadName, w.Name))
		}
	}
	return ms, nil
}

// conditionExpr is "avg_over_time(SEL[P]) OP T" or "SEL OP T".
func conditionExpr(m Metric, ms []*labels.Matcher, op string, threshold float64, period time.Duration) (parser.Expr, error) {
	all := make([]*labels.Matcher, 0, len(ms)+1)
	all = append(all, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, m.Name))
	all = append(all, ms...)
	sel := &parser.VectorSelector{Name: m.Name, LabelMatchers: all}
	var lhs parser.Expr = sel
	if m.Agg == AggAvg {
		fn, ok := parser.Functions["avg_over_time"]
		if !ok {
			return nil, errors.New("alarmrule: PromQL has no avg_over_time")
		}
		lhs = &parser.Call{Func: fn, Args: parser.Expressions{&parser.MatrixSelector{VectorSelector: sel, Range: period}}}
	}
	var o parser.ItemType
	switch op {
	case ">":
		o = parser.GTR
	case "<":
		o = parser.LSS
	default:
		return nil, fmt.Errorf("operator %q: use > or <", op)
	}
	return &parser.BinaryExpr{Op: o, LHS: lhs, RHS: &parser.NumberLiteral{Val: threshold}}, nil
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+2)
	for k, v := range m {
		out[k] = v
	}
	return out
}
