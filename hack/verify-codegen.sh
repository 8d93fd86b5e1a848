#!/usr/bin/env bash
# Fails when the generated files (deepcopy, CRD manifests) differ from what
# the generators make from the current api/ and addonapi/ types.
set -euo pipefail
cd "$(dirname "$0")/.."
CONTROLLER_GEN=$(realpath "${1:-bin/controller-gen}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r go.mod go.sum api addonapi hack config "$tmp/"
for a in cronhpa tapp; do
  mkdir -p "$tmp/internal/addons/$a"
  cp -r "internal/addons/$a/crd" "$tmp/internal/addons/$a/"
  rm -f "$tmp/internal/addons/$a/crd/"*.yaml
done
rm -f "$tmp"/config/crd/*.yaml
(cd "$tmp" && hack/update-codegen.sh "$CONTROLLER_GEN")
stale=0
for d in api addonapi config/crd internal/addons/cronhpa/crd internal/addons/tapp/crd; do
  diff -ru "$d" "$tmp/$d" || stale=1
done
if [ "$stale" = 1 ]; then
  echo "generated files are stale: run 'make generate' and commit the result" >&2
  exit 1
fi
echo "generated files are up to date"
