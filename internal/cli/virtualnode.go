package cli

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/localcluster"
	"github.com/kstack/kstack/internal/virtualnode"
)

const virtualNodeSetsPath = "/platform/apis/platform.tkestack.io/v1/virtualnodesets"

var clusterIDPattern = regexp.MustCompile(`^cls-[a-z0-9]+$|^global$`)

func newVirtualNodeCmd(o *Options) *cobra.Command {
	var (
		upper, nodeIP, prefix, certFile, keyFile, inPlatform string
		lowers                                               []string
		taint, webhook                                       bool
		descheduleAfter, failoverAfter                       time.Duration
		maxMoves                                             int
	)
	cmd := &cobra.Command{
		Use:   "virtual-node --upper CLUSTER --lower CLUSTER [--lower CLUSTER ...]",
		Short: "Make each lower cluster a virtual node of the upper cluster (tensile-kube style)",
		Long: `Runs one virtual node in the upper cluster for each lower cluster, until
Ctrl-C. A pod the upper scheduler binds to a virtual node runs in that lower
cluster (same namespace), with its ConfigMaps, Secrets, PVCs and service
account carried along; its status comes back from the lower cluster's
informers; kubectl logs, exec and port-forward on the upper pod reach the
lower one.

Each CLUSTER is a kubeconfig file (its current context), NAME=KUBECONFIG to
name it, or a platform cluster ID (cls-...) reached through the platform as
you (kstack login). A virtual node is named PREFIX+NAME and offers the lower
cluster's allocatable minus what the lower cluster's own pods request; labels
kstack.io/largest-free-cpu|memory|pods give the roomiest single lower node.

--webhook registers a mutating webhook in the upper cluster. Opt in with the
label virtualnode.kstack.io/webhook=enabled on a namespace or a pod: node
selectors, node affinity and tolerations meant for the lower cluster move into
an annotation restored downstream, and pods are kept off virtual nodes whose
roomiest lower node is too small for them.

The descheduler moves pods that stay unschedulable in their lower cluster for
--deschedule-after (doubling per move, at most --max-moves). A lower cluster
that stops answering turns its node NotReady; after --failover-after its pods
are moved to other virtual nodes. See docs/virtual-nodes.md.

--in-platform NAME does not run the nodes here: it asks the platform to run
them (a VirtualNodeSet; cluster IDs only) with its own credentials to the
members, in its leader replica, restarted when they fail.`,
		Example: `  kstack local create upper --nodes 0; kstack local create east; kstack local create west
  kstack virtual-node --webhook --upper $(kstack local kubeconfig upper) \
    --lower $(kstack local kubeconfig east) --lower west=/path/to/west.kubeconfig

  # imported clusters, run by the platform itself
  kstack virtual-node --in-platform edge --upper cls-ab12cd34 --lower cls-cd34ef56`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if maxMoves < 0 || descheduleAfter < 0 || failoverAfter < 0 {
				return fmt.Errorf("--max-moves, --deschedule-after and --failover-after may not be negative (0 turns the descheduler or failover off)")
			}
			if inPlatform != "" {
				vns := &platformv1.VirtualNodeSet{
					TypeMeta:   metav1.TypeMeta{APIVersion: platformv1.GroupVersion.String(), Kind: "VirtualNodeSet"},
					ObjectMeta: metav1.ObjectMeta{Name: inPlatform},
					Spec: platformv1.VirtualNodeSetSpec{Upper: upper, Lowers: lowers, NodePrefix: prefix, Webhook: webhook, Taint: taint,
						DescheduleAfter: metav1.Duration{Duration: descheduleAfter}, MaxMoves: maxMoves, FailoverAfter: metav1.Duration{Duration: failoverAfter}},
				}
				out, err := createVirtualNodeSet(cmd, o, vns, "--in-platform")
				if err != nil {
					return err
				}
				return o.done("table", out, "virtualnodeset %s created: the platform runs its nodes (kstack virtualnodeset get %s)", inPlatform, inPlatform)
			}
			_, upperCfg, err := clusterConfig(o, upper)
			if err != nil {
				return fmt.Errorf("--upper: %w", err)
			}
			opts := virtualnode.Options{
				Upper: upperCfg, NodePrefix: prefix, NodeIP: nodeIP, Taint: taint, Webhook: webhook,
				DescheduleAfter: descheduleAfter, MaxMoves: maxMoves, FailoverAfter: failoverAfter,
				TLSCertFile: certFile, TLSKeyFile: keyFile,
				Log: slog.New(slog.NewTextHandler(o.ErrOut, &slog.HandlerOptions{Level: slog.LevelInfo})),
				Ready: func(nodes []string) {
					o.warn("virtual nodes ready: %s (Ctrl-C to stop)", strings.Join(nodes, ", "))
				},
			}
			for _, arg := range lowers {
				name, cfg, err := clusterConfig(o, arg)
				if err != nil {
					return fmt.Errorf("--lower %s: %w", arg, err)
				}
				if err := localcluster.ValidateName(name); err != nil {
					return fmt.Errorf("--lower %s: the name %q cannot name a node: %w; name it with NAME=KUBECONFIG", arg, name, err)
				}
				opts.Lowers = append(opts.Lowers, virtualnode.Lower{Name: name, Config: cfg})
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return virtualnode.Run(ctx, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&upper, "upper", "", "the upper cluster: kubeconfig file or platform cluster ID")
	f.StringArrayVar(&lowers, "lower", nil, "a lower cluster: kubeconfig file, NAME=KUBECONFIG, or platform cluster ID (repeat)")
	f.StringVar(&prefix, "node-prefix", "vk-", "virtual node name = prefix + lower cluster name")
	f.StringVar(&nodeIP, "node-ip", "127.0.0.1", "address where the upper kube-apiserver reaches this process (kubelet endpoints, webhook)")
	f.BoolVar(&taint, "taint", false, "taint the virtual nodes with virtual-kubelet.io/provider=kstack:NoSchedule (pods then need a toleration)")
	f.BoolVar(&webhook, "webhook", false, "register the mutating webhook in the upper cluster (opt-in per namespace or pod, see above)")
	f.DurationVar(&descheduleAfter, "deschedule-after", 30*time.Second, "move a pod unschedulable in its lower cluster for this long (0: never)")
	f.IntVar(&maxMoves, "max-moves", 3, "give up moving a pod (or an owner's pods) after this many moves")
	f.DurationVar(&failoverAfter, "failover-after", time.Minute, "move the pods of a lower cluster that has not answered for this long (0: never)")
	f.StringVar(&certFile, "tls-cert-file", "", "kubelet serving certificate (default: signed by the upper cluster through a CSR)")
	f.StringVar(&keyFile, "tls-key-file", "", "key of --tls-cert-file")
	f.StringVar(&inPlatform, "in-platform", "", "have the platform run the nodes as the VirtualNodeSet NAME instead of this process (cluster IDs only; the same as 'kstack virtualnodeset create')")
	required(cmd, "upper", "lower")
	cmd.Annotations = map[string]string{requiredHelp: "--upper and at least one --lower are required: each a kubeconfig file, NAME=KUBECONFIG or a platform cluster ID"}
	return cmd
}

// createVirtualNodeSet asks the platform to run a set of virtual nodes.
func createVirtualNodeSet(cmd *cobra.Command, o *Options, vns *platformv1.VirtualNodeSet, what string) (*platformv1.VirtualNodeSet, error) {
	for _, id := range append([]string{vns.Spec.Upper}, vns.Spec.Lowers...) {
		if !clusterIDPattern.MatchString(id) || id == "global" {
			return nil, fmt.Errorf("%s takes cluster IDs (cls-...), not %q: the platform reaches members with its own credentials", what, id)
		}
	}
	c, err := newAPIClient(o)
	if err != nil {
		return nil, err
	}
	var out platformv1.VirtualNodeSet
	if err := c.Do(cmd.Context(), http.MethodPost, virtualNodeSetsPath, "", vns, &out); err != nil {
		return nil, err
	}
	if out.Name == "" {
		out = *vns
	}
	return &out, nil
}

func newVirtualNodeSetCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "virtualnodeset",
		Aliases: []string{"virtualnodesets", "vns"},
		Short:   "Virtual node sets the platform runs: lower clusters as virtual nodes of an upper one",
		Long: `A VirtualNodeSet has the platform itself run what 'kstack virtual-node' runs in
a process of your own: each lower cluster becomes one virtual node of the upper
cluster, run in the platform's leader replica with its own credentials to the
members and restarted when it fails. All clusters are the platform's (cluster
IDs), and you must be allowed to update each. See docs/virtual-nodes.md.`,
		Example: `  kstack virtualnodeset create edge --upper cls-ab12cd34 --lower cls-cd34ef56 --lower cls-ef56ab12
  kstack virtualnodeset list
  kstack virtualnodeset update edge --lower cls-cd34ef56
  kstack virtualnodeset delete edge`,
	}
	rows := func(items []platformv1.VirtualNodeSet) [][]string {
		var r [][]string
		for _, v := range items {
			r = append(r, []string{v.Name, v.Spec.Upper, strings.Join(v.Spec.Lowers, ","), v.Status.Phase, strings.Join(v.Status.Nodes, ","), v.Status.Message})
		}
		return r
	}
	headers := []string{"NAME", "UPPER", "LOWERS", "PHASE", "NODES", "MESSAGE"}
	sets := object[platformv1.VirtualNodeSet]{noun: "virtualnodeset", path: func(n string) string { return virtualNodeSetsPath + "/" + n }, headers: headers, rows: rows}
	var output string
	var spec platformv1.VirtualNodeSetSpec
	var descheduleAfter, failoverAfter time.Duration
	specFlags := func(c *cobra.Command) {
		f := c.Flags()
		f.StringArrayVar(&spec.Lowers, "lower", nil, "ID of a lower cluster, which becomes a virtual node (repeatable)")
		f.BoolVar(&spec.Webhook, "webhook", false, "register the mutating webhook in the upper cluster (see kstack virtual-node --help)")
		f.BoolVar(&spec.Taint, "taint", false, "taint the virtual nodes with virtual-kubelet.io/provider=kstack:NoSchedule")
		f.DurationVar(&descheduleAfter, "deschedule-after", 30*time.Second, "move a pod unschedulable in its lower cluster for this long (0: never)")
		f.IntVar(&spec.MaxMoves, "max-moves", 3, "give up moving a pod (or an owner's pods) after this many moves")
		f.DurationVar(&failoverAfter, "failover-after", time.Minute, "move the pods of a lower cluster that has not answered for this long (0: never)")
	}
	create := &cobra.Command{
		Use:   "create NAME --upper ID --lower ID [--lower ID ...]",
		Short: "Have the platform run lower clusters as virtual nodes of an upper cluster",
		Long: `Creates a VirtualNodeSet: the platform registers one virtual node per lower
cluster in the upper cluster and runs the pods bound to it in that lower cluster.
Prints "virtualnodeset NAME created", or the VirtualNodeSet with -o.`,
		Example: `  kstack virtualnodeset create edge --upper cls-ab12cd34 --lower cls-cd34ef56 --webhook`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if spec.MaxMoves < 0 || descheduleAfter < 0 || failoverAfter < 0 {
				return fmt.Errorf("--max-moves, --deschedule-after and --failover-after may not be negative (0 turns the descheduler or failover off)")
			}
			s := spec
			s.DescheduleAfter, s.FailoverAfter = metav1.Duration{Duration: descheduleAfter}, metav1.Duration{Duration: failoverAfter}
			vns := &platformv1.VirtualNodeSet{
				TypeMeta:   metav1.TypeMeta{APIVersion: platformv1.GroupVersion.String(), Kind: "VirtualNodeSet"},
				ObjectMeta: metav1.ObjectMeta{Name: args[0]}, Spec: s,
			}
			out, err := createVirtualNodeSet(cmd, o, vns, "virtualnodeset create")
			if err != nil {
				return err
			}
			return o.done(output, out, "virtualnodeset %s created", args[0])
		},
	}
	create.Flags().StringVar(&spec.Upper, "upper", "", "ID of the upper cluster, which gets the virtual nodes")
	create.Flags().StringVar(&spec.NodePrefix, "node-prefix", "vk-", "virtual node name = prefix + lower cluster ID")
	specFlags(create)
	required(create, "upper", "lower")
	outputFlag(create, &output)

	list := &cobra.Command{
		Use:     "list",
		Short:   "List the virtual node sets you may see",
		Long:    "Lists the virtual node sets: upper and lower clusters, phase, the virtual nodes registered, and why one is not Running.",
		Example: "  kstack virtualnodeset list\n  kstack virtualnodeset list -o yaml",
		Args:    cobra.NoArgs,
		RunE:    listRun(o, &output, virtualNodeSetsPath, headers, func(l *platformv1.VirtualNodeSetList) [][]string { return rows(l.Items) }),
	}
	outputFlag(list, &output)
	getVNS := func(cmd *cobra.Command, name string) (*platformv1.VirtualNodeSet, error) {
		c, err := newAPIClient(o)
		if err != nil {
			return nil, err
		}
		var v platformv1.VirtualNodeSet
		return &v, c.Do(cmd.Context(), http.MethodGet, virtualNodeSetsPath+"/"+name, "", nil, &v)
	}
	get := sets.getCmd(o, &cobra.Command{
		Use:     "get NAME",
		Short:   "Show one virtual node set",
		Long:    "Shows one virtual node set as 'kstack virtualnodeset list' does; -o json|yaml prints it whole.",
		Example: "  kstack virtualnodeset get edge -o yaml",
	})
	update := &cobra.Command{
		Use:   "update NAME [--lower ID ...] [--webhook] [--taint] [--deschedule-after D] [--max-moves N] [--failover-after D]",
		Short: "Change a virtual node set's lower clusters or behaviour",
		Long: `Changes what is given: --lower replaces the lower clusters (nodes of clusters
no longer listed are removed, new ones added), and the behaviour flags replace
their values. The upper cluster of a set never changes: create another set.`,
		Example: "  kstack virtualnodeset update edge --lower cls-cd34ef56 --lower cls-0a1b2c3d\n  kstack virtualnodeset update edge --failover-after 0",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			changed := false
			for _, n := range []string{"lower", "webhook", "taint", "deschedule-after", "max-moves", "failover-after"} {
				changed = changed || fl.Changed(n)
			}
			if !changed {
				return fmt.Errorf("nothing to update: give --lower, --webhook, --taint, --deschedule-after, --max-moves or --failover-after")
			}
			v, err := getVNS(cmd, args[0])
			if err != nil {
				return err
			}
			if fl.Changed("lower") {
				v.Spec.Lowers = spec.Lowers
			}
			if fl.Changed("webhook") {
				v.Spec.Webhook = spec.Webhook
			}
			if fl.Changed("taint") {
				v.Spec.Taint = spec.Taint
			}
			if fl.Changed("deschedule-after") {
				v.Spec.DescheduleAfter = metav1.Duration{Duration: descheduleAfter}
			}
			if fl.Changed("max-moves") {
				v.Spec.MaxMoves = spec.MaxMoves
			}
			if fl.Changed("failover-after") {
				v.Spec.FailoverAfter = metav1.Duration{Duration: failoverAfter}
			}
			if v.Spec.MaxMoves < 0 || v.Spec.DescheduleAfter.Duration < 0 || v.Spec.FailoverAfter.Duration < 0 {
				return fmt.Errorf("--max-moves, --deschedule-after and --failover-after may not be negative (0 turns the descheduler or failover off)")
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			v.APIVersion, v.Kind = platformv1.GroupVersion.String(), "VirtualNodeSet"
			var out platformv1.VirtualNodeSet
			if err := c.Do(cmd.Context(), http.MethodPut, virtualNodeSetsPath+"/"+v.Name, "", v, &out); err != nil {
				return err
			}
			return o.done(output, &out, "virtualnodeset %s updated", v.Name)
		},
	}
	specFlags(update)
	outputFlag(update, &output)
	del := sets.deleteCmd(o, &cobra.Command{
		Use:     "delete NAME",
		Short:   "Delete a virtual node set: the platform removes its virtual nodes",
		Long:    "Deletes a virtual node set: the platform stops its virtual nodes and removes them from the upper cluster.",
		Example: "  kstack virtualnodeset delete edge",
	})
	cmd.AddCommand(create, list, get, update, del)
	return cmd
}

// clusterConfig resolves a --upper/--lower argument to a name and a config.
func clusterConfig(o *Options, arg string) (string, *rest.Config, error) {
	name, path, named := strings.Cut(arg, "=")
	if !named {
		name, path = "", arg
	}
	if clusterIDPattern.MatchString(path) {
		if _, err := os.Stat(path); err != nil { // a file of that name wins
			cfg, err := proxyConfig(o, path)
			if name == "" {
				name = path
			}
			return name, cfg, err
		}
	}
	if _, err := os.Stat(path); err != nil {
		return "", nil, fmt.Errorf("neither a kubeconfig file nor a platform cluster ID (cls-...): %w", err)
	}
	raw, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("reading kubeconfig %s: %w", path, err)
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*raw, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return "", nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if name == "" {
		name = localClusterName(path)
	}
	if name == "" {
		if c := raw.Contexts[raw.CurrentContext]; c != nil {
			name = c.Cluster
		}
	}
	if name == "" {
		return "", nil, fmt.Errorf("kubeconfig %s has no current context to name the cluster by; use NAME=%s", path, path)
	}
	return name, cfg, nil
}

// localClusterName names a kstack local cluster's admin kubeconfig
// (<data dir>/clusters/NAME/kubeconfig/admin.kubeconfig) after the cluster:
// its context is named "kstack" like every other local cluster's.
func localClusterName(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil || filepath.Base(abs) != "admin.kubeconfig" {
		return ""
	}
	dir := filepath.Dir(abs)
	if filepath.Base(dir) != "kubeconfig" || filepath.Base(filepath.Dir(filepath.Dir(dir))) != "clusters" {
		return ""
	}
	return filepath.Base(filepath.Dir(dir))
}
