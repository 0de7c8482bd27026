"""``pouch cp`` in pouchd: ``GET``, ``HEAD`` and ``PUT /containers/{id}/archive``.

Where the container's root is:

* running or paused: ``/proc/<pid>/root`` of its init, i.e. its own mount tree (volumes,
  bind mounts, /etc/hosts... as the container sees them);
* created or stopped: its layers mounted on a fresh directory under the image store's
  tmp dir, read-only for reading (the upper dir as the top lower dir, as ``export``), the
  writable overlay (upper + work dir) for writing, and for reading too when the container
  has volumes or binds: the helper attaches them at their destinations, making missing
  mount points as a start would, in a mount namespace of its own
  (:mod:`pouch.services.archive_mounts`), so a copy reads and writes the volume as dockerd's
  does (which also mounts the writable layer and the volumes). The writable overlay is
  mounted under the container's lock, so a ``start`` cannot mount the same upper dir
  meanwhile. The mount goes when the operation ends, also on errors and when a client
  abandons a download.

The work inside the root is done by a helper process confined there with chroot(2)
(:mod:`pouch.services.archive_root`): the kernel resolves every symlink within the
container. The stat of the path is a :class:`~pouch.services.archive_root.PathStat` (its
``mode`` a Go ``os.FileMode``); the Docker API sends it in a header of its own.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import posixpath
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import IO, cast

from pouch import mount as mounts
from pouch.errors import Conflict, Forbidden, Internal, InvalidArgument, NotFound, PouchError
from pouch.services import archive_mounts
from pouch.services.archive_mounts import ContainerMount, innermost
from pouch.services.archive_root import GONE, READ_ONLY_ROOT, PathStat

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
HELPER = (sys.executable, "-I", "-m", "pouch.services.archive_root")


def _parse_stat(line: bytes) -> PathStat:
    """The helper's stat line (``PathStat.to_json``)."""
    return PathStat(**json.loads(line))


def _failure(stderr: bytes, ref: str, path: str) -> PouchError:
    try:
        doc = json.loads(stderr.decode(errors="replace").strip().splitlines()[-1])
        status, message = int(doc["status"]), str(doc["message"])
    except (ValueError, KeyError, IndexError, TypeError):
        return Internal(f"copy failed: {stderr.decode(errors='replace').strip()[-500:] or 'the helper died'}")
    if doc.get("missing"):
        return NotFound(f"Could not find the file {path} in container {ref}")
    cls = {400: InvalidArgument, 403: Forbidden, 404: NotFound, 409: Conflict}.get(status, Internal)
    return cls(message)


def _check_path(path: str) -> str:
    if not path:
        raise InvalidArgument("path is required")
    if "\0" in path:
        raise InvalidArgument("path contains a NUL byte")
    return path


def container_mounts(c) -> list[ContainerMount]:
    """The container's binds and volumes (their ``_data``), as the helper attaches them."""
    return [ContainerMount(b.source, b.target, b.read_only)
            for b in (*c.options.binds, *(v.as_bind() for v in c.options.volumes))]


def check_write(c, path: str) -> None:
    """dockerd's refusals of a copy into ``path`` (lexically here; the helper checks the
    destination again with its symlinks resolved): a read-only volume or bind, or else a
    read-only root."""
    abs_path = posixpath.normpath("/" + path.lstrip("/"))
    found = innermost(abs_path, [(m.target, m.read_only) for m in container_mounts(c)])
    if found is not None and found[1]:
        raise InvalidArgument(archive_mounts.READ_ONLY_VOLUME)
    if found is None and c.options.read_only:
        raise InvalidArgument(READ_ONLY_ROOT)


@contextlib.contextmanager
def _layers_root(engine, c) -> Iterator[str]:
    """The container's layers mounted read-only on a temporary directory (its upper dir on top)."""
    images = engine.images
    lowers = images.container_layer_dirs(c.id, images.for_container(c.image_id).layer_dirs)
    with mounts.mounted_layers(lowers, images.tmp_dir, f"cp-{c.id[:12]}-") as target:
        yield target


@contextlib.contextmanager
def _volumes_held(engine, c) -> Iterator[None]:
    """Volumes with a file system of their own (``-o type=...``) mounted while the helper works."""
    volumes = getattr(engine, "volumes", None)
    if volumes is None or not c.options.volumes:
        yield
        return
    with volumes.held(f"cp-{c.id}-{secrets.token_hex(4)}", c.options.volumes):
        yield


@contextlib.contextmanager
def container_root(engine, c, writable: bool, path: str = "") -> Iterator[list[str]]:
    """The helper's arguments naming the container's root (``--pid N`` or ``--root DIR``) and
    its volumes and binds (``--mounts``). A stopped container with volumes or binds gets its
    writable root, as from dockerd, even to read: the helper attaches them there and makes
    their missing mount points (as a start would); ``path``, for a write, is checked against
    a read-only root."""
    containers, images = engine.containers, engine.images
    if c.state.status.is_active() and c.state.pid:
        yield ["--pid", str(c.state.pid), "--mounts", archive_mounts.encode(container_mounts(c))]
        return
    if not writable and not container_mounts(c):
        with _layers_root(engine, c) as target:
            yield ["--root", target]
        return
    with containers.locked(c.id):
        c = containers.get(c.id)
        volume_args = ["--mounts", archive_mounts.encode(container_mounts(c))]
        if c.state.status.is_active() and c.state.pid:  # started meanwhile
            yield ["--pid", str(c.state.pid), *volume_args]
            return
        if writable:
            check_write(c, path)
        if c.options.read_only:
            volume_args.append("--read-only-root")  # the helper checks the resolved destination again
        with mounts.mounted_on_temp(images.rootfs_mount(c.image_id, c.id), images.tmp_dir, f"cp-{c.id[:12]}-") as target:
            with _volumes_held(engine, c):
                yield ["--root", target, "--writable-root", *volume_args]


def _retrying(attempt):
    """Run ``attempt()`` again (on the container's new state) if its process ended meanwhile."""
    try:
        return attempt()
    except Conflict as err:
        if err.message != GONE:
            raise
        return attempt()


def stat_path(engine, ref: str, path: str) -> PathStat:
    """``HEAD /containers/{id}/archive``: the stat of ``path`` in the container."""
    _check_path(path)

    def attempt() -> PathStat:
        c = engine.containers.get(ref)
        with container_root(engine, c, writable=False) as root:
            result = subprocess.run([*HELPER, "stat", *root, "--path", path], capture_output=True,
                                    stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise _failure(result.stderr, ref, path)
        return _parse_stat(result.stdout)

    return _retrying(attempt)


class ArchiveStream:
    """The tar of a path, read from the helper; :meth:`close` (the server calls it when the
    response ends or is abandoned) stops the helper and undoes the mount."""

    def __init__(self, proc: subprocess.Popen, stack: contextlib.ExitStack, ref: str, path: str) -> None:
        self.proc = proc
        self.stack = stack
        self.ref = ref
        self.path = path

    def __iter__(self) -> Iterator[bytes]:
        try:
            stdout = cast("io.BufferedReader", self.proc.stdout)  # stdout=PIPE, buffered
            while data := stdout.read1(CHUNK):
                yield data
            self.proc.wait()
            if self.proc.returncode != 0:
                assert self.proc.stderr is not None
                raise _failure(self.proc.stderr.read(), self.ref, self.path)
        finally:
            self.close()

    def close(self) -> None:
        self.stack.close()

    def __del__(self) -> None:  # a response that was never sent
        self.close()


def _reap(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def open_archive(engine, ref: str, path: str) -> tuple[PathStat, ArchiveStream]:
    """``GET /containers/{id}/archive``: the stat (a 404 is raised before any byte is sent)
    and the tar stream."""
    _check_path(path)
    return _retrying(lambda: _open_archive(engine, ref, path))


def _open_archive(engine, ref: str, path: str) -> tuple[PathStat, ArchiveStream]:
    c = engine.containers.get(ref)
    stack = contextlib.ExitStack()
    try:
        root = stack.enter_context(container_root(engine, c, writable=False))
        proc = subprocess.Popen([*HELPER, "get", *root, "--path", path, *_id_args(engine, c)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stack.callback(_reap, proc)
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        if not first:
            proc.wait()
            raise _failure(proc.stderr.read(), ref, path)
        stat = _parse_stat(first)
    except BaseException:
        stack.close()
        raise
    engine.containers.events.emit_container(c, "archive-path")
    return stat, ArchiveStream(proc, stack, ref, path)


def put_archive(engine, ref: str, path: str, stream, *, no_overwrite_dir_non_dir: bool = False,
                copy_uid_gid: bool = False) -> None:
    """``PUT /containers/{id}/archive``: extract the tar ``stream`` into the directory ``path``.
    Entries are owned by root unless ``copy_uid_gid`` keeps the archive's owners (``cp -a``).

    All or nothing for an upload cut short: the whole tar is spooled to a file under the image
    store's tmp dir first, so a client that hangs up half-way leaves nothing in the container."""
    c = engine.containers.get(ref)
    _check_path(path)
    flags = ["--no-overwrite-dir-non-dir"] if no_overwrite_dir_non_dir else []
    if copy_uid_gid:
        flags.append("--keep-owner")
    with tempfile.TemporaryFile(dir=engine.images.tmp_dir, prefix="cp-put-") as spool:
        while chunk := stream.read(CHUNK):
            spool.write(chunk)
        spool.seek(0)
        _extract(engine, c, ref, path, spool, flags)


def _id_args(engine, c) -> list[str]:
    """A user-namespaced container's range for the helper: the tar carries the container's ids."""
    ids = engine.containers.userns.range_of(c.id)
    return ["--id-base", str(ids.base)] if ids is not None else []


def _extract(engine, c, ref: str, path: str, tar_file: IO[bytes], flags: list[str]) -> None:
    """The helper extracts ``tar_file`` (a whole tar, read from its start) into ``path``."""
    with container_root(engine, c, writable=True, path=path) as root:
        proc = subprocess.Popen([*HELPER, "put", *root, "--path", path, *flags, *_id_args(engine, c)], stdin=tar_file,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _out, stderr = proc.communicate()
        finally:
            _reap(proc)
    if proc.returncode != 0:
        raise _failure(stderr, ref, path)
    engine.containers.events.emit_container(c, "extract-to-dir")
