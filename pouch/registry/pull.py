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

Steps 1-3 run without the image store's lock, under a lease
(:meth:`~pouch.images.service.ImageService.lease`) that keeps what they write
from garbage collection, so ``images``, ``inspect`` and other pulls never wait
for a download; the lock is taken for step 4 only. Everything created on the way
(blobs, snapshots) no image uses is removed if any step fails, except the
partial download of a blob cut off mid-way: it stays in the content store's
ingest dir and the next attempt (three in one pull, or the next pull) resumes
it with a Range request. A daemon killed mid-pull leaves verified blobs (reused
by the next try) and snapshots without an image, which startup recovery removes.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from pouch import reference as refs
from pouch.errors import InvalidArgument, NotFound, PouchError
from pouch.images import oci
from pouch.registry.auth import Authenticator, Credentials, Unauthorized, repository_scope
from pouch.registry.client import RegistryClient, RegistryError
from pouch.registry.download import blob_lock, fetch_blob
from pouch.registry.endpoints import RegistryConfig, endpoints
from pouch.registry.manifest import ImageIndex, ImageManifest, parse_manifest, select_platform
from pouch.registry.progress import Emit, LayerProgress
from pouch.snapshots.overlay import chain_ids
from pouch.types import Descriptor, short_id

log = logging.getLogger(__name__)

PARALLEL_DOWNLOADS = 3
MAX_CONFIG_SIZE = 8 * 1024 * 1024


def _rewrap(exc: PouchError, prefix: str) -> PouchError:
    new = type(exc).__new__(type(exc))
    PouchError.__init__(new, f"{prefix}: {exc.message}")
    return new


class Puller:
    def __init__(self, images, config: RegistryConfig, timeout: float, retries: int = 3) -> None:
        self.images = images
        self.config = config
        self.timeout = timeout
        self.retries = retries  # attempts per blob; each one resumes where the last stopped

    def client_for(self, ref: refs.Reference, creds: Credentials, actions: tuple[str, ...] = ("pull",)) -> list[RegistryClient]:
        return [RegistryClient(e.url, ref.path, Authenticator(creds), (repository_scope(ref.path, actions),), self.timeout,
                               self.config.certs_dir)
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
        if self.images.has_blob(digest):
            return self.images.read_blob(digest)
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
        emit(LayerProgress(f"Pulling from {ref.familiar_name}", ref.tag or ref.digest))
        image_id = progress_digest(raw_config)
        names = ([str(ref.with_default_tag())] if ref.tag else []) + [f"{ref.name}@{manifest.digest}"]
        up_to_date = self.images.get_or_none(image_id) is not None and all(
            (found := self.images.get_or_none(n)) is not None and found.id == image_id for n in names)
        try:
            # the layers are fetched and unpacked without the store's lock (a lease keeps them
            # from garbage collection); the lock is taken only to register the image
            with self.images.lease() as lease:
                top = self._layers(client, manifest, diff_ids, emit, lease)
                with self.images.transaction() as rollback:
                    for data in (raw_config, manifest.raw):
                        self.images.store_blob(data, rollback)
                    self.images.register_image(raw_config, manifest.digest, top, names)
        except InvalidArgument as exc:
            raise _rewrap(exc, f"pulling {ref.familiar()}") from None
        emit(LayerProgress(f"Digest: {manifest.digest}"))
        state = "Image is up to date for" if up_to_date else "Downloaded newer image for"
        emit(LayerProgress(f"Status: {state} {ref.familiar()}"))
        return image_id

    def _layers(self, client: RegistryClient, manifest: ImageManifest, diff_ids: list[str], emit: Emit,
                lease) -> str:
        images = self.images
        chains = chain_ids(diff_ids)
        todo = []
        for layer, chain in zip(manifest.layers, chains):
            lease.blobs.add(layer.digest)  # leased before looking: a concurrent rmi keeps them now
            lease.chains.add(chain)
            ident = short_id(layer.digest)
            if images.has_blob(layer.digest) and images.has_snapshot(chain):
                emit(LayerProgress("Already exists", ident))
            else:
                emit(LayerProgress("Pulling fs layer", ident))
                todo.append(layer.digest)
        with ThreadPoolExecutor(PARALLEL_DOWNLOADS, thread_name_prefix="pull") as pool:
            futures: dict[str, Future] = {}
            for layer in manifest.layers:
                if layer.digest in todo and layer.digest not in futures:
                    futures[layer.digest] = pool.submit(self._download, client, layer, emit)
            try:
                parent = ""
                for layer, diff_id, chain in zip(manifest.layers, diff_ids, chains):
                    if layer.digest in futures:
                        futures[layer.digest].result()
                    if not images.has_snapshot(chain):
                        self._extract(layer, parent, diff_id, emit, lease)
                        emit(LayerProgress("Pull complete", short_id(layer.digest)))
                    parent = chain
            except BaseException:
                for f in futures.values():
                    f.cancel()
                raise
        return parent

    def _download(self, client: RegistryClient, layer: Descriptor, emit: Emit) -> None:
        """Fetch one blob into the content store, verified (resumed with a Range request when
        an earlier attempt was cut off)."""
        ident = short_id(layer.digest)
        with blob_lock(layer.digest):
            if not self.images.has_blob(layer.digest):
                report = lambda n: emit(LayerProgress("Downloading", ident, n, layer.size))  # noqa: E731
                path = self.images.ingest_path(layer.digest)
                try:
                    fetch_blob(client, layer, path, report, retries=self.retries)
                except InvalidArgument as exc:
                    raise InvalidArgument(f"layer {layer.digest}: {exc.message}") from None
                emit(LayerProgress("Verifying Checksum", ident))
                self.images.commit_download(path, layer.digest)
        emit(LayerProgress("Download complete", ident))

    def _extract(self, layer: Descriptor, parent: str, diff_id: str, emit: Emit, lease) -> None:
        ident = short_id(layer.digest)
        with self.images.open_blob(layer.digest) as f:
            reader = _Meter(f, layer.size, lambda n: emit(LayerProgress("Extracting", ident, n, layer.size)))
            try:
                self.images.store_layer(parent, reader, layer.media_type, diff_id=diff_id, lease=lease)
            except InvalidArgument as exc:
                raise InvalidArgument(f"layer {layer.digest}: {exc.message}") from None


def progress_digest(data: bytes) -> str:
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
