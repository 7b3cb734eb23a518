#!/bin/sh
# Build the local stand-in for debian:bookworm-slim (no registry is reachable
# here): debootstrap --variant=minbase, imported as localhost/bookworm:base.
# Skips the work when the image exists. Safe to run concurrently: a lock
# serialises builders.
#   tests/docker/base-image.sh [IMAGE]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/podman.sh"
img=${1:-$BASE_IMAGE}
mirror=${COVSHIP_DEBIAN_MIRROR:-http://deb.debian.org/debian}

exists() { $P image exists "$img"; }
exists && exit 0

lock=/tmp/covship-base-image.lock
exec 9>"$lock"
flock 9
exists && exit 0

root=$(mktemp -d /tmp/covship-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base-image: debootstrap bookworm into $root (about 30 s)" >&2
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
	tail -20 "$root.log" >&2
	rm -f "$root.log"
	echo "base-image: debootstrap failed; check the Debian mirror $mirror" >&2
	exit 1
}
rm -f "$root.log"
# Closer to debian:bookworm-slim: deb822 sources (with security updates),
# no apt lists, no caches.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror}-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
tar -C "$root" -c . | $P import - "$img" >/dev/null
echo "base-image: built $img" >&2
