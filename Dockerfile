# syntax=docker/dockerfile:1
#
# castore: one static binary on a distroless base, running as a non-root
# user. Nothing is written to the root filesystem: run it with
# readOnlyRootFilesystem and give it an emptyDir (or a volume) for any
# local store or cache. Build with `make image`.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w" -o /out/castore ./cmd/castore \
 && mkdir -p /out/data

# distroless/static: CA certificates, /etc/passwd with the nonroot user
# (65532), no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/castore /usr/local/bin/castore
# The default data dir for the embedded stores, owned by the runtime user
# (a named volume mounted here inherits that). The Helm chart does not use
# it: it runs with --config and far stores.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
# gRPC and Prometheus metrics (castore serve --listen / --metrics-listen).
EXPOSE 8000 9090
ENTRYPOINT ["/usr/local/bin/castore"]
CMD ["serve", "--listen=:8000", "--insecure-listen", "--data-dir=/data"]
