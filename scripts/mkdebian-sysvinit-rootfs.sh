#!/bin/bash
# Build a Debian bookworm root filesystem tarball whose /sbin/init is sysvinit
# (sysvinit-core), for the sbin-init rich-container tests. Takes a minute: the
# result is cached, pass the cache path.
# Usage: scripts/mkdebian-sysvinit-rootfs.sh OUT.tar [MIRROR]
set -euo pipefail
out=${1:?usage: $0 OUT.tar [MIRROR]}
mirror=${2:-http://deb.debian.org/debian}
[[ -s $out ]] && exit 0
command -v debootstrap >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}
dir=$(mktemp -d "${out}.rootfs.XXXXXX")
trap 'rm -rf "$dir"' EXIT
echo "debootstrap: building a Debian bookworm rootfs with sysvinit (about a minute, cached in $out)" >&2
debootstrap --variant=minbase --include=sysvinit-core,procps \
    bookworm "$dir" "$mirror" >"${out}.debootstrap.log" 2>&1 \
    || { echo "debootstrap failed; see ${out}.debootstrap.log" >&2; exit 1; }
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
tar --numeric-owner --xattrs -C "$dir" -cf "${out}.tmp" .
mv "${out}.tmp" "$out"
