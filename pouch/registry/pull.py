"""``pull``: manifest (through an index for the platform), config, layers, then one commit.

The checklist :meth:`Puller.pull` follows (moby's ``distribution/pull_v2.go``):

1. resolve the manifest (tag or digest; an index/manifest list resolved for the
   host platform or ``--platform``), verify it against the digest that named it;
2. fetch and verify the config; layers and diff_ids must agree;
3. download the layers not in the content store yet, three at a time, each
   verified against its digest (size and sha256) before it is committed to the
   store; unpack them in order as they arrive (ISA-L gzip, zstd) -- a snapshot
   that exists already is not unpacked again;
4. one database transaction: image row, tag, repo digest.

Everything created on the way (blobs, snapshots) is rolled back if any step
fails; a daemon killed mid-pull leaves verified blobs (reused by the next try)
and snapshots without an image, which startup recovery removes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack

from pouch import reference as refs
from pouch.errors import InvalidArgument, NotFound, PouchError
from pouch.images import oci
from pouch.metadata import images as store
from pouch.metadata.images import ImageRow
from pouch.registry import progress
from pouch.registry.auth import Authenticator, Credentials, Unauthorized, repository_scope
from pouch.registry.client import RegistryClient, RegistryError
from pouch.registry.endpoints import RegistryConfig, endpoints
from pouch.registry.manifest import ImageIndex, ImageManifest, parse_manifest, select_platform
from pouch.snapshots.overlay import chain_id
from pouch.types import Descriptor, short_id

log = logging.getLogger(__name__)

Emit = Callable[[dict], None]
PARALLEL_DOWNLOADS = 3
MAX_CONFIG_SIZE = 8 * 1024 * 1024


def _rewrap(exc: PouchError, prefix: str) -> PouchError:
    new = type(exc).__new__(type(exc))
    PouchError.__init__(new, f"{prefix}: {exc.message}")
    return new


class Puller:
    def __init__(self, images, config: RegistryConfig, timeout: float) -> None:
        self.images = images
        self.config = config
        self.timeout = timeout

    def client_for(self, ref: refs.Reference, creds: Credentials, actions: tuple[str, ...] = ("pull",)) -> list[RegistryClient]:
        return [RegistryClient(e.url, ref.path, Authenticator(creds), (repository_scope(ref.path, actions),), self.timeout)
                for e in endpoints(ref.domain, self.config)]

    def pull(self, text: str, creds: Credentials, platform: oci.Platform | None, emit: Emit) -> str:
        """Pull ``text``; returns the image id. Errors name the image and the cause."""
        ref = refs.parse_reference(text)
        ref = ref if ref.digest else ref.with_default_tag()
        clients = self.client_for(ref, creds)
        last: PouchError | None = None
        for i, client in enumerate(clients):
            try:
                return self._pull_from(client, ref, platform or self.images.platform, emit)
            except (RegistryError, Unauthorized) as exc:
                last = exc
                if i + 1 < len(clients):  # a mirror failed: fall back to the next endpoint
                    log.warning("pull %s from %s failed: %s", ref, client.base_url, exc.message)
                    continue
            except NotFound as exc:
                last = NotFound(f"manifest for {ref.familiar()} not found: manifest unknown: {exc.message}")
                if i + 1 < len(clients):
                    continue
        assert last is not None
        if isinstance(last, Unauthorized):
            raise _rewrap(last, f"pull access denied for {ref.familiar_name}, repository does not exist or may "
                                "require 'pouch login'")
        raise last if isinstance(last, NotFound) else _rewrap(last, f"pulling {ref.familiar()}")

    # --- steps -------------------------------------------------------------------------------
    def _resolve(self, client: RegistryClient, ref: refs.Reference, platform: oci.Platform) -> ImageManifest:
        data, content_type = client.get_manifest(ref.digest or ref.tag)
        doc = parse_manifest(data, content_type, ref.digest or None)
        for _ in range(3):
            if isinstance(doc, ImageManifest):
                return doc
            assert isinstance(doc, ImageIndex)
            chosen = select_platform(doc, platform)
            data, content_type = client.get_manifest(chosen["digest"])
            doc = parse_manifest(data, content_type, chosen["digest"])
        raise InvalidArgument("image indexes nested too deeply")

    def _config(self, client: RegistryClient, manifest: ImageManifest) -> bytes:
        digest = manifest.config.digest
        content = self.images.content
        if content.exists(digest):
            return content.read(digest)
        reply = client.open_blob(digest)
        try:
            data = reply.read(MAX_CONFIG_SIZE + 1)
        finally:
            reply.close()
        if progress_digest(data) != digest:
            raise InvalidArgument(f"config digest mismatch: expected {digest}, got {progress_digest(data)}")
        return data

    def _pull_from(self, client: RegistryClient, ref: refs.Reference, platform: oci.Platform, emit: Emit) -> str:
        try:
            manifest = self._resolve(client, ref, platform)
            raw_config = self._config(client, manifest)
            config = oci.parse_config(raw_config)
            diff_ids = oci.diff_ids(config)
            if len(diff_ids) != len(manifest.layers):
                raise InvalidArgument(f"{len(manifest.layers)} layers in the manifest but {len(diff_ids)} diff_ids in the config")
        except InvalidArgument as exc:
            raise _rewrap(exc, f"pulling {ref.familiar()}") from None
        emit(progress.message(f"Pulling from {ref.familiar_name}", ref.tag or ref.digest))
        image_id = progress_digest(raw_config)
        names = ([str(ref.with_default_tag())] if ref.tag else []) + [f"{ref.name}@{manifest.digest}"]
        existing = store.get_image(self.images.db, image_id)
        up_to_date = existing is not None and all(store.image_for_tag(self.images.db, n) == image_id for n in names)
        with ExitStack() as rollback:
            try:
                top = self._layers(client, manifest, diff_ids, emit, rollback)
                self._commit(manifest, raw_config, image_id, top, names, rollback)
            except InvalidArgument as exc:
                raise _rewrap(exc, f"pulling {ref.familiar()}") from None
            rollback.pop_all()
        emit(progress.message(f"Digest: {manifest.digest}"))
        state = "Image is up to date for" if up_to_date else "Downloaded newer image for"
        emit(progress.message(f"Status: {state} {ref.familiar()}"))
        return image_id

    def _layers(self, client: RegistryClient, manifest: ImageManifest, diff_ids: list[str], emit: Emit,
                rollback: ExitStack) -> str:
        images = self.images
        chains, parent = [], ""
        for diff_id in diff_ids:
            parent = chain_id(parent, diff_id)
            chains.append(parent)
        todo = []
        for layer, chain in zip(manifest.layers, chains):
            ident = short_id(layer.digest)
            if images.content.exists(layer.digest) and images.snapshots.exists(chain):
                emit(progress.message("Already exists", ident))
            else:
                emit(progress.message("Pulling fs layer", ident))
                todo.append(layer.digest)
        with images._lock, ThreadPoolExecutor(PARALLEL_DOWNLOADS, thread_name_prefix="pull") as pool:
            futures: dict[str, Future] = {}
            for layer in manifest.layers:
                if layer.digest in todo and layer.digest not in futures:
                    futures[layer.digest] = pool.submit(self._download, client, layer, emit)
            try:
                parent = ""
                for layer, diff_id, chain in zip(manifest.layers, diff_ids, chains):
                    if layer.digest in futures and futures[layer.digest].result():
                        rollback.callback(_delete_if_unused, images, layer.digest)
                    if not images.snapshots.exists(chain):
                        self._extract(layer, parent, diff_id, emit, rollback)
                        emit(progress.message("Pull complete", short_id(layer.digest)))
                    parent = chain
            except BaseException:
                for f in futures.values():
                    f.cancel()
                for digest, f in futures.items():  # blobs of downloads that still finished are not kept either
                    if not f.cancelled() and f.exception() is None and f.result():
                        rollback.callback(_delete_if_unused, images, digest)
                raise
        return parent

    def _download(self, client: RegistryClient, layer: Descriptor, emit: Emit) -> bool:
        """Fetch one blob into the content store, verified; False if it was there already."""
        content = self.images.content
        ident = short_id(layer.digest)
        if content.exists(layer.digest):
            emit(progress.message("Download complete", ident))
            return False
        reply = client.open_blob(layer.digest)
        try:
            reader = _Meter(reply, layer.size, lambda n: emit(progress.message("Downloading", ident, n, layer.size)))
            try:
                stored = content.write(reader, layer.digest, layer.media_type)
            except InvalidArgument as exc:
                raise InvalidArgument(f"layer {layer.digest}: {exc.message}") from None
        finally:
            reply.close()
        emit(progress.message("Verifying Checksum", ident))
        if layer.size and stored.size != layer.size:
            content.delete(layer.digest)
            raise InvalidArgument(f"layer {layer.digest}: size {stored.size}, the manifest says {layer.size}")
        emit(progress.message("Download complete", ident))
        return True

    def _extract(self, layer: Descriptor, parent: str, diff_id: str, emit: Emit, rollback: ExitStack) -> None:
        images = self.images
        ident = short_id(layer.digest)
        with images.content.open(layer.digest) as f:
            reader = _Meter(f, layer.size, lambda n: emit(progress.message("Extracting", ident, n, layer.size)))
            try:
                applied = images.snapshots.apply(parent, reader, layer.media_type, diff_id=diff_id)
            except InvalidArgument as exc:
                raise InvalidArgument(f"layer {layer.digest}: {exc.message}") from None
        if applied.created:
            rollback.callback(images.snapshots.remove, applied.chain_id)

    def _commit(self, manifest: ImageManifest, raw_config: bytes, image_id: str, top: str, names: list[str],
                rollback: ExitStack) -> None:
        images = self.images
        with images._lock:
            for data in (raw_config, manifest.raw):
                digest = progress_digest(data)
                if not images.content.exists(digest):
                    images.content.write_bytes(data, digest)
                    rollback.callback(_delete_if_unused, images, digest)
            with images.db.transaction() as tx:
                store.insert_image(tx, ImageRow(image_id, raw_config, manifest.digest, oci.now_rfc3339(),
                                                images.snapshots.size(top)))
                for name in names:
                    store.set_tag(tx, name, image_id)


def _delete_if_unused(images, digest: str) -> None:
    if not images._blob_in_use(digest):
        images.content.delete(digest)


def progress_digest(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


class _Meter:
    """Counts bytes read and reports them every 512 KiB or 100 ms (and at the end)."""

    def __init__(self, raw, total: int, report: Callable[[int], None]) -> None:
        self.raw = raw
        self.total = total
        self.report = report
        self.count = 0
        self._last = (0, 0.0)

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        now = time.monotonic()
        if not data or self.count - self._last[0] >= 512 * 1024 or now - self._last[1] >= 0.1:
            if self.count != self._last[0]:
                self.report(self.count)
                self._last = (self.count, now)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


__all__ = ["Puller"]
