# hopguard's entry points. `make demo` and `make test` are the two a newcomer needs; both install
# the pinned real binaries (Cerbos, Envoy) into ./bin first.

BIN := $(CURDIR)/bin
GO ?= go
export HOPGUARD_BIN := $(BIN)

.PHONY: help tools demo conformance test policy-test go-test vet bench fuzz istio-check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

tools: ## install Cerbos 0.55.0 and Envoy 1.40.0 into ./bin (a no-op when present)
	@conformance/tools/install.sh $(BIN) cerbos
	@conformance/tools/install.sh $(BIN) envoy

demo: tools ## bring the environment up and play the story hop by hop (trail in out/demo/trail.md)
	@$(GO) run ./conformance/cmd/demo

conformance: tools ## run every scenario behind every gateway; report in out/conformance/report.md
	@$(GO) test -count=1 ./conformance

bench: tools ## what a governed hop costs: 4 targets side by side, one run (out/bench/report.md)
	@$(GO) run ./conformance/cmd/bench

test: tools policy-test go-test fuzz istio-check ## policy test suites, every Go test, each fuzz target briefly, Istio's translation

policy-test: tools ## compile policies/ and run its Cerbos test suites
	@echo "==> cerbos compile policies (policy test suites)"
	@$(BIN)/cerbos compile policies/bundle

go-test: tools ## run the Go tests (real Cerbos and Envoy from ./bin)
	@echo "==> go test ./..."
	@$(GO) test ./...

# Istio's pilot is a heavy build (6-13 minutes cold on 2 cores, seconds once cached), so it lives in
# a nested module; this regenerates its translation of gateway-configs/istio and fails when the
# committed generated/ differs.
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
	@set -e; for file in $$(grep -rl --include='*_test.go' --exclude-dir=out --exclude-dir=.git '^func Fuzz' . | sort); do \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
			echo "==> go test -fuzz $$target $$(dirname $$file) ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$(dirname $$file); \
		done; \
	done
