"""The volumes and binds of a stopped container, for ``pouch cp`` (run inside the helper).

A running container's root (``/proc/<pid>/root``) shows its volumes and bind mounts; a
stopped one's temporary root mount shows only its layers, where a volume's mount point
holds whatever the image left there. As dockerd does (``daemon.mountVolumes`` for the
archive endpoints), the helper of :mod:`pouch.services.archive_root` attaches each
volume and bind at its destination before it works in the root, so a copy into or out of
``/data`` of a ``-v data:/data`` container reads and writes the volume.

The helper does it in a mount namespace of its own (:func:`clone_sources`, before the
chroot): nothing is ever mounted in the host's namespace, and every mount goes with the
helper process, however it ends. The sources are cloned with open_tree(2) while the host's
paths are still visible; after the chroot, :func:`attach` resolves each destination inside
the container's root (the kernel follows the container's symlinks within the chroot, so no
destination can lead out of it) and attaches the clone there with move_mount(2).

Writes into a read-only volume are refused as dockerd refuses them
(``checkIfPathIsInAVolume``: "mounted volume is marked read-only").
"""

from __future__ import annotations

import ctypes
import json
import os
import stat
from dataclasses import dataclass

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_SLAVE = 0x1, 0x20, 0x1000, 0x4000, 0x80000
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
OPEN_TREE_CLONE = 0x1
MOVE_MOUNT_F_EMPTY_PATH = 0x4
SYS_OPEN_TREE, SYS_MOVE_MOUNT = 428, 429  # the unified syscall table: the same on every architecture

READ_ONLY_VOLUME = "mounted volume is marked read-only"


@dataclass(frozen=True)
class ContainerMount:
    """A volume (its ``_data`` directory) or a bind: host ``source`` at ``target`` in the container."""

    source: str
    target: str
    read_only: bool = False


def encode(mounts: list[ContainerMount]) -> str:
    return json.dumps([[m.source, m.target, m.read_only] for m in mounts])


def decode(text: str) -> list[ContainerMount]:
    return [ContainerMount(str(s), str(t), bool(ro)) for s, t, ro in json.loads(text or "[]")]


def in_order(mounts: list[ContainerMount]) -> list[ContainerMount]:
    """Parents before what is mounted inside them (as runc mounts them)."""
    return sorted(mounts, key=lambda m: len([p for p in m.target.split("/") if p]))


def innermost(path: str, targets: list[tuple[str, bool]]) -> tuple[str, bool] | None:
    """The deepest of ``targets`` (path, read-only) at or above ``path``. Pure."""
    best = None
    for target, read_only in targets:
        if path == target or path.startswith(target.rstrip("/") + "/"):
            if best is None or len(target) > len(best[0]):
                best = (target, read_only)
    return best


class _Kernel:
    """The libc calls, resolved before the chroot (nothing is loaded after it)."""

    def __init__(self) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.syscall = self.libc.syscall
        self.mount = self.libc.mount
        self.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p)
        self.unshare = self.libc.unshare

    @staticmethod
    def check(result: int, what: str) -> int:
        if result < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")
        return result


@dataclass
class Clones:
    kernel: _Kernel
    fds: list[tuple[ContainerMount, int]]
    attached: list[tuple[str, bool]]  # resolved targets in the root, read-only or not


def clone_sources(mounts: list[ContainerMount]) -> Clones:
    """Before the chroot: a private mount namespace (its mounts never propagate to the host's)
    and a detached clone of every source. A source that is gone is skipped."""
    kernel = _Kernel()
    kernel.check(kernel.unshare(CLONE_NEWNS), "unshare the mount namespace")
    kernel.check(kernel.mount(None, b"/", None, MS_REC | MS_SLAVE, None), "make the mounts slaves")
    fds = []
    for m in in_order(mounts):
        flags = OPEN_TREE_CLONE | AT_RECURSIVE | os.O_CLOEXEC
        fd = kernel.syscall(SYS_OPEN_TREE, AT_FDCWD, os.fsencode(m.source), flags)
        if fd < 0:
            if ctypes.get_errno() == 2:  # ENOENT: a bind source removed since (start would make or refuse it)
                continue
            kernel.check(fd, f"open_tree {m.source}")
        fds.append((m, fd))
    return Clones(kernel, fds, [])


def attach(clones: Clones, create_mount_points: bool) -> None:
    """After the chroot: each clone at its destination, resolved inside the root. A missing
    mount point is made (as runc makes it) when the root is writable, else that mount is left out."""
    kernel = clones.kernel
    for m, fd in clones.fds:
        target = os.path.realpath(m.target)
        if not os.path.lexists(target):
            if not create_mount_points:
                os.close(fd)
                continue
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                os.makedirs(target, mode=0o755, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        kernel.check(kernel.syscall(SYS_MOVE_MOUNT, fd, b"", AT_FDCWD, os.fsencode(target), MOVE_MOUNT_F_EMPTY_PATH),
                     f"move_mount {m.target}")
        os.close(fd)
        if m.read_only:
            kernel.check(kernel.mount(None, os.fsencode(target), None, MS_REMOUNT | MS_BIND | MS_RDONLY, None),
                         f"remount {m.target} read-only")
        clones.attached.append((target, m.read_only))


def writable_mount_of(abs_dest: str, mounts: list[ContainerMount]) -> bool | None:
    """Inside the root: whether the volume or bind a destination lies in (symlinks resolved,
    as dockerd's ``checkIfPathIsInAVolume``) is writable; None when it lies in none."""
    dest = os.path.realpath(abs_dest)
    found = innermost(dest, [(os.path.realpath(m.target), m.read_only) for m in mounts])
    return None if found is None else not found[1]
