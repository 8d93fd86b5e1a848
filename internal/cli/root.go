// Package cli holds kstack's user-facing commands.
package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kstack/kstack/internal/datadir"
	"github.com/kstack/kstack/internal/printer"
)

// Options are the global flags.
type Options struct {
	DataDir string
}

// NewRoot builds the command tree.
func NewRoot() *cobra.Command {
	o := &Options{}
	root := &cobra.Command{
		Use:   "kstack",
		Short: "kstack runs and manages many Kubernetes clusters for many teams",
		Long: `kstack is a container platform: one control plane and console that manage many
Kubernetes clusters, created locally or imported, for many tenants and teams.

Start here:
  kstack up --demo          start the platform with two local demo clusters
  kstack local create dev   create a local Kubernetes cluster with simulated nodes
  kstack kubectl get nodes  kubectl of the same Kubernetes version, built in

Everything kstack keeps (PKI, data, logs) lives in the data dir: ~/.kstack, or
--data-dir, or the KSTACK_DATA_DIR environment variable.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&o.DataDir, "data-dir", datadir.Default(),
		"directory for kstack's state, PKI and logs (env "+datadir.EnvVar+")")
	root.AddCommand(newVersionCmd(), newLocalCmd(o), newUpCmd(o), newPlatformCmd(), newClusterCmd(o), newKubeconfigCmd(o), newNodeCmd(o), newKubectlHelpCmd(), newComponentHelpCmd(),
		newLoginCmd(o), newLogoutCmd(), newCredentialCmd(), newWhoamiCmd(o), newPasswdCmd(o), newAdminCmd(o),
		newUserCmd(o), newGroupCmd(o), newPolicyCmd(o), newAPIKeyCmd(o),
		newProjectCmd(o), newNamespaceCmd(o), newApplyCmd(o), newVirtualNodeCmd(o))
	return root
}

// Execute runs the CLI and returns the process exit code.
func Execute(ctx context.Context, args []string) int {
	// Ctrl-C or SIGTERM cancels the command's context, so that long commands
	// (create, start, up) undo or stop what they started instead of dying.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The Kubernetes packages linked into kstack register flags (a non-bool
	// --version) on pflag.CommandLine, which cobra merges into every command.
	// The CLI wants none of them.
	pflag.CommandLine = pflag.NewFlagSet("kstack", pflag.ExitOnError)
	root := NewRoot()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		return 1
	}
	return 0
}

func outputFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVarP(p, "output", "o", "table", "output format: "+strings.Join(printer.Formats, ", "))
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
