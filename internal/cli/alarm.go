package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	"github.com/kstack/kstack/internal/alarmrule"
)

var alarmPolicies = &kindCmds[monitorv1.AlarmPolicy, *monitorv1.AlarmPolicy, monitorv1.AlarmPolicyList]{
	noun: "alarm policy", kind: "AlarmPolicy", apiVersion: monitorv1.GroupVersion.String(), base: monitorPath, plural: "alarmpolicies",
	headers: []string{"NAME", "DISPLAY NAME", "CLUSTER", "NAMESPACE", "OBJECT", "CONDITIONS", "PERIOD", "PHASE", "FIRING"},
	rows:    alarmPolicyRows,
	items:   func(l *monitorv1.AlarmPolicyList) []monitorv1.AlarmPolicy { return l.Items },
	clean:   func(p *monitorv1.AlarmPolicy) { p.Status = monitorv1.AlarmPolicyStatus{} },
}

var alarmSilences = &kindCmds[monitorv1.AlarmSilence, *monitorv1.AlarmSilence, monitorv1.AlarmSilenceList]{
	noun: "alarm silence", kind: "AlarmSilence", apiVersion: monitorv1.GroupVersion.String(), base: monitorPath, plural: "alarmsilences",
	headers: []string{"NAME", "MATCHERS", "STATE", "STARTS", "ENDS", "CREATED BY", "COMMENT"},
	rows:    func(items []monitorv1.AlarmSilence) [][]string { return alarmSilenceRows(items, time.Now()) },
	items:   func(l *monitorv1.AlarmSilenceList) []monitorv1.AlarmSilence { return l.Items },
}

// alarmPolicyRows: NAMESPACE is - for a cluster policy; CONDITIONS are
// METRIC OP THRESHOLD xPERIODS, and "expr" for a raw expression.
func alarmPolicyRows(items []monitorv1.AlarmPolicy) [][]string {
	rows := make([][]string, 0, len(items))
	for _, p := range items {
		s := &p.Spec
		var conds []string
		for _, c := range s.Conditions {
			conds = append(conds, fmt.Sprintf("%s%s%s x%d", c.Metric, c.Operator, c.Threshold, c.Periods))
		}
		if s.Expr != "" {
			conds = append(conds, "expr")
		}
		phase := p.Status.Phase
		if phase == "" {
			phase = "Pending"
		}
		obj := string(s.ObjectType)
		if w := s.Object.Workload; w != nil {
			obj += " " + w.Kind + "/" + w.Name
		} else if len(s.Object.Nodes) > 0 {
			obj += " " + strings.Join(s.Object.Nodes, ",")
		}
		rows = append(rows, []string{p.Name, dash(s.DisplayName), s.ClusterName, dash(s.Namespace), obj,
			oneLine(strings.Join(conds, "; "), 60), fmt.Sprintf("%dm", s.PeriodMinutes), phase, strconv.Itoa(p.Status.Firing)})
	}
	return rows
}

// alarmSilenceRows: STATE is pending (starts later), active or expired at now.
func alarmSilenceRows(items []monitorv1.AlarmSilence, now time.Time) [][]string {
	rows := make([][]string, 0, len(items))
	for _, s := range items {
		var ms []string
		for _, m := range s.Spec.Matchers {
			op := m.Type
			if op == "" {
				op = "="
			}
			ms = append(ms, m.Name+op+strconv.Quote(m.Value))
		}
		starts := s.CreationTimestamp.Time
		if s.Spec.StartsAt != nil {
			starts = s.Spec.StartsAt.Time
		}
		state := "active"
		switch {
		case !s.Spec.EndsAt.Time.After(now):
			state = "expired"
		case starts.After(now):
			state = "pending"
		}
		rows = append(rows, []string{s.Name, strings.Join(ms, ","), state, when(starts), when(s.Spec.EndsAt.Time),
			dash(s.Spec.CreatedBy), oneLine(s.Spec.Comment, 50)})
	}
	return rows
}

func newAlarmCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "alarm",
		Aliases: []string{"alarms"},
		Short:   "Alarm policies, silences and alarm records",
		Long: `An alarm policy (monitor.tkestack.io/v1 AlarmPolicy) watches a member cluster, its
nodes, or the pods of a workload: each condition names a metric of the catalog
('kstack alarm metrics'), > or <, a threshold, and how many periods in a row
(of 1 to 5 minutes) it must hold; the platform compiles it to PromQL (shown in
the policy's status) and evaluates it under the rights of the policy's scope.
When an alarm fires or resolves, the policy's receivers are told through its
channels with its templates ('kstack notify').

A project's policies live in the project (--project ID) and watch one of its
namespaces; cluster policies live in kstack-system (no --project). Silences
mute the notifications of matching alarms until they end; the alarms are still
recorded. 'kstack alarm records' searches what fired and resolved.`,
		Example: `  kstack alarm metrics --object Pod
  kstack alarm policy create -f restarts.yaml --project prj-xxxxxxxx
  kstack alarm policy list --project prj-xxxxxxxx
  kstack alarm silence create --project prj-xxxxxxxx --matcher alarm_policy=prj-xxxxxxxx/alarm-ab12cd34 --for 2h --comment "deploying"
  kstack alarm records --project prj-xxxxxxxx --since 24h --status firing`,
	}
	cmd.AddCommand(newAlarmPolicyCmd(o), newAlarmSilenceCmd(o), newAlarmRecordsCmd(o), newAlarmMetricsCmd(o))
	return cmd
}

func newAlarmPolicyCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "policy",
		Aliases: []string{"policies", "ap"},
		Short:   "Alarm policies: list, get, create -f, delete, copy",
		Example: `  kstack alarm policy list --project prj-xxxxxxxx
  kstack alarm policy create -f restarts.yaml --project prj-xxxxxxxx
  kstack alarm policy copy alarm-ab12cd34 "shop restarts (staging)" --project prj-xxxxxxxx`,
		Long: `Alarm policies of a project (--project ID) or cluster policies (kstack-system,
no --project). A policy is created from a file (-f, YAML or JSON, as 'get -o
yaml' prints it); the platform checks the metrics, thresholds, periods and the
raw expression, that the receivers, channels and templates exist and that you
may use them, and names policies of kstack-system itself.`,
	}
	cmds := alarmPolicies.commands(o, map[string][2]string{
		"list": {`Lists the alarm policies: cluster, namespace (- for a cluster policy), object
type (and workload or nodes), conditions (METRIC OP THRESHOLD xPERIODS, "expr"
for a raw PromQL expression), period, phase (Active, Error, NoData) and how many
alarms fire.`, "  kstack alarm policy list --project prj-xxxxxxxx\n  kstack alarm policy list -o yaml"},
		"get": {"Shows one alarm policy; -o yaml prints it whole, with the compiled PromQL rules in status.rules.",
			"  kstack alarm policy get alarm-ab12cd34 --project prj-xxxxxxxx -o yaml"},
		"create": {`Creates an alarm policy from -f FILE (- for stdin), a monitor.tkestack.io/v1
AlarmPolicy in YAML or JSON; metadata.namespace is filled in from --project (or
kstack-system), and a missing metadata.name is generated. Unknown fields are
refused. Prints "alarm policy NAME created", or the policy with -o.

  apiVersion: monitor.tkestack.io/v1
  kind: AlarmPolicy
  metadata: {name: shop-restarts}
  spec:
    displayName: shop restarts
    clusterName: cls-ab12cd34
    namespace: web
    objectType: Pod
    object: {workload: {kind: Deployment, name: shop}}
    periodMinutes: 1
    conditions: [{metric: k8s_pod_restart_total, operator: ">", threshold: "2", periods: 2}]
    receivers: [{name: rcv-alice}]
    notifications: [{channel: {name: chn-mail}, template: {name: tpl-mail}}]`,
			"  kstack alarm policy create -f restarts.yaml --project prj-xxxxxxxx"},
		"delete": {`Deletes an alarm policy: it is no longer evaluated, and its firing alarms are not resolved by a message. Prints "alarm policy NAME deleted".`,
			"  kstack alarm policy delete alarm-ab12cd34 --project prj-xxxxxxxx"},
	})

	var scope projectScope
	var output string
	copyCmd := &cobra.Command{
		Use:   "copy SRC NEWDISPLAYNAME [--project ID]",
		Short: "Create a new alarm policy from an existing one, under a new display name",
		Long: `Copies the alarm policy SRC (its whole spec) into a new policy of the same
project (or kstack-system) with the display name NEWDISPLAYNAME; the platform
names it. Prints "alarm policy NAME created", or the new policy with -o.`,
		Example: `  kstack alarm policy copy alarm-ab12cd34 "shop restarts (staging)" --project prj-xxxxxxxx`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(args[1]) == "" {
				return errors.New("NEWDISPLAYNAME is empty: give the copy's display name")
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			ns := scope.namespace()
			var src monitorv1.AlarmPolicy
			if err := c.Do(cmd.Context(), http.MethodGet, alarmPolicies.path(ns, args[0]), "", nil, &src); err != nil {
				return err
			}
			cp := monitorv1.AlarmPolicy{
				TypeMeta:   metav1.TypeMeta{APIVersion: monitorv1.GroupVersion.String(), Kind: "AlarmPolicy"},
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "alarm-", Labels: src.Labels},
				Spec:       src.Spec,
			}
			cp.Spec.DisplayName = args[1]
			var out monitorv1.AlarmPolicy
			if err := c.Do(cmd.Context(), http.MethodPost, alarmPolicies.path(ns, ""), "", &cp, &out); err != nil {
				return err
			}
			return o.done(output, &out, "alarm policy %s created", out.Name)
		},
	}
	scope.add(copyCmd)
	outputFlag(copyCmd, &output)
	cmd.AddCommand(append(cmds, copyCmd)...)
	return cmd
}

func newAlarmSilenceCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "silence",
		Aliases: []string{"silences", "asil"},
		Short:   "Silences: mute the notifications of matching alarms for a while",
		Example: `  kstack alarm silence create --project prj-xxxxxxxx --matcher alarm_policy=prj-xxxxxxxx/alarm-ab12cd34 --for 2h
  kstack alarm silence list --project prj-xxxxxxxx
  kstack alarm silence expire asil-ab12cd34 --project prj-xxxxxxxx`,
		Long: `A silence (monitor.tkestack.io/v1 AlarmSilence) mutes the notifications of the
alarms whose labels match all its matchers, from when it starts until it ends;
the alarms are still evaluated and recorded. A silence of a project mutes only
that project's alarms. Alarm labels: alarm_policy (NAMESPACE/NAME of the
policy), alarm_metric, cluster, namespace, pod, node, workload_kind, workload_name.`,
	}
	cmds := alarmSilences.commands(o, map[string][2]string{
		"list": {"Lists the silences: matchers, state (pending, active, expired), start, end, who made it and why.",
			"  kstack alarm silence list --project prj-xxxxxxxx"},
		"get":    {"Shows one silence; -o yaml prints it whole.", "  kstack alarm silence get asil-ab12cd34 --project prj-xxxxxxxx -o yaml"},
		"create": {"Creates a silence from -f FILE (an AlarmSilence in YAML or JSON).", ""},
		"delete": {"Deletes a silence (expire it instead to keep it on record until it is collected).", "  kstack alarm silence delete asil-ab12cd34 --project prj-xxxxxxxx"},
	})
	// create from flags, or -f: wraps the generic create.
	for i, c := range cmds {
		if c.Name() == "create" {
			cmds[i] = newAlarmSilenceCreateCmd(o, c)
		}
	}

	var scope projectScope
	var output string
	expire := &cobra.Command{
		Use:     "expire NAME [--project ID]",
		Short:   "End a silence now",
		Long:    `Ends a silence now (its end time becomes now): the alarms it muted notify again from their next group interval. Prints "alarm silence NAME expired".`,
		Example: `  kstack alarm silence expire asil-ab12cd34 --project prj-xxxxxxxx`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			patch := map[string]any{"spec": map[string]any{"endsAt": metav1.NewTime(time.Now().UTC().Truncate(time.Second))}}
			var out monitorv1.AlarmSilence
			if err := c.Do(cmd.Context(), http.MethodPatch, alarmSilences.path(scope.namespace(), args[0]), mergePatch, patch, &out); err != nil {
				return err
			}
			return o.done(output, &out, "alarm silence %s expired", args[0])
		},
	}
	scope.add(expire)
	outputFlag(expire, &output)
	cmd.AddCommand(append(cmds, expire)...)
	return cmd
}

// newAlarmSilenceCreateCmd is create from flags; fromFile is the generic
// create -f, which it runs when -f is given.
func newAlarmSilenceCreateCmd(o *Options, fromFile *cobra.Command) *cobra.Command {
	var scope projectScope
	var matchers []string
	var dur time.Duration
	var comment, output string
	cmd := &cobra.Command{
		Use:   "create --matcher LABEL=VALUE... --for DURATION [--comment TEXT] [--project ID]",
		Short: "Silence the alarms that match, for a while",
		Long: `Creates a silence of the alarms whose labels match every --matcher, from now for
--for (at most 30 days). A matcher is LABEL=VALUE, LABEL!=VALUE, LABEL=~REGEX or
LABEL!~REGEX; a silence of a project mutes only its own alarms. -f FILE creates
one from an AlarmSilence in YAML or JSON instead. Prints "alarm silence NAME
created", or the silence with -o.`,
		Example: `  kstack alarm silence create --project prj-xxxxxxxx --matcher alarm_policy=prj-xxxxxxxx/alarm-ab12cd34 --for 2h --comment "deploying shop"
  kstack alarm silence create --matcher cluster=cls-ab12cd34 --matcher 'node=~worker-.*' --for 30m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f := cmd.Flags().Lookup("file"); f != nil && f.Changed {
				if len(matchers) > 0 || dur != 0 || comment != "" {
					return errors.New("-f takes the whole silence from the file: drop --matcher, --for and --comment")
				}
				fromFile.SetContext(cmd.Context())
				return fromFile.RunE(cmd, args)
			}
			if len(matchers) == 0 {
				return errors.New("give at least one --matcher LABEL=VALUE (e.g. alarm_policy=NAMESPACE/NAME), or -f FILE")
			}
			if dur <= 0 {
				return errors.New("--for is required: how long the silence lasts, e.g. 2h")
			}
			ms := make([]monitorv1.Matcher, 0, len(matchers))
			for _, m := range matchers {
				pm, err := parseMatcher(m)
				if err != nil {
					return err
				}
				ms = append(ms, pm)
			}
			now := time.Now().UTC().Truncate(time.Second)
			start := metav1.NewTime(now)
			sil := &monitorv1.AlarmSilence{
				TypeMeta:   metav1.TypeMeta{APIVersion: monitorv1.GroupVersion.String(), Kind: "AlarmSilence"},
				ObjectMeta: metav1.ObjectMeta{Namespace: scope.namespace(), GenerateName: "asil-"},
				Spec:       monitorv1.AlarmSilenceSpec{Matchers: ms, StartsAt: &start, EndsAt: metav1.NewTime(now.Add(dur)), Comment: comment},
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var out monitorv1.AlarmSilence
			if err := c.Do(cmd.Context(), http.MethodPost, alarmSilences.path(scope.namespace(), ""), "", sil, &out); err != nil {
				return err
			}
			return o.done(output, &out, "alarm silence %s created", out.Name)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&matchers, "matcher", nil, "LABEL=VALUE, LABEL!=VALUE, LABEL=~REGEX or LABEL!~REGEX (repeatable; all must match)")
	fl.DurationVar(&dur, "for", 0, "how long the silence lasts from now, e.g. 30m, 2h")
	fl.StringVar(&comment, "comment", "", "why (shown in the list)")
	// -f, --project and -o are the file form's own flags, shared.
	fl.AddFlagSet(fromFile.Flags())
	return bindScope(cmd, &scope, fromFile, &output)
}

// bindScope reads --project and -o of cmd (added from the file form's flag
// set) into scope and output before running.
func bindScope(cmd *cobra.Command, scope *projectScope, fromFile *cobra.Command, output *string) *cobra.Command {
	run := cmd.RunE
	cmd.PreRunE = fromFile.PreRunE // checks -o
	cmd.RunE = func(c *cobra.Command, args []string) error {
		scope.project, _ = c.Flags().GetString("project")
		*output, _ = c.Flags().GetString("output")
		return run(c, args)
	}
	return cmd
}

// parseMatcher reads LABEL=VALUE, LABEL!=VALUE, LABEL=~RE or LABEL!~RE.
func parseMatcher(s string) (monitorv1.Matcher, error) {
	for _, op := range []string{"!=", "=~", "!~", "="} {
		if i := strings.Index(s, op); i > 0 {
			// "=" must not be the start of "=~".
			if op == "=" && strings.HasPrefix(s[i:], "=~") {
				continue
			}
			name, value := strings.TrimSpace(s[:i]), s[i+len(op):]
			if name == "" || strings.ContainsAny(name, "=!~ ") {
				break
			}
			return monitorv1.Matcher{Name: name, Type: op, Value: value}, nil
		}
	}
	return monitorv1.Matcher{}, fmt.Errorf("--matcher %q: want LABEL=VALUE, LABEL!=VALUE, LABEL=~REGEX or LABEL!~REGEX", s)
}

// alarmData is the part of an alarm record's data the table shows.
type alarmData struct {
	Policy struct {
		Namespace, Name, DisplayName string
	} `json:"policy"`
	ObjectType string            `json:"objectType"`
	Condition  string            `json:"condition"`
	Metric     string            `json:"metric"`
	Labels     map[string]string `json:"labels"`
	Value      string            `json:"value"`
	FiredAt    time.Time         `json:"firedAt"`
	ResolvedAt time.Time         `json:"resolvedAt"`
	Status     string            `json:"status"`
}

var alarmRecordHeaders = []string{"FIRED", "STATUS", "POLICY", "CLUSTER", "NAMESPACE", "OBJECT", "METRIC", "VALUE", "RESOLVED"}

func alarmRecordRows(items []recordItem) [][]string {
	rows := make([][]string, 0, len(items))
	for _, r := range items {
		var d alarmData
		_ = json.Unmarshal(r.Data, &d)
		fired := d.FiredAt
		if fired.IsZero() {
			fired = r.Time
		}
		status := d.Status
		if status == "" {
			status = r.Verb
		}
		policy := r.Name
		if d.Policy.DisplayName != "" {
			policy = d.Policy.DisplayName + " (" + r.Name + ")"
		}
		obj := d.Labels["pod"]
		if obj == "" {
			obj = d.Labels["node"]
		}
		metric := d.Metric
		if metric == "" && d.Condition != "" {
			metric = d.Condition
		}
		rows = append(rows, []string{when(fired), dash(status), dash(policy), dash(r.Cluster), dash(r.Namespace), dash(obj),
			dash(metric), dash(d.Value), when(d.ResolvedAt)})
	}
	return rows
}

func newAlarmRecordsCmd(o *Options) *cobra.Command {
	var s recordSearch
	var policy, status, namespace string
	cmd := &cobra.Command{
		Use:     "records --cluster ID | --project ID",
		Aliases: []string{"record"},
		Short:   "Search the alarm records of a cluster or a project, newest first",
		Long: `Searches what alarms fired and resolved, newest first: of a cluster (--cluster;
the namespaces whose pods you may list, all of them for those who may list
every pod of the cluster) or of a project (--project; who may read it sees
all). One page at a time (100 records unless --limit): when there are more, it
says so on stderr with the token for --continue; --all reads every page.
--export writes every matching record as JSON lines. -o json|yaml prints the
records whole (their data holds the alarm's labels).`,
		Example: `  kstack alarm records --project prj-xxxxxxxx --since 24h
  kstack alarm records --cluster cls-ab12cd34 --policy kstack-system/alarm-ab12cd34 --status firing
  kstack alarm records --project prj-xxxxxxxx --since 7d --export -f alarms.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if status != "" && status != "firing" && status != "resolved" {
				return fmt.Errorf("--status %q: use firing or resolved", status)
			}
			if policy != "" && !strings.Contains(policy, "/") {
				ns := sharedScope
				if s.project != "" {
					ns = s.project
				}
				policy = ns + "/" + policy
			}
			return s.run(cmd, o, monitorPath, "alarms", alarmRecordHeaders, alarmRecordRows,
				"policy", policy, "status", status, "namespace", namespace)
		},
	}
	s.add(cmd, "alarm records")
	fl := cmd.Flags()
	fl.StringVar(&policy, "policy", "", "only this policy's alarms: NAMESPACE/NAME, or NAME of the --project (or of kstack-system)")
	fl.StringVar(&status, "status", "", "firing or resolved")
	fl.StringVarP(&namespace, "namespace", "n", "", "only alarms of this namespace of the cluster")
	return cmd
}

func newAlarmMetricsCmd(o *Options) *cobra.Command {
	var object, output string
	cmd := &cobra.Command{
		Use:   "metrics [--object Cluster|Node|Pod]",
		Short: "List the metrics a policy's conditions may name",
		Long: `Lists the metric catalog of alarm conditions, by object type: the metric, its
unit, and how a period is summarised (avg: the average over the period; last:
the latest value, for states and counts). Node and Cluster policies are cluster
policies (kstack-system); Pod policies watch a namespace's pods, or a workload's.`,
		Example: "  kstack alarm metrics --object Pod",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			types := []monitorv1.ObjectType{monitorv1.ObjectCluster, monitorv1.ObjectNode, monitorv1.ObjectPod}
			if object != "" {
				types = nil
				for _, t := range []monitorv1.ObjectType{monitorv1.ObjectCluster, monitorv1.ObjectNode, monitorv1.ObjectPod} {
					if strings.EqualFold(string(t), object) {
						types = []monitorv1.ObjectType{t}
					}
				}
				if types == nil {
					return fmt.Errorf("--object %q: use Cluster, Node or Pod", object)
				}
			}
			type metric struct {
				Object string `json:"object"`
				Name   string `json:"name"`
				Unit   string `json:"unit"`
				Agg    string `json:"aggregation"`
			}
			var list []metric
			var rows [][]string
			for _, t := range types {
				for _, m := range alarmrule.Metrics(t) {
					list = append(list, metric{string(t), m.Name, m.Unit, m.Agg})
					rows = append(rows, []string{string(t), m.Name, m.Unit, m.Agg})
				}
			}
			return o.show(output, map[string]any{"items": list}, []string{"OBJECT", "METRIC", "UNIT", "PERIOD"}, rows)
		},
	}
	cmd.Flags().StringVar(&object, "object", "", "only the metrics of this object type: Cluster, Node or Pod")
	outputFlag(cmd, &output, "table", "json", "yaml")
	return cmd
}
