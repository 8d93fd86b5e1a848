#!/usr/bin/env bash
# Fails when the generated files (deepcopy, CRD manifests) differ from what
# the generators make from the current api/ types.
set -euo pipefail
cd "$(dirname "$0")/.."
CONTROLLER_GEN=$(realpath "${1:-bin/controller-gen}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r go.mod go.sum api hack config "$tmp/"
rm -f "$tmp"/config/crd/*.yaml
(cd "$tmp" && "$CONTROLLER_GEN" object:headerFile=hack/boilerplate.go.txt paths=./api/... \
  && "$CONTROLLER_GEN" crd:crdVersions=v1 paths=./api/... output:crd:dir=config/crd)
if ! diff -ru api "$tmp/api" || ! diff -ru config/crd "$tmp/config/crd"; then
  echo "generated files are stale: run 'make generate' and commit the result" >&2
  exit 1
fi
echo "generated files are up to date"
