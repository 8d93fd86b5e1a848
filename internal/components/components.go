// Package components runs the Kubernetes components that kstack ships inside its
// one binary (the multi-call pattern of hyperkube and k3s). Each component runs in
// its own process, started as `kstack component NAME ARGS...`, because the
// upstream commands keep global state (flags, metrics registries, klog) that
// clashes when two of them share a process.
package components

import (
	"context"
	"fmt"
	"os"
	"sort"

	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"

	// Client auth plugins for kubectl, as upstream kubectl links them.
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	// JSON log format and client-go metrics, as the upstream mains register them.
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	// CronJob time zones work without the host's tzdata.
	_ "time/tzdata"
)

// Runner runs one component with the given arguments and returns its exit code.
type Runner func(ctx context.Context, args []string) int

var registry = map[string]Runner{
	"kube-apiserver": func(_ context.Context, args []string) int {
		setArgs("kube-apiserver", args)
		return cli.Run(apiserver.NewAPIServerCommand())
	},
	"kube-controller-manager": func(_ context.Context, args []string) int {
		setArgs("kube-controller-manager", args)
		return cli.Run(controllermanager.NewControllerManagerCommand())
	},
	"kube-scheduler": func(_ context.Context, args []string) int {
		setArgs("kube-scheduler", args)
		return cli.Run(scheduler.NewSchedulerCommand())
	},
	"kubectl": func(_ context.Context, args []string) int {
		return RunKubectl(args)
	},
	"etcd":           runEtcd,
	"kwok":           runKwok,
	"metrics-server": runMetricsServer,
	"provisioner":    runProvisioner,
}

// Names lists the components this binary can run.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Run runs the named component in this process and returns its exit code.
func Run(ctx context.Context, name string, args []string) int {
	r, ok := registry[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "kstack component: unknown component %q; known components: %v\n", name, Names())
		return 2
	}
	return r(ctx, args)
}

// RunKubectl runs the embedded kubectl with args (without the program name).
func RunKubectl(args []string) int {
	setArgs("kubectl", args)
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
		return 1
	}
	return 0
}

// setArgs makes os.Args look as if the component had been started as its own
// binary: the upstream commands read os.Args (kubectl's plugin lookup, cobra).
func setArgs(name string, args []string) {
	os.Args = append([]string{name}, args...)
}
