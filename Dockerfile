# syntax=docker/dockerfile:1
#
# castore's container image: one static binary on a base of a few files
# (deploy/image/rootfs.sh makes them), no shell, no package manager, no
# base image. It runs as nonroot (65532) with a read-only root filesystem,
# writing only to /data (the default --data-dir) and /var/cache/castore
# ($XDG_CACHE_HOME/castore): mount volumes there.
#
# Two ways to build it, the same file:
#   docker build --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
#       compiles in the golang stage below (add --build-arg
#       SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) with BuildKit for
#       reproducible timestamps);
#   make image
#       compiles on the build machine and replaces the build stage with
#       the result (podman build --build-context build=DIR), so it needs no
#       registry and no daemon; it writes an OCI archive.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
ARG VERSION=devel
ARG REVISION=unknown
ARG TARGETOS=linux
ARG TARGETARCH
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    VERSION="$VERSION" REVISION="$REVISION" GOOS="$TARGETOS" GOARCH="$TARGETARCH" \
    sh deploy/image/rootfs.sh /rootfs

FROM scratch
ARG VERSION=devel
ARG REVISION=unknown
# Four layers: the base files (root's), the two writable directories
# (nonroot's), the binary (which alone changes from one version to the next).
COPY --from=build --chown=0:0 /rootfs/base/ /
COPY --from=build --chown=65532:65532 /rootfs/data/ /
COPY --from=build --chown=65532:65532 /rootfs/cache/ /var/cache/
COPY --from=build --chown=0:0 /rootfs/bin/ /
LABEL org.opencontainers.image.title="castore" \
      org.opencontainers.image.description="Content-addressed store for build outputs (tvix.castore.v1 BlobService and DirectoryService over gRPC)" \
      org.opencontainers.image.source="https://github.com/castore-go/castore" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
ENV XDG_CACHE_HOME=/var/cache
USER 65532:65532
# gRPC and Prometheus metrics (castore serve --listen / --metrics-listen).
EXPOSE 8000 9090
ENTRYPOINT ["/usr/local/bin/castore"]
CMD ["serve", "--listen=:8000", "--insecure-listen", "--data-dir=/data"]
