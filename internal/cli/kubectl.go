package cli

import (
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kstack/kstack/internal/components"
	"github.com/kstack/kstack/internal/datadir"
	"github.com/kstack/kstack/internal/platform"
)

// RunKubectl runs the built-in kubectl. Without --kubeconfig or KUBECONFIG it
// uses the local platform's admin kubeconfig from the data dir, as k3s does,
// so that on the platform's own host `kstack kubectl` just works.
func RunKubectl(dataDir string, args []string) int {
	if os.Getenv("KUBECONFIG") == "" && !hasFlag(args, "kubeconfig") {
		if dataDir == "" {
			dataDir = datadir.Default()
		}
		kc := platform.AdminKubeconfigPath(dataDir)
		if _, err := os.Stat(kc); err == nil {
			os.Setenv("KUBECONFIG", kc)
		}
	}
	return components.RunKubectl(args)
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") {
			return true
		}
	}
	return false
}

// SplitGlobal pulls a leading --data-dir out of args, for the commands that
// bypass cobra (kubectl, component): `kstack --data-dir D kubectl get pods`.
func SplitGlobal(args []string) (dataDir string, rest []string) {
	for len(args) > 0 {
		switch {
		case args[0] == "--data-dir" && len(args) > 1:
			dataDir, args = args[1], args[2:]
		case strings.HasPrefix(args[0], "--data-dir="):
			dataDir, args = strings.TrimPrefix(args[0], "--data-dir="), args[1:]
		default:
			return dataDir, args
		}
	}
	return dataDir, args
}

// newKubectlHelpCmd documents `kstack kubectl`; main dispatches it before cobra
// parses anything, because kubectl has flags of its own.
func newKubectlHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "kubectl [kubectl arguments]",
		Short: "Run kubectl of the same Kubernetes version, built into kstack",
		Long: `Runs the kubectl built into kstack (the same Kubernetes version as its clusters).
Without --kubeconfig or KUBECONFIG it uses the admin kubeconfig of the platform in
the data dir, when there is one.`,
		Example: `  kstack kubectl get clusters
  kstack kubectl --kubeconfig $(kstack local kubeconfig dev) get nodes`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			dataDir, _ := cmd.Flags().GetString("data-dir")
			if code := RunKubectl(dataDir, args); code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
}

func newComponentHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "component NAME [ARGS]",
		Short:  "Run one built-in Kubernetes component (used by kstack's supervisors)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			os.Exit(components.Run(cmd.Context(), args[0], args[1:]))
			return nil
		},
		DisableFlagParsing: true,
	}
}
