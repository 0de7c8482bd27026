"""Docker's copy-up: what the image has at a volume's mount path goes into the volume
when the volume is empty, with owners, modes, times and extended attributes kept.

Never follows a symlink out of either tree: the source directory is found with the
container's root as ``/`` (``oci.user.resolve_in_root``); below it every entry is opened
relative to its parent's file descriptor with ``O_NOFOLLOW``, symlinks are recreated as
symlinks (their targets are text, not followed), and every entry in the volume is created
fresh (``O_EXCL``) in a directory this walk created. Hard links become separate files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

from pouch.oci.user import resolve_in_root

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


def copy_up(rootfs: str, container_path: str, volume_dir: str) -> bool:
    """Copy ``container_path`` of the container's root ``rootfs`` into ``volume_dir`` if the
    path is a directory there and ``volume_dir`` is empty. True when something was copied.
    On failure the volume is emptied again and the error raised."""
    source = resolve_in_root(rootfs, container_path)
    try:
        src_fd = os.open(source, _DIR_FLAGS)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            return False  # nothing there, a file, or a link swapped in: nothing to copy
        raise
    try:
        dst_fd = os.open(volume_dir, _DIR_FLAGS)
        try:
            if os.listdir(dst_fd):
                return False
            try:
                _copy_children(src_fd, dst_fd)
                _copy_metadata(src_fd, dst_fd, os.fstat(src_fd))
            except BaseException:
                _empty(dst_fd)
                raise
            return True
        finally:
            os.close(dst_fd)
    finally:
        os.close(src_fd)


def _copy_children(src_fd: int, dst_fd: int) -> None:
    for name in os.listdir(src_fd):
        st = os.stat(name, dir_fd=src_fd, follow_symlinks=False)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(name, 0o700, dir_fd=dst_fd)
            child_src = os.open(name, _DIR_FLAGS, dir_fd=src_fd)
            try:
                child_dst = os.open(name, _DIR_FLAGS, dir_fd=dst_fd)
                try:
                    _copy_children(child_src, child_dst)
                    _copy_metadata(child_src, child_dst, st)
                finally:
                    os.close(child_dst)
            finally:
                os.close(child_src)
        elif stat.S_ISREG(mode):
            _copy_file(name, src_fd, dst_fd, st)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(name, dir_fd=src_fd), name, dir_fd=dst_fd)
            os.chown(name, st.st_uid, st.st_gid, dir_fd=dst_fd, follow_symlinks=False)
            os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst_fd, follow_symlinks=False)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            os.mknod(name, stat.S_IFMT(mode) | 0o600, st.st_rdev, dir_fd=dst_fd)
            os.chown(name, st.st_uid, st.st_gid, dir_fd=dst_fd, follow_symlinks=False)
            _chmod_node(name, dst_fd, stat.S_IMODE(mode))
            os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst_fd, follow_symlinks=False)


def _chmod_node(name: str, dir_fd: int, mode: int) -> None:
    """chmod of a device node or fifo we just made (not a symlink: opened by path in our own dir)."""
    fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        os.chmod(f"/proc/self/fd/{fd}", mode)
    finally:
        os.close(fd)


def _copy_file(name: str, src_dir: int, dst_dir: int, st: os.stat_result) -> None:
    src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=src_dir)
    try:
        dst = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dst_dir)
        try:
            _copy_data(src, dst)
            _copy_metadata(src, dst, st)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _copy_data(src: int, dst: int) -> None:
    offset = 0
    try:
        while True:
            sent = os.sendfile(dst, src, offset, _CHUNK)
            if sent == 0:
                return
            offset += sent
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOSYS) or offset:
            raise
    while chunk := os.read(src, _CHUNK):  # sendfile refused this pair: plain copy
        os.write(dst, chunk)


def _copy_metadata(src: int, dst: int, st: os.stat_result) -> None:
    """Owner, then mode (chown clears set-id bits), extended attributes, times."""
    os.fchown(dst, st.st_uid, st.st_gid)
    os.fchmod(dst, stat.S_IMODE(st.st_mode))
    with contextlib.suppress(OSError):
        for key in os.listxattr(src):
            if key.startswith("trusted.overlay."):
                continue
            with contextlib.suppress(OSError):
                os.setxattr(dst, key, os.getxattr(src, key))
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


def _empty(dir_fd: int) -> None:
    """Remove what a failed copy left (entries this walk created; no symlink is followed)."""
    for name in os.listdir(dir_fd):
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            child = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            try:
                os.fchmod(child, 0o700)
                _empty(child)
            finally:
                os.close(child)
            os.rmdir(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)
