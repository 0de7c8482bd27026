"""Safe unpacking of image layers (OCI image-spec ``layer.md``) for overlayfs.

A layer is a tar stream, plain or gzip-compressed. Unpacking it

* converts OCI whiteouts to what overlayfs understands: ``.wh.NAME`` becomes a
  character device 0:0 named ``NAME``; ``.wh..wh..opq`` marks its directory
  opaque with the xattr ``trusted.overlay.opaque=y``; other ``.wh..wh.*`` names
  (AUFS bookkeeping) are skipped;
* refuses any entry that could write outside the root: absolute names, ``..``
  components, paths through a symlink (whether placed earlier in the layer or
  already in the target) and hard links whose target is outside the layer --
  the error names the entry;
* keeps modes, numeric owners, mtimes, xattrs (``SCHILY.xattr.*`` PAX records,
  except ``trusted.overlay.*`` which would change overlay semantics), device
  nodes, fifos and hard links within the layer;
* hashes while it reads: the *diffID* is the sha256 of the uncompressed tar,
  the *digest* that of the bytes as given (the blob digest when compressed);
* keeps sparse files sparse: GNU sparse members (old GNU, PAX 0.x and 1.0, as ``tarfile``
  parses their maps) have only their data runs written, the holes seeked over;
* is bounded: the bytes it writes (a sparse file's data runs, every other file's size)
  may not pass ``max_bytes`` (``pouchd --max-layer-size``) nor the free space of the
  destination's file system less a reserve; a member that would is refused from its header,
  before any of it is written (a gzip of gigabytes of zeros costs nothing).

:func:`unpack_layer` works in a temporary sibling of the destination and only
renames it into place when every entry was applied and the digests matched: a
failure leaves nothing behind. ``tarfile`` is used as a parser only.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import logging
import os
import shutil
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Protocol, cast

from pouch.errors import InvalidArgument
from pouch.tartime import mtime_ns_of

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
_PAX_XATTR = "SCHILY.xattr."

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

# What a corrupt compressed stream raises. zstandard and isal are declared dependencies;
# without them zstd layers are refused and gzip goes through zlib (slower).
_CORRUPT: tuple[type[Exception], ...] = (EOFError, zlib.error, gzip.BadGzipFile)
zstandard: ModuleType | None
igzip_threaded: ModuleType | None
try:
    import zstandard
    from zstandard import ZstdError
except ImportError:  # pragma: no cover
    zstandard = None
else:
    _CORRUPT += (ZstdError,)
try:
    from isal import igzip_threaded, isal_zlib
except ImportError:  # pragma: no cover
    igzip_threaded = None
else:
    _CORRUPT += (cast("type[Exception]", isal_zlib.error),)  # the stub types the class as an instance
_CORRUPT_TAR: tuple[type[Exception], ...] = (tarfile.TarError, *_CORRUPT)


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class UnpackResult:
    diff_id: str  # sha256 of the uncompressed tar stream
    digest: str | None  # sha256 of the stream as given; None when not asked for
    size: int  # bytes of regular-file content


class _HashingReader:
    """Pass-through reader that hashes (unless ``hashing`` is off) and counts everything read through it."""

    def __init__(self, raw: Readable, hashing: bool = True) -> None:
        self.raw = raw
        self.hasher = hashlib.sha256() if hashing else None
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if self.hasher is not None:
            self.hasher.update(data)
        self.count += len(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    @property
    def digest(self) -> str | None:
        return None if self.hasher is None else self.sha256()

    def sha256(self) -> str:
        """The digest of what was read (hashing must be on)."""
        if self.hasher is None:
            raise ValueError("the stream is not being hashed")
        return "sha256:" + self.hasher.hexdigest()


class _PrefixedReader:
    """A reader that first returns bytes already peeked from ``raw``."""

    def __init__(self, prefix: bytes, raw: Readable) -> None:
        self.prefix = prefix
        self.raw = raw

    def read(self, size: int = -1) -> bytes:
        if self.prefix:
            if size < 0:
                data, self.prefix = self.prefix + self.raw.read(), b""
                return data
            data, self.prefix = self.prefix[:size], self.prefix[size:]
            return data
        return self.raw.read(size)

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _read_exactly(reader: Readable, size: int) -> bytes:
    out = b""
    while len(out) < size:
        chunk = reader.read(size - len(out))
        if not chunk:
            break
        out += chunk
    return out


def decompressed(reader: Readable) -> Readable:
    """Return a reader of the uncompressed bytes of ``reader`` (gzip detected by magic)."""
    head = _read_exactly(reader, 4)
    prefixed = _PrefixedReader(head, reader)
    if head.startswith(_GZIP_MAGIC):
        return _gunzip(prefixed)
    if head.startswith(_ZSTD_MAGIC):
        if zstandard is None:  # pragma: no cover
            raise InvalidArgument("invalid layer archive: zstd compression needs the zstandard module")
        return zstandard.ZstdDecompressor().stream_reader(prefixed, read_across_frames=True)
    return prefixed


@contextlib.contextmanager
def open_decompressed(reader: Readable) -> Iterator[Readable]:
    """:func:`decompressed` as a context manager: closed at the end, a corrupt stream an InvalidArgument."""
    inflated = decompressed(reader)
    try:
        yield inflated
    except _CORRUPT as exc:
        raise InvalidArgument(f"invalid layer archive: {exc}") from exc
    finally:
        close = getattr(inflated, "close", None)
        if close is not None:
            close()


def _gunzip(reader: Readable) -> Readable:
    """gzip through ISA-L (several times zlib's speed) in a thread of its own, so that
    inflating overlaps tar parsing and file writes; zlib's GzipFile when isal is missing."""
    if igzip_threaded is None:  # pragma: no cover
        return gzip.GzipFile(fileobj=reader, mode="rb")  # type: ignore[call-overload]
    return igzip_threaded.open(reader, "rb", threads=1)


FREE_SPACE_RESERVE = 256 * 1024 * 1024  # what unpacking a layer leaves free on --root (less on a small one)


def _human(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.4g} {unit}"
    return f"{n} bytes"


@dataclass(frozen=True)
class Budget:
    """How many bytes a layer may write: the configured limit (0: none) and the free space."""

    limit: int
    free: int | None  # bytes free on the destination's file system less the reserve; None: unchecked
    what: str = "layer"  # what is refused
    reserve: int = FREE_SPACE_RESERVE  # kept free besides

    def check(self, total: int, entry: str = "") -> None:
        """Refuse a layer once ``total`` bytes pass the limit or the free space."""
        where = f" at entry {entry!r}" if entry else ""
        if self.limit and total > self.limit:
            raise InvalidArgument(f"refusing {self.what}: its unpacked size passes the limit of {_human(self.limit)} "
                                  f"(pouchd --max-layer-size){where}")
        if self.free is not None and total > self.free:
            raise InvalidArgument(f"refusing {self.what}: unpacking it needs more than the free space of the image store "
                                  f"({_human(max(self.free, 0))} free beyond a reserve of "
                                  f"{_human(self.reserve)}){where}")


def free_budget(path: str, limit: int, what: str = "layer") -> Budget:
    """The budget of an unpack into ``path`` (on --root's file system): its free space less
    a reserve of 256 MiB, or of 1/20 of a file system smaller than 5 GiB."""
    st = os.statvfs(path)
    reserve = min(FREE_SPACE_RESERVE, st.f_blocks * st.f_frsize // 20)
    return Budget(limit, st.f_bavail * st.f_frsize - reserve, what, reserve)


@dataclass
class _Unpacker:
    root: str
    budget: Budget = Budget(0, None)
    deferred_dir_times: list[tuple[str, int]] = field(default_factory=list)
    size: int = 0
    written: int = 0  # bytes of file data written (a sparse file's data runs only)

    # --- path resolution -------------------------------------------------
    @staticmethod
    def clean(name: str, entry: str) -> list[str]:
        if name.startswith("/"):
            raise InvalidArgument(f"refusing layer entry {entry!r}: absolute path")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise InvalidArgument(f"refusing layer entry {entry!r}: path escapes the layer root")
        return parts

    def parent_dir(self, parts: list[str], entry: str, create: bool = True) -> str:
        """The directory that holds ``parts[-1]``; never through a symlink."""
        current = self.root
        for index, component in enumerate(parts[:-1]):
            nxt = os.path.join(current, component)
            try:
                st = os.lstat(nxt)
            except FileNotFoundError:
                if not create:
                    raise InvalidArgument(
                        f"refusing layer entry {entry!r}: {'/'.join(parts)} does not exist in the layer") from None
                os.mkdir(nxt, 0o755)
                current = nxt
                continue
            rel = "/".join(parts[: index + 1])
            if stat.S_ISLNK(st.st_mode):
                raise InvalidArgument(f"refusing layer entry {entry!r}: path goes through symlink {rel}")
            if not stat.S_ISDIR(st.st_mode):
                raise InvalidArgument(f"refusing layer entry {entry!r}: {rel} is not a directory")
            current = nxt
        return current

    # --- entries -----------------------------------------------------------
    def apply(self, tf: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        entry = member.name
        parts = self.clean(member.name, entry)
        if not parts:  # the root itself ("./")
            if member.isdir():
                self.set_metadata(self.root, member)
            return
        parent = self.parent_dir(parts, entry)
        base = parts[-1]
        if base.startswith(WHITEOUT_PREFIX):
            self.whiteout(parent, base, entry)
            return
        path = os.path.join(parent, base)
        existing = _lstat(path)
        if existing is not None and not (member.isdir() and stat.S_ISDIR(existing.st_mode)):
            _remove(path, existing)
        if member.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                os.mkdir(path, 0o700)
        elif member.isreg():
            self.write_file(tf, member, path)
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            self.hard_link(member, path, entry)
            return  # shares the inode: metadata is the target's
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        elif member.isfifo():
            os.mkfifo(path, 0o600)
        else:
            raise InvalidArgument(f"refusing layer entry {entry!r}: unsupported tar entry type {member.type!r}")
        self.set_metadata(path, member)

    def whiteout(self, parent: str, base: str, entry: str) -> None:
        if base == WHITEOUT_OPAQUE:
            os.setxattr(parent, OPAQUE_XATTR, b"y", follow_symlinks=False)
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            log.debug("skipping whiteout metadata entry %s", entry)
            return
        name = base[len(WHITEOUT_PREFIX) :]
        if name in ("", ".", ".."):
            raise InvalidArgument(f"refusing layer entry {entry!r}: invalid whiteout")
        path = os.path.join(parent, name)
        existing = _lstat(path)
        if existing is not None:
            _remove(path, existing)
        os.mknod(path, stat.S_IFCHR, os.makedev(0, 0))

    def charge(self, nbytes: int, entry: str) -> None:
        """Count ``nbytes`` about to be written; refused past the budget."""
        self.budget.check(self.written + nbytes, entry)
        self.written += nbytes

    def write_file(self, tf: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> None:
        runs = _sparse_runs(tf, member) if member.sparse is not None else None
        self.charge(member.size if runs is None else sum(length for _, length in runs), member.name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            if runs is None:
                source = tf.extractfile(member)
                assert source is not None
                shutil.copyfileobj(source, out, CHUNK)
            else:
                _write_runs(tf, member, runs, out)
        self.size += member.size

    def hard_link(self, member: tarfile.TarInfo, path: str, entry: str) -> None:
        target_parts = self.clean(member.linkname, entry)
        if not target_parts:
            raise InvalidArgument(f"refusing layer entry {entry!r}: hard link to the layer root")
        target = os.path.join(self.parent_dir(target_parts, entry, create=False), target_parts[-1])
        st = _lstat(target)
        if st is None:
            raise InvalidArgument(f"refusing layer entry {entry!r}: hard link target {member.linkname!r} is not in the layer")
        if stat.S_ISDIR(st.st_mode):
            raise InvalidArgument(f"refusing layer entry {entry!r}: hard link to a directory")
        os.link(target, path, follow_symlinks=False)

    # --- metadata ----------------------------------------------------------
    def set_metadata(self, path: str, member: tarfile.TarInfo) -> None:
        is_link = member.issym()
        os.chown(path, member.uid, member.gid, follow_symlinks=False)
        if not is_link:
            os.chmod(path, member.mode & 0o7777)
        for key, value in member.pax_headers.items():
            if not key.startswith(_PAX_XATTR):
                continue
            name = key[len(_PAX_XATTR) :]
            if name.startswith("trusted.overlay."):
                log.debug("ignoring %s on %s", name, member.name)
                continue
            raw = value.encode("utf-8", "surrogateescape")
            try:
                os.setxattr(path, name, raw, follow_symlinks=False)
            except OSError as exc:
                if exc.errno in (errno.ENOTSUP, errno.EPERM) and is_link:
                    continue
                raise InvalidArgument(f"layer entry {member.name!r}: cannot set xattr {name}: {exc.strerror}") from exc
        mtime_ns = mtime_ns_of(member)
        if member.isdir():
            self.deferred_dir_times.append((path, mtime_ns))
        else:
            os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)

    def finish(self) -> None:
        """Directory mtimes last: creating children would bump them."""
        for path, mtime_ns in reversed(self.deferred_dir_times):
            os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)


def _sparse_runs(tf: tarfile.TarFile, member: tarfile.TarInfo) -> list[tuple[int, int]]:
    """The data runs (offset, length) of a sparse member, checked against its sizes."""
    sparse = cast("list[tuple[int, int]]", member.sparse or [])  # typeshed says bytes; tarfile makes pairs
    runs = [(offset, length) for offset, length in sparse if length]  # GNU's map ends with (size, 0)
    stored = tf.offset - member.offset_data  # the member's data in the archive, block-rounded
    end = 0
    for offset, length in runs:
        if offset < end or length < 0 or offset + length > member.size:  # in order, inside the file
            raise InvalidArgument(f"refusing layer entry {member.name!r}: invalid sparse map")
        end = offset + length
    if sum(length for _, length in runs) > stored:
        raise InvalidArgument(f"refusing layer entry {member.name!r}: sparse map longer than its data")
    return runs


def _write_runs(tf: tarfile.TarFile, member: tarfile.TarInfo, runs: list[tuple[int, int]], out) -> None:
    """Write a sparse member's data runs at their offsets; the holes stay holes."""
    source = tf.fileobj
    assert source is not None
    source.seek(member.offset_data)
    for offset, length in runs:
        out.seek(offset)
        while length:
            chunk = source.read(min(CHUNK, length))
            if not chunk:
                raise InvalidArgument(f"invalid layer archive: {member.name!r} is truncated")
            out.write(chunk)
            length -= len(chunk)
    out.truncate(member.size)


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _remove(path: str, st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def unpack_into(stream: Readable, root: str, *, digest_stream: bool = False,
                budget: Budget | None = None) -> UnpackResult:
    """Apply the layer ``stream`` to the (fresh, private) directory ``root``; with
    ``digest_stream`` also hash the stream as given (the uncompressed tar is always hashed).
    A pulled blob was verified when it was stored: hashing it again cost ~10 ms per 40 MiB.
    What it writes is bounded by ``budget`` (by default the free space of ``root``'s file
    system: a build context or an ``ADD``-ed tar is no way to fill the disk either)."""
    raw = _HashingReader(stream, hashing=digest_stream)
    with contextlib.ExitStack() as stack:
        try:
            inflated = decompressed(raw)
            if hasattr(inflated, "close"):
                stack.callback(inflated.close)
            plain = _HashingReader(inflated)
            unpacker = _Unpacker(root, budget if budget is not None else free_budget(root, 0, "archive"))
            with tarfile.open(fileobj=plain, mode="r|") as tf:  # type: ignore[call-overload]
                for member in tf:
                    unpacker.apply(tf, member)
            plain.drain()
            raw.drain()
            unpacker.finish()
        except _CORRUPT_TAR as exc:
            raise InvalidArgument(f"invalid layer archive: {exc}") from exc
    return UnpackResult(diff_id=plain.sha256(), digest=raw.digest, size=unpacker.size)


def unpack_layer(
    stream: Readable,
    dest: str,
    *,
    expected_diff_id: str | None = None,
    expected_digest: str | None = None,
    max_bytes: int = 0,
) -> UnpackResult:
    """Unpack ``stream`` to the new directory ``dest``, all or nothing.

    ``expected_diff_id``/``expected_digest`` are verified before ``dest``
    appears; a mismatch raises :class:`InvalidArgument` naming both digests.
    The bytes written are bounded by ``max_bytes`` (0: no limit) and the free space of
    ``dest``'s file system; past either the layer is refused and what it wrote removed.
    """
    if os.path.lexists(dest):
        raise FileExistsError(errno.EEXIST, "destination exists", dest)
    tmp = tempfile.mkdtemp(prefix=".unpack-", dir=os.path.dirname(dest) or ".")
    try:
        os.chmod(tmp, 0o755)
        result = unpack_into(stream, tmp, digest_stream=expected_digest is not None,
                             budget=free_budget(tmp, max_bytes))
        if expected_digest is not None and result.digest != expected_digest:
            raise InvalidArgument(f"layer digest mismatch: expected {expected_digest}, got {result.digest}")
        if expected_diff_id is not None and result.diff_id != expected_diff_id:
            raise InvalidArgument(f"layer diffID mismatch: expected {expected_diff_id}, got {result.diff_id}")
        os.rename(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
        raise
    return result
