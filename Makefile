# hopguard's entry points. `make demo` and `make test` are the two a newcomer needs; both install
# the pinned real binaries (Cerbos, Envoy, agentgateway where it can be had, SPIRE) into ./bin first.
# The suites, the demo and the bench each run in a network namespace of their own whose only
# interface is loopback, where one can be made (conformance/netns): agentgateway binds every
# interface, and nothing of hopguard should listen beyond loopback. HOPGUARD_NETNS_SWITCH=off
# keeps them on the host's network (agentgateway is then not run).

BIN := $(CURDIR)/bin
GO ?= go
export HOPGUARD_BIN := $(BIN)

.PHONY: help tools demo up conformance test policy-test policy-stamp go-test vet bench fuzz istio-check k8s-check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# agentgateway v1.4.1 comes from HOPGUARD_AGENTGATEWAY (a binary or an .xz of one, with a known
# sha256; a wrong one fails) or its image cr.agentgateway.dev/agentgateway:v1.4.1 on a Docker
# engine; with neither, its install says how to get it and succeeds, and agentgateway is "not run"
# (bin/.agentgateway.not-installed says why; bin/.agentgateway.source where an installed one came from).
tools: ## install Cerbos 0.55.0, Envoy 1.40.0, agentgateway v1.4.1 (HOPGUARD_AGENTGATEWAY= or its image), SPIRE 1.13.3 (built from its Go module), Node.js 22 and the MCP conformance framework 0.1.16 (npm), PostgreSQL 15 (Debian's) into ./bin; a no-op when present
	@conformance/tools/install.sh $(BIN) cerbos
	@conformance/tools/install.sh $(BIN) envoy
	@conformance/tools/install.sh $(BIN) agentgateway
	@GO=$(GO) conformance/tools/install.sh $(BIN) spire
	@conformance/tools/node.sh $(BIN)
	@conformance/tools/postgres.sh $(BIN)

# `make demo GATEWAY=istio`, `make demo RUNTIME=container`: the gateway the agent goes through
# (agentgateway, the seed's, where it can run and envoy otherwise; or envoy, istio, agentgateway)
# and the runtime (below).
GATEWAY ?=

demo: tools ## bring the environment up and play the story hop by hop behind agentgateway where it can run (trail in out/demo/trail.md); GATEWAY=, RUNTIME=
	@$(GO) run ./conformance/cmd/demo $(if $(GATEWAY),--gateway=$(GATEWAY))

# `make up`: the environment kept up until Ctrl-C, every endpoint printed and written to
# out/up/env.json; GATEWAY=envoy (its default), istio, agentgateway or none (your own gateway);
# REPLICAS=2 runs synapse as two replicas on a shared PostgreSQL task registry.
up: tools ## bring the environment up and keep it until Ctrl-C, printing every endpoint and ready commands; GATEWAY=, RUNTIME=, REPLICAS=
	@$(GO) run ./conformance/cmd/up $(if $(GATEWAY),--gateway=$(GATEWAY)) $(if $(REPLICAS),--synapse-replicas=$(REPLICAS))

# `make conformance EXTERNAL=mygateway=http://127.0.0.1:8080`: with `make up GATEWAY=none`
# running and your gateway in front of its endpoints, the scenarios and the bypass corpus run
# against your gateway instead of the built-in ones (report: out/conformance/external/).
ifneq ($(EXTERNAL),)
export HOPGUARD_EXTERNAL := $(EXTERNAL)
endif

conformance: tools ## every scenario and the bypass corpus behind every gateway (EXTERNAL=name=url: yours); report in out/conformance/report.md and security.md
	@$(GO) test -count=1 -p 1 ./conformance ./conformance/security

# With agentgateway in bin/, the bench also measures the hop behind it (targets a2, b2;
# BENCHMARKS.md); elsewhere the report says why they did not run.
bench: tools ## what a governed hop costs: the targets side by side, one run (out/bench/report.md)
	@$(GO) run ./conformance/cmd/bench

test: tools policy-test go-test fuzz istio-check k8s-check container-test ## policy test suites, every Go test, each fuzz target briefly, Istio's translation, the suites on containers

policy-test: tools ## compile policies/ and run its Cerbos test suites; check its version is current
	@echo "==> cerbos compile policies (policy test suites)"
	@$(BIN)/cerbos compile policies/bundle
	@$(GO) run ./policies/cmd/stamp --check policies/bundle

policy-stamp: ## write policies/bundle's version after a policy change (policies/provenance)
	@$(GO) run ./policies/cmd/stamp policies/bundle

# The two suites run one after the other, after everything else: each brings the whole
# environment up, and the security suite's isolation drill measures latency, which the other
# suite's load on these 2 cores would otherwise distort.
SUITES := ./conformance ./conformance/security

go-test: tools ## run the Go tests (real Cerbos and Envoy from ./bin), the two suites last, one at a time
	@echo "==> go test ./... (the suites $(SUITES) last, one at a time)"
	@$(GO) test $$($(GO) list ./... | grep -v -x -e github.com/hopguard/hopguard/conformance -e github.com/hopguard/hopguard/conformance/security)
	@$(GO) test -p 1 $(SUITES)

# Istio's pilot is a heavy build (6-13 minutes cold on 2 cores, seconds once cached), so it lives in
# a nested module; this regenerates its translation of gateway-configs/istio and fails when the
# committed generated/ differs.
# deploy/kubernetes is checked offline (no cluster runs here) in a nested module, since the
# Kubernetes API types and kustomize are a build the main module does not need.
k8s-check: ## build deploy/kubernetes with kustomize and decode every object strictly against the Kubernetes API types
	@echo "==> deploy/kubernetes (kustomize build of base and agentgateway, strict decoding, synapse's and agentgateway's configs checked)"
	@cd deploy/kubernetes/validate && $(GO) test -count=1 ./...

istio-check: ## check Istio's translation: the manifests parse strictly, generated/ is what pilot makes of them
	@echo "==> gateway-configs/istio/check.sh (pilot's translation)"
	@gateway-configs/istio/check.sh

vet: ## go vet every package
	@$(GO) vet ./...

# Every `func FuzzX` in a _test.go file is a target; each runs alone (go test -fuzz takes one
# package and one target) for FUZZTIME. New inputs that widen coverage stay in Go's cache; a
# failing input is written to the package's testdata/fuzz and fails the run.
FUZZTIME ?= 10s

fuzz: ## run each go test -fuzz target for FUZZTIME (default 10s)
	@conformance/tools/fuzz.sh $(GO) $(FUZZTIME)

# --- Containers (docker/) -------------------------------------------------------------------
# The conformance and security suites once more with every component in a container
# (conformance/runtime/container): hopguard's commands, Cerbos, Envoy and agentgateway from images
# built here (docker/build-images.sh; nothing is pulled). Every container joins the network
# namespace of one sandbox container (hopguard/pause:dev), whose only interface is loopback, and
# the test binary joins it too, as a Kubernetes pod's containers share its pause container's.
# docker/ensure-engine.sh
# finds or starts an engine; where none can run it prints "container runtime: not run (<reason>)"
# and exits 3, which is neither a pass nor a failure. The official images are the defaults of the
# runtime: set HOPGUARD_IMAGE_<NAME> (e.g. `make container-test HOPGUARD_IMAGE_CERBOS=ghcr.io/cerbos/cerbos:0.55.0`)
# to run another. agentgateway's stand-in is built from bin/agentgateway (make tools): where
# neither it nor the official image is on the engine its column is "not run" with the reason. The reports
# (out/conformance/container/report.md, security.md) must then say they ran on the container
# runtime, so a suite that quietly fell back to processes cannot pass for it.
.PHONY: images container-test

# `make <target> RUNTIME=container`: the runtime a run uses, as harness.RuntimeNameFromEnv reads
# it (the conformance suite, the security suite, the demo; the benchmark measures processes).
ifneq ($(RUNTIME),)
export HOPGUARD_RUNTIME := $(RUNTIME)
endif

ENGINE_NOT_RUN := 3
# Cerbos's, Envoy's and agentgateway's official images cannot be pulled here: the stand-ins
# build-images.sh makes (agentgateway's only where bin/agentgateway is installed).
HOPGUARD_IMAGE_CERBOS ?= hopguard/cerbos:dev
HOPGUARD_IMAGE_ENVOY ?= hopguard/envoy:dev
HOPGUARD_IMAGE_AGENTGATEWAY ?= hopguard/agentgateway:dev
ifeq ($(HOPGUARD_RUNTIME),container)
export HOPGUARD_IMAGE_CERBOS HOPGUARD_IMAGE_ENVOY HOPGUARD_IMAGE_AGENTGATEWAY
endif
# The packages that run on the runtime HOPGUARD_RUNTIME names, one at a time (-p 1): two whole
# environments of containers at once on a small machine would starve the fault drills' timeouts.
CONTAINER_TEST_PKGS := ./conformance ./conformance/security ./conformance/runtime/container
CONTAINER_REPORTS := out/conformance/container
CONTAINER_TEST_ENV := HOPGUARD_RUNTIME=container \
	HOPGUARD_IMAGE_CERBOS=$(HOPGUARD_IMAGE_CERBOS) HOPGUARD_IMAGE_ENVOY=$(HOPGUARD_IMAGE_ENVOY) \
	HOPGUARD_IMAGE_AGENTGATEWAY=$(HOPGUARD_IMAGE_AGENTGATEWAY)

images: tools ## build hopguard's container images locally (hopguard/<name>:dev)
	@docker/build-images.sh

container-test: tools ## the conformance and security suites on the container runtime (not run where no engine can)
	@set -e; status=0; docker/ensure-engine.sh || status=$$?; \
	if [ $$status -eq $(ENGINE_NOT_RUN) ]; then exit 0; fi; \
	if [ $$status -ne 0 ]; then exit $$status; fi; \
	docker/build-images.sh; \
	rm -f $(CONTAINER_REPORTS)/report.json $(CONTAINER_REPORTS)/security.json; \
	echo "==> HOPGUARD_RUNTIME=container go test $(CONTAINER_TEST_PKGS)"; \
	$(CONTAINER_TEST_ENV) $(GO) test -count=1 -p 1 $(CONTAINER_TEST_PKGS); \
	for report in report.json security.json; do \
		grep -q '"runtime": *"container"' $(CONTAINER_REPORTS)/$$report || \
			{ echo "container-test: $(CONTAINER_REPORTS)/$$report was not made on the container runtime (the suites must take harness.RuntimeNameFromEnv())" >&2; exit 1; }; \
	done; \
	echo "container-test: reports in $(CONTAINER_REPORTS)/report.md and security.md"
