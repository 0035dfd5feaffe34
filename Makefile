# broker's tasks. `make help` lists them.
SHELL := /bin/bash
GO    ?= go
BIN   ?= bin/broker
PKGS  := ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: help deps build test race lint fuzz-smoke bench demo images clean

help: ## list the tasks
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/broker
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/broker

deps: ## install the packages the tests need (sshd, etcd, podman, debootstrap) and build the test images
	bash test/deps.sh

test: deps build ## install what is missing, then run every test with the race detector
	$(GO) test -race -count=1 -parallel 4 -timeout 14m $(PKGS)

race: ## run the tests of the concurrent packages under the race detector, several times
	$(GO) test -race -count=3 ./state/... ./executor/... ./providers/sim/...

lint: ## gofmt, go vet, staticcheck and go mod tidy -diff
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@sc=$$($(GO) env GOPATH)/bin/staticcheck; if [ ! -x $$sc ]; then $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2; fi; $$sc $(PKGS)

fuzz-smoke: ## run each fuzz target for a few seconds
	$(GO) test -run '^$$' -fuzz '^FuzzLoadSources$$' -fuzztime 10s ./manifest
	$(GO) test -run '^$$' -fuzz '^FuzzCompile$$' -fuzztime 10s ./filter
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 10s ./filter
	$(GO) test -run '^$$' -fuzz '^FuzzLoadSettings$$' -fuzztime 10s ./manifest
	$(GO) test -run '^$$' -fuzz '^FuzzConvertSettings$$' -fuzztime 10s ./internal/pyconfig
	$(GO) test -run '^$$' -fuzz '^FuzzFastDecoder$$' -fuzztime 10s ./state/bolt

bench: build ## run the benchmarks against the peer tools; figures go to BENCHMARKS.md
	bash test/deps.sh --bench
	bash test/bench/run.sh

images: ## build the local test images (broker-sshd:bookworm, broker-busybox:latest)
	bash test/images/build.sh

demo: deps build ## check out the quickstart's hosts, run a command on them, list and destroy them
	bash examples/demo.sh

clean: ## remove build output
	rm -rf bin
