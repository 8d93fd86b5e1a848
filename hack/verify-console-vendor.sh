#!/usr/bin/env bash
# Checks that the console's vendored scripts are the recorded upstream files.
set -euo pipefail
cd "$(dirname "$0")/../internal/console/static/vendor"
sha256sum --quiet -c SHA256SUMS || { echo "vendored console scripts differ from SHA256SUMS: run hack/update-console-vendor.sh" >&2; exit 1; }
