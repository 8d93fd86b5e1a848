// Package version holds the versions of kstack and of the Kubernetes it ships.
package version

// Set at build time with -ldflags "-X github.com/kstack/kstack/internal/version.Version=...".
var Version = "dev"

// Kubernetes is the version of the Kubernetes components built into kstack.
// The build also stamps it into k8s.io/component-base/version (see Makefile).
const Kubernetes = "v1.37.2"
