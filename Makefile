# castore — build, test, run, lint, bench, tools.
#
# `make test` installs the pinned tools it needs into ./bin (ignored by git)
# and runs everything. `make run` serves on the embedded local default.

SHELL := /usr/bin/env bash
GO    ?= go
BIN   := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)
export GOFLAGS ?=

# Pinned tool versions. Each tool is installed with `go install` into ./bin;
# a stamp file per version makes a version change reinstall it.
STATICCHECK_VERSION        := v0.8.2
BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
MINIO_VERSION              := v0.0.0-20260212201848-7aac2a2c5b7c
FAKE_GCS_VERSION           := v1.56.1

TOOL_PKGS := \
	staticcheck=honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) \
	buf=github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION) \
	protoc-gen-go=google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION) \
	protoc-gen-go-grpc=google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION) \
	minio=github.com/minio/minio@$(MINIO_VERSION) \
	fake-gcs-server=github.com/fsouza/fake-gcs-server@$(FAKE_GCS_VERSION)

tool_name = $(word 1,$(subst =, ,$(1)))
tool_pkg  = $(word 2,$(subst =, ,$(1)))
tool_ver  = $(word 2,$(subst @, ,$(call tool_pkg,$(1))))
TOOL_STAMPS := $(foreach t,$(TOOL_PKGS),$(BIN)/.$(call tool_name,$(t))@$(call tool_ver,$(t)))

PKGS := ./...
TEST_TIMEOUT ?= 40m

.PHONY: all build test unit lint proto proto-check tools run bench clean

all: build

build:
	$(GO) build ./...
	$(GO) build -o $(BIN)/castore ./cmd/castore

## run: serve on 127.0.0.1:8000 with the embedded local stores
## (DATA_DIR defaults to $$XDG_DATA_HOME/castore or ~/.local/share/castore).
run: build
	$(BIN)/castore serve $(if $(DATA_DIR),--data-dir $(DATA_DIR))

## tools: install every pinned tool into ./bin.
tools: $(TOOL_STAMPS)

define tool_rule
$(BIN)/.$(call tool_name,$(1))@$(call tool_ver,$(1)):
	@mkdir -p $(BIN)
	@echo "installing $(call tool_pkg,$(1))"
	GOBIN=$(BIN) $(GO) install $(call tool_pkg,$(1))
	@rm -f $(BIN)/.$(call tool_name,$(1))@* && touch $$@
endef
$(foreach t,$(TOOL_PKGS),$(eval $(call tool_rule,$(t))))

## test: everything CI runs: tools, generated-code check, lint, all tests.
test: tools proto-check lint unit

unit:
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

## lint: gofmt, go vet, staticcheck.
lint: $(BIN)/.staticcheck@$(STATICCHECK_VERSION)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(BIN)/staticcheck $(PKGS)

## proto: regenerate grpcapi/castorepb from grpcapi/proto.
proto: $(BIN)/.buf@$(BUF_VERSION) $(BIN)/.protoc-gen-go@$(PROTOC_GEN_GO_VERSION) $(BIN)/.protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	cd grpcapi/proto && $(BIN)/buf generate

## proto-check: fail if the checked-in generated code is stale.
proto-check: proto
	@git diff --exit-code -- grpcapi/castorepb || { echo "generated code in grpcapi/castorepb is stale: run 'make proto' and commit"; exit 1; }

## bench: micro-benchmarks (end-to-end ones join as they land).
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

## bench-e2e: the end-to-end benchmarks, once each (they skip without
## CASTORE_BENCH_E2E): issue 7, 1 GiB of real data through gRPC against in
## process; issue 8, importing GOROOT against tar | zstd. Ratios in the log.
.PHONY: bench-e2e
bench-e2e:
	CASTORE_BENCH_E2E=1 $(GO) test -run '^$$' -bench 'E2E' -benchtime 1x -timeout 60m ./grpcapi/ ./cmd/castore/
bench: bench-e2e

clean:
	rm -rf $(BIN)
