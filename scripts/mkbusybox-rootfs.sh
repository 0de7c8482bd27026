#!/bin/bash
# Build a small root filesystem tarball from Debian's busybox-static:
# /bin/busybox, a symlink for every applet, /etc/passwd and /etc/group with
# root, nobody and a "pouch" user (uid 1000), and the usual empty directories.
# Usage: scripts/mkbusybox-rootfs.sh OUT.tar
set -euo pipefail
out=${1:?usage: $0 OUT.tar}
busybox=/bin/busybox
[[ -x $busybox ]] || { echo "busybox-static is not installed ($busybox missing)" >&2; exit 1; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"/{bin,sbin,etc,dev,proc,sys,tmp,root,home/pouch,var/log,usr/bin,usr/sbin,run}
chmod 755 "$dir"
chmod 1777 "$dir/tmp"
cp "$busybox" "$dir/bin/busybox"
for applet in $("$busybox" --list-full); do
    target="$dir/$applet"
    [[ -e $target || $applet == bin/busybox ]] && continue
    mkdir -p "$(dirname "$target")"
    ln -s /bin/busybox "$target"
done
cat > "$dir/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
pouch:x:1000:1000:pouch user:/home/pouch:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$dir/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
tty:x:5:
wheel:x:10:pouch
pouch:x:1000:
nogroup:x:65534:
GROUP
chown 1000:1000 "$dir/home/pouch"
tar --numeric-owner -C "$dir" -cf "$out" .
