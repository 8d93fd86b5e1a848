package components

import (
	"context"

	"github.com/spf13/pflag"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"
	metricsserver "sigs.k8s.io/metrics-server/cmd/metrics-server/app"
)

// runMetricsServer runs metrics-server, which serves the metrics API
// (`kubectl top`) of a local cluster from its nodes' kubelet endpoints.
func runMetricsServer(_ context.Context, args []string) int {
	setArgs("metrics-server", args)
	// Cobra merges pflag.CommandLine into the command's flags; flags that the
	// other components linked into this binary put there would clash with
	// metrics-server's own (--version), and this process runs only it.
	pflag.CommandLine = pflag.NewFlagSet("metrics-server", pflag.ExitOnError)
	return cli.Run(metricsserver.NewMetricsServerCommand(genericapiserver.SetupSignalHandler()))
}
