//go:build tools

// Package helmtool pins the helm CLI's module requirements in go.mod: the
// test suite builds the real helm from the Helm module kstack itself uses
// (hack/test.sh), and `go mod tidy` keeps what that build needs.
package helmtool

import _ "helm.sh/helm/v3/cmd/helm"
