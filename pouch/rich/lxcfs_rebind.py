"""Rebind a running container's lxcfs /proc files to the lxcfs now mounted on the host.

Run by pouchd as a subprocess (``python -m pouch.rich.lxcfs_rebind PID ROOT FILE...``,
one per container; a subprocess because setns(CLONE_NEWNS) wants a single-threaded
caller). For each FILE (``meminfo``...): clone the host's ``ROOT/proc/FILE`` mount
with open_tree(2) while still in the host's mount namespace, enter the mount
namespace and root of the container's process PID, detach the stale bind on
``/proc/FILE`` and attach the clone there with move_mount(2), then set the bind's
flags again. Nothing of the container's image runs: the container may have no
shell and no mount binary.
"""

from __future__ import annotations

import ctypes
import os
import sys

from pouch import mount as mounts
from pouch.rich.lxcfs import BIND_OPTIONS
from pouch.types import Mount

CLONE_NEWNS = 0x00020000
AT_FDCWD = -100
OPEN_TREE_CLONE = 0x1
MOVE_MOUNT_F_EMPTY_PATH = 0x4
SYS_OPEN_TREE = 428  # the same number on every architecture (the unified syscall table)
SYS_MOVE_MOUNT = 429

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def open_tree_clone(path: str) -> int:
    flags = OPEN_TREE_CLONE | os.O_CLOEXEC
    return _check(_libc.syscall(SYS_OPEN_TREE, AT_FDCWD, os.fsencode(path), flags), f"open_tree {path}")


def move_mount(fd: int, target: str) -> None:
    _check(_libc.syscall(SYS_MOVE_MOUNT, fd, b"", AT_FDCWD, os.fsencode(target), MOVE_MOUNT_F_EMPTY_PATH),
           f"move_mount {target}")


def enter_mount_namespace(pid: int) -> None:
    """The mount namespace and root directory of ``pid`` (as ``nsenter -m -r``)."""
    ns = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    root = os.open(f"/proc/{pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(ns, CLONE_NEWNS), f"setns to the mount namespace of {pid}")
        os.fchdir(root)
        os.chroot(".")
        os.chdir("/")
    finally:
        os.close(ns)
        os.close(root)


def rebind(pid: int, lxcfs_root: str, names: list[str]) -> None:
    clones = {name: open_tree_clone(os.path.join(lxcfs_root, "proc", name)) for name in names}
    enter_mount_namespace(pid)
    remount = Mount("none", "", "", ("remount", *BIND_OPTIONS))
    for name, fd in clones.items():
        target = f"/proc/{name}"
        try:
            mounts.unmount(target, lazy=True)  # the stale bind; on procfs itself this fails
        except Exception:
            pass
        move_mount(fd, target)
        os.close(fd)
        mounts.mount(remount, target)


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: python -m pouch.rich.lxcfs_rebind PID LXCFS_ROOT FILE...", file=sys.stderr)
        return 2
    try:
        rebind(int(argv[0]), argv[1], argv[2:])
    except Exception as err:  # one readable line for pouchd's log
        print(f"lxcfs rebind in pid {argv[0]}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
