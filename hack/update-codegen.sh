#!/usr/bin/env bash
# Generates deepcopy functions and CRD manifests from the Go types in api/.
set -euo pipefail
cd "$(dirname "$0")/.."
CONTROLLER_GEN=${1:-bin/controller-gen}
OUT=${2:-config/crd}
"$CONTROLLER_GEN" object:headerFile=hack/boilerplate.go.txt paths=./api/...
"$CONTROLLER_GEN" crd:crdVersions=v1 paths=./api/... output:crd:dir="$OUT"
