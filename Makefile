# multinic — library, operator and fakes. Targets follow kubebuilder's names.
SHELL := /usr/bin/env bash
IMG ?= multinic-operator:dev
GO  ?= go

CONTROLLER_GEN = $(shell operator/hack/tool.sh controller-gen)
KUSTOMIZE      = $(shell operator/hack/tool.sh kustomize)
HELM           = $(shell operator/hack/tool.sh helm)
CRD            = operator/config/crd/bases/multinic.example.com_openstackconfigs.yaml

.PHONY: all
all: lint build test

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

.PHONY: lint
lint: ## gofmt and go vet.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

.PHONY: envtest
envtest: ## Build (once) the kube-apiserver and etcd used by the tests.
	@operator/hack/envtest-assets.sh >/dev/null

.PHONY: test
test: envtest ## Run every test, with the race detector.
	KUBEBUILDER_ASSETS=$$(operator/hack/envtest-assets.sh) $(GO) test -race -count=1 ./...

.PHONY: bench
bench: ## Run the benchmarks quoted in the README.
	$(GO) test -run '^$$' -bench 'BenchmarkSync' -benchmem -count=5 ./multinic/
	$(GO) test -run '^$$' -bench 'BenchmarkUpsertBatch1000|BenchmarkList10000' -benchmem -count=3 ./inventory/

##@ Demo

.PHONY: demo
demo: ## Run the whole flow on this machine; DEMO_ONCE=1 exits after one round.
	$(GO) run ./examples/demo

##@ Build

.PHONY: build
build: ## Build the operator and the CLI (multinicctl, and the kubectl plugin kubectl-multinic) into bin/.
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/multinic-operator ./operator
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/multinicctl ./operator/cmd/multinicctl
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/kubectl-multinic ./operator/cmd/kubectl-multinic

.PHONY: run
run: ## Run the operator against the current kubeconfig.
	$(GO) run ./operator

.PHONY: docker-build
docker-build: ## Build the operator image.
	docker build -t $(IMG) .

##@ Deployment

.PHONY: install
install: manifests ## Install the CRD into the current cluster.
	$(KUSTOMIZE) build operator/config/crd | kubectl apply -f -

.PHONY: uninstall
uninstall: ## Remove the CRD from the current cluster.
	$(KUSTOMIZE) build operator/config/crd | kubectl delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests ## Deploy the operator with kustomize, image IMG.
	cd operator/config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build operator/config/default | kubectl apply -f -

.PHONY: undeploy
undeploy: ## Remove the operator deployed with kustomize.
	$(KUSTOMIZE) build operator/config/default | kubectl delete --ignore-not-found -f -

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
