// Package crd embeds the CRD manifests that controller-gen generates from
// api/ (make generate); the platform installs them at start.
package crd

import "embed"

// FS holds the generated CRD manifests.
//
//go:embed *.yaml
var FS embed.FS
