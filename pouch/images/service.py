"""The image store: load, import, list, look up, tag and remove images.

Wires the content store (config and manifest blobs), the overlay snapshotter
(unpacked layers) and the metadata tables. Every mutation runs under one lock
and inside an ``ExitStack`` of rollbacks that is only released once the final
database transaction committed: a failed load or import leaves no tag, no
image row, no new blob and no new snapshot behind.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import json
import logging
import lzma
import os
import re
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import BinaryIO

from pouch import reference
from pouch.archive import Budget, Readable, free_budget, open_decompressed
from pouch.config import DaemonConfig
from pouch.content import ContentStore
from pouch.errors import Conflict, InvalidArgument, NotFound
from pouch.events import EventBus
from pouch.images import blobs, lineage, oci
from pouch.images.bundle import Bundle, ImagePlan, read_plans
from pouch.images.changes import apply_changes
from pouch.images.deleted import ImageDeleteItem, deleted, untagged
from pouch.images.record import ImageRecord
from pouch.metadata import images as store
from pouch.metadata.db import Database
from pouch.metadata.images import ImageRow
from pouch.snapshots.overlay import AppliedLayer, OverlaySnapshotter, RwDirs, chain_id, chain_ids
from pouch.types import Mount, is_digest, sha256_digest, short_id

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
_HEX_PREFIX_RE = re.compile(r"^[a-f0-9]{1,64}$")

@dataclass
class Lease:
    """Blobs and snapshots an operation in progress uses (see :meth:`ImageService.lease`)."""

    blobs: set[str] = field(default_factory=set)
    chains: set[str] = field(default_factory=set)


ContainersUsing = Callable[[str], list[str]]  # image id -> ids of the containers created from it
IsRunning = Callable[[str], bool]  # container id -> running (or paused)?


class ImageService:
    """The local image store. Which containers use an image (a stopped one keeps a deleted
    image's config and layers) it asks ``containers_using``, given by ``engine.build_engine``:
    it never reads container records itself."""

    def __init__(self, db: Database, config: DaemonConfig, events: EventBus | None = None, *,
                 containers_using: ContainersUsing) -> None:
        self.events = events or EventBus()
        self.containers_using = containers_using
        self.db = db
        self.config = config
        self.content = ContentStore(config.content_dir)
        self.snapshots = OverlaySnapshotter(db, config.snapshots_dir, config.max_layer_size)
        self.tmp_dir = os.path.join(config.root, "tmp")
        os.makedirs(self.tmp_dir, mode=0o700, exist_ok=True)
        # <hex> files: images deleted (rmi -f) while stopped containers still use them
        self.held_dir = os.path.join(config.root, "held-images")
        os.makedirs(self.held_dir, mode=0o700, exist_ok=True)
        self.platform = oci.host_platform()
        self._lock = threading.RLock()
        self._leases: list[Lease] = []

    def recover(self) -> None:
        """Daemon start: forget interrupted writes and unpacks, drop unreferenced layers
        (``tmp/`` is left to garbage collection, ``services/gc.py``, which never reaches
        through a mount a dead ``cp`` or ``export`` left there)."""
        with self._lock:
            self.content.cleanup()
            self.snapshots.cleanup()
            self._release_held()
            self.snapshots.remove_unused(self._chain_ids_in_use())

    # --- lookups ------------------------------------------------------------------------
    def _record(self, row: ImageRow, names: list[str]) -> ImageRecord:
        config = json.loads(row.config)
        chain = chain_ids(oci.diff_ids(config))
        top = chain[-1] if chain else ""
        return ImageRecord(
            id=row.id,
            repo_tags=tuple(n for n in names if "@" not in n),
            repo_digests=tuple(n for n in names if "@" in n),
            created=config.get("created") or oci.ZERO_TIME,
            size=row.size,
            config=config,
            chain_id=top,
            layer_dirs=self._layer_dirs(top),
            manifest_digest=row.manifest,
        )

    def _layer_dirs(self, top: str) -> tuple[str, ...]:
        try:
            return tuple(self.snapshots.lowerdirs(top)) if top else ()
        except NotFound:
            log.warning("image layers of %s are missing", top)
            return ()

    def list_images(self) -> list[ImageRecord]:
        tags = store.all_tags(self.db)
        records = [self._record(row, tags.get(row.id, [])) for row in store.list_images(self.db)]
        return sorted(records, key=lambda r: (oci.rfc3339_to_unix(r.created), r.id), reverse=True)

    def _by_id(self, image_id: str) -> ImageRecord | None:
        row = store.get_image(self.db, image_id)
        return self._record(row, store.tags_of(self.db, image_id)) if row else None

    def _by_prefix(self, hex_prefix: str) -> ImageRecord | None:
        ids = store.image_ids_with_prefix(self.db, hex_prefix)
        return self._by_id(ids[0]) if len(ids) == 1 else None

    def find(self, ref_or_id: str) -> tuple[ImageRecord, str | None]:
        """The image and, when ``ref_or_id`` was a name, its normalised form."""
        text = ref_or_id.strip()
        if text.startswith("sha256:"):
            hex_ = text[len("sha256:") :]
            if _HEX_PREFIX_RE.match(hex_) and (record := self._by_prefix(hex_)):
                return record, None
            raise NotFound(f"No such image: {text}")
        display = text
        try:
            ref = reference.parse_reference(text).with_default_tag()
        except InvalidArgument:
            ref = None
        if ref is not None:
            display = ref.familiar()
            image_id = store.image_for_tag(self.db, str(ref))
            if image_id and (record := self._by_id(image_id)):
                return record, str(ref)
        if _HEX_PREFIX_RE.match(text) and (record := self._by_prefix(text)):
            return record, None
        raise NotFound(f"No such image: {display}")

    def get(self, ref_or_id: str) -> ImageRecord:
        """Accepts a name (short or full), ``sha256:<id>``, a full or unique short id."""
        return self.find(ref_or_id)[0]

    def get_or_none(self, ref_or_id: str) -> ImageRecord | None:
        try:
            return self.get(ref_or_id)
        except NotFound:
            return None

    # --- tag ------------------------------------------------------------------------------------
    def tag(self, source: str, target_ref: str) -> None:
        ref = reference.parse_reference(target_ref)
        if ref.digest:
            raise InvalidArgument("refusing to create a tag with a digest reference")
        with self._lock:
            record = self.get(source)
            name = str(ref.with_default_tag())
            with self.db.transaction() as tx:
                store.set_tag(tx, name, record.id)
        self.events.emit("image", "tag", record.id, {"name": reference.familiar(name)})

    # --- load -----------------------------------------------------------------------------------
    def load(self, stream: Readable) -> list[str]:
        """Load a ``docker save`` or OCI-layout tarball (plain, gzip, bzip2 or xz).

        Returns the loaded names in familiar form (``busybox:latest``) and, for
        images without a name, their id (``sha256:...``).
        """
        with ExitStack() as stack:
            work = tempfile.mkdtemp(prefix="load-", dir=self.tmp_dir)
            stack.callback(shutil.rmtree, work, True)
            archive = _spool(stream, work, free_budget(work, 0, "image archive"))
            try:
                tf = stack.enter_context(tarfile.open(archive, "r:"))
                bundle = Bundle(tf)
            except tarfile.TarError as exc:
                raise InvalidArgument(f"invalid image archive: {exc}") from exc
            plans = read_plans(bundle, self.platform)
            if not plans:
                raise InvalidArgument("invalid image archive: no images in it")
            with self._lock:
                return self._commit_plans(bundle, plans)
        raise AssertionError("unreachable")

    def _commit_plans(self, bundle: Bundle, plans: list[ImagePlan]) -> list[str]:
        with ExitStack() as rollback:
            rows: dict[str, ImageRow] = {}
            names: list[tuple[str, str]] = []
            for plan in plans:
                top = self._apply_layers(bundle, plan, rollback)
                self._store_blob(plan.config, rollback)
                if plan.manifest:
                    self._store_blob(plan.manifest, rollback)
                rows[plan.image_id] = ImageRow(
                    plan.image_id, plan.config, plan.manifest_digest, oci.now_rfc3339(), self.snapshots.size(top)
                )
                names += [(name, plan.image_id) for name in plan.names]
            with self.db.transaction() as tx:
                for row in rows.values():
                    store.insert_image(tx, row)
                for name, image_id in names:
                    store.set_tag(tx, name, image_id)
            rollback.pop_all()
        for image_id in rows:
            self.events.emit("image", "load", image_id, {"name": image_id})
        loaded = [reference.familiar(name) for name, _ in names]
        named = {image_id for _, image_id in names}
        loaded += [image_id for image_id in rows if image_id not in named]
        log.info("loaded %s", ", ".join(loaded))
        return loaded

    def _apply_layers(self, bundle: Bundle, plan: ImagePlan, rollback: ExitStack) -> str:
        parent = ""
        for layer, diff_id in zip(plan.layers, plan.diff_ids):
            # keep the exact layer blob (push and save need it), verified, then unpack from it
            digest = self._store_layer_blob(lambda member=layer.member: bundle.open(member), layer.digest, rollback)
            if self.snapshots.exists(chain_id(parent, diff_id)):
                parent = chain_id(parent, diff_id)
                continue
            with self.content.open(digest) as stream:
                applied = self.snapshots.apply(parent, stream, layer.media_type, diff_id=diff_id)
            if applied.created:
                rollback.callback(self.snapshots.remove, applied.chain_id)
            parent = applied.chain_id
        return parent

    def _store_layer_blob(self, open_stream: Callable, digest: str | None, rollback: ExitStack) -> str:
        """Write a layer blob to the content store (verified when ``digest`` is known); its digest."""
        if digest and self.content.exists(digest):
            return digest
        with open_stream() as stream:
            written = self.content.write(stream, digest, budget=self.layer_budget()).digest
        if not self._blob_in_use(written):
            rollback.callback(self.content.delete, written)
        return written

    def _store_blob(self, data: bytes, rollback: ExitStack) -> None:
        digest = sha256_digest(data)
        if self.content.exists(digest):
            return
        self.content.write_bytes(data, digest)
        rollback.callback(self.content.delete, digest)

    def layer_budget(self) -> Budget:
        """What one layer may take in the store: ``--max-layer-size`` and the free space of --root."""
        return free_budget(self.content.ingest_dir, self.config.max_layer_size)

    # --- the store's API for writers (pull, commit, build) ---------------------------------------
    @contextlib.contextmanager
    def lease(self) -> Iterator[Lease]:
        """What a long operation (a pull) writes without holding the store's lock: its blobs and
        snapshots are kept from garbage collection (``rmi``, other pulls' rollbacks) while the
        lease lasts. On failure, whatever it wrote that no image uses is removed."""
        lease = Lease()
        with self._lock:
            self._leases.append(lease)
        try:
            yield lease
        except BaseException:
            with self._lock:
                self._leases.remove(lease)
                self._collect(lease)
            raise
        with self._lock:
            self._leases.remove(lease)

    def leased(self) -> tuple[frozenset[str], frozenset[str]]:
        """The blobs and snapshots the leases of operations in progress hold now."""
        with self._lock:
            leases = list(self._leases)
        return (frozenset(d for lease in leases for d in list(lease.blobs)),
                frozenset(c for lease in leases for c in list(lease.chains)))

    def _collect(self, lease: Lease) -> None:
        for digest in lease.blobs:
            if not self._blob_in_use(digest):
                self.content.delete(digest)
        if lease.chains:
            self.snapshots.remove_unused(self._chain_ids_in_use())

    @contextlib.contextmanager
    def transaction(self) -> Iterator[ExitStack]:
        """One change of the store, under its lock: the block registers rollbacks on the stack it
        gets, which run if the block fails and are dropped when it succeeds."""
        with self._lock, ExitStack() as rollback:
            yield rollback
            rollback.pop_all()

    def has_blob(self, digest: str) -> bool:
        return self.content.exists(digest)

    def read_blob(self, digest: str) -> bytes:
        return self.content.read(digest)

    def open_blob(self, digest: str) -> BinaryIO:
        return self.content.open(digest)

    def has_snapshot(self, chain: str) -> bool:
        return self.snapshots.exists(chain)

    def ingest_path(self, digest: str) -> str:
        """Where a download of ``digest`` is written (kept there after a failure, to resume)."""
        return self.content.ingest_path(digest)

    def commit_download(self, path: str, digest: str) -> None:
        """A verified download becomes the blob ``digest``."""
        self.content.commit_file(path, digest)

    def store_blob(self, data: bytes, rollback: ExitStack | None = None) -> str:
        """Write ``data`` as a blob unless it is there; its digest."""
        digest = sha256_digest(data)
        if not self.content.exists(digest):
            self.content.write_bytes(data, digest)
            if rollback is not None:
                rollback.callback(self._delete_blob_if_unused, digest)
        return digest

    def store_layer_blob(self, stream: Readable, digest: str | None = None,
                         rollback: ExitStack | None = None) -> str:
        """Write a layer blob from ``stream`` (verified when ``digest`` is given); its digest."""
        if digest and self.content.exists(digest):
            return digest
        written = self.content.write(stream, digest).digest
        if rollback is not None:
            rollback.callback(self._delete_blob_if_unused, written)
        return written

    def store_layer(self, parent_chain: str, stream: Readable, media_type: str = oci.MEDIA_OCI_LAYER, *,
                    diff_id: str | None = None, digest: str | None = None, rollback: ExitStack | None = None,
                    lease: Lease | None = None) -> AppliedLayer:
        """Unpack a layer on ``parent_chain`` as a snapshot (an existing one is reused)."""
        applied = self.snapshots.apply(parent_chain, stream, media_type, diff_id=diff_id, digest=digest)
        if lease is not None:
            lease.chains.add(applied.chain_id)
        if applied.created and rollback is not None:
            rollback.callback(self.snapshots.remove, applied.chain_id)
        return applied

    def register_image(self, raw_config: bytes, manifest_digest: str, top_chain: str, names: Iterable[str],
                       created: str | None = None) -> str:
        """The image row (if new) and its names, in one database transaction; the image id."""
        image_id = sha256_digest(raw_config)
        with self.db.transaction() as tx:
            if store.get_image(self.db, image_id) is None:
                store.insert_image(tx, ImageRow(image_id, raw_config, manifest_digest, created or oci.now_rfc3339(),
                                                self.snapshots.size(top_chain)))
            for name in names:
                store.set_tag(tx, name, image_id)
        return image_id

    def remember_manifest(self, image_id: str, raw_manifest: bytes) -> None:
        """An image without a manifest (imported, committed, built) keeps the one it was pushed
        with: its compressed layer blobs become the image's, and the next push reuses them."""
        with self.transaction() as rollback:
            digest = self.store_blob(raw_manifest, rollback)
            with self.db.transaction() as tx:
                store.set_manifest(tx, image_id, digest)

    def _delete_blob_if_unused(self, digest: str) -> None:
        if not self._blob_in_use(digest):
            self.content.delete(digest)

    # --- import ---------------------------------------------------------------------------------
    def import_rootfs(self, stream: Readable, ref: str | None, changes: Iterable[str] = (), message: str = "") -> str:
        """``pouch import``: one layer from a (plain or gzip) rootfs tar; returns the image id."""
        name = reference.normalize(ref) if ref else None
        if name and "@" in name:
            raise InvalidArgument("refusing to create a tag with a digest reference")
        image_config = apply_changes(changes)
        with self._lock, ExitStack() as rollback:
            # the uncompressed layer tar is kept as a blob named by its diffID (push and save need it)
            with open_decompressed(stream) as tar:
                layer = self.content.write(tar, budget=self.layer_budget()).digest
            if not self._blob_in_use(layer):
                rollback.callback(self.content.delete, layer)
            with self.content.open(layer) as blob:
                applied = self.snapshots.apply("", blob, oci.MEDIA_OCI_LAYER, diff_id=layer)
            if applied.created:
                rollback.callback(self.snapshots.remove, applied.chain_id)
            created = oci.now_rfc3339()
            config = oci.build_import_config(applied.diff_id, image_config, message, created, self.platform)
            raw = oci.encode_config(config)
            self._store_blob(raw, rollback)
            image_id = sha256_digest(raw)
            with self.db.transaction() as tx:
                store.insert_image(tx, ImageRow(image_id, raw, "", created, self.snapshots.size(applied.chain_id)))
                if name:
                    store.set_tag(tx, name, image_id)
            rollback.pop_all()
        self.events.emit("image", "import", image_id, {"name": image_id})
        return image_id

    # --- remove ---------------------------------------------------------------------------------
    def remove(self, ref: str, force: bool = False, containers_using: ContainersUsing | None = None,
               running: IsRunning = lambda _cid: True) -> list[ImageDeleteItem]:
        """``docker rmi``: untag, and delete the image with its unused layers once untagged.

        Docker's conflict rules: an image with child images (build steps) is never deleted;
        one used by a running container (``running(container_id)``) neither; one used only by
        stopped containers only with ``force`` -- the record goes, the containers keep their
        layers (:meth:`for_container`). Deleting a built image also deletes its parent step
        images that nothing else needs. Returns what was untagged, then what was deleted.
        """
        containers_using = containers_using or self.containers_using
        with self._lock:
            record, name = self.find(ref)
            if name is not None:
                return self._remove_by_name(record, name, force, containers_using, running)
            return self._remove_by_id(record, force, containers_using, running)

    def _remove_by_name(self, record: ImageRecord, name: str, force: bool, containers_using: ContainersUsing,
                        running: IsRunning) -> list[ImageDeleteItem]:
        done = [untagged(reference.familiar(name))]
        if len(record.repo_tags) + len(record.repo_digests) > 1:
            self._untag(record.id, name)
            return done
        users = containers_using(record.id)
        if users and not force:
            raise Conflict(
                f'conflict: unable to remove repository reference "{reference.familiar(name)}" (must force)'
                f" - container {short_id(users[0])} is using its referenced image {short_id(record.id)}"
            )
        if self._children(record.id) or any(running(u) for u in users):
            # Only untag: the image stays (hidden, or dangling) for its child images or running containers.
            self._untag(record.id, name)
            return done
        return self._delete(record, done, containers_using)

    def _remove_by_id(self, record: ImageRecord, force: bool, containers_using: ContainersUsing,
                      running: IsRunning) -> list[ImageDeleteItem]:
        names = [*record.repo_tags, *record.repo_digests]
        repositories = {reference.parse_reference(n).name for n in names}
        if len(repositories) > 1 and not force:
            raise Conflict(
                f"conflict: unable to delete {short_id(record.id)} (must be forced)"
                " - image is referenced in multiple repositories"
            )
        if self._children(record.id):
            raise Conflict(f"conflict: unable to delete {short_id(record.id)} (cannot be forced)"
                           " - image has dependent child images")
        users = containers_using(record.id)
        busy = [u for u in users if running(u)]
        if busy:
            raise Conflict(f"conflict: unable to delete {short_id(record.id)} (cannot be forced)"
                           f" - image is being used by running container {short_id(busy[0])}")
        if users and not force:
            raise Conflict(f"conflict: unable to delete {short_id(record.id)} (must be forced)"
                           f" - image is being used by stopped container {short_id(users[0])}")
        return self._delete(record, [untagged(reference.familiar(n)) for n in names], containers_using)

    def _untag(self, image_id: str, name: str) -> None:
        with self.db.transaction() as tx:
            store.delete_tag(tx, name)
        self.events.emit("image", "untag", image_id, {"name": image_id})

    def _delete(self, record: ImageRecord, done: list[ImageDeleteItem],
                containers_using: ContainersUsing) -> list[ImageDeleteItem]:
        done = done + self._delete_image(record, containers_using)
        removed = self.snapshots.remove_unused(self._chain_ids_in_use())
        return done + [deleted(chain) for chain in removed]

    def _delete_image(self, record: ImageRecord, containers_using: ContainersUsing) -> list[ImageDeleteItem]:
        """Delete the record, its blobs no other image owns, then its parent step image when
        that is now unused: untagged, without other children, used by no container."""
        held = bool(containers_using(record.id))  # stopped containers keep the config and layers
        with self.db.transaction() as tx:
            store.delete_image(tx, record.id)
        if held:
            _touch(os.path.join(self.held_dir, record.id.split(":", 1)[1]))
        for _name in (*record.repo_tags, *record.repo_digests):  # one untag per name, as dockerd
            self.events.emit("image", "untag", record.id, {"name": record.id})
        self.events.emit("image", "delete", record.id, {"name": record.id})
        out = [deleted(record.id)]
        for digest in blobs.owned_blobs(self.content, record.id, record.config, record.manifest_digest):
            if not (held and digest == record.id) and not self._blob_in_use(digest):
                self.content.delete(digest)
        parent = self._by_id(lineage.parent_of(record.config))
        if (parent is not None and not parent.repo_tags and not parent.repo_digests
                and not self._children(parent.id) and not containers_using(parent.id)):
            out += self._delete_image(parent, containers_using)
        return out

    def _children(self, image_id: str) -> list[str]:
        return lineage.children(self._configs(), image_id)

    def parent_ids(self) -> set[str]:
        """Ids of the images another image was built on (Docker hides them, untagged, without ``-a``)."""
        return lineage.parent_ids(self._configs())

    def _configs(self) -> dict[str, dict]:
        return {row.id: json.loads(row.config) for row in store.list_images(self.db)}

    def _blob_in_use(self, digest: str) -> bool:
        if any(digest in lease.blobs for lease in self._leases):
            return True
        return any(
            digest in blobs.owned_blobs(self.content, row.id, json.loads(row.config), row.manifest)
            for row in store.list_images(self.db)
        )

    def _chain_ids_in_use(self) -> list[str]:
        tops = [chain for lease in self._leases for chain in lease.chains]
        for row in store.list_images(self.db):
            chain = chain_ids(oci.diff_ids(json.loads(row.config)))
            if chain:
                tops.append(chain[-1])
        return tops

    # --- container root filesystems ------------------------------------------------------------------
    def for_container(self, image_id: str) -> ImageRecord:
        """The image a container was created from, also after ``rmi -f`` deleted its record
        (its config blob and layers stay while a container uses it)."""
        record = self._by_id(image_id)
        if record is not None:
            return record
        if is_digest(image_id) and self.content.exists(image_id) and self.containers_using(image_id):
            raw = self.content.read(image_id)
            return self._record(ImageRow(image_id, raw, "", "", 0), [])
        raise NotFound(f"No such image: {image_id}")

    def prepare_rw(self, container_key: str, image_id: str | None = None) -> RwDirs:
        """Create the container's writable layer; with ``image_id``, pin that image's layers to it."""
        chain = self.for_container(image_id).chain_id if image_id else ""
        return self.snapshots.prepare_rw(container_key, chain)

    def rw_dirs(self, container_key: str) -> RwDirs:
        """The container's ``upper``/``work`` directories (not created here)."""
        return self.snapshots.rw_dirs(container_key)

    def container_layer_dirs(self, container_key: str, layer_dirs: list[str]) -> list[str]:
        """The layers of a stopped container's root, top first: its upper dir (when it has one)
        over the image's ``layer_dirs``, for a read-only overlay (export, cp)."""
        upper = self.rw_dirs(container_key).upper
        return [upper, *layer_dirs] if os.path.isdir(upper) else list(layer_dirs)

    def rootfs_mount(self, image_id: str, container_key: str) -> Mount:
        """Overlay mount of the image's layers under ``container_key``'s writable layer."""
        return self.snapshots.rootfs_mount(self.for_container(image_id).chain_id, container_key)

    def remove_rw(self, container_key: str) -> None:
        """Delete the container's writable layer (unmount the rootfs first); the layers and
        config of a deleted image go with the last container that used it."""
        self.snapshots.remove_rw(container_key)
        if os.listdir(self.held_dir):
            with self._lock:
                self._release_held()

    remove_rootfs = remove_rw

    def _release_held(self) -> None:
        """Free what deleted images kept for containers that are gone now."""
        released = False
        for hex_ in os.listdir(self.held_dir):
            image_id = "sha256:" + hex_
            if self.containers_using(image_id):
                continue
            if store.get_image(self.db, image_id) is None and not self._blob_in_use(image_id):
                self.content.delete(image_id)
            os.unlink(os.path.join(self.held_dir, hex_))
            released = True
        if released:
            self.snapshots.remove_unused(self._chain_ids_in_use())


def _copy_bounded(source: Readable, path: str, budget: Budget, already: int) -> None:
    """Copy ``source`` to the new file ``path``; refused once ``already`` + its bytes pass ``budget``."""
    total = already
    with open(path, "wb") as out:
        while chunk := source.read(CHUNK):
            total += len(chunk)
            budget.check(total)
            out.write(chunk)


def _touch(path: str) -> None:
    with open(path, "a", encoding="ascii"):
        pass


_DECOMPRESSORS: list[tuple[bytes, Callable]] = [
    (b"\x1f\x8b", gzip.open),
    (b"BZh", bz2.open),
    (b"\xfd7zXZ\x00", lzma.open),
]


def _spool(stream: Readable, work: str, budget: Budget) -> str:
    """Write the request body to ``work``; decompress it if needed; return the tar's path.
    Bounded by ``budget`` (the free space of --root): a bomb is refused, not written out."""
    raw = os.path.join(work, "archive")
    _copy_bounded(stream, raw, budget, 0)
    with open(raw, "rb") as f:
        head = f.read(6)
    for magic, opener in _DECOMPRESSORS:
        if head.startswith(magic):
            plain = os.path.join(work, "archive.tar")
            try:
                with opener(raw, "rb") as src:
                    _copy_bounded(src, plain, budget, os.path.getsize(raw))
            except (OSError, EOFError, lzma.LZMAError) as exc:
                raise InvalidArgument(f"invalid image archive: {exc}") from exc
            with contextlib.suppress(FileNotFoundError):
                os.unlink(raw)
            return plain
    return raw
