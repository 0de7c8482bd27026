"""systemd mode: the image's systemd as pid 1, without ``--privileged``.

What systemd needs from the engine, following systemd's container interface:
- ``container=pouch`` and ``container_uuid`` in its environment, a fresh
  /etc/machine-id (written into the container's own layer: a bind mount would make
  systemd-machine-id-commit fail), tmpfs on /run, /run/lock, /tmp and /var/log/journal (unless
  the user mounts them), SIGRTMIN+3 to stop;
- a cgroup tree it may write, and only its own: a cgroup namespace, the
  controllers read-only as for any container, and the container's own
  ``name=systemd`` cgroup (cgroup v1 hybrid host) bind-mounted read-write at
  /sys/fs/cgroup/systemd (podman binds the host's whole hierarchy there);
- a console of its own, apart from the app's output (``init.sh``, below).

The image's CMD becomes ``pouch-app.service``: it waits until pouchd has run the
prestart hooks, runs with the container's Env, WorkingDir and User, writes to the
container's stdout and stderr (so ``pouch logs`` shows it, the two streams apart), runs
the poststop hooks in ExecStopPost, and when it ends, systemd exits with its exit status
(SuccessAction/FailureAction=exit), which becomes the container's.

The container's log is the app's only. pid 1 starts as ``init.sh`` (host busybox), which
execs systemd once it has set up:
- the app's stdio: systemd closes what it inherits and makes its own stdio /dev/null, so
  a ``sleep`` of busybox's started first keeps the container's stdout and stderr open,
  and ``/.pouch/run/stdout`` and ``stderr`` link to them (``/proc/PID/fd/1``, ``2``); the
  unit's ``StandardOutput=file:`` opens them as root, before it takes the app's user;
- systemd's console, which it opens (it must be a terminal) for every message: the
  image's script(1) (util-linux, in every Debian, Ubuntu and Fedora image) runs a pty
  whose output it appends to /.pouch/init.log (``<container dir>/init.log`` on the host:
  ``pouch logs --init``), and /dev/console links to that pty. Without script(1) in the
  image systemd has no console and its messages are lost. With ``-t`` the container has
  its terminal at /dev/console as before: console and app share it, and the log.

Pure functions build the unit, the environment file and the spec changes; the
service writes the files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pouch.models import RichOptions
from pouch.rich import layout

APP_UNIT = "pouch-app.service"
SYSTEMD_STOP_SIGNAL = "SIGRTMIN+3"
SYSTEMD_ARGS = ("--show-status=false", "--log-level=warning")
MACHINE_ID = "/etc/machine-id"
SYSTEMD_TMPFS = ("/run", "/run/lock", "/tmp", "/var/log/journal")
UNIT_SUFFIXES = (".service", ".timer", ".socket", ".path", ".target")
STDOUT_LINK, STDERR_LINK = "stdout", "stderr"  # in the run dir: the container's stdout and stderr (init.sh)


@dataclass(frozen=True)
class SystemdInput:
    rich: RichOptions
    container_id: str
    init: str  # systemd inside the container: /sbin/init or /lib/systemd/systemd
    app: tuple[str, ...]  # the app's argv ("" when the command is the init itself)
    busybox: str
    host_rich_dir: str
    host_run_dir: str
    cgroup_systemd_dir: str  # host path of the container's name=systemd cgroup, "" on cgroup v2
    user_targets: frozenset[str] = field(default_factory=frozenset)  # mount points the user set up
    tty: bool = False  # the user's -t: the container has a terminal (at /dev/console), shared with systemd
    host_init_log: str = ""  # the init's console log (layout.host_init_log), bind-mounted at IN_INIT_LOG


def systemd_quote(arg: str) -> str:
    """One ExecStart= argument: double-quoted, with systemd's escapes and specifiers neutralised."""
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("%", "%%").replace("$", "$$") + '"'


def environment_file(env: Sequence[str]) -> str:
    """EnvironmentFile= content: one KEY="value" per line, so =, quotes, $ and spaces survive."""
    lines = []
    for item in env:
        key, _, value = item.partition("=")
        if not key:
            continue
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        lines.append(f'{key}="{value}"')
    return "\n".join(lines) + "\n"


def app_unit(app: Sequence[str], cwd: str, uid: int, gid: int, tty: bool = False, hooks: bool = True) -> str:
    """The app's unit. It starts after basic.target (the image's boot: systemd-tmpfiles has cleaned
    /tmp). With ``hooks`` (an init script or prestart hooks to run) it says so (the ``booted``
    file: pouchd runs them then) and waits for ``go``; without, it has nothing to wait for and
    starts at once (one process less on the way to multi-user.target)."""
    busybox, run = layout.IN_BUSYBOX, layout.IN_RUN
    wait_for_go = (f"{busybox} touch {run}/{layout.BOOTED_FILE}; "
                   f"while [ ! -e {run}/{layout.GO_FILE} ]; do {busybox} usleep 10000; done")
    wait = [f"ExecStartPre=+{busybox} sh -c {systemd_quote(wait_for_go)}"] if hooks else []
    # with -t the app writes to the terminal, and the log gets no CR before each LF
    no_cr = [f"ExecStartPre=-+{busybox} stty -F {run}/{STDOUT_LINK} -onlcr"] if tty else []
    return "\n".join([
        "[Unit]",
        "Description=The container's application (Pouch rich container)",
        "After=basic.target",
        "SuccessAction=exit",
        "FailureAction=exit",
        "",
        "[Service]",
        "Type=exec",
        *wait,
        *no_cr,
        "ExecStart=" + " ".join(systemd_quote(a) for a in app),
        f"ExecStopPost=+{busybox} sh {layout.IN_RICH}/poststop.sh",
        f"WorkingDirectory={cwd or '/'}",
        f"User={uid}",
        f"Group={gid}",
        f"EnvironmentFile={layout.IN_RICH}/app.env",
        "StandardInput=null",
        f"StandardOutput=file:{run}/{STDOUT_LINK}",
        f"StandardError=file:{run}/{STDERR_LINK}",
        "TimeoutStartSec=infinity",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ])


POSTSTOP_SH = r"""# Pouch: run the poststop hooks after the app's unit stopped (ExecStopPost=).
B=@BUSYBOX@
code=$EXIT_STATUS
reason=exited
if [ "$EXIT_CODE" != exited ]; then
    reason=signaled
    code=$((128 + $($B kill -l "$EXIT_STATUS" 2>/dev/null || echo 0)))
fi
[ -e @RUN@/@STOPPING@ ] && reason=stopped
for hook in @RICH@/poststop-*; do
    [ -f "$hook" ] || continue
    POUCH_EXIT_CODE=$code POUCH_EXIT_REASON=$reason $B sh "$hook" >>@RUN@/stdout 2>>@RUN@/stderr
done
exit 0
"""


def poststop_script() -> str:
    return (POSTSTOP_SH.replace("@BUSYBOX@", layout.IN_BUSYBOX).replace("@RUN@", layout.IN_RUN)
            .replace("@STOPPING@", layout.STOPPING_FILE).replace("@RICH@", layout.IN_RICH))


def machine_id(container_id: str) -> str:
    return container_id[:32] + "\n"


def ops_units(names: Sequence[str]) -> list[str]:
    """The systemd units among the ops directory's files, started beside the app."""
    return sorted(n for n in names if n.endswith(UNIT_SUFFIXES))



def _tmpfs(target: str) -> dict:
    return {"destination": target, "type": "tmpfs", "source": "tmpfs",
            "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]}


# Units masked for this boot only (``systemctl mask --runtime``: links in /run/systemd/system,
# which /etc/systemd/system overrides, so the image's own choice wins) when the container's
# setup makes them pointless. systemd-journal-flush moves the journal from /run/log/journal
# to /var/log/journal, on the critical path to sysinit.target (tmpfiles-setup waits for it);
# with /var/log/journal pouch's tmpfs (SYSTEMD_TMPFS) it copies one tmpfs onto another, and
# `journalctl` reads both places alike.
RUNTIME_MASKS = {"systemd-journal-flush.service": ("/run", "/var/log/journal")}
RUNTIME_UNIT_DIR = "/run/systemd/system"


def runtime_masks(inp: SystemdInput) -> list[str]:
    """The RUNTIME_MASKS that apply: each only while every directory it depends on is pouch's
    tmpfs (none of them the user's mount)."""
    return sorted(unit for unit, needs in RUNTIME_MASKS.items() if not inp.user_targets.intersection(needs))


def _mask_lines(units: Sequence[str]) -> str:
    if not units:
        return ""
    links = " && ".join(f"$B ln -sf /dev/null {RUNTIME_UNIT_DIR}/{u}" for u in units)
    return f"# masked for this boot only (pouch's tmpfs makes them pointless)\n$B mkdir -p {RUNTIME_UNIT_DIR} && {links}\n"


INIT_SH = r"""# Pouch rich container, systemd mode: pid 1 until it execs systemd. Generated by pouchd.
B=@BUSYBOX@
RUN=@RUN@
@MASKS@# the container's stdout and stderr, kept open for the app's unit (systemd closes what it inherits)
$B sleep 2147483647 </dev/null &
$B ln -sfn /proc/$!/fd/1 $RUN/@STDOUT@
$B ln -sfn /proc/$!/fd/2 $RUN/@STDERR@
exec </dev/null >>@INIT_LOG@ 2>&1
# systemd's console: a pty whose output script(1) appends to the init log
if [ ! -e /dev/console ] && command -v script >/dev/null; then
    script -q -a -f -c "$B sh -c '$B ln -sf \$($B tty) /dev/console && exec $B sleep 2147483647'" @INIT_LOG@ >/dev/null &
    n=0
    while [ ! -e /dev/console ] && [ $n -lt 300 ]; do $B usleep 10000; n=$((n + 1)); done
fi
exec @INIT@
"""


def init_script(inp: SystemdInput) -> str:
    return (INIT_SH.replace("@BUSYBOX@", layout.IN_BUSYBOX).replace("@RUN@", layout.IN_RUN)
            .replace("@MASKS@", _mask_lines(runtime_masks(inp)))
            .replace("@STDOUT@", STDOUT_LINK).replace("@STDERR@", STDERR_LINK)
            .replace("@INIT_LOG@", layout.IN_INIT_LOG).replace("@INIT@", " ".join([inp.init, *SYSTEMD_ARGS])))


def with_systemd(spec: dict, inp: SystemdInput) -> dict:
    process = spec["process"]
    process["args"] = [layout.IN_BUSYBOX, "sh", f"{layout.IN_RICH}/init.sh"]  # which execs systemd
    process["terminal"] = inp.tty
    process["user"] = {"uid": 0, "gid": 0}  # systemd is root; the app's unit has the container's user
    process["cwd"] = "/"
    env = [e for e in process["env"] if not e.startswith("container_uuid=")]
    process["env"] = env + [f"container_uuid={inp.container_id[:32]}"]
    mounts = [m for m in spec.get("mounts", []) if m["destination"] != "/sys/fs/cgroup/systemd"]
    mounts += [_tmpfs(t) for t in SYSTEMD_TMPFS if t not in inp.user_targets]
    if inp.cgroup_systemd_dir:
        mounts.append(layout.bind_mount(inp.cgroup_systemd_dir, "/sys/fs/cgroup/systemd", read_only=False))
    else:
        # pure cgroup v2: with the cgroup namespace, /sys/fs/cgroup is the container's own subtree,
        # which systemd must be able to write (as podman's --systemd=always does)
        for m in mounts:
            if m["destination"] == "/sys/fs/cgroup":
                m["options"] = [o for o in m.get("options", []) if o != "ro"] + ["rw"]
    mounts += [
        layout.bind_mount(inp.busybox, layout.IN_BUSYBOX),
        layout.bind_mount(inp.host_rich_dir, layout.IN_RICH),
        layout.bind_mount(inp.host_run_dir, layout.IN_RUN, read_only=False),
        layout.bind_mount(inp.host_init_log, layout.IN_INIT_LOG, read_only=False),
    ]
    if inp.rich.ops_dir:
        mounts.append(layout.bind_mount(inp.rich.ops_dir, layout.IN_OPS))
    spec["mounts"] = mounts
    linux = spec.setdefault("linux", {})
    namespaces = linux.setdefault("namespaces", [])
    if not any(ns["type"] == "cgroup" for ns in namespaces):
        namespaces.append({"type": "cgroup"})
    spec.setdefault("annotations", {})["org.opencontainers.image.stopSignal"] = SYSTEMD_STOP_SIGNAL
    return spec


# units that would fight over the console the container's log is made of
MASKED_UNITS = ("console-getty.service", "getty@tty1.service")
SYSTEM_DIR = "/etc/systemd/system"
WANTS_DIR = SYSTEM_DIR + "/multi-user.target.wants"


def rootfs_files(inp: SystemdInput, ops_names: Sequence[str]) -> dict[str, str]:
    """Symlinks to create in the container's /etc/systemd/system (path -> target): the
    app's unit and the ops units, enabled for multi-user.target; getty on the console masked."""
    base = SYSTEM_DIR
    links: dict[str, str] = {os.path.join(base, unit): "/dev/null" for unit in MASKED_UNITS}
    units = ([(APP_UNIT, f"{layout.IN_RICH}/{APP_UNIT}")] if inp.app else [])
    units += [(name, f"{layout.IN_OPS}/{name}") for name in ops_units(ops_names)]
    for name, target in units:
        links[os.path.join(base, name)] = target
        if name.endswith(".service") or name.endswith(".timer") or name.endswith(".socket"):
            links[os.path.join(base, "multi-user.target.wants", name)] = target
    return links


def stale_links(existing: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    """The links of an earlier start to remove (path -> target): those pointing into /.pouch
    that this start does not want, such as the unit of an ops component gone from --ops-dir
    or the app's when the command is now the init itself."""
    return {path: target for path, target in existing.items()
            if target.startswith(layout.IN_ROOT + "/") and path not in wanted}
