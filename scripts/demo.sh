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

# The rich container: a Debian image whose systemd is pid 1, without --privileged, with the
# services a legacy VM workload expects (cron, rsyslog, sshd) and the app as a supervised unit.
DEBIAN_TAR=${POUCH_DEMO_CACHE:-/var/cache/pouch}/debian-systemd.tar
mkdir -p "$(dirname "$DEBIAN_TAR")"
scripts/mkdebian-systemd-rootfs.sh "$DEBIAN_TAR"
if ! $POUCH image inspect debian-systemd:bookworm >/dev/null 2>&1; then
    $POUCH import "$DEBIAN_TAR" debian-systemd:bookworm --message "Debian bookworm with systemd, cron, rsyslog, sshd"
fi
$POUCH rm -f rich-demo >/dev/null 2>&1 || true
echo
echo "+ pouch run -d --name rich-demo --rich --rich-mode systemd debian-systemd:bookworm <legacy app>"
$POUCH run -d --name rich-demo --rich --rich-mode systemd debian-systemd:bookworm \
    sh -c 'while true; do echo "legacy app: serving requests at $(date +%T)"; sleep 5; done' >/dev/null
state=
for _ in $(seq 100); do
    state=$($POUCH exec rich-demo systemctl is-system-running 2>/dev/null || true)
    [[ $state == running ]] && break
    sleep 0.1
done
echo "+ pouch exec rich-demo systemctl is-system-running      -> $state"
echo "+ pouch exec rich-demo systemctl is-active cron rsyslog ssh pouch-app"
$POUCH exec rich-demo systemctl is-active cron rsyslog ssh pouch-app | paste -sd' ' | sed 's/^/    /'
echo "+ pouch exec rich-demo ps -e -o pid,comm     (pid 1 is systemd)"
$POUCH exec rich-demo ps -e -o pid,comm | head -12 | sed 's/^/    /'
echo "+ pouch inspect -f '{{.HostConfig.Privileged}}' rich-demo -> $($POUCH inspect -f '{{.HostConfig.Privileged}}' rich-demo)"
sleep 1
echo "+ pouch logs rich-demo      (the app's output)"
$POUCH logs rich-demo | grep "legacy app" | tail -2 | sed 's/^/    /'
echo
$POUCH ps -a
echo
echo "pouchd is running on $POUCH_HOST (log: /var/log/pouchd.log); rich-demo keeps running."
echo "try: $POUCH exec -it rich-demo bash    or    $POUCH run -it --rm busybox sh"
