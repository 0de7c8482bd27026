"""sbin-init mode for an image whose /sbin/init is busybox's init (systemd ones are ``systemd`` mode).

The image's /sbin/init is pid 1, as root. pouchd bind-mounts a generated inittab
read-only over /etc/inittab (the image's layers and the container's own layer stay
as they were: a commit or a later non-rich run sees the image's inittab). It keeps
the image's own boot entries (sysinit, wait, once, console-less respawn,
shutdown; busybox's default /etc/init.d/rcS when the image has no inittab) and
adds Pouch's, all run by the host's static busybox so the image needs no shell:

- ``respawn``: each executable of the ops directory (``ops-NNN``, which pauses a
  second between runs as the dumb-init launcher does);
- ``once``: the app wrapper (``app.sh``). It waits until pouchd has run the
  prestart hooks (the ``go`` file), runs the app with the container's Env,
  WorkingDir and User (``env -i`` and ``nsenter -S/-G``: init itself is root),
  then the poststop hooks with POUCH_EXIT_CODE and POUCH_EXIT_REASON (exited,
  signaled, stopped), writes the app's code to ``/.pouch/run/exit-code`` and asks
  init to power off (SIGUSR2). busybox init cannot exit with a chosen code, so
  pouchd takes the container's exit code from that file (``read_exit_code``);
- ``shutdown``: ``shutdown.sh``. Stopping the container is busybox's poweroff,
  SIGUSR2 (SIGTERM would be its reboot): init runs the shutdown entries and waits
  for each, so ``shutdown.sh`` sends SIGTERM to the app and waits until the
  wrapper has run the poststop hooks; then init sends SIGTERM, then SIGKILL, to
  whatever is left and exits (busybox sleeps about a second at each step: a stop
  takes some 3 s). Its reboot() fails in a container without CAP_SYS_BOOT, and
  ends the pid namespace with it, both of which end pid 1.

The container's log is the app's output only: pid 1 starts as ``init.sh`` (host busybox),
which keeps the container's stdout and stderr as fds 3 and 4 and sends its own to
/.pouch/init.log (``<container dir>/init.log`` on the host, bind-mounted, appended to at
each start: ``pouch logs --init``) before it execs /sbin/init; init inherits both, so its
messages ("The system is going down NOW!") and its other entries' output (rcS, the ops
components) go to the init log, and ``app.sh`` moves fds 3 and 4 back to 1 and 2.

Limitation: ``nsenter -S/-G`` sets the user's uid and gid and clears the
supplementary groups.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pouch.models import RichOptions
from pouch.oci.user import resolve_in_root
from pouch.rich import layout

STOP_SIGNAL = "SIGUSR2"  # busybox init: poweroff (SIGUSR1 halt, SIGTERM reboot)
INITTAB = "/etc/inittab"
EXIT_CODE_FILE = "exit-code"  # in the run dir: the app's exit code, once the poststop hooks ran
INIT_NAMES = ("/sbin/init", "init")  # a command that is the init itself: no app entry
KEPT_ACTIONS = ("sysinit", "wait", "once", "respawn", "shutdown")  # of the image's own inittab
DEFAULT_RC = "/etc/init.d/rcS"  # busybox init's boot script when there is no inittab


@dataclass(frozen=True)
class SbinInitInput:
    rich: RichOptions
    app: tuple[str, ...]  # absolute executable first; () when the command is the init itself
    env: tuple[str, ...]
    cwd: str
    uid: int
    gid: int
    ops_names: tuple[str, ...]  # the executables of the ops directory
    image_inittab: str | None  # the image's /etc/inittab (None or "": it has none)
    image_has_rc: bool  # the image has /etc/init.d/rcS
    busybox: str
    host_rich_dir: str
    host_run_dir: str
    host_init_log: str = ""  # the init's console log (layout.host_init_log), bind-mounted at IN_INIT_LOG


def image_entries(text: str | None, has_rc: bool) -> tuple[list[str], list[str]]:
    """The image's inittab entries worth keeping in a container, as (boot, shutdown) lines:
    no terminal lines (``tty1::respawn:getty``), askfirst, ctrlaltdel or restart."""
    if not text:  # none, or the empty mount target runc left in the container's layer
        return ([f"::sysinit:{DEFAULT_RC}"] if has_rc else []), []
    boot: list[str] = []
    shutdown: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":", 3)
        if len(fields) != 4 or fields[0] or fields[2] not in KEPT_ACTIONS:
            continue
        if fields[2] == "respawn" and "getty" in fields[3]:
            continue
        (shutdown if fields[2] == "shutdown" else boot).append(line)
    return boot, shutdown


def _entry(action: str, script: str) -> str:
    # no shell metacharacter and no space in the path: busybox init execs it without /bin/sh
    return f"::{action}:{layout.IN_BUSYBOX} sh {layout.IN_RICH}/{script}"


def inittab(inp: SbinInitInput) -> str:
    boot, shutdown = image_entries(inp.image_inittab, inp.image_has_rc)
    lines = ["# Generated by pouchd (rich container, sbin-init mode): the image's entries, then Pouch's."]
    lines += boot
    lines += [_entry("respawn", f"ops-{i:03d}") for i in range(len(inp.ops_names))]
    if inp.app:
        lines.append(_entry("once", "app.sh"))
    lines.append(_entry("shutdown", "shutdown.sh"))
    lines += shutdown
    return "\n".join(lines) + "\n"


def ops_script(name: str) -> str:
    """One ops component, restarted by init a second after it exits; its output is the init's
    console (not the app's log: fds 3 and 4, the container's stdout and stderr, closed)."""
    return f"{shlex.quote(layout.IN_OPS + '/' + name)} </dev/null 3>&- 4>&-\n{layout.IN_BUSYBOX} sleep 1\n"


INIT_SH = r"""# Pouch rich container: pid 1 until it execs the image's init (sbin-init mode). Generated by pouchd.
# The container's stdout and stderr stay open as fds 3 and 4, for the app (app.sh); init's own
# console, and what its other entries print, go to @INIT_LOG@ (pouch logs --init).
exec 3>&1 4>&2 >>@INIT_LOG@ 2>&1
exec /sbin/init
"""

APP_STDIO = "exec 1>&3 2>&4 3>&- 4>&-  # the container's stdout and stderr (init.sh): the app's log\n"


def init_script() -> str:
    return INIT_SH.replace("@INIT_LOG@", layout.IN_INIT_LOG)


APP_SH = r"""# Pouch rich container: the app, as busybox init's `once` entry (sbin-init mode). Generated by pouchd.
B=@BUSYBOX@
RUN=@RUN@
echo $$ > $RUN/wrapper.pid
@START@while [ ! -e $RUN/@GO@ ] && [ ! -e $RUN/@STOPPING@ ]; do $B usleep 10000; done
code=143
if [ -e $RUN/@STOPPING@ ]; then
    :  # stopped before the app started
elif ! cd @CWD@; then
    code=126
else
    @RUN_APP@ &
    app=$!
    echo $app > $RUN/app.pid
    while :; do
        wait $app 2>/dev/null  # no "Terminated" from the shell in the container's log
        code=$?
        $B kill -0 $app 2>/dev/null || break
    done
fi
reason=exited
if [ -e $RUN/@STOPPING@ ]; then reason=stopped; elif [ "$code" -gt 128 ]; then reason=signaled; fi
for hook in @RICH@/poststop-*; do
    [ -f "$hook" ] || continue
    POUCH_EXIT_CODE=$code POUCH_EXIT_REASON=$reason $B sh "$hook"
done
@END@"""

APP_END = r"""echo $code > $RUN/@EXIT_CODE@.tmp
$B mv $RUN/@EXIT_CODE@.tmp $RUN/@EXIT_CODE@
$B kill -USR2 1
"""  # busybox init: write the code, then power off

SHUTDOWN_SH = r"""# Pouch rich container: busybox init's `shutdown` entry (sbin-init mode). Generated by pouchd.
# Stop the app and wait until its wrapper has run the poststop hooks.
B=@BUSYBOX@
RUN=@RUN@
signalled=
while [ ! -e $RUN/@EXIT_CODE@ ] && [ -e $RUN/wrapper.pid ] && $B kill -0 $(cat $RUN/wrapper.pid) 2>/dev/null; do
    if [ -z "$signalled" ] && [ -e $RUN/app.pid ]; then
        $B kill -TERM $(cat $RUN/app.pid) 2>/dev/null
        signalled=1
    fi
    $B usleep 10000
done
exit 0
"""


def _fill(text: str) -> str:
    return (text.replace("@BUSYBOX@", layout.IN_BUSYBOX).replace("@RUN@", layout.IN_RUN)
            .replace("@RICH@", layout.IN_RICH).replace("@GO@", layout.GO_FILE)
            .replace("@STOPPING@", layout.STOPPING_FILE).replace("@EXIT_CODE@", EXIT_CODE_FILE))


def run_app_command(app: Sequence[str], env: Iterable[str], uid: int, gid: int) -> str:
    """The app's command line in ``app.sh``: only the container's env, then its user."""
    b = layout.IN_BUSYBOX
    argv = [b, "env", "-i", *[e for e in env if "=" in e and not e.startswith("=")]]
    if uid or gid:
        argv += [b, "nsenter", "-S", str(uid), "-G", str(gid), "--"]
    argv += list(app)
    return " ".join(shlex.quote(a) for a in argv)


def app_script(inp: SbinInitInput, start: str = "", end: str = APP_END) -> str:
    """The app wrapper; ``start`` and ``end`` are the init's own first and last lines."""
    return (_fill(APP_SH.replace("@START@", start).replace("@END@", end)).replace("@CWD@", shlex.quote(inp.cwd or "/"))
            .replace("@RUN_APP@", run_app_command(inp.app, inp.env, inp.uid, inp.gid)))


def shutdown_script() -> str:
    return _fill(SHUTDOWN_SH)


def rich_files(inp: SbinInitInput) -> dict[str, str]:
    """The files of the rich dir (shown read-only at /.pouch/rich), by name."""
    files = {"inittab": inittab(inp), "shutdown.sh": shutdown_script(), "init.sh": init_script()}
    if inp.app:
        files["app.sh"] = app_script(inp, start=APP_STDIO)
    files.update({f"ops-{i:03d}": ops_script(name) for i, name in enumerate(inp.ops_names)})
    files.update({f"poststop-{i:03d}": h.rstrip("\n") + "\n" for i, h in enumerate(inp.rich.poststop_hooks)})
    return files



def with_sbin_init(spec: dict, inp: SbinInitInput) -> dict:
    """pid 1 is the image's /sbin/init (exec'd by ``init.sh``, which sets its console apart), as
    root in /; the generated inittab over /etc/inittab."""
    process = spec["process"]
    process["args"] = [layout.IN_BUSYBOX, "sh", f"{layout.IN_RICH}/init.sh"]
    process["user"] = {"uid": 0, "gid": 0}  # init is root; app.sh switches to the container's user
    process["cwd"] = "/"
    mounts = [m for m in spec.get("mounts", []) if m["destination"] != INITTAB]
    mounts += [
        layout.bind_mount(os.path.join(inp.host_rich_dir, "inittab"), INITTAB),
        layout.bind_mount(inp.busybox, layout.IN_BUSYBOX),
        layout.bind_mount(inp.host_rich_dir, layout.IN_RICH),
        layout.bind_mount(inp.host_run_dir, layout.IN_RUN, read_only=False),
        layout.bind_mount(inp.host_init_log, layout.IN_INIT_LOG, read_only=False),
    ]
    if inp.rich.ops_dir:
        mounts.append(layout.bind_mount(inp.rich.ops_dir, layout.IN_OPS))
    spec["mounts"] = mounts
    spec.setdefault("annotations", {})["org.opencontainers.image.stopSignal"] = STOP_SIGNAL
    return spec


def app_argv(args: Sequence[str]) -> list[str]:
    """The app's argv, or [] when the command is the init itself (then init alone runs)."""
    return [] if not args or args[0] in INIT_NAMES else list(args)


def ops_executables(ops_dir: str) -> list[str]:
    """The names of the ops directory's executable files, sorted (as the launcher's glob)."""
    if not ops_dir:
        return []
    return sorted(n for n in os.listdir(ops_dir)
                  if os.path.isfile(os.path.join(ops_dir, n)) and os.access(os.path.join(ops_dir, n), os.X_OK))


def read_exit_code(host_run_dir: str) -> int | None:
    """The app's exit code written by ``app.sh``, or None (no app, or it did not finish)."""
    text = layout.read_run_file(host_run_dir, EXIT_CODE_FILE)
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


def _lookup(layer_dirs: Sequence[str], path: str) -> str:
    """The host file of container path ``path`` in the image's layers (topmost first),
    its symbolic links followed across layers; "" if there is none."""
    for _ in range(40):
        host = ""
        for layer in layer_dirs:
            parent = resolve_in_root(layer, os.path.dirname(path))
            if os.path.lexists(os.path.join(parent, os.path.basename(path))):
                host = os.path.join(parent, os.path.basename(path))
                break
        if not host or not os.path.islink(host):
            return host
        target = os.readlink(host)
        path = os.path.normpath(target if target.startswith("/") else os.path.join(os.path.dirname(path), target))
    return ""


def is_busybox_init(layer_dirs: Sequence[str]) -> bool:
    """Whether the image's /sbin/init is busybox's (a link to busybox, or a busybox binary)."""
    host = _lookup(layer_dirs, "/sbin/init")
    if not host or not os.path.isfile(host):
        return False
    if os.path.basename(host) == "busybox":
        return True
    with open(host, "rb") as f:
        return b"BusyBox v" in f.read()
