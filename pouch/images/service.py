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
from collections.abc import Callable, Iterable
from contextlib import ExitStack

from pouch.events import EventBus
from pouch import reference
from pouch.archive import Readable, open_decompressed
from pouch.config import DaemonConfig
from pouch.content import ContentStore
from pouch.errors import Conflict, InvalidArgument, NotFound
from pouch.images import blobs, oci
from pouch.images.bundle import Bundle, ImagePlan, read_plans
from pouch.images.changes import apply_changes
from pouch.images.record import ImageRecord
from pouch.metadata import images as store
from pouch.metadata.db import Database
from pouch.metadata.images import ImageRow
from pouch.snapshots.overlay import OverlaySnapshotter, RwDirs, chain_id, chain_ids
from pouch.types import Mount, sha256_digest, short_id

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
_HEX_PREFIX_RE = re.compile(r"^[a-f0-9]{1,64}$")

ContainersUsing = Callable[[str], list[str]]


class ImageService:
    def __init__(self, db: Database, config: DaemonConfig) -> None:
        self.events = EventBus()  # the daemon's bus replaces it (daemon.build_engine)
        self.db = db
        self.config = config
        self.content = ContentStore(config.content_dir)
        self.snapshots = OverlaySnapshotter(db, config.snapshots_dir)
        self.tmp_dir = os.path.join(config.root, "tmp")
        os.makedirs(self.tmp_dir, mode=0o700, exist_ok=True)
        self.platform = oci.host_platform()
        self._lock = threading.RLock()

    def recover(self) -> None:
        """Daemon start: forget interrupted writes and unpacks, drop unreferenced layers."""
        with self._lock:
            self.content.cleanup()
            for name in os.listdir(self.tmp_dir):
                shutil.rmtree(os.path.join(self.tmp_dir, name), ignore_errors=True)
            self.snapshots.cleanup()
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
            with self.db.transaction() as tx:
                store.set_tag(tx, str(ref.with_default_tag()), record.id)

    # --- load -----------------------------------------------------------------------------------
    def load(self, stream: Readable) -> list[str]:
        """Load a ``docker save`` or OCI-layout tarball (plain, gzip, bzip2 or xz).

        Returns the loaded names in familiar form (``busybox:latest``) and, for
        images without a name, their id (``sha256:...``).
        """
        with ExitStack() as stack:
            work = tempfile.mkdtemp(prefix="load-", dir=self.tmp_dir)
            stack.callback(shutil.rmtree, work, True)
            archive = _spool(stream, work)
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
        loaded = [reference.familiar(name) for name, _ in names]
        named = {image_id for _, image_id in names}
        loaded += [image_id for image_id in rows if image_id not in named]
        log.info("loaded %s", ", ".join(loaded))
        return loaded

    def _apply_layers(self, bundle: Bundle, plan: ImagePlan, rollback: ExitStack) -> str:
        parent = ""
        for layer, diff_id in zip(plan.layers, plan.diff_ids):
            # keep the exact layer blob (push and save need it), verified, then unpack from it
            digest = self._store_layer_blob(lambda: bundle.open(layer.member), layer.digest, rollback)
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
            written = self.content.write(stream, digest).digest
        if not self._blob_in_use(written):
            rollback.callback(self.content.delete, written)
        return written

    def _store_blob(self, data: bytes, rollback: ExitStack) -> None:
        digest = sha256_digest(data)
        if self.content.exists(digest):
            return
        self.content.write_bytes(data, digest)
        rollback.callback(self.content.delete, digest)

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
                layer = self.content.write(tar).digest
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
        return image_id

    # --- remove ---------------------------------------------------------------------------------
    def remove(self, ref: str, force: bool = False, containers_using: ContainersUsing = lambda _id: []) -> list[dict]:
        """``docker rmi``: untag, and delete the image with its unused layers once untagged.

        Returns Docker's ``[{"Untagged": ...}, {"Deleted": ...}]`` list.
        """
        with self._lock:
            record, name = self.find(ref)
            if name is not None:
                return self._remove_by_name(record, name, force, containers_using)
            return self._remove_by_id(record, force, containers_using)

    def _remove_by_name(self, record: ImageRecord, name: str, force: bool, containers_using: ContainersUsing) -> list[dict]:
        untagged = [{"Untagged": reference.familiar(name)}]
        if len(record.repo_tags) + len(record.repo_digests) > 1:
            self._untag(name)
            return untagged
        users = containers_using(record.id)
        if users and not force:
            raise Conflict(
                f'conflict: unable to remove repository reference "{reference.familiar(name)}" (must force)'
                f" - container {short_id(users[0])} is using its referenced image {short_id(record.id)}"
            )
        if users:
            # Forced: untag, but keep the image (now dangling) for the containers using it.
            self._untag(name)
            return untagged
        return self._delete(record, untagged)

    def _remove_by_id(self, record: ImageRecord, force: bool, containers_using: ContainersUsing) -> list[dict]:
        names = [*record.repo_tags, *record.repo_digests]
        repositories = {reference.parse_reference(n).name for n in names}
        if len(repositories) > 1 and not force:
            raise Conflict(
                f"conflict: unable to delete {short_id(record.id)} (must be forced)"
                " - image is referenced in multiple repositories"
            )
        users = containers_using(record.id)
        if users:
            how = "cannot be forced" if force else "must be forced"
            raise Conflict(
                f"conflict: unable to delete {short_id(record.id)} ({how})"
                f" - image is being used by container {short_id(users[0])}"
            )
        return self._delete(record, [{"Untagged": reference.familiar(n)} for n in names])

    def _untag(self, name: str) -> None:
        with self.db.transaction() as tx:
            store.delete_tag(tx, name)

    def _delete(self, record: ImageRecord, records: list[dict]) -> list[dict]:
        with self.db.transaction() as tx:
            store.delete_image(tx, record.id)
        records = [*records, {"Deleted": record.id}]
        for digest in blobs.owned_blobs(self.content, record.id, record.config, record.manifest_digest):
            if not self._blob_in_use(digest):
                self.content.delete(digest)
        removed = self.snapshots.remove_unused(self._chain_ids_in_use())
        return records + [{"Deleted": chain} for chain in removed]

    def _blob_in_use(self, digest: str) -> bool:
        return any(
            digest in blobs.owned_blobs(self.content, row.id, json.loads(row.config), row.manifest)
            for row in store.list_images(self.db)
        )

    def _chain_ids_in_use(self) -> list[str]:
        tops = []
        for row in store.list_images(self.db):
            chain = chain_ids(oci.diff_ids(json.loads(row.config)))
            if chain:
                tops.append(chain[-1])
        return tops

    # --- container root filesystems ------------------------------------------------------------------
    def prepare_rw(self, container_key: str, image_id: str | None = None) -> RwDirs:
        """Create the container's writable layer; with ``image_id``, pin that image's layers to it."""
        chain = self.get(image_id).chain_id if image_id else ""
        return self.snapshots.prepare_rw(container_key, chain)

    def rw_dirs(self, container_key: str) -> RwDirs:
        """The container's ``upper``/``work`` directories (not created here)."""
        return self.snapshots.rw_dirs(container_key)

    def rootfs_mount(self, image_id: str, container_key: str) -> Mount:
        """Overlay mount of the image's layers under ``container_key``'s writable layer."""
        return self.snapshots.rootfs_mount(self.get(image_id).chain_id, container_key)

    def remove_rw(self, container_key: str) -> None:
        """Delete the container's writable layer (unmount the rootfs first)."""
        self.snapshots.remove_rw(container_key)

    remove_rootfs = remove_rw


_DECOMPRESSORS: list[tuple[bytes, Callable]] = [
    (b"\x1f\x8b", gzip.open),
    (b"BZh", bz2.open),
    (b"\xfd7zXZ\x00", lzma.open),
]


def _spool(stream: Readable, work: str) -> str:
    """Write the request body to ``work``; decompress it if needed; return the tar's path."""
    raw = os.path.join(work, "archive")
    with open(raw, "wb") as out:
        while chunk := stream.read(CHUNK):
            out.write(chunk)
    with open(raw, "rb") as f:
        head = f.read(6)
    for magic, opener in _DECOMPRESSORS:
        if head.startswith(magic):
            plain = os.path.join(work, "archive.tar")
            try:
                with opener(raw, "rb") as src, open(plain, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
            except (OSError, EOFError, lzma.LZMAError) as exc:
                raise InvalidArgument(f"invalid image archive: {exc}") from exc
            with contextlib.suppress(FileNotFoundError):
                os.unlink(raw)
            return plain
    return raw
