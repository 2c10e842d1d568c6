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
# The Bigtable emulator is the one shipped with the client library in go.mod.
BIGTABLE_EMULATOR_VERSION  := v1.58.0
HELM_VERSION               := v3.21.4
TERRAFORM_VERSION          := v1.5.7
# toxiproxy makes loopback links slow for the network tests and bench-wan.
TOXIPROXY_VERSION          := v2.12.0

TOOL_PKGS := \
	staticcheck=honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) \
	buf=github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION) \
	protoc-gen-go=google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION) \
	protoc-gen-go-grpc=google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION) \
	minio=github.com/minio/minio@$(MINIO_VERSION) \
	fake-gcs-server=github.com/fsouza/fake-gcs-server@$(FAKE_GCS_VERSION) \
	emulator=cloud.google.com/go/bigtable/cmd/emulator@$(BIGTABLE_EMULATOR_VERSION) \
	helm=helm.sh/helm/v3/cmd/helm@$(HELM_VERSION) \
	terraform=github.com/hashicorp/terraform@$(TERRAFORM_VERSION) \
	toxiproxy-server=github.com/Shopify/toxiproxy/v2/cmd/server@$(TOXIPROXY_VERSION)

tool_name = $(word 1,$(subst =, ,$(1)))
tool_pkg  = $(word 2,$(subst =, ,$(1)))
tool_ver  = $(word 2,$(subst @, ,$(call tool_pkg,$(1))))
# tool_built is the name go install gives the binary (the package's last
# element); a tool named otherwise is renamed after installing.
tool_built = $(notdir $(word 1,$(subst @, ,$(call tool_pkg,$(1)))))
TOOL_STAMPS := $(foreach t,$(TOOL_PKGS),$(BIN)/.$(call tool_name,$(t))@$(call tool_ver,$(t)))

PKGS := ./...
TEST_TIMEOUT ?= 40m

.PHONY: all build test unit race lint proto proto-check tools run bench bench-store bench-gc loadtest clean image image-name image-check deploy-check

all: build

build:
	$(GO) build ./...
	$(GO) build -o $(BIN)/castore ./cmd/castore

## run: serve on 127.0.0.1:8000 with the embedded local stores
## (DATA_DIR defaults to $$XDG_DATA_HOME/castore or ~/.local/share/castore).
run: build
	$(BIN)/castore serve $(if $(DATA_DIR),--data-dir $(DATA_DIR))

## image: the container image as an OCI archive ($(IMAGE_ARCHIVE)), built
## with podman from the Dockerfile with no registry and no daemon: the
## binary and the base files are made here (deploy/image/rootfs.sh) and
## replace the Dockerfile's golang stage. Tagged $(IMAGE), the chart's
## default image; every timestamp is the commit's (SOURCE_DATE_EPOCH), so
## a commit gives the same digest each time. Needs podman
## (apt-get install podman); keeps its own store in $(IMAGE_DIR).
## `docker build .` builds the same Dockerfile on a machine with a registry.
IMAGE_REPO        ?= ghcr.io/castore-go/castore
VERSION           ?= $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' helm/castore/Chart.yaml)
# REVISION: the commit, "-dirty" if the tree has changes (worked out once).
REVISION          ?= $(eval REVISION := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)$(if $(shell git status --porcelain 2>/dev/null),-dirty))$(REVISION)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
IMAGE             ?= $(IMAGE_REPO):$(VERSION)
IMAGE_DIR         ?= $(BIN)/image
IMAGE_ARCHIVE     ?= $(IMAGE_DIR)/castore.oci.tar
PODMAN            ?= podman
PODMAN_STORE      ?= --root $(IMAGE_DIR)/storage --runroot $(IMAGE_DIR)/run --storage-driver vfs
image:
	@command -v $(PODMAN) >/dev/null || { echo "make image needs podman: apt-get install podman"; exit 1; }
	VERSION=$(VERSION) REVISION=$(REVISION) GO=$(GO) sh deploy/image/rootfs.sh $(IMAGE_DIR)/context/rootfs
	$(PODMAN) $(PODMAN_STORE) build --build-context build=$(IMAGE_DIR)/context \
	  --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
	  --timestamp $(SOURCE_DATE_EPOCH) --identity-label=false -t $(IMAGE) .
	rm -rf $(IMAGE_DIR)/oci $(IMAGE_ARCHIVE)
	$(PODMAN) $(PODMAN_STORE) push -q --compression-format gzip $(IMAGE) oci:$(IMAGE_DIR)/oci:$(IMAGE)
	tar -C $(IMAGE_DIR)/oci --sort=name --mtime=@$(SOURCE_DATE_EPOCH) --owner=0 --group=0 --numeric-owner -cf $(IMAGE_ARCHIVE) .
	@echo "image $(IMAGE) in $(IMAGE_ARCHIVE): load it with 'podman load -i' or push it with"
	@echo "  skopeo copy oci-archive:$(IMAGE_ARCHIVE) docker://$(IMAGE)"

## image-name: the name make image tags (the chart's default image).
image-name:
	@echo $(IMAGE)

## image-check: make image, then check the archive (user, entrypoint,
## labels, layers, no shell, size) and run it read-only as its own user:
## with podman (IMAGE_RUNNER=podman, the default) or, where a machine
## allows no containers, from its unpacked root filesystem, chrooted
## (IMAGE_RUNNER=chroot, needs root); it must report SERVING and take and
## give back a blob, and `castore version` must match the labels.
## PODMAN_RUN_FLAGS are what a sandbox like this one needs to run a
## container at all: crun refuses hybrid cgroups, and podman's default
## rlimits (nofile 1048576) exceed what a process without CAP_SYS_RESOURCE
## may set, so runc with cgroupfs and rlimits no higher than ours.
IMAGE_RUNNER     ?= podman
PODMAN_RUN_FLAGS ?= --runtime runc --cgroup-manager cgroupfs \
  --ulimit nofile=$(shell ulimit -Hn):$(shell ulimit -Hn) --ulimit nproc=4096:4096
image-check: image
	CASTORE_IMAGE_ARCHIVE=$(IMAGE_ARCHIVE) CASTORE_IMAGE=$(IMAGE) CASTORE_IMAGE_RUNNER=$(IMAGE_RUNNER) \
	CASTORE_IMAGE_VERSION=$(VERSION) CASTORE_IMAGE_REVISION=$(REVISION) \
	CASTORE_PODMAN="$(PODMAN) $(PODMAN_STORE)" CASTORE_PODMAN_RUN_FLAGS="$(PODMAN_RUN_FLAGS)" \
	  $(GO) test -tags imagecheck -count=1 -v -run '^TestImage' ./deploy/image

## tools: install every pinned tool into ./bin.
tools: $(TOOL_STAMPS)

define tool_rule
$(BIN)/.$(call tool_name,$(1))@$(call tool_ver,$(1)):
	@mkdir -p $(BIN)
	@echo "installing $(call tool_pkg,$(1))"
	GOBIN=$(BIN) $(GO) install $(call tool_pkg,$(1))
	$(if $(filter-out $(call tool_name,$(1)),$(call tool_built,$(1))),mv -f $(BIN)/$(call tool_built,$(1)) $(BIN)/$(call tool_name,$(1)))
	@rm -f $(BIN)/.$(call tool_name,$(1))@* && touch $$@
endef
$(foreach t,$(TOOL_PKGS),$(eval $(call tool_rule,$(t))))

## test: everything CI runs: tools, generated-code check, lint, deployment
## checks, the container image (built and run: under a minute once the Go
## build cache is warm; needs podman), all tests.
test: tools proto-check lint deploy-check image-check unit allocs

## deploy-check: helm lint and helm template of helm/castore (defaults and
## examples) decoded strictly into the Kubernetes API types, the schema's
## refusals, the rendered serve args run through castore's flag parser and
## served (health SERVING, /metrics),
## terraform fmt -check and an HCL reference check of terraform/. Needs no
## cluster, no container engine and no provider plugins.
deploy-check: $(BIN)/.helm@$(HELM_VERSION) $(BIN)/.terraform@$(TERRAFORM_VERSION)
	$(GO) test -count=1 ./deploy/...
	$(GO) test -count=1 -run '^TestChartServe' ./cmd/castore

## unit: every test, under the race detector (about 10 minutes on 2 cores
## under load, a third of that without it: races this project had showed up only under
## load, in tests that passed without -race). `make unit RACE=` runs them
## without it.
RACE ?= -race
unit:
	$(GO) test $(RACE) -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

## allocs: the tests that count what reusing buffers saves, without the
## race detector (under it sync.Pool drops what is put back, and they
## skip: testenv.AllocTest).
ALLOC_TESTS = ^(TestWriteReusesBuffers|TestPutBlobVerifyReusesBuffers)$$
.PHONY: allocs
allocs:
	$(GO) test -count=1 -run '$(ALLOC_TESTS)' ./chunkstore/ ./grpcapi/

## race: the same as unit; kept for the habit.
race: tools unit

## lint: gofmt, go vet, staticcheck.
lint: $(BIN)/.staticcheck@$(STATICCHECK_VERSION)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(BIN)/staticcheck $(PKGS)

## proto: regenerate castorepb from proto.
proto: $(BIN)/.buf@$(BUF_VERSION) $(BIN)/.protoc-gen-go@$(PROTOC_GEN_GO_VERSION) $(BIN)/.protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	cd proto && $(BIN)/buf generate

## proto-check: fail if the checked-in generated code is stale.
proto-check: proto
	@git diff --exit-code -- castorepb || { echo "generated code in castorepb is stale: run 'make proto' and commit"; exit 1; }

## bench: micro-benchmarks (end-to-end ones join as they land).
bench: bench-store
	$(GO) test -run '^$$' -bench . -skip '$(BENCH_STORE)' -benchmem $(PKGS)

## bench-store: the store benchmarks of issues 4 and 5, once each: 512 MiB
## through chunked-on-file (ratios to the in-process limit, peak RSS) and a
## 10,000-directory closure on every DirectoryService (dirs/s). `bench`
## skips them in its own run.
BENCH_STORE := ^Benchmark(ChunkedFile512MiB|DirClosure)$$
bench-store:
	$(GO) test -run '^$$' -bench '$(BENCH_STORE)' -benchtime 1x -benchmem ./chunkstore/ ./dirstore/

## loadtest: 200 concurrent clients for 60 s against `castore serve` (the
## embedded default, then MinIO as the far store, then MinIO stopped for
## 10 s during the load); prints p50/p99 per RPC and throughput.
loadtest: tools
	$(GO) test ./internal/loadtest -count=1 -v -timeout 30m -args -clients 200 -duration 60s -fault 10s

## bench-e2e: the end-to-end benchmarks, once each (they skip without
## CASTORE_BENCH_E2E): issue 7, 1 GiB of real data through gRPC against in
## process; issue 8, importing GOROOT against tar | zstd. Ratios in the log.
.PHONY: bench-e2e
bench-e2e:
	CASTORE_BENCH_E2E=1 $(GO) test -run '^$$' -bench 'E2E' -benchtime 1x -timeout 60m ./grpcapi/ ./cmd/castore/
bench: bench-e2e

## bench-gc: garbage collection's figures (issue 22), once each: a run on
## MinIO over 100,000 chunk objects, half dead (time, object store calls
## by op, peak RSS), and the mark of a closure naming 1,000,000 chunks on
## file:// at two live-set run sizes (time, peak RSS). Minutes; not in
## `make test` or `make bench`.
.PHONY: bench-gc
bench-gc: tools
	CASTORE_BENCH_GC=1 $(GO) test -run '^$$' -bench '^BenchmarkGC' -benchtime 1x -timeout 60m -v ./cmd/castore/

## bench-local: the embedded store and the caches on the local disk
## (issue 20): GOROOT imports against restic 0.18's backup and tar | zstd,
## re-imports, an import beside a 1 GiB writer, 10,000 against 40,000
## random files, a cold mount read against the disk. restic is installed
## into ./bin for this benchmark only.
RESTIC_VERSION := v0.18.0
.PHONY: bench-local
bench-local: tools $(BIN)/.restic@$(RESTIC_VERSION)
	CASTORE_BENCH_LOCAL=1 $(GO) test -run '^$$' -bench 'Local' -benchtime 1x -timeout 1h -v ./cmd/castore/
$(BIN)/.restic@$(RESTIC_VERSION):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install github.com/restic/restic/cmd/restic@$(RESTIC_VERSION)
	@rm -f $(BIN)/.restic@* && touch $@

## bench-wan: reads and writes over a slow link (toxiproxy in front of
## castore serve, or of MinIO behind a frontend), at the round trips in
## CASTORE_WAN_RTTS (default 1ms,10ms,50ms; GOROOT-wide figures at
## CASTORE_WAN_GOROOT_RTTS, default 10ms), each as a ratio against the same
## over loopback in the same run.
.PHONY: bench-wan
bench-wan: tools
	CASTORE_BENCH_WAN=1 $(GO) test -run '^$$' -bench 'WAN' -benchtime 1x -timeout 3h -v ./cmd/castore/

## bench-fleet: three castore serve frontends on one MinIO under 200
## clients for CASTORE_FLEET_SECONDS (default 60), one frontend in turn
## killed (or, every fourth time, drained with SIGTERM) every 10 s and
## started again 3 s later: calls/s, failed calls by code, and how soon each
## restarted frontend had calls again. TestFleet is the short form.
.PHONY: bench-fleet
bench-fleet: tools
	CASTORE_BENCH_FLEET=1 $(GO) test -run '^$$' -bench 'Fleet' -benchtime 1x -timeout 30m -v ./cmd/castore/

clean:
	rm -rf $(BIN)
