package cli

import (
	"runtime"

	"github.com/spf13/cobra"

	"github.com/kstack/kstack/internal/printer"
	"github.com/kstack/kstack/internal/version"
)

func newVersionCmd(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the versions of kstack and of the Kubernetes it ships",
		Long: `Prints the version of this kstack binary, of the Kubernetes components built
into it (the version of every local cluster, of the platform's control plane and
of 'kstack kubectl'), and of the Go it was built with.`,
		Example: "  kstack version\n  kstack version -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := map[string]string{"kstack": version.Version, "kubernetes": version.Kubernetes, "go": runtime.Version()}
			return o.show(output, v, []string{"KSTACK", "KUBERNETES", "GO"},
				[][]string{{v["kstack"], v["kubernetes"], v["go"]}})
		},
	}
	outputFlag(cmd, &output, printer.DataFormats...)
	return cmd
}
