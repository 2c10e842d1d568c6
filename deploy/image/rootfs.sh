#!/bin/sh
# rootfs.sh OUT: the files of castore's container image, in four trees that
# the Dockerfile's final stage copies in as four layers:
#
#   OUT/base/   /etc (passwd and group with the user nonroot, 65532; CA
#               certificates; nsswitch.conf), /tmp (1777), /var/cache
#   OUT/data/   /data, the default --data-dir, owned by 65532 (COPY --chown)
#   OUT/cache/  /var/cache/castore ($XDG_CACHE_HOME/castore), owned by 65532
#   OUT/bin/    /usr/local/bin/castore, static, with VERSION and REVISION
#               in `castore version`
#
# Both builds run it: the Dockerfile's build stage (docker build), and
# `make image` on the build machine, whose output replaces that stage
# (--build-context build=DIR), so no Go image is pulled. No shell, no
# package manager: the image has only these files.
#
# Environment: VERSION, REVISION (required); GO (default go); GOOS and
# GOARCH (default linux and the toolchain's); CA_BUNDLE (default Debian's
# /etc/ssl/certs/ca-certificates.crt).
set -eu

out=${1:?usage: rootfs.sh OUT}
: "${VERSION:?VERSION is not set}" "${REVISION:?REVISION is not set}"
GO=${GO:-go}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -f "$CA_BUNDLE" ] || { echo "rootfs.sh: no CA bundle at $CA_BUNDLE (apt-get install ca-certificates, or set CA_BUNDLE)" >&2; exit 1; }
src=$(cd "$(dirname "$0")/../.." && pwd)

rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
mkdir -p "$out/base/etc/ssl/certs" "$out/base/tmp" "$out/base/var/cache" \
	"$out/data/data" "$out/cache/castore" "$out/bin/usr/local/bin"

# The same bytes and modes whatever the umask; the image build sets every
# timestamp (--timestamp / SOURCE_DATE_EPOCH) and owner (COPY --chown).
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/data:/sbin/nologin\n' >"$out/base/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$out/base/etc/group"
printf 'hosts: files dns\n' >"$out/base/etc/nsswitch.conf"
cp "$CA_BUNDLE" "$out/base/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$out/base/etc/passwd" "$out/base/etc/group" "$out/base/etc/nsswitch.conf" "$out/base/etc/ssl/certs/ca-certificates.crt"
find "$out" -type d -exec chmod 0755 {} +
chmod 1777 "$out/base/tmp"

# Reproducible: no cgo, no paths of this machine (-trimpath), no VCS stamp
# (a Docker build context has no .git: VERSION and REVISION say it), no
# symbol table, an empty build ID.
cd "$src"
CGO_ENABLED=0 GOOS=${GOOS:-linux} GOARCH=${GOARCH:-$("$GO" env GOARCH)} \
	"$GO" build -trimpath -buildvcs=false \
	-ldflags "-s -w -buildid= -X main.version=$VERSION -X main.revision=$REVISION" \
	-o "$out/bin/usr/local/bin/castore" ./cmd/castore
chmod 0755 "$out/bin/usr/local/bin/castore"
