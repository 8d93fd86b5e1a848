package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apiclient"
	"github.com/kstack/kstack/internal/localcluster"
)

func newLocalCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Create and run local Kubernetes clusters for trying and testing",
		Long: `Local clusters are real Kubernetes control planes (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler) whose nodes are simulated by kwok: pods
are scheduled and reach Running, but no container runs. They are for trying kstack
and for tests only: 'kubectl exec' into a simulated pod runs the command on this
host (as the unprivileged user nobody when kstack runs as root).

Each cluster keeps its state, PKI and logs under DATA_DIR/clusters/NAME and runs
under a small supervisor process that restarts a component that dies.`,
		Example: `  kstack local create dev --nodes 3
  kstack local list
  kubectl --kubeconfig $(kstack local kubeconfig dev) get nodes
  kstack local stop dev && kstack local start dev
  kstack local delete dev`,
	}
	cmd.AddCommand(newLocalCreateCmd(o), newLocalListCmd(o), newLocalGetCmd(o), newLocalKubeconfigCmd(o),
		newLocalStartCmd(o), newLocalStopCmd(o), newLocalDeleteCmd(o), newLocalSuperviseCmd(o))
	return cmd
}

func localManager(o *Options, create bool) (*localcluster.Manager, error) {
	d, err := openData(o, create)
	if err != nil {
		return nil, err
	}
	exe, err := executable()
	if err != nil {
		return nil, err
	}
	return &localcluster.Manager{Data: d, Binary: exe, Progress: o.ErrOut}, nil
}

func newLocalCreateCmd(o *Options) *cobra.Command {
	var nodes int
	var timeout time.Duration
	var doImport bool
	var output string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a local cluster and start it",
		Long: `Creates a local cluster: generates its PKI, picks free loopback ports (kept for
the cluster's life, so its kubeconfig stays valid), starts its components and
registers NODES simulated nodes. Returns once every node is Ready; the cluster
keeps running after the command exits. Prints "local cluster NAME created" (and
the platform's cluster ID with --import), or the cluster with -o.`,
		Example: `  kstack local create dev
  kstack local create big --nodes 10
  kstack local create prod --import
  kubectl --kubeconfig $(kstack local kubeconfig dev) get nodes`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := localcluster.ValidateName(args[0]); err != nil {
				return err
			}
			m, err := localManager(o, true)
			if err != nil {
				return err
			}
			m.ReadyTimeout = timeout
			var api *apiclient.Client
			if doImport {
				// Check that there is a platform to import into before creating.
				if api, err = newAPIClient(o); err != nil {
					return err
				}
			}
			if err := m.Create(cmd.Context(), args[0], nodes); err != nil {
				return err
			}
			info, err := localInfo(m, args[0])
			if err != nil {
				return err
			}
			if !doImport {
				return o.done(output, info, "local cluster %s created", args[0])
			}
			cls, err := importLocal(cmd.Context(), api, m, args[0])
			if err != nil {
				// Nothing half-made: the cluster goes if it cannot be imported.
				_ = m.Delete(context.Background(), args[0])
				return err
			}
			return o.done(output, info, "local cluster %s created, imported into the platform as cluster %s", args[0], cls.Name)
		},
	}
	outputFlag(cmd, &output)
	cmd.Flags().BoolVar(&doImport, "import", false, "also import the cluster into the platform of this data dir (which must be running)")
	cmd.Flags().IntVar(&nodes, "nodes", 3, "number of simulated nodes (0-100; 0 makes a control plane only, e.g. an upper cluster for 'kstack virtual-node')")
	cmd.Flags().DurationVar(&timeout, "timeout", localcluster.DefaultReadyTimeout, "how long to wait for the cluster to be ready; on timeout the create is undone")
	return cmd
}

func newLocalListCmd(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List local clusters",
		Long:    "Lists the local clusters of the data dir: phase (Running, Stopped, ...), nodes, Kubernetes version and API server address.",
		Example: "  kstack local list\n  kstack local list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := localManager(o, false)
			if err != nil {
				return err
			}
			list, err := m.List()
			if err != nil {
				return err
			}
			return o.printLocal(output, list, list)
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func (o *Options) printLocal(output string, obj any, list []localcluster.Info) error {
	rows := make([][]string, 0, len(list))
	for _, c := range list {
		rows = append(rows, []string{c.Name, c.Phase, strconv.Itoa(c.Nodes), c.Version, c.Server})
	}
	return o.show(output, obj, []string{"NAME", "PHASE", "NODES", "VERSION", "SERVER"}, rows)
}

// localInfo is one local cluster as 'kstack local list' shows it.
func localInfo(m *localcluster.Manager, name string) (*localcluster.Info, error) {
	if _, err := m.Kubeconfig(name); err != nil { // the error that names the known clusters
		return nil, err
	}
	list, err := m.List()
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].Name == name {
			return &list[i], nil
		}
	}
	return nil, fmt.Errorf("no such local cluster %q", name)
}

func newLocalGetCmd(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "get NAME",
		Short:   "Show one local cluster",
		Long:    "Shows one local cluster as 'kstack local list' does; -o json|yaml adds its kubeconfig path, creation time and any message.",
		Example: "  kstack local get dev\n  kstack local get dev -o yaml",
		Args:    exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := localManager(o, false)
			if err != nil {
				return err
			}
			info, err := localInfo(m, args[0])
			if err != nil {
				return err
			}
			return o.printLocal(output, info, []localcluster.Info{*info})
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func newLocalKubeconfigCmd(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "kubeconfig NAME",
		Short: "Print the path of a local cluster's admin kubeconfig",
		Long: `Prints the path of the cluster's admin kubeconfig file as the only line on
stdout, so that it composes with kubectl's --kubeconfig.`,
		Example: "  kubectl --kubeconfig $(kstack local kubeconfig dev) get pods -A",
		Args:    exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := localManager(o, false)
			if err != nil {
				return err
			}
			path, err := m.Kubeconfig(args[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(o.Out, path)
			return err
		},
	}
}

func newLocalStartCmd(o *Options) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:     "start NAME",
		Short:   "Start a stopped local cluster, with all its objects",
		Long:    "Starts a stopped local cluster on the ports it was created with (so its kubeconfig stays valid); returns once every node is Ready.",
		Example: "  kstack local start dev",
		Args:    exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := localManager(o, false)
			if err != nil {
				return err
			}
			m.ReadyTimeout = timeout
			if err := m.Start(cmd.Context(), args[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(o.Out, "local cluster %s started\n", args[0])
			return err
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", localcluster.DefaultReadyTimeout, "how long to wait for the cluster to be ready")
	return cmd
}

func newLocalStopCmd(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:     "stop NAME",
		Short:   "Stop a local cluster; returns once all its processes have exited",
		Long:    "Stops a local cluster's supervisor and components; its data stays, and 'kstack local start' brings it back with all its objects.",
		Example: "  kstack local stop dev",
		Args:    exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := localManager(o, false)
			if err != nil {
				return err
			}
			if err := m.Stop(cmd.Context(), args[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(o.Out, "local cluster %s stopped\n", args[0])
			return err
		},
	}
}

func newLocalDeleteCmd(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Stop a local cluster and delete all its data",
		Long: `Stops a local cluster and deletes its directory (state, PKI, logs). A cluster
imported into the platform stays there, Failed, until 'kstack cluster delete'
(or delete it with 'kstack cluster delete ID --delete-local' in one go).`,
		Example: "  kstack local delete dev",
		Args:    exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := localManager(o, false)
			if err != nil {
				return err
			}
			var info *localcluster.Info
			if output != "table" {
				if info, err = localInfo(m, args[0]); err != nil {
					return err
				}
			}
			if err := m.Delete(cmd.Context(), args[0]); err != nil {
				return err
			}
			return o.done(output, info, "local cluster %s deleted", args[0])
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func newLocalSuperviseCmd(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:    "supervise NAME",
		Short:  "Run a local cluster's components (started by create and start)",
		Hidden: true,
		Args:   exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := localManager(o, false)
			if err != nil {
				return err
			}
			return m.Supervise(cmd.Context(), args[0])
		},
	}
}

func exactlyOneName(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%s needs exactly one cluster name, e.g. `%s dev`", cmd.CommandPath(), cmd.CommandPath())
	}
	return nil
}

// importLocal imports a local cluster into the platform by its admin kubeconfig.
func importLocal(ctx context.Context, api *apiclient.Client, m *localcluster.Manager, name string) (*platformv1.Cluster, error) {
	kc, err := m.Kubeconfig(name)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(kc)
	if err != nil {
		return nil, err
	}
	req := platformv1.ImportRequest{Kubeconfig: string(data), Type: platformv1.ClusterLocal}
	req.DisplayName = name
	return api.Import(ctx, req)
}
