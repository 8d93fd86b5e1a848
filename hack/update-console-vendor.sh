#!/usr/bin/env bash
# Fetches the console's vendored scripts from the npm registry (npm pack)
# and records their sums. Change the versions here and in the README beside them.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=internal/console/static/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent htmx.org@2.0.11 @xterm/xterm@5.5.0 @xterm/addon-fit@0.10.0 uplot@1.6.32 >/dev/null)
for f in "$tmp"/*.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
cp "$tmp"/htmx.org-2.0.11/package/dist/htmx.min.js "$dest"/
cp "$tmp"/xterm-xterm-5.5.0/package/lib/xterm.js "$tmp"/xterm-xterm-5.5.0/package/css/xterm.css "$dest"/
cp "$tmp"/xterm-addon-fit-0.10.0/package/lib/addon-fit.js "$dest"/
cp "$tmp"/uplot-1.6.32/package/dist/uPlot.iife.min.js "$tmp"/uplot-1.6.32/package/dist/uPlot.min.css "$dest"/
(cd "$dest" && sha256sum htmx.min.js xterm.js xterm.css addon-fit.js uPlot.iife.min.js uPlot.min.css > SHA256SUMS)
echo "updated $dest"
