//go:build tools

// Package tools pins the code generators; it is a module of its own so that
// their dependencies do not mix with kstack's.
package tools

import _ "sigs.k8s.io/controller-tools/cmd/controller-gen"
