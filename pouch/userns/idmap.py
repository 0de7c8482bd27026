"""Idmapped mounts (mount_setattr(2) with ``MOUNT_ATTR_IDMAP``, Linux 5.12+), through ctypes.

:func:`userns_fd` makes a user namespace holding a range's mapping (a forked child unshares
one; pouchd writes its uid_map/gid_map and keeps an fd of it; the child exits) and
:func:`idmapped_clone` attaches an idmapped copy of a directory's mount elsewhere:
``open_tree(OPEN_TREE_CLONE)`` + ``mount_setattr(MOUNT_ATTR_IDMAP, userns_fd)`` +
``move_mount``. A file owned by id ``n`` on disk shows as ``base + n`` through the clone, and a
process with host id ``base + n`` creating a file there writes ``n`` to disk.

What this kernel allows (checked on 6.18): ext4, btrfs, xfs, tmpfs directories can be
idmapped; an overlayfs mount itself cannot (EINVAL), but its layers can, and an overlay mounted
on idmapped lower layers works; an idmapped *upper* layer does not (overlay creates its
workdir with the mounter's creds, uid 0, which the mapping has no on-disk id for: EOVERFLOW).
Syscall numbers are x86_64's (and the generic table's for aarch64).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import platform
import socket
import struct
from collections.abc import Iterator

from pouch import mount as mounts
from pouch.errors import Internal
from pouch.types import Mount
from pouch.userns.ranges import IdRange

_SYSCALLS = {  # open_tree, move_mount, mount_setattr
    "x86_64": (428, 429, 442),
    "aarch64": (428, 429, 442),
}
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_IDMAP = 0x100000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


class _MountAttr(ctypes.Structure):  # struct mount_attr, MOUNT_ATTR_SIZE_VER0
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _numbers() -> tuple[int, int, int]:
    machine = platform.machine()
    if machine not in _SYSCALLS:
        raise Internal(f"idmapped mounts: no syscall numbers known for {machine}")
    return _SYSCALLS[machine]


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise Internal(f"{what}: {os.strerror(err)}")
    return result


class _Child:
    """A forked child in a new user namespace with ``ids``' mapping, stepping when told:
    ``step()`` makes it ``unshare(flags)`` (and bring ``lo`` up in a new netns); it exits at
    ``close()``. It runs only unshare, a socket ioctl and pipe IO after the fork."""

    def __init__(self, ids: IdRange) -> None:
        self._to_child = os.pipe()
        self._from_child = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            self._child_main()
        os.close(self._to_child[0])
        os.close(self._from_child[1])
        try:
            self._wait("unshare(CLONE_NEWUSER)")
            mapping = f"0 {ids.base} {ids.size}\n"
            for name in ("uid_map", "gid_map"):
                with open(f"/proc/{self.pid}/{name}", "w") as f:
                    f.write(mapping)
        except BaseException:
            self.close()
            raise

    def _child_main(self) -> None:
        code = 1
        try:
            os.close(self._to_child[1])
            os.close(self._from_child[0])
            flags = CLONE_NEWUSER
            while flags:
                ok = _libc.unshare(flags) == 0
                if ok and flags == CLONE_NEWNET:
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                        _set_link_up(sock, "lo")
                os.write(self._from_child[1], b"1" if ok else b"0")
                flags = int.from_bytes(os.read(self._to_child[0], 4) or b"\0", "little")
            code = 0
        finally:
            os._exit(code)

    def _wait(self, what: str) -> None:
        if os.read(self._from_child[0], 1) != b"1":
            raise Internal(f"{what} failed in a child for a user namespace")

    def step(self, flags: int, what: str) -> None:
        os.write(self._to_child[1], flags.to_bytes(4, "little"))
        self._wait(what)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._to_child[1], (0).to_bytes(4, "little"))
        for fd in (self._to_child[1], self._from_child[0]):
            with contextlib.suppress(OSError):
                os.close(fd)
        os.waitpid(self.pid, 0)


def _set_link_up(sock: socket.socket, name: str) -> None:
    ifreq = struct.pack("16sH14x", name.encode(), 0)
    flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, ifreq))[1]
    fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", name.encode(), flags | IFF_UP))


@contextlib.contextmanager
def userns_fd(ids: IdRange) -> Iterator[int]:
    """An fd of a fresh user namespace mapping ids ``0..size-1`` to ``ids.base..``, closed on exit."""
    child = _Child(ids)
    try:
        fd = os.open(f"/proc/{child.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        child.close()
    try:
        yield fd
    finally:
        os.close(fd)


def create_netns_in_userns(ids: IdRange, netns_path: str, userns_pin: str) -> None:
    """A new network namespace owned by a new user namespace with ``ids``' mapping (so the
    container's root, in that user namespace, holds CAP_NET_ADMIN over it), ``lo`` up, pinned
    on the existing file ``netns_path``; the user namespace pinned on the existing file
    ``userns_pin`` (bind mounts of their nsfs files)."""
    child = _Child(ids)
    try:
        child.step(CLONE_NEWNET, "unshare(CLONE_NEWNET)")
        mounts.mount(Mount("bind", f"/proc/{child.pid}/ns/user", "/", ("bind",)), userns_pin)
        try:
            mounts.mount(Mount("bind", f"/proc/{child.pid}/ns/net", "/", ("bind",)), netns_path)
        except BaseException:
            mounts.unmount(userns_pin, lazy=True)
            raise
    finally:
        child.close()


def idmapped_clone(source: str, target: str, ns_fd: int) -> None:
    """Attach at ``target`` an idmapped clone of ``source`` (its own mount only, not submounts)."""
    open_tree, move_mount, mount_setattr = _numbers()
    tree = _check(_libc.syscall(open_tree, AT_FDCWD, os.fsencode(source),
                                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC), f"open_tree {source}")
    try:
        attr = _MountAttr(MOUNT_ATTR_IDMAP, 0, 0, ns_fd)
        _check(_libc.syscall(mount_setattr, tree, b"", AT_EMPTY_PATH, ctypes.byref(attr), ctypes.sizeof(attr)),
               f"mount_setattr(MOUNT_ATTR_IDMAP) {source} (the filesystem may not support idmapped mounts)")
        _check(_libc.syscall(move_mount, tree, b"", AT_FDCWD, os.fsencode(target), MOVE_MOUNT_F_EMPTY_PATH),
               f"move_mount {source} to {target}")
    finally:
        os.close(tree)
