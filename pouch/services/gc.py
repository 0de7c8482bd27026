"""Garbage collection: gather the facts of the store, let :func:`pouch.gc.find_garbage` decide,
delete what it returns.

Runs at pouchd's start (after ``ContainerService.recover``, before the API serves) and in
``image prune`` (so ``system prune`` too). The facts are read under the image store's lock,
which every writer of images holds (import, load, commit, build) or replaces with a lease
(pull, push): what an operation in progress wrote is referenced by the lock holder's records
or by its lease, and what it is writing is in the content store's and the snapshotter's
in-memory sets of work in progress. ``tmp/`` and container directories are only collected
once older than this daemon (a create makes its directory before its record), and never
through a mount: stale mounts below ``tmp/`` (a previous daemon's ``cp``/``export``) are
detached first, a container directory with a mount below it is left to ``recover``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass

from pouch import gc, mount
from pouch.config import DaemonConfig
from pouch.diskusage import directory_size
from pouch.errors import PouchError
from pouch.images import blobs, oci
from pouch.images.service import ImageService
from pouch.metadata import containers as container_store
from pouch.metadata import images as image_store
from pouch.metadata.db import Database
from pouch.snapshots.overlay import chain_ids
from pouch.types import is_digest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GcReport:
    garbage: gc.Garbage
    space_reclaimed: int  # bytes (apparent size, as the prunes count)


class GarbageCollector:
    def __init__(self, config: DaemonConfig, db: Database, images: ImageService) -> None:
        self.config = config
        self.db = db
        self.images = images
        self.started = time.time()  # what is older than this daemon is no operation of its own
        self.containers_dir = os.path.join(config.root, "containers")
        self.pending_dir = os.path.join(config.root, "pending-removal")

    def collect(self, *, startup: bool = False) -> GcReport:
        """Delete what no record, lease or work in progress references; what it was and its bytes."""
        with self.images.transaction():
            facts = self.facts(startup=startup)
            garbage = gc.find_garbage(facts)
            reclaimed = self._delete(garbage) if garbage else 0
        if garbage:
            log.info("garbage collection: %d blobs, %d snapshots (+%d directories), %d ingest files, %d tmp entries, "
                     "%d container directories, %d writable layers: %d bytes", len(garbage.blobs),
                     len(garbage.chains), len(garbage.snapshot_dirs), len(garbage.ingest), len(garbage.tmp),
                     len(garbage.container_dirs), len(garbage.rw_dirs), reclaimed)
        return GcReport(garbage, reclaimed)

    # --- facts -----------------------------------------------------------------------------------
    def facts(self, *, startup: bool = False) -> gc.GcFacts:
        images = self.images
        lease_blobs, lease_chains = images.leased()
        snapshot_dirs, busy_dirs = images.snapshots.dir_state()
        ingest, busy_ingest = images.content.ingest_state()
        snapshots = {r.chain_id: gc.SnapshotFact(r.parent, r.dir) for r in image_store.list_snapshots(self.db)}
        blob_set = frozenset(images.content.list())
        rw_dirs = self._stale(images.snapshots.containers_dir, startup)
        return gc.GcFacts(
            images=tuple(self._image_refs()),
            containers=(*self._container_refs(blob_set), *self._young_rw_layers(rw_dirs)),
            lease_blobs=lease_blobs, lease_chains=lease_chains, blobs=blob_set, snapshots=snapshots,
            snapshot_dirs=snapshot_dirs, busy_snapshot_dirs=busy_dirs, ingest=ingest, busy_ingest=busy_ingest,
            tmp=self._stale(images.tmp_dir, startup),
            container_dirs=self._stale(self.containers_dir, startup),
            rw_dirs=rw_dirs,
        )

    def _image_refs(self) -> Iterable[gc.ImageRefs]:
        content = self.images.content
        for row in image_store.list_images(self.db):
            config = json.loads(row.config)
            chain = chain_ids(oci.diff_ids(config))
            yield gc.ImageRefs(frozenset(blobs.owned_blobs(content, row.id, config, row.manifest)),
                               chain[-1] if chain else "")

    def _container_refs(self, blob_set: frozenset[str]) -> Iterable[gc.ContainerRefs]:
        ids = {c.id: c.image_id for c in container_store.list_all(self.db)}
        with contextlib.suppress(FileNotFoundError):  # removals journaled and not finished yet
            for name in os.listdir(self.pending_dir):
                ids.setdefault(name.removesuffix(".json").removesuffix(".tmp"), "")
        snapshots = self.images.snapshots
        layers: dict[str, set[str]] = {}  # container id -> its writable layers' keys (upgrade: two)
        for key in snapshots.rw_keys():
            layers.setdefault(gc.owner(key), set()).add(key)
        for container_id, image_id in ids.items():
            chains = {snapshots.rw_parent(key) for key in layers.get(container_id, ())}
            if is_digest(image_id) and image_id in blob_set:  # its image's layers, also after rmi -f
                with contextlib.suppress(PouchError, ValueError):
                    top = chain_ids(oci.diff_ids(json.loads(self.images.content.read(image_id))))
                    chains.update(top[-1:])
            yield gc.ContainerRefs(container_id, image_id if is_digest(image_id) else "", frozenset(chains - {""}))

    def _young_rw_layers(self, stale: frozenset[str]) -> Iterable[gc.ContainerRefs]:
        """Writable layers made by this daemon and not recorded yet (a create in progress): roots of
        the snapshot they stack on."""
        snapshots = self.images.snapshots
        for key in set(snapshots.rw_keys()) - stale:
            parent = snapshots.rw_parent(key)
            yield gc.ContainerRefs(key, "", frozenset({parent} - {""}))

    def _stale(self, directory: str, startup: bool) -> frozenset[str]:
        """Names in ``directory`` older than this daemon (every one at start)."""
        out = set()
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(directory):
                with contextlib.suppress(FileNotFoundError):
                    if startup or os.lstat(os.path.join(directory, name)).st_mtime < self.started:
                        out.add(name)
        return frozenset(out)

    # --- sweep -----------------------------------------------------------------------------------
    def _delete(self, garbage: gc.Garbage) -> int:
        images = self.images
        reclaimed = 0
        for key in garbage.rw_dirs:
            reclaimed += _remove_unmounted(os.path.join(images.snapshots.containers_dir, key))
        for container_id in garbage.container_dirs:
            reclaimed += _remove_unmounted(os.path.join(self.containers_dir, container_id))
        sizes = {r.chain_id: r.size for r in image_store.list_snapshots(self.db)}
        images.snapshots.remove_chains(garbage.chains)
        reclaimed += sum(sizes.get(c, 0) for c in garbage.chains)
        for name in garbage.snapshot_dirs:
            reclaimed += directory_size(os.path.join(images.snapshots.root, name))
            images.snapshots.remove_dir(name)
        for digest in garbage.blobs:
            reclaimed += images.content.blob_bytes(digest)
            images.content.delete(digest)
        for name in garbage.ingest:
            if _still_unleased(images, name):
                reclaimed += _size(os.path.join(images.content.ingest_dir, name))
                images.content.delete_ingest(name)
        for name in garbage.tmp:
            reclaimed += _remove_detached(os.path.join(images.tmp_dir, name))
        return reclaimed


def _still_unleased(images: ImageService, name: str) -> bool:
    """A partial download: a pull may have leased its blob since the facts were read."""
    if not name.endswith(gc.PARTIAL_SUFFIX):
        return True
    return "sha256:" + name.removesuffix(gc.PARTIAL_SUFFIX) not in images.leased()[0]


def _size(path: str) -> int:
    try:
        return os.lstat(path).st_size
    except FileNotFoundError:
        return 0


def _mounts_below(path: str) -> list[str]:
    prefix = os.path.realpath(path).rstrip("/") + "/"
    return [m for m in mount.mountpoints() if m.startswith(prefix) or m == prefix[:-1]]


def _remove_unmounted(path: str) -> int:
    """Remove a directory tree unless something is mounted below it; its bytes."""
    below = _mounts_below(path)
    if below:
        log.warning("garbage collection: keeping %s: %s is mounted", path, below[0])
        return 0
    size = directory_size(path)
    shutil.rmtree(path, ignore_errors=True)
    return size


def _remove_detached(path: str) -> int:
    """Remove a stale temporary entry, detaching the mounts a dead operation left below it first."""
    for target in reversed(_mounts_below(path)):
        with contextlib.suppress(PouchError):
            mount.unmount(target, lazy=True)
    if os.path.isdir(path) and not os.path.islink(path):
        return _remove_unmounted(path)
    size = _size(path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return size
