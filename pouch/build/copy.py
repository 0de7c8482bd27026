"""COPY and ADD: the files a step adds, staged in a directory laid out like the root.

The staging tree becomes the step's layer (:func:`pouch.images.layertar.write_layer`).
Every source path is resolved inside its root (the build context, or a stage's
mounted root filesystem) with symlinks followed *within* that root
(:func:`scoped_path`), so no path escapes the context or the container root;
symlinks inside a copied directory are copied as symlinks. Sources from the
context honour ``.dockerignore``; wildcards may stand in any part of a source
(``src/*/conf``). ADD extracts local tar archives (plain, gzip, bzip2, xz); its
URL sources are downloaded by :mod:`pouch.build.remote` and never extracted.

:func:`tree_digest` hashes a staging tree (paths, modes, owners, contents, link
targets; not mtimes) for the layer cache.
"""

from __future__ import annotations

import bz2
import fnmatch
import hashlib
import lzma
import os
import posixpath
import shutil
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass

from pouch.archive import unpack_into
from pouch.errors import InvalidArgument, NotFound

Excluded = Callable[[str], bool]  # context-relative path -> left out by .dockerignore


@dataclass(frozen=True)
class CopySpec:
    sources: tuple[str, ...]
    dest: str  # absolute in the image
    dest_is_dir: bool
    uid: int = 0
    gid: int = 0
    chmod: int | None = None
    extract: bool = False  # ADD


def scoped_path(root: str, rel: str, follow_last: bool = True) -> str:
    """``root``/``rel`` with every symlink resolved as if ``root`` were ``/``."""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    current = ""
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            current = posixpath.dirname(current)
            continue
        candidate = posixpath.join(current, part) if current else part
        full = os.path.join(root, candidate)
        if (parts or follow_last) and os.path.islink(full):
            hops += 1
            if hops > 40:
                raise InvalidArgument(f"too many levels of symbolic links: {rel}")
            target = os.readlink(full)
            if target.startswith("/"):
                current = ""
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        current = candidate
    return os.path.join(root, current) if current else root


def image_path(root: str, path: str) -> str:
    """The absolute path ``path`` names inside the image mounted at ``root``, with every
    symlink on the way (the last one too) followed as if ``root`` were ``/`` (Docker's
    ``FollowSymlinkInScope``): ``/link/x`` with ``/link -> /real`` is ``/real/x``."""
    resolved = os.path.relpath(scoped_path(root, path.lstrip("/")), root)
    return "/" if resolved == "." else "/" + resolved.replace(os.sep, "/")


def split_sources(args: tuple[str, ...], keyword: str) -> tuple[list[str], str]:
    if len(args) < 2:
        raise InvalidArgument(f"{keyword} requires at least two arguments")
    return list(args[:-1]), args[-1]


def resolve_dest(dest: str, workdir: str) -> tuple[str, bool]:
    """The absolute destination and whether it names a directory (a trailing ``/``)."""
    is_dir = dest.endswith("/") or dest in (".", "..") or dest.endswith("/.")
    full = posixpath.normpath(posixpath.join(workdir or "/", dest))
    return full, is_dir


def safe_name(name: str) -> str:
    """A file name from the Dockerfile (``COPY <<name``): one path part, never ``..``."""
    base = posixpath.basename(name)
    if base in ("", ".", ".."):
        raise InvalidArgument(f"invalid file name {name!r}")
    return base


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _has_wildcard(part: str) -> bool:
    return any(ch in part for ch in "*?[")


def _glob(root: str, rel: str) -> list[str]:
    """The context-relative paths matching ``rel``, whose parts may hold wildcards
    (``src/*/conf``); each directory listed is resolved inside ``root``."""
    matches = [""]
    for part in rel.split("/"):
        nxt = []
        for base in matches:
            if not _has_wildcard(part):
                nxt.append(posixpath.join(base, part) if base else part)
                continue
            parent = scoped_path(root, base)
            names = sorted(os.listdir(parent)) if os.path.isdir(parent) else []
            nxt += [posixpath.join(base, n) if base else n for n in names if fnmatch.fnmatchcase(n, part)]
        matches = nxt
    return [m for m in matches if os.path.lexists(scoped_path(root, m))]


def expand_sources(root: str, patterns: list[str], excluded: Excluded | None) -> list[tuple[str, str]]:
    """``[(host path, context-relative path)]`` for each source (wildcards in any part)."""
    out = []
    for pattern in patterns:
        if is_url(pattern):
            raise InvalidArgument(f"{pattern}: a URL source is only allowed in ADD")
        rel = posixpath.normpath("/" + pattern).lstrip("/")
        if _has_wildcard(rel):
            found = [(scoped_path(root, m), m) for m in _glob(root, rel)]
            found = [f for f in found if not (excluded and excluded(f[1]))]
            if not found:
                raise NotFound(f"no source files were specified (no match for {pattern})")
            out += found
            continue
        path = scoped_path(root, rel)
        if not os.path.lexists(path) or (excluded and rel and excluded(rel)):
            raise NotFound(f"failed to compute cache key: \"/{rel}\" not found: file not found in build context "
                           "or excluded by .dockerignore")
        out.append((path, rel))
    return out


def stage_copy(spec: CopySpec, sources: list[tuple[str, str]], staging: str, excluded: Excluded | None,
               existing_dir: Callable[[str], bool]) -> None:
    """Lay the sources out under ``staging`` at ``spec.dest``."""
    into_dir = spec.dest_is_dir or len(sources) > 1 or existing_dir(spec.dest)
    for host, rel in sources:
        if os.path.isdir(host):
            target = _stage_path(staging, spec.dest)
            _make_dirs(target, spec)
            _copy_tree(host, rel, target, spec, excluded)
        elif spec.extract and _is_archive(host):
            target = _stage_path(staging, spec.dest)
            _make_dirs(target, spec)
            _extract(host, target)
        else:
            dest = posixpath.join(spec.dest, posixpath.basename(rel)) if into_dir else spec.dest
            target = _stage_path(staging, dest)
            _make_dirs(os.path.dirname(target), spec)
            _copy_entry(host, target, spec)


def _stage_path(staging: str, dest: str) -> str:
    rel = posixpath.normpath("/" + dest).lstrip("/")
    return os.path.join(staging, rel) if rel else staging


def _make_dirs(path: str, spec: CopySpec) -> None:
    if os.path.isdir(path):
        return
    os.makedirs(path, mode=0o755, exist_ok=True)
    os.chown(path, spec.uid, spec.gid)


def _copy_entry(src: str, dst: str, spec: CopySpec) -> None:
    st = os.lstat(src)
    if os.path.lexists(dst) and not os.path.isdir(dst):
        os.unlink(dst)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISREG(st.st_mode):
        shutil.copy2(src, dst, follow_symlinks=False)
        if spec.chmod is not None:
            os.chmod(dst, spec.chmod)
    elif stat.S_ISDIR(st.st_mode):
        os.makedirs(dst, exist_ok=True)
        os.chmod(dst, spec.chmod if spec.chmod is not None else stat.S_IMODE(st.st_mode))
    else:
        return  # devices, fifos, sockets: left out
    os.lchown(dst, spec.uid, spec.gid)


def _copy_tree(src: str, rel: str, dst: str, spec: CopySpec, excluded: Excluded | None) -> None:
    for dirpath, dirnames, filenames in os.walk(src):
        sub = os.path.relpath(dirpath, src)
        sub = "" if sub == "." else sub
        for name in sorted(dirnames + filenames):
            child_rel = posixpath.join(rel, sub, name) if rel else posixpath.join(sub, name)
            if excluded and excluded(child_rel):
                continue
            source = os.path.join(dirpath, name)
            target = os.path.join(dst, sub, name)
            _copy_entry(source, target, spec)
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]


def _is_archive(path: str) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def _extract(archive: str, target: str) -> None:
    """Unpack a local archive with the layer unpacker (nothing lands outside ``target``)."""
    with open(archive, "rb") as raw:
        head = raw.read(6)
        raw.seek(0)
        opener = bz2.open if head.startswith(b"BZh") else lzma.open if head.startswith(b"\xfd7zXZ") else None
        stream = opener(raw, "rb") if opener else raw
        if not os.listdir(target):
            unpack_into(stream, target)
            return
        scratch = target.rstrip("/") + ".unpack"
        os.mkdir(scratch, 0o755)
        unpack_into(stream, scratch)
    shutil.copytree(scratch, target, symlinks=True, dirs_exist_ok=True)
    shutil.rmtree(scratch, ignore_errors=True)


def tree_digest(root: str) -> str:
    """A hash of a staging tree: paths, types, modes, owners, contents and link targets."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            h.update(f"{os.path.relpath(path, root)}\0{st.st_mode}\0{st.st_uid}\0{st.st_gid}\0".encode())
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(path).encode())
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
            h.update(b"\n")
    return "sha256:" + h.hexdigest()


def parse_chown(value: str, passwd: str, group: str) -> tuple[int, int]:
    """``--chown=user:group`` (names looked up in the image's /etc/passwd and /etc/group text)."""
    user, _, grp = value.partition(":")

    def lookup(name: str, table: str, what: str) -> tuple[int, int]:
        if name.isdigit():
            return int(name), -1
        for line in table.splitlines():
            fields = line.split(":")
            if len(fields) >= 3 and fields[0] == name and fields[2].isdigit():
                primary = fields[3] if len(fields) > 3 and fields[3].isdigit() else "-1"
                return int(fields[2]), int(primary)
        raise InvalidArgument(f"unable to convert {what} {name} to a number: not found in the image")

    uid, primary = lookup(user, passwd, "uid")
    if grp:
        gid = lookup(grp, group, "gid")[0]
    else:
        gid = primary if primary >= 0 else uid
    return uid, gid
