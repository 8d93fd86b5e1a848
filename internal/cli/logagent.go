package cli

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kstack/kstack/internal/logagent"
)

func newLogAgentCmd(o *Options) *cobra.Command {
	var (
		kubeconfig, queueBytes string
		opts                   logagent.Options
	)
	cmd := &cobra.Command{
		Use:   "logagent",
		Short: "Collect the logs of a cluster's pods and nodes and ship them to Kafka, Elasticsearch or Loki",
		Long: `The log collector of a member cluster (TKEStack's Logagent). It tails the CRI
log files of the pods that rules select (by namespace or workload), files inside
their containers, and files on the node under /var/log, and sends every line as
a JSON record (time, cluster, namespace, pod, container, workload, node, stream,
file, message, rule) to the rules' sinks: Kafka, Elasticsearch (_bulk) or Loki
(push API).

Its rules come from the cluster it collects from: the ConfigMap
kstack-logagent (key config.json) in --config-namespace, written by the
platform, with sink passwords in the Secret kstack-logagent-sinks. Changes apply
at once, without reading anything twice. Each sink has a queue on disk
(--queue-bytes) where lines wait while it is down; lines that do not fit are
dropped and counted. Every 10 s the agent writes its counters and errors to the
ConfigMap kstack-logagent-status-NAME.

Positions are kept in --state-dir: stopping the agent (SIGTERM, Ctrl-C) and
starting it again neither loses nor repeats a line.

Real clusters run it as a DaemonSet with --node (the platform renders it); each
local cluster runs one beside it without --node, for all pods, with --pods-dir
and --container-root pointing into the cluster's directory.`,
		Example: `  # beside the local cluster dev (kstack local start does this for you)
  D=~/.kstack/clusters/dev
  kstack logagent --kubeconfig $D/kubeconfig/admin.kubeconfig --cluster dev --name dev \
    --pods-dir $D/var/log/pods --state-dir $D/logagent \
    --container-root "$D/containers/{namespace}_{pod}_{uid}/{container}"

  # in a DaemonSet pod (node directories mounted under /host)
  kstack logagent --node $(NODE_NAME) --cluster cls-ab12cd34 --host-root /host`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := resource.ParseQuantity(queueBytes)
			if err != nil || q.Value() <= 0 {
				return fmt.Errorf("--queue-bytes %q: give a size such as 256Mi", queueBytes)
			}
			opts.QueueBytes = q.Value()
			var cfg *rest.Config
			if kubeconfig != "" {
				cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
			} else if cfg, err = rest.InClusterConfig(); err != nil {
				err = fmt.Errorf("not running in a pod (%v): give the cluster with --kubeconfig", err)
			}
			if err != nil {
				return err
			}
			cfg.UserAgent = "kstack-logagent"
			if opts.Client, err = kubernetes.NewForConfig(cfg); err != nil {
				return err
			}
			opts.Log = slog.New(slog.NewTextHandler(o.ErrOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
			a, err := logagent.New(opts)
			if err != nil {
				return err
			}
			// The root command's context ends on SIGTERM and Ctrl-C: Run
			// then stops gracefully.
			return a.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster to collect from (default: the in-cluster service account)")
	f.StringVar(&opts.Cluster, "cluster", "", "cluster name put in every record and Loki stream (the platform's cluster ID)")
	f.StringVar(&opts.Name, "name", "", "agent name; its status goes to the ConfigMap kstack-logagent-status-NAME (default: --node, else the hostname)")
	f.StringVar(&opts.Node, "node", "", "collect only this node's pods (a DaemonSet passes spec.nodeName); empty: all pods")
	f.StringVar(&opts.PodsDir, "pods-dir", logagent.DefaultPodsDir, "directory of the CRI container logs, laid out <namespace>_<pod>_<uid>/<container>/<n>.log")
	f.StringVar(&opts.ContainerRoot, "container-root", "",
		"where a container's files are, with {namespace}, {pod}, {uid}, {container} filled in, e.g. <cluster dir>/containers/{namespace}_{pod}_{uid}/{container} "+
			"for local clusters; empty: in the emptyDir volume mounted over the path, at <host root>/var/lib/kubelet/pods/{uid}/volumes/kubernetes.io~empty-dir/<volume>")
	f.StringVar(&opts.HostRoot, "host-root", "/", "where the node's root directory is (a DaemonSet mounts it, e.g. /host); host files are read under <host root>/var/log only")
	f.StringVar(&opts.StateDir, "state-dir", logagent.DefaultStateDir, "directory for file positions, counters and the sinks' queues (keep it across restarts)")
	f.StringVar(&queueBytes, "queue-bytes", "256Mi", "size bound of each sink's on-disk queue; lines beyond it are dropped and counted")
	f.StringVar(&opts.ConfigNamespace, "config-namespace", logagent.DefaultNamespace, "namespace of the config ConfigMap, the sinks Secret and the status ConfigMaps")
	return cmd
}
