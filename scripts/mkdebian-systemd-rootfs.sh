#!/bin/bash
# Build a Debian bookworm root filesystem tarball with systemd, cron, rsyslog and
# openssh-server (the services a legacy VM workload expects), for rich-container
# tests and the demo. Takes minutes: the result is cached, pass the cache path.
# Usage: scripts/mkdebian-systemd-rootfs.sh OUT.tar [MIRROR]
set -euo pipefail
out=${1:?usage: $0 OUT.tar [MIRROR]}
mirror=${2:-http://deb.debian.org/debian}
[[ -s $out ]] && exit 0
command -v debootstrap >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}
dir=$(mktemp -d "${out}.rootfs.XXXXXX")
trap 'rm -rf "$dir"' EXIT
echo "debootstrap: building a Debian bookworm rootfs with systemd (a few minutes, cached in $out)" >&2
debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,cron,rsyslog,openssh-server,procps,iproute2 \
    bookworm "$dir" "$mirror" >"${out}.debootstrap.log" 2>&1 \
    || { echo "debootstrap failed; see ${out}.debootstrap.log" >&2; exit 1; }
# an image carries no machine identity: the engine gives each container its own
: > "$dir/etc/machine-id"
rm -f "$dir/var/lib/dbus/machine-id"
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
tar --numeric-owner --xattrs -C "$dir" -cf "${out}.tmp" .
mv "${out}.tmp" "$out"
