"""Pouch's files in a rich container's own layer, written on every start, never through a symlink.

systemd mode writes /etc/machine-id and its unit links (the app's and the ops
units, the getty masks to /dev/null), and every mode /etc/profile.d/pouch-env.sh,
into the container's root (its overlay, mounted on the host). They are still there
at the next start, and a symlink among them must be replaced, not followed: the
getty mask ``-> /dev/null`` followed from the host is the image's /dev/null (which
the first fix-up of this kind replaced with a link to itself, a loop), a unit link
``-> /.pouch/rich/...`` names a path that exists only inside the running container.

So the parent directory is resolved inside the root (``oci.user.resolve_in_root``:
symlinks taken as the container would, never out of the root), opened with
``O_NOFOLLOW``, and the last component is handled relative to it (``dir_fd``): a
link already right is left alone, anything else but a directory is replaced.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence

from pouch.errors import InvalidArgument
from pouch.oci.user import resolve_in_root

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _problem(path: str, err: OSError) -> InvalidArgument:
    return InvalidArgument(f"cannot write {path} in the container's root: {err.strerror or err}")


@contextlib.contextmanager
def _parent_dir(rootfs: str, path: str, create: bool = True) -> Iterator[tuple[int, str]]:
    """An fd of ``path``'s parent directory inside ``rootfs`` (made if missing and ``create``), and its last name."""
    parent, name = posixpath.split(posixpath.normpath("/" + path.lstrip("/")))
    if not name:
        raise InvalidArgument(f"{path}: not a file path")
    host_parent = resolve_in_root(rootfs, parent)
    try:
        if create:
            os.makedirs(host_parent, mode=0o755, exist_ok=True)
        fd = os.open(host_parent, _DIR_FLAGS)
    except OSError as err:
        raise _problem(path, err) from err
    try:
        yield fd, name
    finally:
        os.close(fd)


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None


def place_link(rootfs: str, path: str, target: str) -> None:
    """``path`` inside ``rootfs`` becomes a symlink to ``target``: kept if it already is one,
    else what is there (a file, another link) replaced; a directory there is an error."""
    with _parent_dir(rootfs, path) as (fd, name):
        st = _lstat(name, fd)
        try:
            if st is not None and stat.S_ISLNK(st.st_mode) and os.readlink(name, dir_fd=fd) == target:
                return
            if st is not None:
                if stat.S_ISDIR(st.st_mode):
                    raise InvalidArgument(f"cannot write {path} in the container's root: it is a directory")
                os.unlink(name, dir_fd=fd)
            os.symlink(target, name, dir_fd=fd)
        except OSError as err:
            raise _problem(path, err) from err


def write_file(rootfs: str, path: str, content: str, mode: int = 0o644) -> None:
    """``path`` inside ``rootfs`` becomes a regular file with ``content``, atomically
    (a temp file renamed over it, so a symlink there is replaced, never written through)."""
    with _parent_dir(rootfs, path) as (fd, name):
        tmp = f"{name}.tmp"  # images/artefacts.py knows pouch-env.sh.tmp: a commit leaves it out
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=fd)
            out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=fd)
            with os.fdopen(out, "w") as f:
                f.write(content)
            os.rename(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
        except OSError as err:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=fd)
            raise _problem(path, err) from err


def read_text(rootfs: str, path: str) -> str | None:
    """The text of regular file ``path`` inside ``rootfs`` (None if missing or not a regular
    file: a FIFO planted there must not hang pouchd, a symlink loop must not fail the start)."""
    try:
        host = resolve_in_root(rootfs, path)
        fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, InvalidArgument):
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return f.read().decode("utf-8", errors="replace")


def links_in(rootfs: str, directories: Sequence[str]) -> dict[str, str]:
    """The symlinks directly in each of ``directories`` inside ``rootfs`` (path -> target)."""
    found: dict[str, str] = {}
    for directory in directories:
        try:
            fd = os.open(resolve_in_root(rootfs, directory), _DIR_FLAGS)
        except (OSError, InvalidArgument):
            continue
        try:
            for name in os.listdir(fd):
                with contextlib.suppress(OSError):
                    found[posixpath.join(directory, name)] = os.readlink(name, dir_fd=fd)
        finally:
            os.close(fd)
    return found


def remove_links(rootfs: str, links: Mapping[str, str]) -> None:
    """Remove each ``path -> target`` symlink inside ``rootfs`` that still points at ``target``."""
    for path, target in links.items():
        with _parent_dir(rootfs, path, create=False) as (fd, name):
            with contextlib.suppress(OSError):
                if os.readlink(name, dir_fd=fd) == target:
                    os.unlink(name, dir_fd=fd)


def repair_self_link(rootfs: str, path: str, device: Callable[[], int | None]) -> bool:
    """Undo a symlink of ``path`` to itself, a loop (what replacing a getty mask through its
    link once left at the image's /dev/null); ``device()`` (an ``st_rdev``: the image's own
    node, asked only then) brings the character device back. Whether there was one to repair."""
    try:
        with _parent_dir(rootfs, path, create=False) as (fd, name):
            st = _lstat(name, fd)
            if st is None or not stat.S_ISLNK(st.st_mode) or os.readlink(name, dir_fd=fd) != path:
                return False
            os.unlink(name, dir_fd=fd)
            rdev = device()
            if rdev is not None:
                os.mknod(name, 0o666 | stat.S_IFCHR, rdev, dir_fd=fd)
                os.chmod(name, 0o666, dir_fd=fd)  # mknod's mode is the umask's
            return True
    except OSError as err:
        raise _problem(path, err) from err
    except InvalidArgument:  # no parent directory: nothing to repair
        return False
