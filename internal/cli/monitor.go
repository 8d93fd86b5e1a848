package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kstack/kstack/internal/apiclient"
	"github.com/kstack/kstack/internal/printer"
)

// The platform's monitoring, read through its Prometheus-shaped API, which
// answers each caller only the series their rights cover.
const (
	monitorPath = "/monitor/apis/monitor.tkestack.io/v1"
	promPath    = monitorPath + "/prometheus/api/v1"
	// unknown is what kubectl top prints for a value it has not got.
	unknown = "<unknown>"
)

// promAnswer is the Prometheus API's answer.
type promAnswer struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data,omitempty"`
	ErrorType string          `json:"errorType,omitempty"`
	Error     string          `json:"error,omitempty"`
	Warnings  []string        `json:"warnings,omitempty"`
}

// promData is an answer's data: result is a list of series (vector,
// matrix) or one sample (scalar, string).
type promData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  *promSample       `json:"value,omitempty"`
	Values []promSample      `json:"values,omitempty"`
}

// promSample is [unix seconds, "value"].
type promSample struct {
	T float64
	V string
}

func (s *promSample) UnmarshalJSON(b []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil || len(pair) != 2 {
		return fmt.Errorf("a sample is [time, \"value\"], not %s", b)
	}
	if err := json.Unmarshal(pair[0], &s.T); err != nil {
		return err
	}
	return json.Unmarshal(pair[1], &s.V)
}

func (s promSample) time() string {
	sec, frac := math.Modf(s.T)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC().Format(time.RFC3339Nano)
}

// promGet asks the Prometheus API (query, query_range) as the user. A
// refusal is said with the API's own message (a parse error, the point
// limit).
func promGet(ctx context.Context, o *Options, endpoint string, q url.Values) (*promAnswer, error) {
	c, err := newAPIClient(o)
	if err != nil {
		return nil, err
	}
	var ans promAnswer
	if err := c.Do(ctx, http.MethodGet, promPath+"/"+endpoint+"?"+q.Encode(), "", nil, &ans); err != nil {
		return nil, promRefusal(err)
	}
	if ans.Status != "success" {
		return nil, fmt.Errorf("the platform refused the query: %s", ans.Error)
	}
	for _, w := range ans.Warnings {
		o.warn("warning: %s", w)
	}
	return &ans, nil
}

// promRefusal reads the Prometheus-shaped error out of an API error; the
// client keeps only the body of answers that are not a Kubernetes Status.
func promRefusal(err error) error {
	var se *apiclient.StatusError
	if errors.As(err, &se) {
		if i := strings.Index(se.Msg, "{"); i >= 0 {
			var ans promAnswer
			if json.Unmarshal([]byte(se.Msg[i:]), &ans) == nil && ans.Status == "error" && ans.Error != "" {
				return fmt.Errorf("the platform refused the query: %s", ans.Error)
			}
		}
	}
	return err
}

// vector is an instant query's series.
func vector(ans *promAnswer) ([]promSeries, error) {
	var d promData
	if err := json.Unmarshal(ans.Data, &d); err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if d.ResultType != "vector" {
		return nil, fmt.Errorf("the answer is a %s, not a vector", d.ResultType)
	}
	var out []promSeries
	if err := json.Unmarshal(d.Result, &out); err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	return out, nil
}

// seriesName is a series as PromQL writes it: name{label="value",...}.
func seriesName(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "__name__" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(m[k])
	}
	return m["__name__"] + "{" + strings.Join(parts, ",") + "}"
}

// promSelector is metric{k="v",...} of the pairs whose value is set.
func promSelector(metric string, kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			parts = append(parts, kv[i]+"="+strconv.Quote(kv[i+1]))
		}
	}
	if len(parts) == 0 {
		return metric
	}
	return metric + "{" + strings.Join(parts, ",") + "}"
}

// parseTime is RFC 3339 or Unix seconds, as the Prometheus API takes.
func parseTime(flag, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && !math.IsInf(f, 0) {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("%s %q is not a time: use RFC 3339 (2026-01-02T10:00:00Z) or Unix seconds", flag, s)
}

// seconds is t as the API's parameter.
func seconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', -1, 64)
}

func newMetricsCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "Query the platform's monitoring with PromQL, and see how collection goes",
		Long: `The platform collects the metrics of every cluster whose monitoring is on
('kstack cluster monitoring ID on') into its own store, and answers PromQL
through a Prometheus-shaped API: the same data as the console's charts, and a
Grafana data source at <platform>/monitor/apis/monitor.tkestack.io/v1/prometheus.
Every query answers only the series you may see: whole clusters where you may
list every pod, your projects' namespaces, your projects' quotas. Metric names
follow TKEStack's: k8s_cluster_*, k8s_node_*, k8s_workload_*, k8s_pod_*,
k8s_container_*, project_*, with the labels cluster, node, namespace, pod,
container, workload_kind, workload_name and project.`,
		Example: `  kstack metrics query 'k8s_pod_cpu_core_used{cluster="cls-ab12cd34",namespace="web"}'
  kstack metrics query-range 'sum(k8s_cluster_cpu_core_used)' --since 6h --step 5m
  kstack metrics status cls-ab12cd34`,
	}
	cmd.AddCommand(newMetricsQueryCmd(o), newMetricsQueryRangeCmd(o), newMetricsStatusCmd(o))
	return cmd
}

func newMetricsQueryCmd(o *Options) *cobra.Command {
	var at, output string
	cmd := &cobra.Command{
		Use:   "query EXPR [--time T]",
		Short: "Evaluate a PromQL expression at one time",
		Long: `Evaluates EXPR at --time (default: now), as Prometheus's /api/v1/query does,
over the series you may see. Prints a table of each series and its value;
-o json|yaml prints the answer's data as Prometheus gives it (resultType and
result). A query that does not parse is refused with the parser's message.`,
		Example: `  kstack metrics query 'k8s_node_cpu_usage{cluster="cls-ab12cd34"}'
  kstack metrics query 'topk(5, k8s_pod_mem_no_cache_bytes)' --time 2026-01-02T10:00:00Z
  kstack metrics query 'sum by (cluster) (k8s_cluster_pod_total)' -o json`,
		Args: cobra.ExactArgs(1),
		PreRunE: func(*cobra.Command, []string) error {
			if at != "" {
				_, err := parseTime("--time", at)
				return err
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{"query": {args[0]}}
			if at != "" {
				t, _ := parseTime("--time", at)
				q.Set("time", seconds(t))
			}
			ans, err := promGet(cmd.Context(), o, "query", q)
			if err != nil {
				return err
			}
			return o.showProm(output, ans)
		},
	}
	cmd.Flags().StringVar(&at, "time", "", "evaluate at this time: RFC 3339 or Unix seconds (default: now)")
	outputFlag(cmd, &output, printer.DataFormats...)
	return cmd
}

// autoSteps are what an automatic step rounds up to; the smallest is the
// platform's default collection interval.
var autoSteps = []time.Duration{15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// autoStep draws d in about 250 points.
func autoStep(d time.Duration) time.Duration {
	for _, s := range autoSteps {
		if d/s <= 250 {
			return s
		}
	}
	return autoSteps[len(autoSteps)-1]
}

// queryRange is a range query's flags.
type queryRange struct {
	since, start, end, step string
}

// resolve is the range as the API takes it, at now.
func (f *queryRange) resolve(now time.Time) (start, end time.Time, step time.Duration, err error) {
	end = now
	if f.end != "" {
		if end, err = parseTime("--end", f.end); err != nil {
			return
		}
	}
	switch {
	case f.start != "":
		if start, err = parseTime("--start", f.start); err != nil {
			return
		}
	default:
		since := time.Hour
		if f.since != "" {
			if since, err = parseSince(f.since); err != nil {
				return
			}
		}
		start = end.Add(-since)
	}
	if !end.After(start) {
		return start, end, 0, fmt.Errorf("--end %s is not after --start %s", end.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339))
	}
	if f.step == "" || f.step == "auto" {
		return start, end, autoStep(end.Sub(start)), nil
	}
	step, perr := time.ParseDuration(f.step)
	if perr != nil {
		if n, nerr := strconv.ParseFloat(f.step, 64); nerr == nil {
			step, perr = time.Duration(n*float64(time.Second)), nil
		}
	}
	if perr != nil || step <= 0 {
		return start, end, 0, fmt.Errorf("--step %q is not a duration: use e.g. 15s, 1m, 1h, or auto", f.step)
	}
	return start, end, step, nil
}

func newMetricsQueryRangeCmd(o *Options) *cobra.Command {
	var f queryRange
	var output string
	cmd := &cobra.Command{
		Use:   "query-range EXPR [--since D | --start T [--end T]] [--step D]",
		Short: "Evaluate a PromQL expression over a time range",
		Long: `Evaluates EXPR from --start (or --since before --end; default: the last hour)
to --end (default: now) at every --step (default: auto, about 250 points), as
Prometheus's /api/v1/query_range does, over the series you may see. Prints a
row per series and time; -o json|yaml prints the answer's data as Prometheus
gives it. A range so large or a step so small that a series would have more
points than the platform allows is refused, with its limit.`,
		Example: `  kstack metrics query-range 'k8s_pod_cpu_core_used{cluster="cls-ab12cd34",pod="api-1"}'
  kstack metrics query-range 'sum(k8s_cluster_cpu_core_used)' --since 24h --step 10m
  kstack metrics query-range up --start 2026-01-02T10:00:00Z --end 2026-01-02T11:00:00Z --step 1m -o json`,
		Args: cobra.ExactArgs(1),
		PreRunE: func(*cobra.Command, []string) error {
			_, _, _, err := f.resolve(time.Now())
			return err
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			start, end, step, err := f.resolve(time.Now())
			if err != nil {
				return err
			}
			q := url.Values{"query": {args[0]}, "start": {seconds(start)}, "end": {seconds(end)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
			ans, err := promGet(cmd.Context(), o, "query_range", q)
			if err != nil {
				return err
			}
			return o.showProm(output, ans)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.since, "since", "", "the range is this long, up to --end: e.g. 30m, 6h, 7d (default 1h)")
	fl.StringVar(&f.start, "start", "", "start of the range: RFC 3339 or Unix seconds")
	fl.StringVar(&f.end, "end", "", "end of the range: RFC 3339 or Unix seconds (default: now)")
	fl.StringVar(&f.step, "step", "auto", "time between points: e.g. 15s, 1m, 1h, or auto")
	cmd.MarkFlagsMutuallyExclusive("since", "start")
	outputFlag(cmd, &output, printer.DataFormats...)
	return cmd
}

// showProm prints an answer: its data with -o json|yaml, else a table.
func (o *Options) showProm(output string, ans *promAnswer) error {
	if output != "table" {
		return o.show(output, ans.Data, nil, nil)
	}
	var d promData
	if err := json.Unmarshal(ans.Data, &d); err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	var rows [][]string
	var headers []string
	switch d.ResultType {
	case "scalar", "string":
		var s promSample
		if err := json.Unmarshal(d.Result, &s); err != nil {
			return fmt.Errorf("reading the answer: %w", err)
		}
		headers, rows = []string{"VALUE", "TIME"}, [][]string{{s.V, s.time()}}
	case "vector", "matrix":
		var series []promSeries
		if err := json.Unmarshal(d.Result, &series); err != nil {
			return fmt.Errorf("reading the answer: %w", err)
		}
		if len(series) == 0 {
			o.warn("no series: the query matched nothing you may see")
			return nil
		}
		sort.Slice(series, func(i, j int) bool { return seriesName(series[i].Metric) < seriesName(series[j].Metric) })
		if d.ResultType == "vector" {
			headers = []string{"SERIES", "VALUE"}
			for _, s := range series {
				if s.Value != nil {
					rows = append(rows, []string{seriesName(s.Metric), s.Value.V})
				}
			}
			break
		}
		headers = []string{"SERIES", "TIME", "VALUE"}
		for _, s := range series {
			for _, v := range s.Values {
				rows = append(rows, []string{seriesName(s.Metric), v.time(), v.V})
			}
		}
	default:
		return fmt.Errorf("the answer's result type %q is not one the CLI knows", d.ResultType)
	}
	return o.show("table", nil, headers, rows)
}

// collectionStatus is a cluster's collection status, as the API gives it.
type collectionStatus struct {
	Enabled     bool   `json:"enabled"`
	LastScrape  string `json:"lastScrape,omitempty"`
	LastError   string `json:"lastError,omitempty"`
	Nodes       int    `json:"nodes"`
	NodesFailed int    `json:"nodesFailed"`
	Series      int    `json:"series"`
}

// scraped is when the cluster was last collected, if ever.
func (st *collectionStatus) scraped() (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, st.LastScrape)
	return t, err == nil && t.Year() > 1
}

func getCollectionStatus(ctx context.Context, c *apiclient.Client, cluster string) (*collectionStatus, error) {
	var st collectionStatus
	if err := c.Do(ctx, http.MethodGet, monitorPath+"/clusters/"+url.PathEscape(cluster)+"/status", "", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// turnOnHint says how to switch a cluster's monitoring on.
func turnOnHint(cluster string) string {
	return fmt.Sprintf("turn it on with `kstack cluster monitoring %s on` (platform administrators)", cluster)
}

func newMetricsStatusCmd(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status CLUSTER",
		Short: "Show how the collection of a cluster's metrics goes",
		Long: `Shows whether a cluster's monitoring is on, when the platform last collected
its metrics, the last error (a node whose kubelet did not answer, a cluster out
of reach), how many of its nodes failed and how many series it gave: why its
charts are empty or stale. It needs the right to list the cluster's pods.`,
		Example: "  kstack metrics status cls-ab12cd34\n  kstack metrics status cls-ab12cd34 -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			st, err := getCollectionStatus(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			if output != "table" {
				return o.show(output, st, nil, nil)
			}
			on, last := "off", "never"
			if st.Enabled {
				on = "on"
			}
			if t, ok := st.scraped(); ok {
				last = t.UTC().Format(time.RFC3339) + " (" + time.Since(t).Round(time.Second).String() + " ago)"
			}
			rows := [][]string{{"Cluster", args[0]}, {"Monitoring", on}, {"Last collected", last}, {"Last error", st.LastError},
				{"Nodes (failed/total)", fmt.Sprintf("%d/%d", st.NodesFailed, st.Nodes)}, {"Series", strconv.Itoa(st.Series)}}
			if err := o.show("table", nil, []string{"FIELD", "VALUE"}, rows); err != nil {
				return err
			}
			if !st.Enabled {
				o.warn("monitoring is off for %s: %s", args[0], turnOnHint(args[0]))
			}
			return nil
		},
	}
	outputFlag(cmd, &output, printer.DataFormats...)
	return cmd
}

func newClusterMonitoringCmd(o *Options) *cobra.Command {
	var enable, disable bool
	var output string
	cmd := &cobra.Command{
		Use:   "monitoring ID on|off",
		Short: "Switch on or off collecting a cluster's metrics in the platform",
		Long: `With monitoring on, the platform collects the cluster's metrics into its own
metric store, installing nothing in the cluster: the usage of its nodes, pods
and containers through the cluster's API, and the state of its nodes, pods,
workloads and quotas from the platform's cache. They are charted in the console
and read by 'kstack top' and 'kstack metrics'. Switching it off stops the
collection; what was collected stays until the store's retention removes it.
It sets the Cluster's spec.features.monitoring. --enable and --disable are the
same as on and off.`,
		Example: `  kstack cluster monitoring cls-ab12cd34 on
  kstack cluster monitoring cls-ab12cd34 off
  kstack cluster monitoring cls-ab12cd34 --enable`,
		Args: cobra.RangeArgs(1, 2),
		PreRunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 2 {
				if args[1] != "on" && args[1] != "off" {
					return fmt.Errorf("%q: say on or off", args[1])
				}
				if enable || disable {
					return fmt.Errorf("give on or off, or --enable or --disable, not both")
				}
				enable = args[1] == "on"
				return nil
			}
			// Before cobra's own check of the flags (PreRunE runs first).
			if enable && disable {
				return fmt.Errorf("give only one of --enable, --disable")
			}
			if !enable && !disable {
				return fmt.Errorf("say on or off (or --enable or --disable)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return setClusterFeature(cmd, o, args[0], "monitoring", "monitoring", enable, output)
		},
	}
	cmd.Flags().BoolVar(&enable, "enable", false, "collect the cluster's metrics (same as on)")
	cmd.Flags().BoolVar(&disable, "disable", false, "stop collecting the cluster's metrics (same as off)")
	cmd.MarkFlagsMutuallyExclusive("enable", "disable")
	outputFlag(cmd, &output)
	return cmd
}
