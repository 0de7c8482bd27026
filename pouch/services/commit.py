"""Container → image use cases: ``commit``, ``diff`` (changes) and ``export``.

commit: pause the container (unless told not to; ``runc pause`` freezes it, a
systemd rich container included), write its upper dir as a layer tar without
Pouch's runtime artefacts (:mod:`pouch.images.artefacts`), resume it, then add
the image (:func:`pouch.images.commit.store_commit`). The tar goes to a temp
file under the image store's tmp dir, removed whatever happens.

export: the container's merged filesystem as a tar. A running container's
rootfs is mounted already; otherwise its layers are mounted read-only (the
upper dir as the top lower dir: no upper, no work dir, nothing written) on a
temporary directory that is unmounted when the stream ends or is abandoned.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator

from pouch import mount as mounts
from pouch import reference
from pouch.errors import PouchError
from pouch.images import commit as image_commit
from pouch.images import oci
from pouch.images.artefacts import select_container_files
from pouch.images.diff import container_changes
from pouch.images.layertar import tar_stream, write_layer
from pouch.models import Status
from pouch.oci.spec import resolve_args
from pouch.services import commitpause, lifecycle
from pouch.services.lifecycle import Op

log = logging.getLogger(__name__)


def commit_container(
    engine,
    ref: str,
    *,
    repo: str = "",
    tag: str = "",
    comment: str = "",
    author: str = "",
    changes: tuple[str, ...] = (),
    pause: bool = True,
    body: dict | None = None,
) -> str:
    """``POST /commit``: returns the new image's id."""
    containers, images = engine.containers, engine.images
    name = image_commit.commit_name(repo, tag)
    c = containers.get(ref)
    lifecycle.check(Op.COMMIT, c)
    image = images.for_container(c.image_id)
    config = image_commit.container_image_config(c.options, image.image_config)
    config = image_commit.override_from_body(config, body)
    work = tempfile.mkdtemp(prefix="commit-", dir=images.tmp_dir)
    try:
        layer_path = os.path.join(work, "layer.tar")
        upper = images.rw_dirs(c.id).upper
        with _paused(containers, c.id, pause and c.state.status == Status.RUNNING):
            written = write_layer(upper, layer_path, overlay=True, select=select_container_files,
                                  id_base=_id_base(containers, c.id))
        diff_id = written.diff_id if written.entries else None
        try:
            created_by = " ".join(resolve_args(c.options, image.image_config))
        except PouchError:
            created_by = ""
        new_config = image_commit.commit_config(
            image.config, config, diff_id=diff_id, created=oci.now_rfc3339(), container_id=c.id,
            created_by=created_by, comment=comment, author=author, changes=tuple(changes),
        )
        image_id = image_commit.store_commit(images, image.chain_id, layer_path, diff_id, new_config, name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("committed container %s as %s%s", c.id[:12], image_id[:19], f" ({name})" if name else "")
    # Docker's events: container/commit, and image/tag when the image is named
    images.events.emit("container", "commit", c.id, {"comment": comment, "imageID": image_id,
                                                     "imageRef": name or "", "name": c.name})
    if name:
        images.events.emit("image", "tag", image_id, {"name": reference.familiar(name)})
    return image_id


@contextlib.contextmanager
def _paused(containers, container_id: str, pause: bool) -> Iterator[None]:
    """Freeze the container for the duration (``runc pause``), under its lifecycle lock, with
    the pause recorded on disk meanwhile (:mod:`pouch.services.commitpause`)."""
    if not pause:
        yield
        return
    with containers.locked(container_id):
        current = containers.get(container_id)
        if current.state.status != Status.RUNNING:
            yield
            return
        container_dir = containers.config.container_dir(container_id)
        commitpause.mark(container_dir)  # first: a pouchd killed while it is frozen thaws it at restart
        try:
            containers.runtime.pause(container_id)
        except BaseException:
            commitpause.clear(container_dir)
            raise
        try:
            yield
        finally:
            try:
                containers.runtime.resume(container_id)
            except PouchError:
                log.exception("resuming container %s after commit", container_id[:12])
            else:
                commitpause.clear(container_dir)


def changes(engine, ref: str) -> list[dict]:
    """``GET /containers/{id}/changes``."""
    c = engine.containers.get(ref)
    image = engine.images.for_container(c.image_id)
    return container_changes(engine.images.rw_dirs(c.id).upper, image.layer_dirs)


def export_stream(engine, ref: str) -> Iterator[bytes]:
    """``GET /containers/{id}/export``: the container and image are looked up now (a 404
    before the 200); the mount is made when the body is first read and undone at its end."""
    containers, images = engine.containers, engine.images
    c = containers.get(ref)
    image = images.for_container(c.image_id)
    return _export_chunks(containers, images, c, image.layer_dirs)


def _id_base(containers, container_id: str) -> int:
    """A user-namespaced container's range (its writable layer holds host ids): 0 for none."""
    ids = containers.userns.range_of(container_id)
    return ids.base if ids is not None else 0


def _export_chunks(containers, images, c, layer_dirs) -> Iterator[bytes]:
    rootfs = containers.rootfs_path(c)
    id_base = _id_base(containers, c.id)
    if c.state.status.is_active() and mounts.is_mountpoint(rootfs):
        yield from tar_stream(rootfs, overlay=False, include_root=True, id_base=id_base)
        return
    lowers = images.container_layer_dirs(c.id, layer_dirs)
    with mounts.mounted_layers(lowers, images.tmp_dir, f"export-{c.id[:12]}-") as target:
        yield from tar_stream(target, overlay=False, include_root=True, id_base=id_base)
