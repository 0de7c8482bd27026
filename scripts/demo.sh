#!/bin/bash
# The main job: make sure pouchd runs, make sure the demo image exists, run a container.
# Idempotent: a second run reuses the running daemon and the imported image.
set -euo pipefail
cd "$(dirname "$0")/.."
POUCH=.venv/bin/pouch
SOCK=${POUCH_SOCK:-/var/run/pouchd.sock}
export POUCH_HOST=unix://$SOCK

if ! $POUCH version >/dev/null 2>&1; then
    echo "starting pouchd (log: /var/log/pouchd.log)"
    setsid .venv/bin/pouchd -H "unix://$SOCK" >>/var/log/pouchd.log 2>&1 < /dev/null &
    for _ in $(seq 100); do
        $POUCH version >/dev/null 2>&1 && break
        sleep 0.1
    done
    $POUCH version >/dev/null || { echo "pouchd did not start; see /var/log/pouchd.log" >&2; tail -20 /var/log/pouchd.log >&2; exit 1; }
fi

if ! $POUCH image inspect busybox:latest >/dev/null 2>&1; then
    echo "building the busybox demo image from Debian's busybox-static"
    tarball=$(mktemp --suffix=.tar)
    scripts/mkbusybox-rootfs.sh "$tarball"
    $POUCH import "$tarball" busybox:latest --change 'CMD ["sh"]' --message "busybox from Debian's busybox-static"
    rm -f "$tarball"
fi

echo "+ pouch run --rm busybox ..."
$POUCH run --rm --name pouch-demo busybox sh -c '
    echo "Hello from a Pouch container!"
    echo "  hostname:  $(hostname)"
    echo "  pid:       $$ (its own pid namespace)"
    echo "  address:   $(ip -o -4 addr show eth0 | awk "{print \$4}")"
    echo "  user:      $(id)"
    echo "  env:       container=$container"'
echo
$POUCH ps -a
echo "pouchd is running on $POUCH_HOST; try: $POUCH run -it --rm busybox sh"
