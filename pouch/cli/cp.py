"""``pouch cp``: copy files between a container and the local file system (docker cp's rules).

``CONTAINER:SRC DEST`` downloads ``GET /containers/{id}/archive`` and extracts it here;
``SRC CONTAINER:DEST`` tars the local path and ``PUT``\\ s it; ``-`` is a tar on stdin or
stdout. Path rules are docker/cli's ``archive.PrepareArchiveCopy``: a directory copied
into an existing directory lands inside it, to a new name it takes that name; ``dir/.``
copies the content; a trailing ``/`` asserts a directory; ``-L`` follows a source symlink.
``-a`` keeps owners (uid/gid) in both directions; otherwise files copied in belong to the
container's root and files copied out to the caller.

The local extraction refuses entries with ``..`` or absolute names and never writes
through a symlink inside the destination.
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import shutil
import stat
import sys
import tarfile
import threading

from pouch.cli.client import APIError, CLIError, quote_name
from pouch.cli.flags import F
from pouch.cli.format import human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pouch.cli.main import Context

_CHUNK = 256 * 1024
_GO_DIR = 1 << 31
_GO_SYMLINK = 1 << 27
_GO_TYPE = (1 << 31) | (1 << 27) | (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19)


# --- pure: docker/cli's path rules ------------------------------------------------------------

def split_cp_arg(arg: str) -> tuple[str, str]:
    """``ctr:/path`` -> (``ctr``, ``/path``); absolute or ``./x:y`` paths are local."""
    if arg.startswith("/"):
        return "", arg
    ctr, sep, path = arg.partition(":")
    if not sep or ctr.startswith("."):
        return "", arg
    return ctr, path


def asserts_directory(path: str) -> bool:
    return path.endswith("/") or path.endswith("/.") or path == "."


def split_dir_entry(path: str) -> tuple[str, str]:
    """docker's ``SplitPathDirEntry``: (dir, base), with ``/.`` kept as the base ``.``."""
    cleaned = posixpath.normpath(path) if path else "."
    if path == "." or path.endswith("/.") or path.endswith("/./"):
        cleaned = (cleaned.rstrip("/") or "/") + "/." if cleaned != "." else "."
    if cleaned == ".":
        return ".", "."
    head, _, base = cleaned.rpartition("/")
    if not base:
        return "/", "/"
    return (head or ("/" if cleaned.startswith("/") else ".")), base


def rebase_name(path: str, resolved: str) -> tuple[str, str]:
    """docker's ``GetRebaseName``: keep ``/`` or ``/.`` of ``path`` on ``resolved``; the name to
    rebase to when the resolved base differs."""
    if path.endswith("/.") and not resolved.endswith("/."):
        resolved = resolved.rstrip("/") + "/."
    elif path.endswith("/") and not resolved.endswith("/"):
        resolved += "/"
    base = posixpath.basename(path.rstrip("/")) or "/"
    if path.endswith("/."):
        base = "."
    resolved_base = posixpath.basename(resolved.rstrip("/")) or "/"
    if resolved.endswith("/."):
        resolved_base = "."
    return resolved, (base if resolved_base != base else "")


def rebase(name: str, old: str, new: str) -> str:
    """An archive entry moved from base ``old`` to ``new`` (``old/x`` -> ``new/x``)."""
    if name.rstrip("/") == old:
        return new + ("/" if name.endswith("/") else "")
    if name.startswith(old + "/"):
        return new + name[len(old):]
    return name


def plan_extract(src_is_dir: bool, src_path: str, src_rebase: str, dst_path: str, dst_exists: bool,
                 dst_is_dir: bool) -> tuple[str, tuple[str, str] | None]:
    """docker's ``PrepareArchiveCopy``: the directory to extract into and how to rename the
    archive's top entry (named after ``src_path``'s base), if at all."""
    dst_dir, dst_base = split_dir_entry(dst_path)
    archived = split_dir_entry(src_path)[1]
    if dst_exists and dst_is_dir:
        return dst_path, ((archived, src_rebase) if src_rebase else None)
    if dst_exists and src_is_dir:
        raise CLIError("cannot copy directory")
    if not dst_exists and not src_is_dir and asserts_directory(dst_path):
        raise CLIError(f"no such directory: {dst_path}")
    return dst_dir, (archived, dst_base)


# --- local tar and extraction -------------------------------------------------------------------

def _tar_local(path: str, name: str, out: Any) -> None:
    """Write the tar of the local ``path`` with its top entry named ``name``."""
    links: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        def add(p: str, n: str) -> None:
            st = os.lstat(p)
            info = tarfile.TarInfo(n + "/" if stat.S_ISDIR(st.st_mode) else n)
            info.mode, info.uid, info.gid, info.mtime = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime
            kind = stat.S_IFMT(st.st_mode)
            if kind == stat.S_IFREG:
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in links:
                    info.type, info.linkname = tarfile.LNKTYPE, links[key]
                    tf.addfile(info)
                    return
                links[key] = n
                info.size = st.st_size
                with open(p, "rb") as f:
                    tf.addfile(info, f)
            elif kind == stat.S_IFDIR:
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
                for child in sorted(os.listdir(p)):
                    add(os.path.join(p, child), f"{n}/{child}")
            elif kind == stat.S_IFLNK:
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(p)
                tf.addfile(info)
            elif kind in (stat.S_IFCHR, stat.S_IFBLK):
                info.type = tarfile.CHRTYPE if kind == stat.S_IFCHR else tarfile.BLKTYPE
                info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
                tf.addfile(info)
            elif kind == stat.S_IFIFO:
                info.type = tarfile.FIFOTYPE
                tf.addfile(info)

        add(path, name)


class _ChunkReader:
    """A file-like ``read`` over an iterator of byte chunks."""

    def __init__(self, chunks: Any) -> None:
        self._it = iter(chunks)
        self._buf = b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            chunk = next(self._it, None)
            if chunk is None:
                break
            self._buf += chunk
        if n < 0:
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:n], self._buf[n:]
        return data


def _through_symlink(dest: str, parts: list[str]) -> bool:
    """True if a directory of ``dest/parts...`` is a symlink (a path that may lead out of ``dest``)."""
    current = dest
    for part in parts:
        current = os.path.join(current, part)
        if os.path.islink(current):
            return True
    return False


def extract_local(stream: Any, dest: str, renamed: tuple[str, str] | None, keep_owner: bool) -> int:
    """Extract the tar ``stream`` into the local directory ``dest``; returns the bytes written."""
    written = 0
    dir_times: list[tuple[str, float]] = []
    with tarfile.open(fileobj=stream, mode="r|") as tf:
        for member in tf:
            name = rebase(member.name, *renamed) if renamed else member.name
            if name.startswith("/") or ".." in name.split("/"):
                raise CLIError(f"refusing archive entry {member.name!r}: it escapes the destination")
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if not parts:
                continue
            current = dest
            for part in parts[:-1]:
                current = os.path.join(current, part)
                try:
                    st = os.lstat(current)
                except FileNotFoundError:
                    os.mkdir(current, 0o755)
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    raise CLIError(f"refusing archive entry {member.name!r}: {current} is not a directory")
            path = os.path.join(current, parts[-1])
            try:
                existing = os.lstat(path)
            except FileNotFoundError:
                existing = None
            if existing is not None:
                is_dir = stat.S_ISDIR(existing.st_mode)
                if is_dir and not member.isdir():
                    raise CLIError(f'cannot overwrite directory "{path}" with non-directory "{name}"')
                if not is_dir and member.isdir():
                    raise CLIError(f'cannot overwrite non-directory "{path}" with directory "{name}"')
                if not is_dir:
                    os.unlink(path)
            if member.isdir():
                if existing is None:
                    os.mkdir(path, 0o700)
            elif member.isreg():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
                with os.fdopen(fd, "wb") as out:
                    source = tf.extractfile(member)
                    if source is not None:
                        shutil.copyfileobj(source, out, _CHUNK)
                written += member.size
            elif member.issym():
                os.symlink(member.linkname, path)
            elif member.islnk():
                target = rebase(member.linkname, *renamed) if renamed else member.linkname
                if target.startswith("/") or ".." in target.split("/"):
                    raise CLIError(f"refusing archive entry {member.name!r}: hard link out of the archive")
                target_parts = [p for p in target.split("/") if p not in ("", ".")]
                target_path = os.path.join(dest, *target_parts)
                if _through_symlink(dest, target_parts[:-1]) or not os.path.isfile(target_path):
                    raise CLIError(f"refusing archive entry {member.name!r}: bad hard link target {target!r}")
                os.link(target_path, path, follow_symlinks=False)
                continue
            elif member.ischr() or member.isblk() or member.isfifo():
                if member.isfifo():
                    os.mkfifo(path, 0o600)
                else:
                    kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
                    os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
            else:
                continue
            if keep_owner and os.geteuid() == 0:
                os.chown(path, member.uid, member.gid, follow_symlinks=False)
            if not member.issym():
                os.chmod(path, member.mode & 0o7777)
                if member.isdir():
                    dir_times.append((path, member.mtime))
                else:
                    os.utime(path, (member.mtime, member.mtime))
    for path, mtime in reversed(dir_times):
        os.utime(path, (mtime, mtime))
    return written


# --- talking to pouchd --------------------------------------------------------------------------

def _stat(ctx: Context, container: str, path: str) -> dict | None:
    """``HEAD /containers/{id}/archive``: the path's stat, None if it does not exist."""
    resp = ctx.client.request("HEAD", f"/containers/{quote_name(container)}/archive", params={"path": path},
                              check=False)
    resp.read()
    if resp.status == 404:
        header = resp.headers.get("x-docker-container-path-stat")
        if not header:
            # the container itself may be missing: ask again for its message
            inspect = ctx.client.request("GET", f"/containers/{quote_name(container)}/json", check=False)
            if inspect.status == 404:
                raise APIError(404, (inspect.json() or {}).get("message", f"No such container: {container}"))
            inspect.read()
        return None
    if resp.status >= 400:
        raise APIError(resp.status, f"{resp.status} {resp.reason}")
    return json.loads(base64.b64decode(resp.headers.get("x-docker-container-path-stat", "") or "e30="))


def _human(size: int) -> str:
    return human_size(size, 3)


def _report(ctx: Context, quiet: bool, size: int, where: str) -> None:
    if not quiet and ctx.stderr.isatty():
        ctx.err(f"Successfully copied {_human(size)} to {where}")


def copy_from_container(ctx: Context, container: str, src: str, dst: str, opts: dict) -> int:
    if not src:
        raise CLIError("source path can not be empty")  # docker's wording
    rebase_to = ""
    if opts["follow_link"]:
        st = _stat(ctx, container, src)
        if st and st.get("mode", 0) & _GO_SYMLINK:
            target = st.get("linkTarget", "")
            if not target.startswith("/"):
                target = posixpath.join(split_dir_entry(src)[0], target)
            src, rebase_to = rebase_name(src, target)
    resp = ctx.client.request("GET", f"/containers/{quote_name(container)}/archive", params={"path": src})
    if dst == "-":
        out = sys.stdout.buffer
        for chunk in resp.iter_chunks():
            out.write(chunk)
        out.flush()
        return 0

    stat_header = json.loads(base64.b64decode(resp.headers.get("x-docker-container-path-stat", "") or "e30="))
    src_is_dir = bool(stat_header.get("mode", 0) & _GO_DIR)
    dst_path, dst_exists, dst_is_dir = _local_destination(dst)
    try:
        into, renamed = plan_extract(src_is_dir, src, rebase_to, dst_path, dst_exists, dst_is_dir)
        if not os.path.isdir(into):
            raise CLIError(f"destination directory {into} does not exist")
        chunks = resp.iter_chunks()
        written = extract_local(_ChunkReader(chunks), into, renamed, opts["archive"])
        for _ in chunks:  # the tar's padding: read to the end, so pouchd has finished (and unmounted)
            pass
    finally:
        resp.close()
    _report(ctx, opts["quiet"], written, dst)
    return 0


def _local_destination(dst: str) -> tuple[str, bool, bool]:
    """docker's ``CopyInfoDestinationPath``: a symlink destination is followed."""
    path = dst
    for _ in range(32):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            if asserts_directory(path):
                raise CLIError(f"no such directory: {dst}") from None
            parent = os.path.dirname(path.rstrip("/")) or "."
            if not os.path.isdir(parent):
                raise CLIError(f"destination directory {parent} does not exist") from None
            return path, False, False
        except NotADirectoryError:
            raise CLIError(f"not a directory: {dst}") from None

        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(path)
            path = target if target.startswith("/") else os.path.join(os.path.dirname(path), target)
            continue
        return path, True, stat.S_ISDIR(st.st_mode)
    raise CLIError(f"too many levels of symbolic links: {dst}")


def copy_to_container(ctx: Context, src: str, container: str, dst: str, opts: dict) -> int:
    if not dst:
        raise CLIError("destination path can not be empty")
    dst_path = dst
    st = _stat(ctx, container, dst)
    if st and st.get("mode", 0) & _GO_SYMLINK:
        target = st.get("linkTarget", "")
        dst_path = target if target.startswith("/") else posixpath.join(split_dir_entry(dst)[0], target)
        st = _stat(ctx, container, dst_path)
    if st and st.get("mode", 0) & _GO_TYPE & ~_GO_DIR:
        raise CLIError(f'destination "{container}:{dst}" must be a directory or a regular file')
    dst_exists, dst_is_dir = st is not None, bool(st and st.get("mode", 0) & _GO_DIR)
    params = {"path": dst_path, "noOverwriteDirNonDir": "true", "copyUIDGID": "true" if opts["archive"] else None}
    if src == "-":
        if not dst_is_dir:
            raise CLIError(f'destination "{container}:{dst}" must be a directory')
        ctx.client.request("PUT", f"/containers/{quote_name(container)}/archive", params=params,
                           body=sys.stdin.buffer).read()
        return 0
    src_path, src_rebase = _local_source(src, opts["follow_link"])
    src_is_dir = os.path.isdir(src_path) and not os.path.islink(src_path)
    into, renamed = plan_extract(src_is_dir, src_path, src_rebase, dst_path, dst_exists, dst_is_dir)
    top = split_dir_entry(src_path)[1]
    if renamed and renamed[0] == top:
        top = renamed[1]
    params["path"] = into
    size = _upload(ctx, container, params, src_path.rstrip("/") or "/", top)
    _report(ctx, opts["quiet"], size, f"{container}:{dst}")
    return 0


def _local_source(src: str, follow: bool) -> tuple[str, str]:
    """docker's ``ResolveHostSourcePath``: the path to archive and the name to archive it as."""
    if not os.path.lexists(src.rstrip("/") or "/"):
        raise CLIError(f"lstat {os.path.abspath(src)}: no such file or directory")
    if follow:
        return rebase_name(src, os.path.realpath(src))
    head, base = os.path.split(src)
    resolved = os.path.join(os.path.realpath(head or "."), base)
    if src.endswith("/") and os.path.basename(src.rstrip("/")) != os.path.basename(resolved.rstrip("/")):
        return resolved, os.path.basename(src.rstrip("/"))
    return resolved, ""


def _upload(ctx: Context, container: str, params: dict, path: str, name: str) -> int:
    """Tar ``path`` (as ``name``) in a thread, streaming it into ``PUT .../archive``."""
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []
    counted = [0]

    class _Counting:
        def __init__(self, f: Any) -> None:
            self.f = f

        def write(self, data: bytes) -> int:
            counted[0] += len(data)
            return self.f.write(data)

        def flush(self) -> None:
            self.f.flush()

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb") as out:
                _tar_local(path, name, _Counting(out))
        except BrokenPipeError:
            pass
        except BaseException as err:  # noqa: BLE001 - reported after the request
            failure.append(err)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    body = os.fdopen(read_fd, "rb")
    try:
        ctx.client.request("PUT", f"/containers/{quote_name(container)}/archive", params=params, body=body).read()
    finally:
        body.close()  # first: a producer blocked on a full pipe (the daemon hung up) ends with EPIPE
        thread.join(5)
    if failure:
        err = failure[0]
        raise CLIError(f"reading {path}: {getattr(err, 'strerror', None) or err}")
    return counted[0]


def cmd_cp(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse(
        "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tpouch cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
        "Copy files/folders between a container and the local filesystem\n\n"
        "Use '-' as the source to read a tar archive from stdin\nand extract it to a directory destination in a "
        "container.\nUse '-' as the destination to stream a tar archive of a\ncontainer source to stdout.",
        [F("-a", "--archive", help="Archive mode (copy all uid/gid information)"),
         F("-L", "--follow-link", help="Always follow symbol link in SRC_PATH"),
         F("-q", "--quiet", help="Suppress progress output during copy")],
        argv, min_args=2, max_args=2)
    src_ctr, src = split_cp_arg(args[0])
    dst_ctr, dst = split_cp_arg(args[1])
    if src_ctr and dst_ctr:
        raise CLIError("copying between containers is not supported")
    if not src_ctr and not dst_ctr:
        raise CLIError("must specify at least one container source")
    if src_ctr:
        return copy_from_container(ctx, src_ctr, src, dst, opts)
    return copy_to_container(ctx, src, dst_ctr, dst, opts)
