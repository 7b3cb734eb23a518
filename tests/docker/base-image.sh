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

# The Debian mirror this machine's apt already uses, never a host written
# here: the first URIs: of /etc/apt/sources.list.d/*.sources, else the first
# deb line of /etc/apt/sources.list. COVSHIP_DEBIAN_MIRROR overrides it (and
# COVSHIP_DEBIAN_SECURITY_MIRROR the security archive's).
apt_uri() { # $1: 1 for the security archive's stanza, 0 for the others
	awk -v sec="$1" '
		/^[ \t]*$/ { if (u != "" && s != "" && (s ~ /-security/) == sec) { print u; exit } u = s = "" }
		/^URIs:/ { u = $2 } /^Suites:/ { s = $0 }
		END { if (u != "" && s != "" && (s ~ /-security/) == sec) print u }
	' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1 || true
}
mirror=${COVSHIP_DEBIAN_MIRROR:-$(apt_uri 0)}
security=${COVSHIP_DEBIAN_SECURITY_MIRROR:-$(apt_uri 1)}
if [ -z "$mirror" ]; then
	mirror=$(awk '$1 == "deb" && $3 !~ /-security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
	[ -n "$security" ] || security=$(awk '$1 == "deb" && $3 ~ /-security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
[ -n "$mirror" ] || {
	echo "base-image: no Debian mirror in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list; set COVSHIP_DEBIAN_MIRROR=URL" >&2
	exit 1
}
[ -n "$security" ] || security=${mirror}-security

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
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
tar -C "$root" -c . | $P import - "$img" >/dev/null
echo "base-image: built $img" >&2
