# multinic — library, operator and fakes. Targets follow kubebuilder's names.
SHELL := /usr/bin/env bash
IMG ?= multinic-operator:dev
GO  ?= go

# What goes into the binaries and images: the tag on HEAD (v1.2.3), else
# git describe's distance from the last tag, else the short commit; -dirty
# for uncommitted changes. Dates are the commit time, so one commit gives
# one image digest.
VERSION           ?= $(shell git describe --tags --match 'v[0-9]*' --always --dirty 2>/dev/null || echo dev)
REVISION          ?= $(shell git rev-parse HEAD 2>/dev/null)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
BUILD_DATE        := $(shell TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null)
# Registry and path the images are named under in the tars, e.g. registry.example.com:5000/platform.
REGISTRY          ?=
VERSION_PKG        = github.com/multinic/multinic/internal/version
LDFLAGS            = -s -w -X $(VERSION_PKG).version=$(VERSION) -X $(VERSION_PKG).revision=$(REVISION) -X $(VERSION_PKG).buildDate=$(BUILD_DATE)

CONTROLLER_GEN = $(shell operator/hack/tool.sh controller-gen)
KUSTOMIZE      = $(shell operator/hack/tool.sh kustomize)
HELM           = $(shell operator/hack/tool.sh helm)
CRD            = operator/config/crd/bases/multinic.example.com_openstackconfigs.yaml

.PHONY: all
all: lint build test

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target> [VAR=value]\n"} \
		/^##@/ { printf "\n%s\n", substr($$0, 5) } \
		/^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: ## Regenerate the CRD and RBAC from the markers, and sync the chart's CRD copy.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths=./operator/... \
		output:crd:artifacts:config=operator/config/crd/bases output:rbac:artifacts:config=operator/config/rbac
	@if [ -d operator/chart/crds ]; then cp $(CRD) operator/chart/crds/; fi
	$(CONTROLLER_GEN) crd paths=./viola/testapi/api/... output:crd:artifacts:config=viola/testapi/config/crd

.PHONY: generate
generate: ## Regenerate deepcopy code.
	$(CONTROLLER_GEN) object paths=./operator/api/...
	$(CONTROLLER_GEN) object paths=./viola/testapi/api/...

# Nested modules with code of our own, linted with the root .golangci.yml.
# The etcd and kube-apiserver modules only pin an upstream main (gofmt
# covers them); linting would type-check all of etcd and Kubernetes.
LINT_MODULES = operator/hack/tools/imagebuild operator/hack/tools/promql
# LINTFLAGS adds golangci-lint flags, e.g. --new-from-rev=main or --fix.
LINTFLAGS ?=

.PHONY: lint
lint: ## golangci-lint (.golangci.yml), gofmt and go vet, on the module and the nested ones under operator/hack/tools.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@set -e; for m in $(LINT_MODULES); do echo "$(GO) -C $$m vet ./..."; $(GO) -C $$m vet ./...; done
	@set -e; lint=$$(operator/hack/tool.sh golangci-lint); status=0; \
	echo "golangci-lint run ./..."; "$$lint" run $(LINTFLAGS) ./... || status=1; \
	for m in $(LINT_MODULES); do \
		echo "golangci-lint run ./... in $$m"; \
		(cd $$m && "$$lint" run --config "$(CURDIR)/.golangci.yml" $(LINTFLAGS) ./...) || status=1; \
	done; exit $$status

.PHONY: tools
tools: ## Build (once) the pinned tools from operator/hack/tools/NAME/go.mod: controller-gen, golangci-lint, helm, kustomize, setup-envtest.
	@set -e; for t in controller-gen golangci-lint helm kustomize setup-envtest; do operator/hack/tool.sh $$t; done

.PHONY: envtest
envtest: ## Get (once) the kube-apiserver and etcd used by the tests: downloaded, else built.
	@operator/hack/envtest-assets.sh >/dev/null

# The library packages: no envtest, images or tools to build; the RabbitMQ
# tests use one broker per package (Debian's rabbitmq-server, installed on
# first use). make test-unit runs them with -short, where the slowest tests
# do fewer rounds; TESTFLAGS adds flags (-count=1 to ignore the test cache,
# -race, -v).
UNIT_PKGS = ./contrabass/... ./openstack/... ./viola ./viola/violatest ./inventory/... ./multinic/... ./internal/...
TESTFLAGS ?=

.PHONY: test-unit
test-unit: ## Fast tests of the library packages (-short, no cluster): under a minute with a warm build cache.
	$(GO) test -short $(TESTFLAGS) $(UNIT_PKGS)

.PHONY: test
test: envtest ## Run every test, with the race detector (includes building the images twice).
	$(GO) -C operator/hack/tools/imagebuild test -race -count=1 ./...
	KUBEBUILDER_ASSETS=$$(operator/hack/envtest-assets.sh) $(GO) test -race -count=1 -timeout 20m ./...

.PHONY: bench
bench: ## Run the benchmarks quoted in the README.
	$(GO) test -run '^$$' -bench '^BenchmarkSync$$/^vms=(10|100|1000)$$/' -benchmem -count=5 ./multinic/
	$(GO) test -run '^$$' -bench '^BenchmarkSync$$/^vms=10000$$/' -benchmem -benchtime=10x -count=5 ./multinic/
	$(GO) test -run '^$$' -bench '^BenchmarkSyncCRsOfOneProject$$' -benchmem -count=5 ./multinic/
	$(GO) test -run '^$$' -bench '^BenchmarkDecodePage$$' -benchmem -count=5 ./openstack/
	$(GO) test -run '^$$' -bench 'BenchmarkUpsertBatch1000|BenchmarkList10000|BenchmarkRound' -benchmem -count=3 ./inventory/
	$(GO) test -run '^$$' -bench 'BenchmarkFleet$$' -benchtime=1x -count=3 -timeout 60m ./operator/controller/

##@ Demo

.PHONY: demo
# Built, then exec'd: make's child is the demo itself, so a SIGTERM make
# forwards reaches it, and no go run sits between (go run exits 1 after a
# Ctrl-C). The demo takes the terminal's foreground so Ctrl-C reaches only
# it, and make exits 0 with it.
demo: ## Run the whole flow on this machine until Ctrl-C (exit 0); DEMO_ONCE=1 exits after one round.
	$(GO) build -o bin/demo ./examples/demo
	exec bin/demo

##@ Build

.PHONY: build
build: ## Build the operator, the Viola test API and the CLI (multinicctl, kubectl-multinic) into bin/, stamped with VERSION.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/multinic-operator ./operator/cmd/multinic-operator
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/viola-test-api ./operator/cmd/viola-test-api
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/multinicctl ./operator/cmd/multinicctl
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/kubectl-multinic ./operator/cmd/kubectl-multinic

.PHONY: run
run: ## Run the operator against the current kubeconfig.
	$(GO) run ./operator/cmd/multinic-operator

.PHONY: images
images: ## Build both images for linux/amd64 and linux/arm64 into dist/, without a daemon; REGISTRY names them.
	$(GO) -C operator/hack/tools/imagebuild run . -src "$(CURDIR)" -out "$(CURDIR)/dist" -version "$(VERSION)" \
		-revision "$(REVISION)" -created "$(SOURCE_DATE_EPOCH)" -repository "$(REGISTRY)"

.PHONY: docker-build
docker-build: ## Build the operator image IMG with a Docker daemon (make images needs none).
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) --build-arg SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) -t $(IMG) .

##@ Deployment

.PHONY: install
install: manifests ## Install the CRD into the current cluster.
	$(KUSTOMIZE) build operator/config/crd | kubectl apply -f -

.PHONY: uninstall
uninstall: ## Remove the CRD from the current cluster.
	$(KUSTOMIZE) build operator/config/crd | kubectl delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests ## Deploy the operator with kustomize, image IMG (the checkout stays unchanged).
	@set -eo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cp -R operator/config "$$tmp/"; \
	(cd "$$tmp/config/manager" && $(KUSTOMIZE) edit set image controller=$(IMG)); \
	$(KUSTOMIZE) build "$$tmp/config/default" | kubectl apply -f -

.PHONY: undeploy
undeploy: ## Remove the kustomize deployment; OpenstackConfigs first, finalizer handled (UNDEPLOY_TIMEOUT).
	KUSTOMIZE=$(KUSTOMIZE) operator/hack/undeploy.sh
