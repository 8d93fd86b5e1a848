#!/usr/bin/env bash
# Generates deepcopy functions and CRD manifests from the Go types: the
# platform's kinds (api/) into config/crd, and each add-on's kinds
# (addonapi/<group>) into its add-on's package, since they are installed in
# member clusters, not on the platform.
set -euo pipefail
cd "$(dirname "$0")/.."
CONTROLLER_GEN=${1:-bin/controller-gen}
OUT=${2:-config/crd}
"$CONTROLLER_GEN" object:headerFile=hack/boilerplate.go.txt paths=./api/... paths=./addonapi/...
"$CONTROLLER_GEN" crd:crdVersions=v1 paths=./api/... output:crd:dir="$OUT"
# The latest version of each add-on's CRDs; released versions are frozen
# beside them (internal/addons/<addon>/manifests/<version>/).
"$CONTROLLER_GEN" crd:crdVersions=v1 paths=./addonapi/extensions/... output:crd:dir=internal/addons/cronhpa/crd
# TApp: volumeClaimTemplates keep their claims' names and labels.
"$CONTROLLER_GEN" crd:crdVersions=v1,generateEmbeddedObjectMeta=true paths=./addonapi/apps/... output:crd:dir=internal/addons/tapp/crd
