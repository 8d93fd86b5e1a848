// Command kstack is the one binary of the kstack platform: the platform
// server, local Kubernetes clusters, the CLI and the built-in components.
package main

import (
	"context"
	"os"

	"github.com/kstack/kstack/internal/cli"
	"github.com/kstack/kstack/internal/components"
)

func main() {
	ctx := context.Background()
	// kubectl and the components parse their own flags, so they are
	// dispatched before cobra sees the arguments.
	dataDir, rest := cli.SplitGlobal(os.Args[1:])
	if len(rest) > 0 {
		switch rest[0] {
		case "component":
			if len(rest) > 1 {
				os.Exit(components.Run(ctx, rest[1], rest[2:]))
			}
		case "kubectl":
			os.Exit(cli.RunKubectl(dataDir, rest[1:]))
		}
	}
	os.Exit(cli.Execute(ctx, os.Args[1:]))
}
