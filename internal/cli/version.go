package cli

import (
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/kstack/kstack/internal/printer"
	"github.com/kstack/kstack/internal/version"
)

func newVersionCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print the versions of kstack and of the Kubernetes it ships",
		Example: "  kstack version\n  kstack version -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := printer.Validate(output); err != nil {
				return err
			}
			v := map[string]string{"kstack": version.Version, "kubernetes": version.Kubernetes, "go": runtime.Version()}
			return printer.Print(os.Stdout, output, v, []string{"KSTACK", "KUBERNETES", "GO"},
				[][]string{{v["kstack"], v["kubernetes"], v["go"]}})
		},
	}
	outputFlag(cmd, &output)
	return cmd
}
