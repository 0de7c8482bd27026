"""Writing layer tars from directories: a container's overlay upper dir, a snapshot, a rootfs.

The reverse of :mod:`pouch.archive` (OCI image-spec ``layer.md``):

* overlay whiteouts (character devices 0:0) become ``.wh.NAME`` entries and an
  opaque directory (xattr ``trusted.overlay.opaque=y``) is followed by a
  ``.wh..wh..opq`` entry (``overlay=True``; a merged rootfs has neither);
* entries come sorted (a directory, then its children by byte order), owners
  are numeric, mtimes kept (sub-second as PAX ``mtime``), hard links within the
  tree become link entries, device nodes and fifos are kept, xattrs are
  ``SCHILY.xattr.*`` PAX records (``trusted.overlay.*`` left out), sockets are
  skipped (as Docker does);
* the walk goes through directory file descriptors opened with ``O_NOFOLLOW``
  and files are opened relative to them, so no symlink is ever followed, inside
  or out of the root.

:func:`tar_stream` yields the tar bytes as it walks (nothing held in memory but
one chunk); a ``select`` callback sees each :class:`Node` first and may skip it
(and a directory's subtree) or empty a file (see :mod:`pouch.images.artefacts`).
:func:`write_layer` writes it to a file and returns the diffID.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from pouch.archive import OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX

CHUNK = 1024 * 1024
BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE


class Kind(StrEnum):
    DIR = "dir"
    FILE = "file"
    SYMLINK = "symlink"
    WHITEOUT = "whiteout"  # overlay whiteout: a char device 0:0 (overlay=True only)
    CHAR = "char"
    BLOCK = "block"
    FIFO = "fifo"
    SOCKET = "socket"


class Action(StrEnum):
    KEEP = "keep"
    SKIP = "skip"  # leave out (a directory: with its whole subtree)
    EMPTY = "empty"  # a regular file written with no content


@dataclass(frozen=True)
class Node:
    path: str  # absolute inside the tree: "/etc/passwd" ("/" is the root itself)
    kind: Kind
    st: os.stat_result
    link_target: str = ""
    opaque: bool = False
    xattrs: tuple[tuple[str, bytes], ...] = ()

    @property
    def size(self) -> int:
        return self.st.st_size if self.kind == Kind.FILE else 0


Select = Callable[[Node], Action]


def kind_of(st: os.stat_result, overlay: bool) -> Kind:
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        return Kind.DIR
    if stat.S_ISREG(mode):
        return Kind.FILE
    if stat.S_ISLNK(mode):
        return Kind.SYMLINK
    if stat.S_ISCHR(mode):
        if overlay and st.st_rdev == os.makedev(0, 0):
            return Kind.WHITEOUT
        return Kind.CHAR
    if stat.S_ISBLK(mode):
        return Kind.BLOCK
    if stat.S_ISFIFO(mode):
        return Kind.FIFO
    return Kind.SOCKET


# --- pure: a node to tar entries ----------------------------------------------------------

def tar_entries(node: Node, hardlink_to: str = "") -> list[tarfile.TarInfo]:
    """The tar entries of one node: a whiteout becomes ``.wh.NAME``, an opaque
    directory its entry plus ``.wh..wh..opq``; ``hardlink_to`` makes a link entry."""
    rel = node.path.lstrip("/")
    parent, _, base = rel.rpartition("/")
    prefix = parent + "/" if parent else ""
    if node.kind == Kind.WHITEOUT:
        info = tarfile.TarInfo(prefix + WHITEOUT_PREFIX + base)  # mode, owner and mtime 0: a marker, no file
        info.mode, info.mtime, info.uname, info.gname = 0, 0, "", ""
        return [info]
    info = tarfile.TarInfo(rel + "/" if node.kind == Kind.DIR and rel else (rel or "./"))
    _set_times_owner(info, node.st, mode=node.st.st_mode & 0o7777)
    if node.xattrs:
        xattrs = {"SCHILY.xattr." + name: value.decode("utf-8", "surrogateescape") for name, value in node.xattrs}
        info.pax_headers = {**info.pax_headers, **xattrs}
    if hardlink_to:
        info.type, info.linkname = tarfile.LNKTYPE, hardlink_to.lstrip("/")
    elif node.kind == Kind.DIR:
        info.type = tarfile.DIRTYPE
    elif node.kind == Kind.FILE:
        info.type, info.size = tarfile.REGTYPE, node.st.st_size
    elif node.kind == Kind.SYMLINK:
        info.type, info.linkname = tarfile.SYMTYPE, node.link_target
    elif node.kind in (Kind.CHAR, Kind.BLOCK):
        info.type = tarfile.CHRTYPE if node.kind == Kind.CHAR else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(node.st.st_rdev), os.minor(node.st.st_rdev)
    elif node.kind == Kind.FIFO:
        info.type = tarfile.FIFOTYPE
    entries = [info]
    if node.opaque and node.kind == Kind.DIR:
        opq = tarfile.TarInfo((rel + "/" if rel else "") + WHITEOUT_OPAQUE)
        _set_times_owner(opq, node.st, mode=0)
        entries.append(opq)
    return entries


def _set_times_owner(info: tarfile.TarInfo, st: os.stat_result, mode: int) -> None:
    info.mode = mode
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    seconds, nanos = divmod(st.st_mtime_ns, 1_000_000_000)
    info.mtime = seconds
    if nanos:  # exact decimal text: a float cannot hold every nanosecond (the tar would not round-trip)
        info.pax_headers = {**info.pax_headers, "mtime": f"{seconds}.{nanos:09d}".rstrip("0")}


def header(info: tarfile.TarInfo) -> bytes:
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def end_of_archive(written: int) -> bytes:
    """Two zero blocks, then zeros up to a full record (as tar and tarfile write)."""
    total = written + 2 * BLOCK
    return b"\0" * (2 * BLOCK + (-total % RECORD))


# --- IO: walking a tree without following symlinks ------------------------------------------

def _xattrs(fd_or_path, name: str | None, dir_fd: int | None, kind: Kind) -> tuple[tuple[str, bytes], ...]:
    if kind in (Kind.WHITEOUT, Kind.SOCKET):
        return ()
    path = name if name is not None else fd_or_path
    try:
        if dir_fd is not None:
            # listxattr has no dir_fd: go through /proc/self/fd of the parent, without following the last link
            path = f"/proc/self/fd/{dir_fd}/{name}"
        names = os.listxattr(path, follow_symlinks=False)
        out = []
        for key in sorted(names):
            if key.startswith("trusted.overlay."):
                continue
            try:
                out.append((key, os.getxattr(path, key, follow_symlinks=False)))
            except OSError:
                continue
        return tuple(out)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.ENOENT, errno.EPERM):
            return ()
        raise


def _is_opaque(dir_fd: int) -> bool:
    try:
        return os.getxattr(f"/proc/self/fd/{dir_fd}", OPAQUE_XATTR) == b"y"
    except OSError:
        return False


def iter_nodes(root: str, *, overlay: bool, select: Select | None = None) -> Iterator[tuple[Node, Action, int, str]]:
    """Yield ``(node, action, parent_dir_fd, name)`` in tar order, the root first (``name`` '');
    nodes ``select`` skips are left out, and so is a skipped directory's subtree.
    The fds are valid only until the next item is requested."""
    root_fd = os.open(root, _DIR_FLAGS)
    try:
        node = Node("/", Kind.DIR, os.fstat(root_fd), opaque=overlay and _is_opaque(root_fd),
                    xattrs=_xattrs(f"/proc/self/fd/{root_fd}", None, None, Kind.DIR))
        action = select(node) if select else Action.KEEP
        if action != Action.SKIP:
            yield node, action, root_fd, ""
            yield from _walk_dir(root_fd, "", overlay, select)
    finally:
        os.close(root_fd)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _walk_dir(dir_fd: int, prefix: str, overlay: bool, select: Select | None) -> Iterator[tuple[Node, Action, int, str]]:
    names = sorted(os.listdir(dir_fd), key=lambda n: n.encode("utf-8", "surrogateescape"))
    for name in names:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # gone meanwhile (a running container)
        kind = kind_of(st, overlay)
        path = f"{prefix}/{name}"
        if kind != Kind.DIR:
            target = os.readlink(name, dir_fd=dir_fd) if kind == Kind.SYMLINK else ""
            node = Node(path, kind, st, link_target=target, xattrs=_xattrs(None, name, dir_fd, kind))
            action = select(node) if select else Action.KEEP
            if action != Action.SKIP:
                yield node, action, dir_fd, name
            continue
        try:
            child_fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except (FileNotFoundError, NotADirectoryError):
            continue
        try:
            node = Node(path, kind, st, opaque=overlay and _is_opaque(child_fd), xattrs=_xattrs(None, name, dir_fd, kind))
            action = select(node) if select else Action.KEEP
            if action != Action.SKIP:
                yield node, action, dir_fd, name
                yield from _walk_dir(child_fd, path, overlay, select)
        finally:
            os.close(child_fd)


def _read_file(dir_fd: int, name: str, size: int) -> Iterator[bytes]:
    """Exactly ``size`` bytes of the file (zero-padded if it shrank meanwhile)."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dir_fd)
    try:
        remaining = size
        while remaining > 0:
            data = os.read(fd, min(CHUNK, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
        while remaining > 0:
            n = min(CHUNK, remaining)
            remaining -= n
            yield b"\0" * n
    finally:
        os.close(fd)


def unshifted(entries: list[tarfile.TarInfo], id_base: int) -> list[tarfile.TarInfo]:
    """``entries`` with owners in a user-namespaced container's range (host ids ``id_base..+65536``)
    written as the container's ids (pouch/userns); other owners kept."""
    if id_base:
        for info in entries:
            if id_base <= info.uid < id_base + 65536:
                info.uid -= id_base
            if id_base <= info.gid < id_base + 65536:
                info.gid -= id_base
    return entries


def tar_stream(root: str, *, overlay: bool, select: Select | None = None, include_root: bool = False,
               id_base: int = 0) -> Iterator[bytes]:
    """The tar of the tree at ``root`` (see the module docstring); ``id_base``: :func:`unshifted`."""
    written = 0
    links: dict[tuple[int, int], str] = {}
    for node, action, dir_fd, name in iter_nodes(root, overlay=overlay, select=select):
        if node.path == "/":
            if not (include_root or node.opaque):
                continue
            entries = unshifted(tar_entries(node), id_base)
            entries = entries if include_root else entries[1:]  # an opaque root: only its marker
            for info in entries:
                data = header(info)
                written += len(data)
                yield data
            continue
        hardlink_to = ""
        if node.kind == Kind.FILE and node.st.st_nlink > 1 and action == Action.KEEP:
            key = (node.st.st_dev, node.st.st_ino)
            hardlink_to = links.setdefault(key, node.path)
            if hardlink_to == node.path:
                hardlink_to = ""
        entries = unshifted(tar_entries(node, hardlink_to), id_base)
        if action == Action.EMPTY:
            entries[0].size = 0
        for info in entries:
            data = header(info)
            written += len(data)
            yield data
            if info.type == tarfile.REGTYPE and info.size:
                for chunk in _read_file(dir_fd, name, info.size):
                    written += len(chunk)
                    yield chunk
                pad = padding(info.size)
                written += len(pad)
                yield pad
    yield end_of_archive(written)


@dataclass(frozen=True)
class WrittenLayer:
    diff_id: str  # sha256 of the tar
    size: int  # bytes of the tar
    entries: bool  # False: nothing in it (Docker's empty layer)


def write_layer(root: str, path: str, *, overlay: bool = True, select: Select | None = None,
                id_base: int = 0) -> WrittenLayer:
    """Write the layer tar of ``root`` to the new file ``path``."""
    hasher, size, entries = hashlib.sha256(), 0, False
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        for chunk in tar_stream(root, overlay=overlay, select=select, id_base=id_base):
            hasher.update(chunk)
            out.write(chunk)
            size += len(chunk)
    entries = size > 2 * BLOCK and not _only_zero_blocks(path)
    return WrittenLayer("sha256:" + hasher.hexdigest(), size, entries)


def _only_zero_blocks(path: str) -> bool:
    with open(path, "rb") as f:
        return not f.read(BLOCK).strip(b"\0")
