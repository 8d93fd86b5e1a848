#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it: formatting and vet,
# generated-code staleness, unit tests, then the end-to-end suites one
# package at a time against one kstack binary built here.
set -euo pipefail
cd "$(dirname "$0")/.."
LDFLAGS=${KSTACK_LDFLAGS:-}

step() { printf '\n=== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted" >&2; exit 1; fi

step "build kstack"
mkdir -p bin
go build -ldflags "$LDFLAGS -w" -o bin/kstack ./cmd/kstack
export KSTACK_BINARY=$PWD/bin/kstack

step "build helm"
# The real helm CLI the chart tests log in, push and list with, built from
# the Helm module kstack itself uses.
go build -ldflags "-w" -o bin/helm helm.sh/helm/v3/cmd/helm
export KSTACK_HELM=$PWD/bin/helm

step "go vet"
go vet ./...

step "generated code and vendored scripts are up to date"
make --no-print-directory bin/controller-gen
hack/verify-codegen.sh bin/controller-gen
hack/verify-console-vendor.sh

# Test binaries (and kstack above) are linked without DWARF (-w): a third
# less link time for the suite's 85 binaries; stack traces do not need it.
step "unit tests"
go test -count=1 -ldflags=-w ./api/... ./addonapi/... ./internal/... ./config/...

step "end-to-end tests"
go test -count=1 -ldflags=-w -p 1 -timeout 60m ./test/e2e/...
