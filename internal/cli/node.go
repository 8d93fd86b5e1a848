package cli

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kstack/kstack/internal/nodeops"
)

// proxyClient is a client for one cluster that goes through the platform's
// proxy, so that node operations are decided (and audited) by the platform.
func proxyClient(o *Options, cluster string) (kubernetes.Interface, error) {
	cfg, err := proxyConfig(o, cluster)
	if err != nil {
		return nil, err
	}
	cfg.Timeout = time.Minute
	return kubernetes.NewForConfig(cfg)
}

// proxyConfig reaches one cluster through the platform's proxy as the
// logged-in user (tokens refreshed per request) or the data dir's admin.
func proxyConfig(o *Options, cluster string) (*rest.Config, error) {
	if cluster == "" {
		return nil, fmt.Errorf("--cluster is required: the cluster ID (see `kstack cluster list`)")
	}
	c, err := newAPIClient(o)
	if err != nil {
		return nil, err
	}
	cfg := &rest.Config{
		Host:            c.Base + "/apis/platform.tkestack.io/v1/clusters/" + cluster + "/proxy",
		BearerToken:     c.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.CAPEM},
	}
	if tf := c.TokenFunc; tf != nil {
		cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				tok, err := tf(r.Context())
				if err != nil {
					return nil, err
				}
				r = r.Clone(r.Context())
				r.Header.Set("Authorization", "Bearer "+tok)
				return rt.RoundTrip(r)
			})
		}
	}
	return cfg, nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func newNodeCmd(o *Options) *cobra.Command {
	var cluster string
	cmd := &cobra.Command{
		Use:     "node",
		Aliases: []string{"nodes"},
		Short:   "List, show and operate the nodes of a cluster, through the platform",
		Long: `Node commands reach a member cluster through the platform's proxy, as you: the
platform decides each request by your policies and the member audits it under
your name. Every node command needs --cluster. Nodes join and leave a cluster by
the cluster's own means; here you list, show, cordon, drain, label and taint them.`,
		Example: `  kstack node list --cluster cls-ab12cd34
  kstack node drain --cluster cls-ab12cd34 node-1
  kstack node uncordon --cluster cls-ab12cd34 node-1`,
	}
	cmd.PersistentFlags().StringVar(&cluster, "cluster", "", "cluster ID (see 'kstack cluster list')"+requiredMark)
	_ = cmd.MarkPersistentFlagRequired("cluster")

	nodeRows := func(nodes []corev1.Node) [][]string {
		var rows [][]string
		for _, n := range nodes {
			status := "NotReady"
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					status = "Ready"
				}
			}
			if n.Spec.Unschedulable {
				status += ",SchedulingDisabled"
			}
			var taints []string
			for _, t := range n.Spec.Taints {
				taints = append(taints, fmt.Sprintf("%s=%s:%s", t.Key, t.Value, t.Effect))
			}
			rows = append(rows, []string{n.Name, status, n.Status.Allocatable.Cpu().String(), n.Status.Allocatable.Memory().String(),
				n.Status.NodeInfo.KubeletVersion, strings.Join(taints, ",")})
		}
		return rows
	}
	nodeHeaders := []string{"NAME", "STATUS", "CPU", "MEMORY", "VERSION", "TAINTS"}

	var output string
	list := &cobra.Command{
		Use:   "list --cluster ID",
		Short: "List a cluster's nodes",
		Long: `Lists the nodes of a cluster: status (Ready, and SchedulingDisabled when
cordoned), allocatable CPU and memory, kubelet version and taints.`,
		Example: "  kstack node list --cluster cls-ab12cd34\n  kstack node list --cluster cls-ab12cd34 -o name",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, err := proxyClient(o, cluster)
			if err != nil {
				return err
			}
			nodes, err := cs.CoreV1().Nodes().List(cmd.Context(), metav1.ListOptions{})
			if err != nil {
				return err
			}
			return o.show(output, nodes.Items, nodeHeaders, nodeRows(nodes.Items))
		},
	}
	outputFlag(list, &output)

	get := &cobra.Command{
		Use:     "get --cluster ID NODE",
		Short:   "Show one node of a cluster",
		Long:    `Shows one node as 'kstack node list' does; -o json|yaml prints the whole Node.`,
		Example: "  kstack node get --cluster cls-ab12cd34 node-1\n  kstack node get --cluster cls-ab12cd34 node-1 -o yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := proxyClient(o, cluster)
			if err != nil {
				return err
			}
			n, err := cs.CoreV1().Nodes().Get(cmd.Context(), args[0], metav1.GetOptions{})
			if err != nil {
				return err
			}
			return o.show(output, n, nodeHeaders, nodeRows([]corev1.Node{*n}))
		},
	}
	outputFlag(get, &output)

	cordon := func(use, short, long string, unschedulable bool) *cobra.Command {
		return &cobra.Command{
			Use:     use + " --cluster ID NODE...",
			Short:   short,
			Long:    long,
			Example: "  kstack node " + use + " --cluster cls-ab12cd34 node-1",
			Args:    cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				cs, err := proxyClient(o, cluster)
				if err != nil {
					return err
				}
				for _, n := range args {
					if err := nodeops.Cordon(cmd.Context(), cs, n, unschedulable); err != nil {
						return err
					}
					fmt.Fprintf(o.Out, "node %s %sed\n", n, use)
				}
				return nil
			},
		}
	}

	var d nodeops.DrainOptions
	drainCmd := &cobra.Command{
		Use:   "drain --cluster ID NODE",
		Short: "Cordon a node and evict its pods, respecting PodDisruptionBudgets",
		Long: `Cordons the node, then evicts every pod on it except DaemonSet pods. Evictions
honour PodDisruptionBudgets: while a budget forbids an eviction the drain waits
and retries, and fails after --timeout with the node left cordoned.`,
		Example: "  kstack node drain --cluster cls-ab12cd34 node-1 --timeout 5m",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := proxyClient(o, cluster)
			if err != nil {
				return err
			}
			d.Out = o.ErrOut
			if err := nodeops.Drain(cmd.Context(), cs, args[0], d); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "node %s drained\n", args[0])
			return nil
		},
	}
	drainCmd.Flags().DurationVar(&d.Timeout, "timeout", 5*time.Minute, "give up after this long (0: wait for ever)")
	drainCmd.Flags().BoolVar(&d.DeleteEmptyDirData, "delete-emptydir-data", false, "also evict pods with emptyDir volumes (their data is lost)")
	drainCmd.Flags().BoolVar(&d.Force, "force", false, "also delete pods that no controller manages")

	label := &cobra.Command{
		Use:   "label --cluster ID NODE key=value... key-...",
		Short: "Set or remove a node's labels",
		Long: `Sets labels (key=value, replacing a value already there) and removes them
(key-) on one node, in one update.`,
		Example: "  kstack node label --cluster cls-ab12cd34 node-1 zone=a tier-",
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := proxyClient(o, cluster)
			if err != nil {
				return err
			}
			if err := nodeops.Label(cmd.Context(), cs, args[0], args[1:]); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "node %s labeled\n", args[0])
			return nil
		},
	}
	taint := &cobra.Command{
		Use:   "taint --cluster ID NODE key=value:Effect... key-...",
		Short: "Add or remove a node's taints",
		Long: `Adds taints (key=value:Effect, Effect one of NoSchedule, PreferNoSchedule,
NoExecute) and removes them (key-, or key:Effect-) on one node.`,
		Example: "  kstack node taint --cluster cls-ab12cd34 node-1 gpu=true:NoSchedule old-",
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := proxyClient(o, cluster)
			if err != nil {
				return err
			}
			if err := nodeops.Taint(cmd.Context(), cs, args[0], args[1:]); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "node %s tainted\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(list, get,
		cordon("cordon", "Mark nodes unschedulable", "Marks nodes unschedulable: new pods are not scheduled on them; pods already there keep running.", true),
		cordon("uncordon", "Mark nodes schedulable again", "Marks cordoned nodes schedulable again.", false),
		drainCmd, label, taint)
	return cmd
}
