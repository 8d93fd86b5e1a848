# kstack's build. `make run` and `make test` are the README's two commands:
# each installs what it needs on a fresh Debian machine.

SHELL := /bin/bash
# Go's own installer puts it in /usr/local/go/bin, which a fresh shell may not
# have on PATH: the recipes find it there too.
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin/kstack
K8S_VERSION := v1.37.2
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Stamp the Kubernetes version into the built-in components (as upstream's
# build does), so that servers, kubectl and kwok nodes report v1.37.2.
LDFLAGS := -X github.com/kstack/kstack/internal/version.Version=$(VERSION) \
	-X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=37 \
	-X k8s.io/client-go/pkg/version.gitVersion=$(K8S_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 \
	-X k8s.io/client-go/pkg/version.gitMinor=37
export KSTACK_LDFLAGS := $(LDFLAGS)
CONTROLLER_GEN := bin/controller-gen

.PHONY: all build run test test-unit test-e2e bench lint generate verify deps deps-test clean

all: build

deps:
	@hack/install-deps.sh

deps-test:
	@hack/install-deps.sh test

build: deps
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/kstack

## run: start the platform with two local demo clusters (Ctrl-C stops it all)
run: build
	$(BIN) up --demo

## test: the whole suite: unit tests, generated-code check, end-to-end tests
test: deps-test
	hack/test.sh

test-unit:
	$(GO) test ./api/... ./addonapi/... ./internal/... ./config/...

test-e2e:
	$(GO) test -count=1 -timeout 40m -p 1 ./test/e2e/...

## bench: benchmarks that print figures (not part of test or CI)
bench: deps-test
	KSTACK_BENCH=1 $(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 30m ./test/e2e/bench/

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

$(CONTROLLER_GEN): hack/tools/go.mod
	cd hack/tools && $(GO) build -o ../../$(CONTROLLER_GEN) sigs.k8s.io/controller-tools/cmd/controller-gen

generate: $(CONTROLLER_GEN)
	hack/update-codegen.sh $(CONTROLLER_GEN)

verify: $(CONTROLLER_GEN)
	hack/verify-codegen.sh $(CONTROLLER_GEN)
	$(MAKE) lint

clean:
	rm -rf bin
