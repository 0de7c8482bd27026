"""What ``pouch cp`` does inside a container's root: stat a path, tar it, extract a tar.

pouchd runs this module as a short-lived helper process
(``python -m pouch.services.archive_root OP --root DIR|--pid PID --path P``) that first
confines itself with chroot(2) to the container's root: the container's rootfs mounted
on a temporary directory (created or stopped container) or ``/proc/<pid>/root`` (a
running one: the container's own mount tree, so its volumes and bind mounts are seen as
the container sees them). From then on the kernel resolves every path within the
container: an absolute symlink starts at the container's ``/`` and ``..`` stops there,
so no symlink the container holds, in any component, can reach a host file, and a
container process racing the copy cannot change that.

Nothing after the chroot loads code from the container: every module is imported first
and owners stay numeric (no passwd/group look-ups, which could load an NSS library of
the container's, as in CVE-2019-14271).

Path semantics are Docker's (moby ``daemon/archive.go``): the directory part of the path
is resolved, the last element is not (a symlink is reported and archived as a symlink,
unless the path ends with ``/``); ``dir/.`` archives the directory's content under ``.``;
extraction resolves the destination fully and every entry's parent must stay inside it.

Protocol with pouchd: ``stat`` prints the stat as one JSON line; ``get`` prints that
line, then the tar; ``put`` reads a tar (plain, gzip, bzip2 or xz) on stdin. A failure
exits 1 with ``{"status": N, "message": ..., "missing": path?}`` on stderr.
"""

from __future__ import annotations

import argparse

# Everything the helper needs is imported before the chroot (see above).
import bz2  # noqa: F401  (tarfile's "r|*" imports these lazily)
import encodings.ascii  # noqa: F401
import encodings.latin_1  # noqa: F401
import errno
import gzip  # noqa: F401
import json
import lzma  # noqa: F401
import os
import posixpath
import re
import shutil
import stat
import sys
import tarfile
import zlib  # noqa: F401
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from pouch.services import archive_mounts  # a stopped container's volumes and binds
from pouch.tartime import mtime_ns_of

CHUNK = 1024 * 1024
GONE = "the container stopped during the copy"
READ_ONLY_ROOT = "container rootfs is marked read-only"

# Kernel file systems of a running container that are neither archived nor written to.
PSEUDO_FS = frozenset({
    "proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue", "securityfs", "debugfs", "tracefs", "bpf",
    "fusectl", "configfs", "pstore", "binfmt_misc", "selinuxfs", "hugetlbfs",
})

# Go's os.FileMode bits: the docker CLI and docker-py read the stat header's "mode" as one.
_GO_DIR = 1 << 31
_GO_SYMLINK = 1 << 27
_GO_DEVICE = 1 << 26
_GO_NAMED_PIPE = 1 << 25
_GO_SOCKET = 1 << 24
_GO_SETUID = 1 << 23
_GO_SETGID = 1 << 22
_GO_CHAR_DEVICE = 1 << 21
_GO_STICKY = 1 << 20


class CopyError(Exception):
    """A failure with the HTTP status pouchd answers with; ``missing`` names a path that does not exist."""

    def __init__(self, status: int, message: str, missing: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.missing = missing


# --- pure: Docker's path semantics -------------------------------------------------------------

def go_base(path: str) -> str:
    """Go's ``filepath.Base``: ``/etc/`` -> ``etc``, ``/`` -> ``/``, ``/etc/.`` -> ``.``."""
    if path == "":
        return "."
    path = path.rstrip("/")
    if path == "":
        return "/"
    return path.rsplit("/", 1)[-1]


def go_split(path: str) -> tuple[str, str]:
    """Go's ``filepath.Split``: ``/a/b`` -> (``/a/``, ``b``), ``/a/b/`` -> (``/a/b/``, ``"")``."""
    index = path.rfind("/")
    return path[: index + 1], path[index + 1 :]


def container_abs_path(path: str) -> str:
    """The path as an absolute path in the container, keeping a trailing ``/`` or ``/.``
    (Docker's ``PreserveTrailingDotOrSeparator(filepath.Join("/", path), path)``)."""
    cleaned = posixpath.normpath("/" + path.lstrip("/"))
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if go_base(cleaned) != "." and go_base(path) == ".":
        if not cleaned.endswith("/"):
            cleaned += "/"
        cleaned += "."
    if not cleaned.endswith("/") and path.endswith("/"):
        cleaned += "/"
    return cleaned


def go_file_mode(st_mode: int) -> int:
    """A stat ``st_mode`` as Go's ``os.FileMode`` (what Docker puts in the stat header)."""
    mode = st_mode & 0o777
    kind = stat.S_IFMT(st_mode)
    if kind == stat.S_IFDIR:
        mode |= _GO_DIR
    elif kind == stat.S_IFLNK:
        mode |= _GO_SYMLINK
    elif kind == stat.S_IFBLK:
        mode |= _GO_DEVICE
    elif kind == stat.S_IFCHR:
        mode |= _GO_DEVICE | _GO_CHAR_DEVICE
    elif kind == stat.S_IFIFO:
        mode |= _GO_NAMED_PIPE
    elif kind == stat.S_IFSOCK:
        mode |= _GO_SOCKET
    if st_mode & stat.S_ISUID:
        mode |= _GO_SETUID
    if st_mode & stat.S_ISGID:
        mode |= _GO_SETGID
    if st_mode & stat.S_ISVTX:
        mode |= _GO_STICKY
    return mode


def rfc3339_nano(epoch_ns: int) -> str:
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{nanos:09d}".rstrip("0") if nanos else "") + "Z"


@dataclass(frozen=True)
class PathStat:
    """Docker's ``ContainerPathStat`` (``X-Docker-Container-Path-Stat``)."""

    name: str
    size: int
    mode: int
    mtime: str
    linkTarget: str = ""  # noqa: N815 - Docker's JSON key

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def clean_entry(name: str) -> list[str]:
    """A tar entry name as path components; absolute names and ``..`` are refused."""
    if name.startswith("/"):
        raise CopyError(400, f"refusing archive entry {name!r}: absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise CopyError(400, f"refusing archive entry {name!r}: path escapes the destination")
    return parts


def is_within(path: str, root: str) -> bool:
    return root == "/" or path == root or path.startswith(root.rstrip("/") + "/")


# --- inside the root: stat ----------------------------------------------------------------------

def _resolve(abs_path: str) -> str:
    """Docker's ``ResolvePath``: the directory part with symlinks resolved (inside the root),
    the last element as given."""
    dir_part, base = go_split(abs_path)
    resolved_dir = os.path.realpath(dir_part or "/")
    return resolved_dir.rstrip("/") + "/" + base


def _lstat(path: str, shown: str) -> os.stat_result:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        raise CopyError(404, f"no such file: {shown}", missing=shown) from None
    except NotADirectoryError:
        raise CopyError(400, f"not a directory: {shown}") from None


def stat_path(abs_path: str) -> tuple[PathStat, str, os.stat_result]:
    """The stat header of ``abs_path``, the resolved path and its lstat."""
    resolved = _resolve(abs_path)
    shown = abs_path.rstrip("/") or "/"
    st = _lstat(resolved, shown)
    link_target = os.path.realpath(abs_path) if stat.S_ISLNK(st.st_mode) else ""
    header = PathStat(name=go_base(abs_path), size=st.st_size, mode=go_file_mode(st.st_mode),
                      mtime=rfc3339_nano(st.st_mtime_ns), linkTarget=link_target)
    return header, resolved, st


# --- inside the root: tar -------------------------------------------------------------------

class _Exactly:
    """Read exactly ``size`` bytes of a file that may grow or shrink meanwhile (zero-padded)."""

    def __init__(self, f, size: int) -> None:
        self.f = f
        self.left = size

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self.left:
            n = self.left
        data = self.f.read(n) if n else b""
        if len(data) < n:
            data += b"\0" * (n - len(data))
        self.left -= len(data)
        return data


@dataclass
class _TarWriter:
    tf: tarfile.TarFile
    excluded_devs: frozenset[int]
    id_base: int = 0  # a user-namespaced container's range: host id base+n is written as n
    links: dict[tuple[int, int], str] = field(default_factory=dict)

    def add(self, path: str, name: str, st: os.stat_result) -> None:
        info = tarfile.TarInfo(name + "/" if stat.S_ISDIR(st.st_mode) else name)
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = unshift_id(st.st_uid, self.id_base), unshift_id(st.st_gid, self.id_base)
        info.uname = info.gname = ""
        info.mtime = st.st_mtime
        kind = stat.S_IFMT(st.st_mode)
        if kind == stat.S_IFREG and st.st_nlink > 1 and (st.st_dev, st.st_ino) in self.links:
            info.type, info.linkname = tarfile.LNKTYPE, self.links[(st.st_dev, st.st_ino)]
            self.tf.addfile(info)
            return
        if kind == stat.S_IFREG:
            self._add_file(path, info, st)
            if st.st_nlink > 1:
                self.links[(st.st_dev, st.st_ino)] = name
            return
        if kind == stat.S_IFDIR:
            info.type = tarfile.DIRTYPE
            self.tf.addfile(info)
            if st.st_dev not in self.excluded_devs:
                self._add_children(path, name)
            return
        if kind == stat.S_IFLNK:
            info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
        elif kind in (stat.S_IFCHR, stat.S_IFBLK):
            info.type = tarfile.CHRTYPE if kind == stat.S_IFCHR else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif kind == stat.S_IFIFO:
            info.type = tarfile.FIFOTYPE
        else:
            return  # sockets: not archived (as Docker)
        self.tf.addfile(info)

    def _add_file(self, path: str, info: tarfile.TarInfo, st: os.stat_result) -> None:
        info.size = st.st_size
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            self.tf.addfile(info, _Exactly(f, st.st_size))

    def _add_children(self, path: str, name: str) -> None:
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # gone meanwhile
            self.add(entry.path, f"{name}/{entry.name}", st)


def unshift_id(host_id: int, id_base: int) -> int:
    """A host id of a user-namespaced container's range (``id_base``) as the container's id;
    ids outside the range (image layers seen without idmapping) are kept."""
    return host_id - id_base if id_base and id_base <= host_id < id_base + 65536 else host_id


def write_tar(abs_path: str, out, excluded_devs: frozenset[int] = frozenset(), id_base: int = 0) -> PathStat:
    """Write the archive of ``abs_path`` to ``out``, entries named as Docker names them:
    ``etc/...`` for ``/etc``, ``./...`` for ``/etc/.``, ``passwd`` for ``/etc/passwd``."""
    header, resolved, st = stat_path(abs_path)
    out.write(header.to_json().encode() + b"\n")
    out.flush()
    name = header.name if header.name != "/" else "."
    if stat.S_ISDIR(st.st_mode):
        resolved = resolved.rstrip("/") or "/"  # "/etc/" was followed by lstat already
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        _TarWriter(tf, excluded_devs, id_base=id_base).add(resolved, name, st)
    return header


# --- inside the root: extract ---------------------------------------------------------------------

@dataclass
class _Extractor:
    dest: str  # resolved, a directory
    no_overwrite_dir_non_dir: bool
    keep_owner: bool
    excluded_devs: frozenset[int]
    dir_times: list[tuple[str, int]] = field(default_factory=list)
    id_base: int = 0  # a user-namespaced container's range: owner n is stored as base+n

    def parent_dir(self, parts: list[str], entry: str, create: bool = True) -> str:
        """The directory that holds ``parts[-1]``: missing parents are created; a symlink is
        followed (inside the root) only when it leads to a directory inside the destination."""
        current = self.dest
        for component in parts[:-1]:
            nxt = os.path.join(current, component)
            try:
                st = os.lstat(nxt)
            except FileNotFoundError:
                if not create:
                    raise CopyError(400, f"refusing archive entry {entry!r}: {'/'.join(parts)} is not in the archive") from None
                os.mkdir(nxt, 0o755)
                current = nxt
                continue
            if stat.S_ISLNK(st.st_mode):
                target = os.path.realpath(nxt)
                if not is_within(target, self.dest) or not os.path.isdir(target):
                    raise CopyError(400, f"refusing archive entry {entry!r}: {component} is a symlink leading out of "
                                         "the destination")
                nxt, st = target, os.stat(target)
            elif not stat.S_ISDIR(st.st_mode):
                raise CopyError(400, f"refusing archive entry {entry!r}: {component} is not a directory")
            if st.st_dev in self.excluded_devs:
                raise CopyError(400, f"refusing archive entry {entry!r}: cannot write to a kernel file system")
            current = nxt
        return current

    def apply(self, tf: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        entry = member.name
        parts = clean_entry(entry)
        if not parts:
            return  # "./": the destination itself keeps its owner and mode
        path = os.path.join(self.parent_dir(parts, entry), parts[-1])
        existing = _lstat_or_none(path)
        if existing is not None:
            is_dir = stat.S_ISDIR(existing.st_mode)
            if self.no_overwrite_dir_non_dir and is_dir and not member.isdir():
                raise CopyError(400, f'cannot overwrite directory "{path}" with non-directory "{entry}"')
            if self.no_overwrite_dir_non_dir and not is_dir and member.isdir():
                raise CopyError(400, f'cannot overwrite non-directory "{path}" with directory "{entry}"')
            if not (is_dir and member.isdir()):
                shutil.rmtree(path) if is_dir else os.unlink(path)
        if member.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                os.mkdir(path, 0o700)
        elif member.isreg():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as out:
                source = tf.extractfile(member)
                assert source is not None
                shutil.copyfileobj(source, out, CHUNK)
        elif member.issym():
            os.symlink(member.linkname, path)  # writes through it are checked by parent_dir
        elif member.islnk():
            self.hard_link(member, path, entry)
            return
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        elif member.isfifo():
            os.mkfifo(path, 0o600)
        else:
            raise CopyError(400, f"refusing archive entry {entry!r}: unsupported tar entry type {member.type!r}")
        self.set_metadata(path, member)

    def hard_link(self, member: tarfile.TarInfo, path: str, entry: str) -> None:
        target_parts = clean_entry(member.linkname)
        if not target_parts:
            raise CopyError(400, f"refusing archive entry {entry!r}: hard link to the destination")
        target = os.path.join(self.parent_dir(target_parts, entry, create=False), target_parts[-1])
        st = _lstat_or_none(target)
        if st is None or stat.S_ISDIR(st.st_mode):
            raise CopyError(400, f"refusing archive entry {entry!r}: hard link target {member.linkname!r} is not a "
                                 "file in the archive")
        os.link(target, path, follow_symlinks=False)

    def set_metadata(self, path: str, member: tarfile.TarInfo) -> None:
        uid, gid = (member.uid, member.gid) if self.keep_owner else (0, 0)
        if self.id_base and uid < 65536 and gid < 65536:
            uid, gid = self.id_base + uid, self.id_base + gid
        os.chown(path, uid, gid, follow_symlinks=False)
        if not member.issym():
            os.chmod(path, member.mode & 0o7777)
        mtime_ns = mtime_ns_of(member)
        if member.isdir():
            self.dir_times.append((path, mtime_ns))
        else:
            os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)

    def finish(self) -> None:
        for path, mtime_ns in reversed(self.dir_times):
            os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)


def _lstat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def extract_tar(stream, abs_dest: str, *, no_overwrite_dir_non_dir: bool = False, keep_owner: bool = False,
                excluded_devs: frozenset[int] = frozenset(), id_base: int = 0) -> None:
    """Extract the tar ``stream`` into the directory ``abs_dest`` (its symlinks resolved inside
    the root, the last element too). Owners are the archive's with ``keep_owner``, else root's."""
    dest = os.path.realpath(abs_dest)
    shown = abs_dest.rstrip("/") or "/"
    try:
        st = os.stat(dest)
    except FileNotFoundError:
        raise CopyError(404, f"no such file: {shown}", missing=shown) from None
    except NotADirectoryError:
        raise CopyError(400, "extraction point is not a directory") from None
    if not stat.S_ISDIR(st.st_mode):
        raise CopyError(400, "extraction point is not a directory")
    if st.st_dev in excluded_devs:
        raise CopyError(400, f"cannot copy to {shown}: a kernel file system")
    extractor = _Extractor(dest, no_overwrite_dir_non_dir, keep_owner, excluded_devs, id_base=id_base)
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tf:
            for member in tf:
                extractor.apply(tf, member)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno == errno.EROFS:
            raise CopyError(400, READ_ONLY_ROOT) from None
        if isinstance(exc, OSError) and not isinstance(exc, EOFError):
            raise CopyError(400, f"extracting the archive: {exc.strerror or exc}") from None
        raise CopyError(400, f"invalid tar archive: {exc}") from None
    extractor.finish()


# --- the helper process -----------------------------------------------------------------------

def pseudo_mount_points(pid: int) -> list[str]:
    """Mount points (as the container sees them) of kernel file systems in ``pid``'s mount namespace."""
    points = []
    with open(f"/proc/{pid}/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split()
            if " - " not in line or len(fields) < 5:
                continue
            fstype = line.split(" - ", 1)[1].split()[0]
            if fstype in PSEUDO_FS:
                points.append(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4]))
    return points


def enter_root(root: str | None, pid: int | None) -> frozenset[int]:
    """chroot into the container's root; returns the devices of its kernel file systems."""
    points: list[str] = []
    if pid is not None:
        try:
            points = pseudo_mount_points(pid)
        except FileNotFoundError:
            raise CopyError(409, GONE) from None
        root = f"/proc/{pid}/root"
    assert root
    try:
        os.chroot(root)
    except FileNotFoundError:
        raise CopyError(409, GONE) from None
    os.chdir("/")
    devs = set()
    for point in points:
        try:
            devs.add(os.stat(point).st_dev)
        except OSError:
            pass
    return frozenset(devs)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="archive_root")
    parser.add_argument("op", choices=("stat", "get", "put"))
    parser.add_argument("--root")
    parser.add_argument("--pid", type=int)
    parser.add_argument("--path", required=True)
    parser.add_argument("--no-overwrite-dir-non-dir", action="store_true")
    parser.add_argument("--keep-owner", action="store_true")
    parser.add_argument("--id-base", type=int, default=0, help="a user-namespaced container's range (pouch/userns)")
    parser.add_argument("--mounts", default="[]", help="the container's volumes and binds (archive_mounts.encode)")
    parser.add_argument("--writable-root", action="store_true", help="--root is writable: make missing mount points")
    parser.add_argument("--read-only-root", action="store_true", help="the container's root is read-only (--read-only)")
    args = parser.parse_args(argv)
    try:
        mounts = archive_mounts.decode(args.mounts)
        clones = archive_mounts.clone_sources(mounts) if args.root and mounts else None
        excluded = enter_root(args.root, args.pid)
        if clones is not None:  # a stopped container: its volumes and binds where it would see them
            archive_mounts.attach(clones, args.writable_root)
        path = container_abs_path(args.path)
        if args.op == "stat":
            sys.stdout.write(stat_path(path)[0].to_json() + "\n")
        elif args.op == "get":
            write_tar(path, sys.stdout.buffer, excluded, args.id_base)
        else:
            writable_mount = archive_mounts.writable_mount_of(path, mounts)
            if writable_mount is False:
                raise CopyError(400, archive_mounts.READ_ONLY_VOLUME)
            if args.read_only_root and writable_mount is None:
                raise CopyError(400, READ_ONLY_ROOT)
            extract_tar(sys.stdin.buffer, path, no_overwrite_dir_non_dir=args.no_overwrite_dir_non_dir,
                        keep_owner=args.keep_owner, excluded_devs=excluded, id_base=args.id_base)
        sys.stdout.flush()
    except CopyError as err:
        sys.stderr.write(json.dumps({"status": err.status, "message": err.message, "missing": err.missing}))
        return 1
    except BrokenPipeError:
        return 1
    except OSError as err:
        status = 400 if err.errno in (errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM) else 500
        message = READ_ONLY_ROOT if err.errno == errno.EROFS else str(err)
        sys.stderr.write(json.dumps({"status": status, "message": message, "missing": ""}))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
