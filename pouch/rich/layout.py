"""Where Pouch's rich-container parts appear inside the container and live on the host."""

from __future__ import annotations

import os
import stat
import sys

IN_ROOT = "/.pouch"
IN_BIN = IN_ROOT + "/bin"  # read-only: dumb-init, busybox (static host binaries)
IN_DUMB_INIT = IN_BIN + "/dumb-init"
IN_BUSYBOX = IN_BIN + "/busybox"
IN_RICH = IN_ROOT + "/rich"  # read-only: launch.sh, the poststop hook files
IN_LAUNCHER = IN_RICH + "/launch.sh"
IN_RUN = IN_ROOT + "/run"  # read-write, shared with pouchd: go, stopping
IN_OPS = IN_ROOT + "/ops"  # read-only: the ops components directory
IN_INIT_LOG = IN_ROOT + "/init.log"  # read-write, append only: the init's own console (``pouch logs --init``)

GO_FILE = "go"  # pouchd creates it once the prestart hooks succeeded: the app may start
STOPPING_FILE = "stopping"  # pouchd creates it before it sends the stop signal
BOOTED_FILE = "booted"  # the init has booted the image (sysvinit: rc 2; systemd: basic.target): hooks may run


def host_rich_dir(container_dir: str) -> str:
    return os.path.join(container_dir, "rich")


def host_run_dir(container_dir: str) -> str:
    return os.path.join(container_dir, "rich-run")


def host_init_log(container_dir: str) -> str:
    """The init's console of a rich container, apart from the app's log (``ctr.log``); kept across starts."""
    return os.path.join(container_dir, "init.log")


def static_dumb_init_candidates() -> list[str]:
    """Where ``scripts/install-deps.sh`` puts the static dumb-init (Debian's is dynamic)."""
    return [os.path.join(sys.prefix, "libexec", "pouch", "dumb-init"), "/usr/libexec/pouch/dumb-init"]


def find_static_dumb_init() -> str:
    for path in static_dumb_init_candidates():
        if os.access(path, os.X_OK):
            return path
    return ""


def find_static_busybox() -> str:
    """Debian's busybox-static: runs the launcher in images that have no shell."""
    return "/bin/busybox" if os.access("/bin/busybox", os.X_OK) else ""


def bind_mount(source: str, target: str, read_only: bool = True) -> dict:
    """An OCI spec mount showing a host file or directory of Pouch's inside the container."""
    return {"destination": target, "type": "bind", "source": source,
            "options": ["rbind", "nosuid", "nodev", "ro" if read_only else "rw"]}


# --- files in the run dir, which the container's root can write too -----------------------
# A name there may be a symlink, a FIFO or a directory the container planted: pouchd never
# follows it (a symlink to a host file would be written or read on the host) and never
# blocks on it (opening a FIFO waits for the other end).


def touch_run_file(host_run_dir: str, name: str) -> None:
    """Make ``name`` exist in the run dir; whatever the container put there already counts."""
    dir_fd = os.open(host_run_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        # O_EXCL with O_CREAT never follows a symlink: it fails with EEXIST instead
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644, dir_fd=dir_fd)
        os.close(fd)
    except FileExistsError:
        pass
    finally:
        os.close(dir_fd)


def read_run_file(host_run_dir: str, name: str, limit: int = 4096) -> str | None:
    """The text of regular file ``name`` in the run dir (None if missing, a symlink, a FIFO...)."""
    try:
        fd = os.open(os.path.join(host_run_dir, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit).decode(errors="replace")
    finally:
        os.close(fd)
