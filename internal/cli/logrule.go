package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	logagentv1 "github.com/kstack/kstack/api/logagent/v1"
	"github.com/kstack/kstack/internal/printer"
)

const (
	logagentPath = "/logagent/apis/logagent.tkestack.io/v1"
	// clusterRulesNamespace is the platform's own namespace, where the
	// cluster rules (every namespace, or files on nodes) live.
	clusterRulesNamespace = "kstack-system"
)

// logRuleWorkloadKinds are the kinds a rule may name (the API's enum).
var logRuleWorkloadKinds = []string{"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "TApp"}

// ruleScope is where the rules of a command are: a project's namespace of
// the platform (--project), or kstack-system (--cluster-rules).
type ruleScope struct {
	project      string
	clusterRules bool
}

func (s *ruleScope) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.project, "project", "", "project ID whose rules these are (see 'kstack project list')")
	cmd.Flags().BoolVar(&s.clusterRules, "cluster-rules", false,
		"the cluster rules instead (every namespace, or files on nodes), kept in "+clusterRulesNamespace+"; platform administrators only")
	cmd.MarkFlagsOneRequired("project", "cluster-rules")
	cmd.MarkFlagsMutuallyExclusive("project", "cluster-rules")
}

func (s *ruleScope) namespace() string {
	if s.clusterRules {
		return clusterRulesNamespace
	}
	return s.project
}

// path is the API path of the rule name, or of the collection ("").
func (s *ruleScope) path(name string) string {
	p := logagentPath + "/namespaces/" + s.namespace() + "/logcollectors"
	if name != "" {
		p += "/" + name
	}
	return p
}

var logRuleHeaders = []string{"NAME", "CLUSTER", "NAMESPACE", "INPUT", "OUTPUTS", "PHASE", "DELIVERED", "DROPPED", "MESSAGE"}

// logRuleRows: NAMESPACE is * for a rule of every namespace and - for files
// on nodes; DELIVERED and DROPPED are the sums over the outputs (- until
// the agents report).
func logRuleRows(items []logagentv1.LogCollector) [][]string {
	var rows [][]string
	for _, lc := range items {
		s := &lc.Spec
		ns := s.Namespace
		switch {
		case s.Input.Type == logagentv1.InputHostFile:
			ns = "-"
		case ns == "":
			ns = "*"
		}
		var outs []string
		for _, out := range s.Outputs {
			outs = append(outs, out.Name+":"+out.Type)
		}
		phase := lc.Status.Phase
		if phase == "" {
			phase = "Pending"
		}
		delivered, dropped := "-", "-"
		if len(lc.Status.Outputs) > 0 {
			var d, x int64
			for _, st := range lc.Status.Outputs {
				d, x = d+st.Delivered, x+st.Dropped
			}
			delivered, dropped = fmt.Sprint(d), fmt.Sprint(x)
		}
		rows = append(rows, []string{lc.Name, s.ClusterName, ns, string(s.Input.Type), strings.Join(outs, ","), phase, delivered, dropped, oneLine(lc.Status.Message, 60)})
	}
	return rows
}

// oneLine is s on one line, cut to n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-3]) + "..."
	}
	return s
}

var outputStatusHeaders = []string{"OUTPUT", "TYPE", "DELIVERED", "QUEUED", "DROPPED", "HEALTHY", "LAST ERROR"}

// outputStatusRows: one row per output of the rule (- until the agents
// report it), then any output the agents still report that the rule no
// longer has.
func outputStatusRows(lc *logagentv1.LogCollector) [][]string {
	reported := map[string]logagentv1.OutputStatus{}
	for _, st := range lc.Status.Outputs {
		reported[st.Name] = st
	}
	row := func(name, typ string) []string {
		st, ok := reported[name]
		if !ok {
			return []string{name, typ, "-", "-", "-", "-", ""}
		}
		delete(reported, name)
		return []string{name, typ, fmt.Sprint(st.Delivered), fmt.Sprint(st.Queued), fmt.Sprint(st.Dropped), fmt.Sprint(st.Healthy), oneLine(st.LastError, 80)}
	}
	var rows [][]string
	for _, out := range lc.Spec.Outputs {
		rows = append(rows, row(out.Name, out.Type))
	}
	for _, st := range lc.Status.Outputs {
		if _, ok := reported[st.Name]; ok {
			rows = append(rows, row(st.Name, "-"))
		}
	}
	return rows
}

func credentialsOf(out *logagentv1.LogOutput) *logagentv1.Credentials {
	switch {
	case out.Kafka != nil:
		return &out.Kafka.Credentials
	case out.Elasticsearch != nil:
		return &out.Elasticsearch.Credentials
	case out.Loki != nil:
		return &out.Loki.Credentials
	}
	return nil
}

// hidePasswords blanks any password in lc before it is printed. The
// platform serves none back; this keeps the CLI from echoing one whatever
// it is given.
func hidePasswords(lc *logagentv1.LogCollector) {
	for i := range lc.Spec.Outputs {
		if c := credentialsOf(&lc.Spec.Outputs[i]); c != nil {
			c.Password = ""
		}
	}
}

func newLogRuleCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "logrule",
		Aliases: []string{"logrules", "lc"},
		Short:   "Log collection rules: what to collect in a cluster, and the Kafka, Elasticsearch or Loki to send it to",
		Long: `A log collection rule (logagent.tkestack.io/v1 LogCollector) says what the log
agents of a member cluster collect (the standard output of a project's namespace
or of chosen workloads in it, files inside a workload's containers, or files on
the nodes under /var/log) and where they send it: Kafka, Elasticsearch or Loki.

A project's rules live in the project (--project ID) and are governed by its
policies. Cluster rules (every namespace, or files on nodes) live in the
platform's namespace kstack-system (--cluster-rules) and are for platform
administrators only. Passwords of outputs are given on create only (from
--password-stdin or the file); the platform keeps them in a Secret and never
serves them back. 'kstack logrule status' shows what each output delivered,
queued and dropped.`,
		Example: `  kstack logrule create shop-logs --project prj-xxxxxxxx --cluster cls-ab12cd34 --namespace web \
      --workload Deployment/shop --kafka kafka.example:9092/logs
  kstack logrule create -f rule.yaml --project prj-xxxxxxxx
  kstack logrule list --project prj-xxxxxxxx
  kstack logrule status shop-logs --project prj-xxxxxxxx
  kstack logrule list --cluster-rules`,
	}
	var scope ruleScope
	var output string
	rules := object[logagentv1.LogCollector]{noun: "logrule", path: scope.path, headers: logRuleHeaders, rows: logRuleRows}

	list := &cobra.Command{
		Use:   "list --project ID | --cluster-rules",
		Short: "List a project's log collection rules, or the cluster rules",
		Long: `Lists a project's log collection rules (or, with --cluster-rules, those of
kstack-system): cluster, namespace (* for every namespace, - for files on
nodes), input, outputs (NAME:TYPE), phase (Pending until the cluster's agents
have the rule, then Running or Failing), lines delivered and dropped over all
outputs, and a message.`,
		Example: "  kstack logrule list --project prj-xxxxxxxx\n  kstack logrule list --cluster-rules -o yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return listRun(o, &output, scope.path(""), logRuleHeaders, func(l *logagentv1.LogCollectorList) [][]string { return logRuleRows(l.Items) })(cmd, args)
		},
	}
	scope.add(list)
	outputFlag(list, &output)

	get := rules.getCmd(o, &cobra.Command{
		Use:     "get NAME --project ID | --cluster-rules",
		Short:   "Show one log collection rule",
		Long:    "Shows one log collection rule as 'kstack logrule list' does; -o json|yaml prints the whole LogCollector, status included (passwords are never served).",
		Example: "  kstack logrule get shop-logs --project prj-xxxxxxxx\n  kstack logrule get shop-logs --project prj-xxxxxxxx -o yaml",
	})
	scope.add(get)

	create := newLogRuleCreateCmd(o, &scope, &output)

	del := rules.deleteCmd(o, &cobra.Command{
		Use:     "delete NAME --project ID | --cluster-rules",
		Short:   "Delete a log collection rule: the cluster's agents stop collecting for it",
		Long:    `Deletes a log collection rule: the cluster's agents stop collecting for it, and the platform then removes the Secret of its passwords. Prints "logrule NAME deleted", or with -o what was deleted.`,
		Example: "  kstack logrule delete shop-logs --project prj-xxxxxxxx\n  kstack logrule delete node-syslog --cluster-rules",
	})
	scope.add(del)

	status := &cobra.Command{
		Use:   "status NAME --project ID | --cluster-rules",
		Short: "Show what each output of a rule delivered, queued and dropped, and its last error",
		Long: `Shows, per output of a rule, the sums of what the cluster's agents report: lines
delivered, queued (waiting on the agents' disks while the output is down),
dropped (did not fit in an agent's bounded queue), whether the output is
healthy, and its last error. An output the agents have not reported yet shows
-. -o json|yaml prints the rule's whole status, with the times of the errors.`,
		Example: "  kstack logrule status shop-logs --project prj-xxxxxxxx\n  kstack logrule status node-syslog --cluster-rules -o yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var lc logagentv1.LogCollector
			if err := c.Do(cmd.Context(), http.MethodGet, scope.path(args[0]), "", nil, &lc); err != nil {
				return err
			}
			return o.show(output, &lc.Status, outputStatusHeaders, outputStatusRows(&lc))
		},
	}
	scope.add(status)
	outputFlag(status, &output, printer.DataFormats...)

	cmd.AddCommand(list, get, create, del, status)
	return cmd
}

// ruleFlags build the common rule: the standard output of a project's
// namespace or of workloads in it (or, for a cluster rule, of every
// namespace or files on the nodes), sent to one output.
type ruleFlags struct {
	cluster, namespace         string
	workloads, hostFiles       []string
	kafka, loki, elasticsearch string
	username                   string
	passwordStdin              bool
}

// ruleFlagNames are the flags of the flag-built form, which -f excludes.
var ruleFlagNames = []string{"cluster", "namespace", "workload", "host-file", "kafka", "loki", "elasticsearch", "username", "password-stdin"}

func newLogRuleCreateCmd(o *Options, scope *ruleScope, output *string) *cobra.Command {
	var file string
	var rf ruleFlags
	cmd := &cobra.Command{
		Use:   "create (NAME --cluster ID [--namespace NS] --kafka|--loki|--elasticsearch ... | -f FILE) --project ID | --cluster-rules",
		Short: "Create a log collection rule from a file, or from flags for the common case",
		Long: `Creates a log collection rule, from a file or from flags.

-f FILE (- for stdin) is a LogCollector in YAML or JSON, as 'kstack logrule get
-o yaml' prints it (see docs/records.md); metadata.namespace is filled in from
--project (or kstack-system with --cluster-rules), and what the platform set
(status, resourceVersion, uid) is dropped. Unknown fields are refused. A file
may hold the outputs' passwords (outputs[].kafka.password, ...).

From flags: NAME, --cluster, and with --project the project's --namespace whose
standard output to collect (--workload KIND/NAME, repeatable, narrows it to
those workloads). With --cluster-rules there is no namespace: the rule collects
every namespace, or with --host-file the files on the nodes under /var/log.
The one output is --kafka BROKER/TOPIC, --loki URL or --elasticsearch
URL/INDEX (brokers and addresses: several with commas), named after its type,
with --username and the password from --password-stdin (one line). Rules that
read files inside containers are made with -f.

The platform checks the rest: that the namespace is the project's and you may
read its logs, the paths, and that the outputs' addresses may be dialled.
Prints "logrule NAME created", or the LogCollector with -o (without passwords).`,
		Example: `  kstack logrule create shop-logs --project prj-xxxxxxxx --cluster cls-ab12cd34 --namespace web \
      --workload Deployment/shop --kafka kafka-1.example:9092,kafka-2.example:9092/shop-logs
  echo "$ES_PASSWORD" | kstack logrule create web-logs --project prj-xxxxxxxx --cluster cls-ab12cd34 \
      --namespace web --elasticsearch https://es.example:9200/web --username agent --password-stdin
  kstack logrule create all-stdout --cluster-rules --cluster cls-ab12cd34 --loki https://loki.example:3100
  kstack logrule create node-syslog --cluster-rules --cluster cls-ab12cd34 --host-file '/var/log/syslog*' \
      --loki https://loki.example:3100
  kstack logrule create -f rule.yaml --project prj-xxxxxxxx -o yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var lc *logagentv1.LogCollector
			var err error
			if file != "" {
				if len(args) > 0 {
					return fmt.Errorf("-f: the rule's name comes from the file (metadata.name): drop %s, or create the rule from flags without -f", args[0])
				}
				var given []string
				for _, n := range ruleFlagNames {
					if cmd.Flags().Changed(n) {
						given = append(given, "--"+n)
					}
				}
				if len(given) > 0 {
					return fmt.Errorf("-f takes the whole rule from the file: drop %s, or create the rule from flags without -f", strings.Join(given, ", "))
				}
				if lc, err = readLogRule(o.In, file, scope.namespace()); err != nil {
					return err
				}
			} else {
				if len(args) == 0 {
					return fmt.Errorf("give the rule's NAME and flags (--cluster, an output), or -f FILE (see `%s --help`)", cmd.CommandPath())
				}
				if lc, err = rf.rule(o, args[0], scope); err != nil {
					return err
				}
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var out logagentv1.LogCollector
			if err := c.Do(cmd.Context(), http.MethodPost, scope.path(""), "", lc, &out); err != nil {
				return err
			}
			hidePasswords(&out)
			return o.done(*output, &out, "logrule %s created", out.Name)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "a LogCollector in YAML or JSON; - for stdin")
	f.StringVar(&rf.cluster, "cluster", "", "member cluster ID whose logs to collect (see 'kstack cluster list')")
	f.StringVarP(&rf.namespace, "namespace", "n", "", "the project's namespace whose standard output to collect (see 'kstack namespace list')")
	f.StringSliceVar(&rf.workloads, "workload", nil, "only these workloads of --namespace: KIND/NAME, e.g. Deployment/shop (repeatable)")
	f.StringArrayVar(&rf.hostFiles, "host-file", nil, "with --cluster-rules: a glob of files on the nodes, under /var/log/ (repeatable)")
	f.StringVar(&rf.kafka, "kafka", "", "send to Kafka: BROKER/TOPIC, e.g. kafka.example:9092/logs")
	f.StringVar(&rf.loki, "loki", "", "send to Loki: its URL, e.g. https://loki.example:3100")
	f.StringVar(&rf.elasticsearch, "elasticsearch", "", "send to Elasticsearch: URL/INDEX, e.g. https://es.example:9200/logs")
	f.StringVar(&rf.username, "username", "", "the output's user name")
	passwordStdinFlag(cmd, &rf.passwordStdin, "read the output's password from stdin (one line); it is never printed")
	cmd.MarkFlagsMutuallyExclusive("kafka", "loki", "elasticsearch")
	scope.add(cmd)
	outputFlag(cmd, output)
	return cmd
}

// rule is the rule the flags describe, named name, in scope. The password
// is read last, once everything else is right.
func (rf *ruleFlags) rule(o *Options, name string, scope *ruleScope) (*logagentv1.LogCollector, error) {
	if rf.cluster == "" {
		return nil, errors.New("--cluster is required: the member cluster ID whose logs to collect (see 'kstack cluster list')")
	}
	lc := &logagentv1.LogCollector{
		TypeMeta:   metav1.TypeMeta{APIVersion: logagentv1.GroupVersion.String(), Kind: "LogCollector"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: scope.namespace()},
		Spec:       logagentv1.LogCollectorSpec{ClusterName: rf.cluster, Input: logagentv1.LogInput{Type: logagentv1.InputStdout}},
	}
	in := &lc.Spec.Input
	if scope.clusterRules {
		if rf.namespace != "" {
			return nil, errors.New("--namespace: a cluster rule collects every namespace (or files on nodes); a namespace's rule belongs to its project: give --project instead of --cluster-rules")
		}
		if len(rf.workloads) > 0 {
			return nil, errors.New("--workload names workloads of a project's namespace: give --project and --namespace instead of --cluster-rules")
		}
		if len(rf.hostFiles) > 0 {
			in.Type, in.HostFiles = logagentv1.InputHostFile, rf.hostFiles
		}
	} else {
		if rf.namespace == "" {
			return nil, fmt.Errorf("--namespace is required: the namespace of project %s whose logs to collect (see 'kstack namespace list --project %s')", scope.project, scope.project)
		}
		if len(rf.hostFiles) > 0 {
			return nil, errors.New("--host-file: files on the nodes are collected by cluster rules (--cluster-rules, platform administrators only)")
		}
		lc.Spec.Namespace = rf.namespace
		for _, w := range rf.workloads {
			ref, err := parseWorkloadRef(w)
			if err != nil {
				return nil, err
			}
			in.Workloads = append(in.Workloads, ref)
		}
	}
	out, err := rf.output()
	if err != nil {
		return nil, err
	}
	creds := credentialsOf(&out)
	creds.Username = rf.username
	if rf.passwordStdin {
		if rf.username == "" {
			return nil, errors.New("--password-stdin: give the output's --username too")
		}
		pw, err := readLine(bufio.NewReader(o.In))
		if err != nil {
			return nil, fmt.Errorf("--password-stdin: %w", err)
		}
		if pw == "" {
			return nil, errors.New("--password-stdin: stdin holds no password")
		}
		creds.Password = pw
	}
	lc.Spec.Outputs = []logagentv1.LogOutput{out}
	return lc, nil
}

// output is the one output the flags name.
func (rf *ruleFlags) output() (logagentv1.LogOutput, error) {
	switch {
	case rf.kafka != "":
		brokers, topic, ok := strings.Cut(rf.kafka, "/")
		list := strings.Split(brokers, ",")
		if !ok || topic == "" || strings.Contains(topic, "/") || contains(list, "") {
			return logagentv1.LogOutput{}, fmt.Errorf("--kafka %q: want BROKER/TOPIC, e.g. kafka.example:9092/logs (several brokers: b1:9092,b2:9092/logs)", rf.kafka)
		}
		return logagentv1.LogOutput{Name: "kafka", Type: "kafka", Kafka: &logagentv1.KafkaOutput{Brokers: list, Topic: topic}}, nil
	case rf.elasticsearch != "":
		i := strings.LastIndex(rf.elasticsearch, "/")
		var addrs []string
		if i > 0 {
			addrs = strings.Split(rf.elasticsearch[:i], ",")
		}
		ok := i > 0 && i < len(rf.elasticsearch)-1
		for _, a := range addrs {
			ok = ok && isHTTPURL(a)
		}
		if !ok {
			return logagentv1.LogOutput{}, fmt.Errorf("--elasticsearch %q: want URL/INDEX, e.g. https://es.example:9200/logs", rf.elasticsearch)
		}
		return logagentv1.LogOutput{Name: "elasticsearch", Type: "elasticsearch",
			Elasticsearch: &logagentv1.ElasticsearchOutput{Addresses: addrs, Index: rf.elasticsearch[i+1:]}}, nil
	case rf.loki != "":
		if !isHTTPURL(rf.loki) {
			return logagentv1.LogOutput{}, fmt.Errorf("--loki %q: want Loki's URL, e.g. https://loki.example:3100", rf.loki)
		}
		return logagentv1.LogOutput{Name: "loki", Type: "loki", Loki: &logagentv1.LokiOutput{URL: rf.loki}}, nil
	}
	return logagentv1.LogOutput{}, errors.New("give the output: --kafka BROKER/TOPIC, --loki URL or --elasticsearch URL/INDEX")
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// parseWorkloadRef reads KIND/NAME, the kind in any case.
func parseWorkloadRef(s string) (logagentv1.WorkloadRef, error) {
	kind, name, ok := strings.Cut(s, "/")
	if !ok || kind == "" || name == "" || strings.Contains(name, "/") {
		return logagentv1.WorkloadRef{}, fmt.Errorf("--workload %q: want KIND/NAME, e.g. Deployment/shop", s)
	}
	for _, k := range logRuleWorkloadKinds {
		if strings.EqualFold(k, kind) {
			return logagentv1.WorkloadRef{Kind: k, Name: name}, nil
		}
	}
	return logagentv1.WorkloadRef{}, fmt.Errorf("--workload %q: KIND is one of %s", s, strings.Join(logRuleWorkloadKinds, ", "))
}

// readLogRule reads the one LogCollector of file (- for in), YAML or JSON,
// strictly, into namespace.
func readLogRule(in io.Reader, file, namespace string) (*logagentv1.LogCollector, error) {
	name, doc, err := readOneDocument(in, file, "LogCollector")
	if err != nil {
		return nil, err
	}
	var lc logagentv1.LogCollector
	jd := json.NewDecoder(bytes.NewReader(doc))
	jd.DisallowUnknownFields()
	if err := jd.Decode(&lc); err != nil {
		return nil, fmt.Errorf("%s is not a LogCollector: %w", name, err)
	}
	want := logagentv1.GroupVersion.String()
	if (lc.APIVersion != "" && lc.APIVersion != want) || (lc.Kind != "" && lc.Kind != "LogCollector") {
		return nil, fmt.Errorf("%s holds a %s %s, not a %s LogCollector", name, lc.APIVersion, lc.Kind, want)
	}
	lc.APIVersion, lc.Kind = want, "LogCollector"
	if lc.Namespace != "" && lc.Namespace != namespace {
		return nil, fmt.Errorf("%s: metadata.namespace is %s, but the rule goes to %s (--project, or --cluster-rules for %s): drop metadata.namespace or change the flag",
			name, lc.Namespace, namespace, clusterRulesNamespace)
	}
	lc.Namespace = namespace
	// What the platform set, on a rule exported with -o yaml.
	lc.ResourceVersion, lc.UID, lc.Generation, lc.ManagedFields, lc.CreationTimestamp = "", "", 0, nil, metav1.Time{}
	lc.Status = logagentv1.LogCollectorStatus{}
	return &lc, nil
}
