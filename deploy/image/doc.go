// Package image checks castore's container image (make image-check): the
// OCI archive that `make image` writes, read as files (user, entrypoint,
// labels, layers, every file's path, owner and mode, no shell, size), then
// run read-only as its own user, with podman or chrooted into its unpacked
// root filesystem, and spoken to over gRPC (health, a blob put and read
// back, metrics). deploy/image/rootfs.sh makes the image's files for both
// the Dockerfile and make image. It has no code of its own; the check is
// its test, built only with -tags imagecheck (it needs the archive, and
// podman or root), so `go test ./...` leaves it out.
package image
