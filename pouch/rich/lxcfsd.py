"""``pouchd --enable-lxcfs``: keep lxcfs mounted, and containers' /proc files working.

The supervisor (``LxcfsSupervisor``):
- at start, adopts a working lxcfs already mounted on the lxcfs root (by whoever
  started it), or starts ``lxcfs`` detached (its own session, reparented to init,
  its pid in ``<exec-root>/lxcfs.pid``), so it survives pouchd;
- every second checks that the mount answers; when it does not (lxcfs died: the
  mount says "Transport endpoint is not connected"), it kills a hung lxcfs by its
  pid, detaches the dead mount and starts lxcfs again;
- whenever the mount is new (first check, restart, someone else's remount), it
  compares the running containers' /proc files with it (through
  ``/proc/<pid>/root``) and rebinds the stale ones in place
  (``pouch.rich.lxcfs_rebind``): the containers keep running.

Without ``--enable-lxcfs``, a container may still use an lxcfs someone else mounted
(``lxcfs_root_for``); nobody watches it then.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

from pouch import mount as mounts
from pouch import process
from pouch.errors import InvalidArgument
from pouch.rich.lxcfs import LXCFS_FSTYPE, LXCFS_ROOT, PROC_FILES, lxcfs_argv, mount_fstype, stale_files

log = logging.getLogger(__name__)

CHECK_INTERVAL = 1.0
START_TIMEOUT = 10.0


def mounted_fstype(path: str) -> str:
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        return mount_fstype(f.read(), path)


def is_working(lxcfs_root: str) -> bool:
    """lxcfs is mounted on ``lxcfs_root`` and answers (statfs always reaches the FUSE
    daemon, where a stat may be answered from the kernel's attribute cache)."""
    try:
        os.statvfs(lxcfs_root)
    except OSError:
        return False
    return mounted_fstype(lxcfs_root) == LXCFS_FSTYPE


def file_devs(proc_dir: str) -> dict[str, int | None]:
    """``st_dev`` of each lxcfs file in ``proc_dir``, None where stat fails."""
    devs: dict[str, int | None] = {}
    for name in PROC_FILES:
        try:
            devs[name] = os.stat(os.path.join(proc_dir, name)).st_dev
        except OSError:
            devs[name] = None
    return devs


def lxcfs_root_for(supervisor: LxcfsSupervisor | None) -> str:
    """Where a container's lxcfs files come from; refuses when no lxcfs is there."""
    root = supervisor.root if supervisor else LXCFS_ROOT
    if supervisor is None and not is_working(root):
        raise InvalidArgument(f"--enable-lxcfs: lxcfs is not mounted at {root}; "
                              "start pouchd with --enable-lxcfs (or mount lxcfs there)")
    return root


class LxcfsSupervisor:
    def __init__(self, binary: str, exec_root: str, running: Callable[[], list[int]],
                 root: str = LXCFS_ROOT) -> None:
        self.binary = binary
        self.root = root
        self.pidfile = os.path.join(exec_root, "lxcfs.pid")
        self.log_path = os.path.join(exec_root, "lxcfs.log")
        self.running = running  # pids of the running containers that have --enable-lxcfs
        self._synced_dev: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Make sure lxcfs works and the running containers use it, then watch it from a thread."""
        self.check()
        self._thread = threading.Thread(target=self._watch, name="lxcfs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; lxcfs itself keeps running for the containers."""
        self._stop.set()
        if self._thread:
            self._thread.join(5)

    def pid(self) -> int:
        pid = process.read_int_file(self.pidfile)
        if pid and (process.read_cmdline(pid) or [""])[0].endswith("lxcfs"):
            return pid
        return 0

    def _restart(self) -> None:
        pid = self.pid()
        if pid:  # alive but not serving: hung
            log.warning("lxcfs (pid %d) does not answer on %s; killing it", pid, self.root)
            os.kill(pid, signal.SIGKILL)
            process.wait_pid_exit(pid, 5)
        while mounts.is_mountpoint(self.root) and mounted_fstype(self.root) == LXCFS_FSTYPE:
            mounts.unmount(self.root, lazy=True)  # the dead FUSE mount
        os.makedirs(self.root, mode=0o755, exist_ok=True)
        if not os.access(self.binary, os.X_OK):
            raise InvalidArgument(f"--enable-lxcfs: {self.binary} is not an executable (apt-get install lxcfs)")
        process.spawn_detached(lxcfs_argv(self.binary, self.root, self.pidfile), self.log_path)
        deadline = time.monotonic() + START_TIMEOUT
        while not is_working(self.root):
            if time.monotonic() > deadline:
                raise InvalidArgument(f"lxcfs did not come up on {self.root} (see {self.log_path})")
            time.sleep(0.05)
        log.info("lxcfs (pid %d) mounted on %s", self.pid(), self.root)

    # -------------------------------------------------------------- watching
    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception:
                log.exception("lxcfs supervision")
            self._stop.wait(CHECK_INTERVAL)

    def check(self) -> None:
        """One round: lxcfs answers (restart it otherwise); containers follow a new mount."""
        with self._lock:
            if not is_working(self.root):
                if mounted_fstype(self.root) == LXCFS_FSTYPE:
                    log.warning("lxcfs on %s stopped answering; restarting it", self.root)
                self._restart()
            dev = os.stat(os.path.join(self.root, "proc", "meminfo")).st_dev
            if dev != self._synced_dev and self.sync_containers():
                self._synced_dev = dev

    def sync_containers(self) -> bool:
        """Rebind the stale lxcfs files of every running lxcfs container; True if all went well."""
        host = {k: v for k, v in file_devs(os.path.join(self.root, "proc")).items() if v is not None}
        ok = True
        for pid in self.running():
            stale = stale_files(host, file_devs(f"/proc/{pid}/root/proc"))
            if stale and os.path.exists(f"/proc/{pid}"):
                ok = self._rebind(pid, stale) and ok
        return ok

    def _rebind(self, pid: int, names: list[str]) -> bool:
        result = process.run([sys.executable, "-m", "pouch.rich.lxcfs_rebind", str(pid), self.root, *names])
        if not result.ok:
            log.warning("%s", result.stderr.decode(errors="replace").strip())
            return False
        log.info("rebound %s to the new lxcfs in container pid %d", ", ".join(names), pid)
        return True
