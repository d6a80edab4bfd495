# webstack-operator: `make help` lists the targets.

# Tools pinned by version, installed into ./bin.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)

# Where test binaries (kube-apiserver, etcd) come from; built once and cached outside the repo.
ENVTEST_ASSETS = $$(hack/controlplane.sh envtest)

GO_TEST_FLAGS ?= -count=1 -timeout 30m
# The real-pods suite builds kubelet, CoreDNS and the images on a cold cache.
REAL_TEST_FLAGS ?= -count=1 -timeout 90m
BENCH_FLAGS ?=
BENCH_STACK_FLAGS ?=

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD and RBAC from the markers, and copy both into the Helm chart.
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=webstack-operator paths=./controllers/... output:rbac:artifacts:config=config/rbac
	hack/sync-chart.sh

.PHONY: generate
generate: controller-gen ## Generate the deepcopy functions of the API types.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: fmt
fmt: ## Run gofmt on the code.
	gofmt -l -w $$(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: verify
verify: manifests generate ## Regenerate everything and fail if anything differs from what is committed.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go mod tidy
	@git diff --exit-code -- go.mod go.sum api config charts || { echo "generated files are out of date: run 'make manifests generate', 'go mod tidy' and commit"; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- api config charts)" || { echo "untracked generated files:"; git status --porcelain -- api config charts; exit 1; }

.PHONY: test
test: manifests generate vet deps ## Run every suite: unit, config daemons, envtest, the local stack (installs what they need on first run).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" WEBSTACK_STACK_TEST=1 go test $(GO_TEST_FLAGS) ./...
	hack/chart-test.sh

.PHONY: test-chart
test-chart: manifests ## Lint, render and validate the Helm chart and the kustomize install (throwaway API server).
	hack/chart-test.sh

.PHONY: deps
deps: ## Install the Debian packages the tests need and build the control-plane binaries, kwok and helm (cached).
	hack/install-deps.sh
	hack/controlplane.sh cluster-bins >/dev/null

##@ End to end

.PHONY: test-e2e test-e2e-real
test-e2e: ## Install the chart into a local cluster (hack/cluster.sh, cluster "e2e"), run the manager as the chart's ServiceAccount and drive the samples with kubectl and helm (~1 min warm).
	WEBSTACK_E2E=1 go test $(GO_TEST_FLAGS) -v ./test/e2e/

test-e2e-real: ## Run the django-shop sample on real pods (hack/real-cluster.sh: kubelet, containerd, images built from Debian by hack/images.sh) and check it end to end. Needs root.
	hack/install-deps.sh --real
	WEBSTACK_E2E_REAL=1 go test $(REAL_TEST_FLAGS) -v ./test/real/

##@ Local stack

.PHONY: test-stack
test-stack: ## Run the django-shop sample on loopback (PostgreSQL, 2 Redis, 2 gunicorn, Celery, Varnish, HAProxy) and check it end to end (~30 s).
	hack/install-deps.sh
	WEBSTACK_STACK_TEST=1 go test $(GO_TEST_FLAGS) -v ./test/stack/

.PHONY: bench
bench: ## Benchmark the manager on envtest (1, 100, 1000 WebStacks and the bare-client floor; ~23 min on 2 cores) and write its section of docs/benchmarks.md and docs/benchmarks.json.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go run ./test/bench/operator $(BENCH_FLAGS)

.PHONY: bench-stack
bench-stack: ## Benchmark the local stack (wrk, ORM comparisons) and write its section of docs/benchmarks.md (~3-5 min).
	hack/install-deps.sh
	go run ./test/bench/stack $(BENCH_STACK_FLAGS)

##@ Build

.PHONY: build
build: ## Build bin/webstack-operator (the Dockerfile builds the static release binary).
	go build -o $(LOCALBIN)/webstack-operator ./cmd/webstack-operator

.PHONY: run
run: manifests build ## Install the CRD and run the manager against the cluster of $KUBECONFIG, or, with none reachable, against the offline local cluster (hack/cluster.sh) with config/samples applied.
	hack/run.sh

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into ./bin.
$(CONTROLLER_GEN):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)
