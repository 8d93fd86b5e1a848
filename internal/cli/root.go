// Package cli holds kstack's user-facing commands.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kstack/kstack/internal/datadir"
)

// NewRoot builds the command tree, reading and writing through streams.
func NewRoot(streams IOStreams) *cobra.Command {
	return newRoot(&Options{IOStreams: streams})
}

func newRoot(o *Options) *cobra.Command {
	root := &cobra.Command{
		Use:   "kstack",
		Short: "kstack runs and manages many Kubernetes clusters for many teams",
		Long: `kstack is a container platform: one control plane and console that manage many
Kubernetes clusters, created locally or imported, for many tenants and teams.

Start here:
  kstack up --demo          start the platform with two local demo clusters
  kstack local create dev   create a local Kubernetes cluster with simulated nodes
  kstack kubectl get nodes  kubectl of the same Kubernetes version, built in

Commands are NOUN VERB, as in kubectl: every noun (cluster, node, user, group,
policy, policybinding, apikey, idp, project, namespace, virtualnodeset, local)
has list and get, and create, update and delete where they apply; audit and
event search the platform's audit records and persisted events. Commands that
show objects take -o table|json|yaml|name; create and delete say what they did
("project prj-x created"), or print the object with -o.

Everything kstack keeps (PKI, data, logs) lives in the data dir: ~/.kstack, or
--data-dir, or the KSTACK_DATA_DIR environment variable.`,
		Example: `  kstack up --demo
  kstack login --username admin
  kstack cluster list
  kstack project create team-a --cluster cls-ab12cd34 --cpu 2 --memory 4Gi
  kstack publish -f app.yaml --project prj-xxxxxxxx --cluster cls-a --cluster cls-b --namespace web`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&o.DataDir, "data-dir", datadir.Default(),
		"directory for kstack's state, PKI and logs (env "+datadir.EnvVar+")")
	root.SetIn(o.In)
	root.SetOut(o.Out)
	root.SetErr(o.ErrOut)
	root.AddCommand(newVersionCmd(o), newLocalCmd(o), newUpCmd(o), newPlatformCmd(o), newClusterCmd(o), newKubeconfigCmd(o), newNodeCmd(o),
		newKubectlHelpCmd(), newComponentHelpCmd(),
		newLoginCmd(o), newLogoutCmd(o), newCredentialCmd(o), newWhoamiCmd(o), newPasswdCmd(o), newAdminCmd(o),
		newUserCmd(o), newGroupCmd(o), newPolicyCmd(o), newPolicyBindingCmd(o), newAPIKeyCmd(o), newIdentityProviderCmd(o),
		newProjectCmd(o), newNamespaceCmd(o), newPublishCmd(o, false), newPublishCmd(o, true),
		newVirtualNodeCmd(o), newVirtualNodeSetCmd(o), newAddonCmd(o), newLogAgentCmd(o), newLogRuleCmd(o),
		newAuditCmd(o), newEventCmd(o), newTopCmd(o), newMetricsCmd(o), newAlarmCmd(o), newNotifyCmd(o), newRegistryCmd(o),
		newChartCmd(o), newAppCmd(o))
	routeFlagWarnings(root, o.ErrOut)
	return root
}

// routeFlagWarnings sends pflag's notices (a deprecated flag was used) to
// stderr; cobra would print them on its output stream, stdout.
func routeFlagWarnings(c *cobra.Command, w io.Writer) {
	c.Flags().SetOutput(w)
	c.PersistentFlags().SetOutput(w)
	for _, sub := range c.Commands() {
		routeFlagWarnings(sub, w)
	}
}

// run runs the command tree with args, explaining flag errors.
func run(ctx context.Context, root *cobra.Command, args []string) error {
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	return explainFlagError(cmd, err)
}

// Execute runs the CLI on the process's streams and returns the exit code.
func Execute(ctx context.Context, args []string) int {
	// Ctrl-C or SIGTERM cancels the command's context, so that long commands
	// (create, start, up) undo or stop what they started instead of dying.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The Kubernetes packages linked into kstack register flags (a non-bool
	// --version) on pflag.CommandLine, which cobra merges into every command.
	// The CLI wants none of them.
	pflag.CommandLine = pflag.NewFlagSet("kstack", pflag.ExitOnError)
	streams := IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if err := run(ctx, NewRoot(streams), args); err != nil {
		fmt.Fprintln(streams.ErrOut, "Error:", err)
		return 1
	}
	return 0
}

func openData(o *Options, create bool) (*datadir.Dir, error) {
	return datadir.Open(o.DataDir, create)
}

func executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the kstack binary: %w", err)
	}
	return filepath.EvalSymlinks(exe)
}
