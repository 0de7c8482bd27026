"""Mount and unmount :class:`~pouch.types.Mount` objects with mount(2)/umount2(2).

Calls libc through ctypes (no ``mount`` subprocess: a container start does a
handful of these and each would cost a fork+exec). Option parsing is pure:
:func:`parse_options` splits ``Mount.options`` into MS_* flags, a propagation
change (which mount(2) wants in a separate call) and the filesystem data
string. Errors are :class:`~pouch.errors.Internal` naming the path and errno.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pouch.errors import Internal, InvalidArgument
from pouch.types import Mount

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000

MNT_DETACH = 0x2

# option -> (clear?, flag)
_FLAGS: dict[str, tuple[bool, int]] = {
    "ro": (False, MS_RDONLY),
    "rw": (True, MS_RDONLY),
    "nosuid": (False, MS_NOSUID),
    "suid": (True, MS_NOSUID),
    "nodev": (False, MS_NODEV),
    "dev": (True, MS_NODEV),
    "noexec": (False, MS_NOEXEC),
    "exec": (True, MS_NOEXEC),
    "sync": (False, MS_SYNCHRONOUS),
    "async": (True, MS_SYNCHRONOUS),
    "dirsync": (False, MS_DIRSYNC),
    "remount": (False, MS_REMOUNT),
    "mand": (False, MS_MANDLOCK),
    "nomand": (True, MS_MANDLOCK),
    "noatime": (False, MS_NOATIME),
    "atime": (True, MS_NOATIME),
    "nodiratime": (False, MS_NODIRATIME),
    "diratime": (True, MS_NODIRATIME),
    "relatime": (False, MS_RELATIME),
    "norelatime": (True, MS_RELATIME),
    "strictatime": (False, MS_STRICTATIME),
    "bind": (False, MS_BIND),
    "rbind": (False, MS_BIND | MS_REC),
    "defaults": (False, 0),
}
_PROPAGATION = {
    "private": MS_PRIVATE,
    "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED,
    "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE,
    "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE,
    "runbindable": MS_UNBINDABLE | MS_REC,
}


@dataclass(frozen=True)
class ParsedOptions:
    flags: int
    propagation: int
    data: str


def parse_options(options: Sequence[str]) -> ParsedOptions:
    flags, propagation, data = 0, 0, []
    for option in options:
        if option in _FLAGS:
            clear, flag = _FLAGS[option]
            flags = flags & ~flag if clear else flags | flag
        elif option in _PROPAGATION:
            propagation = _PROPAGATION[option]
        else:
            data.append(option)
    return ParsedOptions(flags, propagation, ",".join(data))


def overlay_options(lowerdirs: Sequence[str], upperdir: str = "", workdir: str = "") -> tuple[str, ...]:
    """``lowerdir=top:...:bottom,upperdir=...,workdir=...`` as Mount options.

    ``lowerdirs`` is top-most first, as overlayfs wants it.
    """
    if not lowerdirs:
        raise InvalidArgument("overlay mount needs at least one lower directory")
    if bool(upperdir) != bool(workdir):
        raise InvalidArgument("overlay mount needs both upperdir and workdir, or neither")
    for path in (*lowerdirs, upperdir, workdir):
        if any(c in path for c in ":,"):
            raise InvalidArgument(f"overlay directory {path!r} contains ':' or ','")
    options = ["lowerdir=" + ":".join(lowerdirs)]
    if upperdir:
        options += [f"upperdir={upperdir}", f"workdir={workdir}"]
    return tuple(options)


_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        lib.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
        lib.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        _libc = lib
    return _libc


def _b(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def _call_mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    if _lib().mount(_b(source), _b(target), _b(fstype), flags, _b(data) if data else None) != 0:
        err = ctypes.get_errno()
        raise Internal(f"mount {fstype or ''} {source or ''} on {target}: {os.strerror(err)} (data={data!r})")


def mount(m: Mount, target: str) -> None:
    """Mount ``m`` on ``target`` (``m.target`` is the in-container path, ignored here)."""
    opts = parse_options(m.options)
    _call_mount(m.source, target, m.type, opts.flags, opts.data)
    if opts.flags & MS_BIND and opts.flags & ~(MS_BIND | MS_REC):
        # Bind mounts ignore most flags on creation; apply them with a remount.
        _call_mount(None, target, None, opts.flags | MS_REMOUNT | MS_BIND, None)
    if opts.propagation:
        _call_mount(None, target, None, opts.propagation, None)


def unmount(target: str, lazy: bool = False) -> None:
    if _lib().umount2(_b(target), MNT_DETACH if lazy else 0) != 0:
        err = ctypes.get_errno()
        raise Internal(f"unmount {target}: {os.strerror(err)}")


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as ``\\ooo``."""
    if "\\" not in field:  # nearly always: mountinfo has a line per container mount, read at each start
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and len(field[i + 1 : i + 4]) == 3 and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mountpoints() -> list[str]:
    """Mount points of this mount namespace, in mount order."""
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        return [_unescape(line.split(" ")[4]) for line in f if line.strip()]


def is_mountpoint(path: str) -> bool:
    """True when something is mounted on ``path`` (bind mounts of the same filesystem included)."""
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        text = f.read()
    return listed_in_mountinfo(text, real)


def listed_in_mountinfo(text: str, path: str) -> bool:
    """Whether ``path`` is a mount point (field 5) of mountinfo ``text``. The text is searched for
    the escaped path first, so the common answer, no (a start about to mount a container's
    rootfs), costs no parse of a table that grows with every running container."""
    escaped = path.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012")
    if f" {escaped} " not in text:
        return False
    return any(_unescape(line.split(" ")[4]) == path for line in text.splitlines() if line.strip())


@contextlib.contextmanager
def mounted(m: Mount, target: str) -> Iterator[str]:
    """``with mounted(m, dir):`` — unmounted again on exit, also on errors."""
    mount(m, target)
    try:
        yield target
    finally:
        unmount(target)


def unmount_or_detach(target: str) -> None:
    """Unmount ``target``, lazily (detached) if it is busy."""
    try:
        unmount(target)
    except Internal:
        unmount(target, lazy=True)


@contextlib.contextmanager
def mounted_on_temp(m: Mount | None, parent: str, prefix: str) -> Iterator[str]:
    """``m`` mounted on a fresh directory under ``parent`` (an empty directory for None). On
    exit the mount goes (lazily if it is busy) and the directory is removed with rmdir only,
    never rmtree, which could reach through a mount that failed to go."""
    target = tempfile.mkdtemp(prefix=prefix, dir=parent)
    try:
        if m is not None:
            mount(m, target)
        try:
            yield target
        finally:
            if m is not None:
                unmount_or_detach(target)
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(target)


def mounted_layers(lowerdirs: Sequence[str], parent: str, prefix: str) -> contextlib.AbstractContextManager[str]:
    """Layer directories (top first) mounted read-only on a fresh directory under ``parent``:
    a bind for one, an overlay for several, an empty directory for none (``mounted_on_temp``)."""
    m = None
    if len(lowerdirs) == 1:
        m = Mount("bind", lowerdirs[0], "/", ("bind", "ro"))
    elif lowerdirs:
        m = Mount("overlay", "overlay", "/", (*overlay_options(lowerdirs), "ro"))
    return mounted_on_temp(m, parent, prefix)
