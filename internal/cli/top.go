package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apiclient"
	"github.com/kstack/kstack/internal/printer"
)

// usage is one row of `kstack top`: a value the platform has not got is
// absent (nil), never zero.
type usage struct {
	Cluster       string   `json:"cluster"`
	Namespace     string   `json:"namespace,omitempty"`
	Pod           string   `json:"pod,omitempty"`
	Name          string   `json:"name"`
	CPUCores      *float64 `json:"cpuCores,omitempty"`
	CPUPercent    *float64 `json:"cpuPercent,omitempty"`
	MemoryBytes   *float64 `json:"memoryBytes,omitempty"`
	MemoryPercent *float64 `json:"memoryPercent,omitempty"`
}

type usageList struct {
	Items []*usage `json:"items"`
}

// The columns as kubectl top prints them.
func cores(v *float64) string {
	if v == nil {
		return unknown
	}
	return fmt.Sprintf("%dm", int64(*v*1000+0.5))
}

func mebibytes(v *float64) string {
	if v == nil {
		return unknown
	}
	return fmt.Sprintf("%dMi", int64(*v)/(1<<20))
}

func percent(v *float64) string {
	if v == nil {
		return unknown
	}
	return fmt.Sprintf("%d%%", int64(*v+0.5))
}

// topFlags are what every top command takes.
type topFlags struct {
	cluster, sortBy, output string
}

func (f *topFlags) add(cmd *cobra.Command, clusterHelp string) {
	cmd.Flags().StringVar(&f.cluster, "cluster", "", clusterHelp)
	cmd.Flags().StringVar(&f.sortBy, "sort-by", "", "sort by cpu or memory, the largest first (default: by name)")
	cmd.PreRunE = func(*cobra.Command, []string) error {
		if f.sortBy != "" && f.sortBy != "cpu" && f.sortBy != "memory" {
			return fmt.Errorf("--sort-by %q: use cpu or memory", f.sortBy)
		}
		return nil
	}
	outputFlag(cmd, &f.output, printer.DataFormats...)
}

// sortUsage orders rows by name, or by cpu or memory, the largest first
// (rows without the value last).
func sortUsage(rows []*usage, by string) {
	key := func(u *usage) string { return u.Cluster + "\x00" + u.Namespace + "\x00" + u.Pod + "\x00" + u.Name }
	val := func(u *usage) *float64 {
		if by == "cpu" {
			return u.CPUCores
		}
		return u.MemoryBytes
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if by != "" {
			a, b := val(rows[i]), val(rows[j])
			switch {
			case a != nil && b == nil:
				return true
			case a == nil && b != nil:
				return false
			case a != nil && *a != *b:
				return *a > *b
			}
		}
		return key(rows[i]) < key(rows[j])
	})
}

// column is one metric of a top table and where its value goes.
type column struct {
	query string
	set   func(u *usage, v float64)
}

// collect runs the columns' instant queries and gathers their values into
// rows keyed by the labels in keys; extra queries only add rows (a node
// without usage is listed, as <unknown>).
func collect(ctx context.Context, o *Options, keys []string, cols []column, extra ...string) ([]*usage, error) {
	rows := map[string]*usage{}
	row := func(m map[string]string) *usage {
		var id []string
		for _, k := range keys {
			id = append(id, m[k])
		}
		k := strings.Join(id, "\x00")
		if rows[k] == nil {
			u := &usage{Cluster: m["cluster"]}
			switch keys[len(keys)-1] {
			case "node":
				u.Name = m["node"]
			case "pod":
				u.Namespace, u.Name = m["namespace"], m["pod"]
			case "container":
				u.Namespace, u.Pod, u.Name = m["namespace"], m["pod"], m["container"]
			default:
				u.Name = m["cluster"]
			}
			rows[k] = u
		}
		return rows[k]
	}
	for _, q := range extra {
		cols = append(cols, column{query: q})
	}
	for _, c := range cols {
		ans, err := promGet(ctx, o, "query", url.Values{"query": {c.query}})
		if err != nil {
			return nil, err
		}
		series, err := vector(ans)
		if err != nil {
			return nil, err
		}
		for _, s := range series {
			u := row(s.Metric)
			if c.set == nil || s.Value == nil {
				continue
			}
			if v, err := strconv.ParseFloat(s.Value.V, 64); err == nil {
				c.set(u, v)
			}
		}
	}
	out := make([]*usage, 0, len(rows))
	for _, u := range rows {
		out = append(out, u)
	}
	return out, nil
}

func ptr(v float64) *float64 { return &v }

// monitoredCluster checks that a cluster's monitoring is on before its
// metrics are read: off, the answer would be empty or stale, so it says so
// and how to turn it on. When the user may not read the Cluster, the
// query's answer speaks for itself.
func monitoredCluster(ctx context.Context, c *apiclient.Client, id string) error {
	cls, err := getCluster(ctx, c, id)
	if err != nil {
		if apiclient.IsForbidden(err) {
			return nil
		}
		return err
	}
	if !cls.Spec.Features.Monitoring {
		return fmt.Errorf("monitoring is off for cluster %s, so the platform has no metrics of it: %s", id, turnOnHint(id))
	}
	return nil
}

// whyEmpty says why a cluster has no metrics, when the status says.
func whyEmpty(ctx context.Context, c *apiclient.Client, id string) string {
	st, err := getCollectionStatus(ctx, c, id)
	if err != nil {
		return ""
	}
	if st.LastError != "" {
		return "; collection is failing: " + st.LastError
	}
	if _, ok := st.scraped(); !ok {
		return "; the first collection has not finished yet"
	}
	return ""
}

func newTopCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Show the CPU and memory use of clusters, nodes and pods",
		Long: `Shows current CPU and memory use as 'kubectl top' does, from the platform's
monitoring rather than each cluster's metrics-server: the newest values the
platform collected (every 15 seconds by default) of the clusters whose
monitoring is on ('kstack cluster monitoring ID on'), as far as you may see
them. Memory is the working set (without page cache), as kubectl's. A value the
platform has not got is shown as <unknown>, never as 0.`,
		Example: `  kstack top clusters
  kstack top nodes --cluster cls-ab12cd34 --sort-by cpu
  kstack top pods --cluster cls-ab12cd34 -n web
  kstack top pods --cluster cls-ab12cd34 -A --sort-by memory -o json`,
	}
	cmd.AddCommand(newTopClustersCmd(o), newTopNodesCmd(o), newTopPodsCmd(o))
	return cmd
}

func newTopClustersCmd(o *Options) *cobra.Command {
	var f topFlags
	cmd := &cobra.Command{
		Use:     "clusters [--cluster ID]",
		Aliases: []string{"cluster"},
		Short:   "Show each cluster's CPU and memory use",
		Long: `Shows each cluster's CPU in use (cores, and percent of its nodes' capacity) and
memory in use (bytes, and percent), for the clusters you may see whose
monitoring is on. The clusters whose monitoring is off are named on stderr.`,
		Example: "  kstack top clusters\n  kstack top clusters --sort-by memory\n  kstack top clusters --cluster cls-ab12cd34 -o yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			// The clusters, to name those whose monitoring is off; who may
			// not list them still gets the metrics they may read.
			var list platformv1.ClusterList
			listed := c.Do(ctx, http.MethodGet, clustersPath, "", nil, &list) == nil
			var off []string
			on, found := map[string]bool{}, false
			for _, cls := range list.Items {
				found = found || cls.Name == f.cluster
				if f.cluster != "" && cls.Name != f.cluster {
					continue
				}
				if cls.Spec.Features.Monitoring {
					on[cls.Name] = true
				} else {
					off = append(off, cls.Name)
				}
			}
			if f.cluster != "" && listed && !found {
				return fmt.Errorf("no cluster %q on the platform (see `kstack cluster list`)", f.cluster)
			}
			if f.cluster != "" && len(off) == 1 {
				return fmt.Errorf("monitoring is off for cluster %s, so the platform has no metrics of it: %s", f.cluster, turnOnHint(f.cluster))
			}
			sel := func(m string) string { return promSelector(m, "cluster", f.cluster) }
			rows, err := collect(ctx, o, []string{"cluster"}, []column{
				{sel("k8s_cluster_cpu_core_used"), func(u *usage, v float64) { u.CPUCores = ptr(v) }},
				{sel("k8s_cluster_rate_cpu_core_used_cluster"), func(u *usage, v float64) { u.CPUPercent = ptr(v) }},
				{sel("k8s_cluster_mem_no_cache_bytes"), func(u *usage, v float64) { u.MemoryBytes = ptr(v) }},
				{sel("k8s_cluster_rate_mem_no_cache_bytes_cluster"), func(u *usage, v float64) { u.MemoryPercent = ptr(v) }},
			})
			if err != nil {
				return err
			}
			// A monitored cluster without metrics yet is listed, unknown.
			have := map[string]bool{}
			for _, u := range rows {
				have[u.Cluster] = true
			}
			for name := range on {
				if !have[name] {
					rows = append(rows, &usage{Cluster: name, Name: name})
				}
			}
			sortUsage(rows, f.sortBy)
			if err := o.showUsage(f.output, rows, []string{"NAME", "CPU(cores)", "CPU%", "MEMORY(bytes)", "MEMORY%"}, func(u *usage) []string {
				return []string{u.Name, cores(u.CPUCores), percent(u.CPUPercent), mebibytes(u.MemoryBytes), percent(u.MemoryPercent)}
			}); err != nil {
				return err
			}
			if len(off) > 0 {
				o.warn("monitoring is off for %s: turn it on with `kstack cluster monitoring ID on` (platform administrators)", strings.Join(off, ", "))
			}
			if len(rows) == 0 && listed && len(off) == 0 {
				o.warn("no clusters to show")
			}
			return nil
		},
	}
	f.add(cmd, "only this cluster (ID)")
	return cmd
}

func newTopNodesCmd(o *Options) *cobra.Command {
	var f topFlags
	cmd := &cobra.Command{
		Use:     "nodes --cluster ID [NAME]",
		Aliases: []string{"node", "no"},
		Short:   "Show the CPU and memory use of a cluster's nodes",
		Long: `Shows the CPU (cores, and percent of the node's capacity) and memory (bytes, and
percent) in use on each node of a cluster, or on the node NAME, as
'kubectl top nodes' does. A node the platform has no usage of is <unknown>.`,
		Example: "  kstack top nodes --cluster cls-ab12cd34\n  kstack top nodes --cluster cls-ab12cd34 node-1\n  kstack top nodes --cluster cls-ab12cd34 --sort-by memory -o json",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			if err := monitoredCluster(ctx, c, f.cluster); err != nil {
				return err
			}
			node := ""
			if len(args) == 1 {
				node = args[0]
			}
			sel := func(m string) string { return promSelector(m, "cluster", f.cluster, "node", node) }
			rows, err := collect(ctx, o, []string{"cluster", "node"}, []column{
				{sel("k8s_node_cpu_core_used"), func(u *usage, v float64) { u.CPUCores = ptr(v) }},
				{sel("k8s_node_cpu_usage"), func(u *usage, v float64) { u.CPUPercent = ptr(v) }},
				{sel("k8s_node_mem_no_cache_bytes"), func(u *usage, v float64) { u.MemoryBytes = ptr(v) }},
				{sel("k8s_node_rate_mem_no_cache"), func(u *usage, v float64) { u.MemoryPercent = ptr(v) }},
			}, sel("k8s_node_status_ready"))
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				what := "no node metrics of cluster " + f.cluster
				if node != "" {
					what = "no metrics of node " + node + " in cluster " + f.cluster
				}
				return fmt.Errorf("%s yet%s", what, whyEmpty(ctx, c, f.cluster))
			}
			sortUsage(rows, f.sortBy)
			return o.showUsage(f.output, rows, []string{"NAME", "CPU(cores)", "CPU%", "MEMORY(bytes)", "MEMORY%"}, func(u *usage) []string {
				return []string{u.Name, cores(u.CPUCores), percent(u.CPUPercent), mebibytes(u.MemoryBytes), percent(u.MemoryPercent)}
			})
		},
	}
	f.add(cmd, "cluster ID (see 'kstack cluster list')")
	required(cmd, "cluster")
	return cmd
}

func newTopPodsCmd(o *Options) *cobra.Command {
	var f topFlags
	var namespace string
	var all, containers bool
	cmd := &cobra.Command{
		Use:     "pods --cluster ID [-n NAMESPACE | -A] [NAME]",
		Aliases: []string{"pod", "po"},
		Short:   "Show the CPU and memory use of a cluster's pods",
		Long: `Shows the CPU (cores) and memory (working set bytes) each pod of a namespace
uses, or the pod NAME's, or every namespace's with -A, as 'kubectl top pods'
does; --containers shows each container of the pods. Without -n, the namespace
is "default".`,
		Example: `  kstack top pods --cluster cls-ab12cd34 -n web
  kstack top pods --cluster cls-ab12cd34 -A --sort-by cpu
  kstack top pods --cluster cls-ab12cd34 -n web api-1 --containers`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if all && len(args) == 1 {
				return fmt.Errorf("a pod NAME is in one namespace: give -n, not -A")
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			if err := monitoredCluster(ctx, c, f.cluster); err != nil {
				return err
			}
			ns := namespace
			if all {
				ns = ""
			} else if ns == "" {
				ns = "default"
			}
			pod := ""
			if len(args) == 1 {
				pod = args[0]
			}
			sel := func(m string) string { return promSelector(m, "cluster", f.cluster, "namespace", ns, "pod", pod) }
			keys, cpu, mem := []string{"cluster", "namespace", "pod"}, "k8s_pod_cpu_core_used", "k8s_pod_mem_no_cache_bytes"
			if containers {
				keys, cpu, mem = append(keys, "container"), "k8s_container_cpu_core_used", "k8s_container_mem_no_cache_bytes"
			}
			rows, err := collect(ctx, o, keys, []column{
				{sel(cpu), func(u *usage, v float64) { u.CPUCores = ptr(v) }},
				{sel(mem), func(u *usage, v float64) { u.MemoryBytes = ptr(v) }},
			})
			if err != nil {
				return err
			}
			if len(rows) == 0 && f.output == "table" {
				where := "in namespace " + ns
				if all {
					where = "in any namespace"
				}
				if pod != "" {
					where = "of pod " + pod + " " + where
				}
				o.warn("No metrics found %s of cluster %s%s.", where, f.cluster, whyEmpty(ctx, c, f.cluster))
				return nil
			}
			sortUsage(rows, f.sortBy)
			headers := []string{"NAME", "CPU(cores)", "MEMORY(bytes)"}
			if containers {
				headers = []string{"POD", "NAME", "CPU(cores)", "MEMORY(bytes)"}
			}
			if all {
				headers = append([]string{"NAMESPACE"}, headers...)
			}
			return o.showUsage(f.output, rows, headers, func(u *usage) []string {
				r := []string{u.Name, cores(u.CPUCores), mebibytes(u.MemoryBytes)}
				if containers {
					r = append([]string{u.Pod}, r...)
				}
				if all {
					r = append([]string{u.Namespace}, r...)
				}
				return r
			})
		},
	}
	f.add(cmd, "cluster ID (see 'kstack cluster list')")
	required(cmd, "cluster")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", `the pods' namespace (default "default")`)
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "the pods of every namespace you may see")
	cmd.Flags().BoolVar(&containers, "containers", false, "a row per container")
	cmd.MarkFlagsMutuallyExclusive("namespace", "all-namespaces")
	return cmd
}

// showUsage prints top's rows: a table, or {"items": [...]}.
func (o *Options) showUsage(output string, rows []*usage, headers []string, cells func(*usage) []string) error {
	if output != "table" {
		if rows == nil {
			rows = []*usage{}
		}
		return o.show(output, usageList{Items: rows}, nil, nil)
	}
	table := make([][]string, len(rows))
	for i, u := range rows {
		table[i] = cells(u)
	}
	return o.show("table", nil, headers, table)
}
