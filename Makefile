# The user's menu: `make help` lists what each target does.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Every Go module of the workspace; go.work lists the same.
MODULES := pkg services/orders-service services/tracking-service services/notification-service hack/e2e
SERVICES := orders-service tracking-service notification-service
DEVENV := hack/devenv.sh
# Loads the local infrastructure's connection settings into a recipe's shell.
WITH_ENV := eval "$$($(DEVENV) env)" &&
FUZZTIME ?= 10s
# The load harness's Go programs: a module outside go.work (built with GOWORK=off).
LOADTEST := hack/loadtest

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-17s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: up
up: ## Start local PostgreSQL, Redis and Kafka (installing what is missing)
	@$(DEVENV) up >/dev/null && $(DEVENV) status

.PHONY: down
down: ## Stop the local infrastructure
	@$(DEVENV) down

.PHONY: run
run: ## Start the infrastructure and run the services in the foreground (Ctrl-C stops what it started; PROMETHEUS=1 also starts Prometheus on :9090)
	@hack/run.sh $(SERVICES)

.PHONY: build
build: ## Build the service binaries into bin/ (the same script the images use)
	@hack/build.sh $(SERVICES)

.PHONY: test
test: ## Run every check, one after another, stopping at the first failure: test-go, api-fuzz, browser-test, prometheus-test, chaos-smoke, fuzz, loadtest-smoke, verify, image-test, cluster-test
	@$(MAKE) --no-print-directory test-go
	@$(MAKE) --no-print-directory api-fuzz
	@$(MAKE) --no-print-directory browser-test
	@$(MAKE) --no-print-directory prometheus-test
	@$(MAKE) --no-print-directory chaos-smoke
	@$(MAKE) --no-print-directory fuzz
	@$(MAKE) --no-print-directory loadtest-smoke
	@$(MAKE) --no-print-directory verify
	@$(MAKE) --no-print-directory image-test
	@$(MAKE) --no-print-directory cluster-test

.PHONY: images
images: ## Build the three images from the Dockerfile with podman (no Docker engine; bases made from Debian's packages and the Go module proxy) into OCI archives, cached by their inputs
	@hack/images.sh

.PHONY: image-test
image-test: ## Run each image's entrypoint from its unpacked filesystem as its USER in fresh namespaces: /readyz, one order through all three, libraries, sizes (builds with make images first)
	@hack/image-test.sh

.PHONY: test-go
test-go: up ## Run every Go test of every module (go test -race) against the real local infrastructure
	@$(WITH_ENV) for m in $(MODULES); do echo "== go test $$m"; (cd $$m && go test -race -count=1 ./...); done

.PHONY: api-fuzz
api-fuzz: ## Fuzz each service's API against the OpenAPI document it serves: schemathesis (pinned, from PyPI, in a cached virtualenv), every check, EXAMPLES=100 cases per operation
	@hack/apifuzz.sh

.PHONY: browser-test
browser-test: ## The tracking page in Debian's Chromium (playwright-core): live update within 2s, JavaScript off, a restart caught up, axe-core accessibility; screenshots in .devenv/browser-test/
	@hack/browser-test.sh

.PHONY: prometheus-test
prometheus-test: ## The original system's prometheus.yml (metrics_path /actuator/prometheus), targets rewritten to loopback, loaded by PROMETHEUS=1 make run's Prometheus: all three targets up (ports 8081-8083, 9090)
	@hack/prometheus-test.sh

.PHONY: fuzz
fuzz: ## Run the fuzz tests briefly (FUZZTIME=10s)
	@cd services/orders-service && go test -run '^$$' -fuzz '^FuzzDecodeCreateOrder$$' -fuzztime $(FUZZTIME) ./internal/api/

.PHONY: chaos
chaos: ## The fault suite: every fault in docs/reliability.md, one at a time, against the platform under load on infrastructure of its own (~10 min); a passing run writes its table into docs/reliability.md
	@hack/chaos.sh all

.PHONY: chaos-smoke
chaos-smoke: ## The fault suite's subset that make test runs: six faults, Redis data loss and a frozen Redis among them (~2 min)
	@hack/chaos.sh smoke

.PHONY: loadtest
loadtest: ## Load-test the platform (wrk, the freshness probe, pgbench and redis-benchmark for ratios); DURATION=30s CONNECTIONS="16 64", URL= for running services; see docs/performance.md
	@hack/loadtest.sh

.PHONY: loadtest-smoke
loadtest-smoke: ## The load harness's unit tests and a 10-second run of every scenario at low load, checking correctness only (no performance figure)
	@cd $(LOADTEST) && GOWORK=off go test -count=1 ./...
	@SMOKE=1 hack/loadtest.sh

.PHONY: profile
profile: ## CPU, mutex and block profiles of orders-service under the create load into .devenv/profiles/ (DURATION=30s CONNECTIONS=16)
	@hack/profile.sh

.PHONY: verify
verify: ## Check the deployment files, then the monitoring, offline: verify-deploy, verify-monitoring
	@$(MAKE) --no-print-directory verify-deploy
	@$(MAKE) --no-print-directory verify-monitoring

.PHONY: verify-deploy
verify-deploy: ## Lint, render and strictly validate the Helm chart, skaffold.yaml and the Dockerfile (offline)
	@hack/verify-deploy.sh

.PHONY: verify-monitoring
verify-monitoring: ## Check and unit-test the alert rules; check every dashboard/alert query against the metrics the services expose (offline)
	@hack/verify-monitoring.sh

.PHONY: cluster-test
cluster-test: ## Install the chart, then skaffold deploy it, on the test cluster: a real Kubernetes v1.37.2 API server with kwok-simulated nodes (the first run builds it, ~15 min)
	@hack/verify-cluster.sh

.PHONY: dev
dev: ## Run the platform on a local kind cluster with skaffold, rebuilding on change
	@hack/dev.sh

.PHONY: deploy
deploy: ## Install the infrastructure and the app into the current kubectl context with Helm
	@hack/deploy.sh up

.PHONY: undeploy
undeploy: ## Remove what make deploy installed (keeps PostgreSQL's and Redis' volumes, the Secrets and CRDs; deletes Kafka's volumes)
	@hack/deploy.sh down

.PHONY: lint
lint: ## go vet and gofmt over every module, the load harness (hack/loadtest) included
	@for m in $(MODULES); do (cd $$m && go vet -tags chaos ./...); done
	@cd $(LOADTEST) && GOWORK=off go vet ./...
	@out=$$(gofmt -l $(MODULES) $(LOADTEST)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

.PHONY: bench
bench: up ## Run the benchmarks
	@$(WITH_ENV) for m in $(MODULES); do (cd $$m && go test -run '^$$' -bench . -benchmem ./...); done

.PHONY: tidy
tidy: ## go mod tidy in every module
	@for m in $(MODULES); do (cd $$m && go mod tidy); done
