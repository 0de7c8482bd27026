"""``push``: layers (HEAD, mount, upload), config, then the manifest (moby's ``distribution/push_v2.go``).

A pulled image goes up with the manifest it came with (same digest, its own
blobs, see :mod:`pouch.images.blobs`); an imported/committed/built/loaded one
has its uncompressed layer tars gzip-compressed (:mod:`pouch.registry.compress`)
under a new OCI manifest, which the image then keeps (with the compressed
blobs), so a second push compresses nothing. The config and its diff_ids are
never rewritten. Per layer: a HEAD
says whether the registry has it; else a cross-repository mount is tried when
a repository of the same registry is known to hold it (the image's other
names); else it is uploaded (monolithic, or in chunks when large).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from pouch import reference as refs
from pouch.errors import InvalidArgument, NotFound, PouchError
from pouch.images import blobs, oci
from pouch.registry.auth import Authenticator, Credentials, Unauthorized, repository_scope
from pouch.registry.client import RegistryClient, RegistryError
from pouch.registry.compress import gzip_file
from pouch.registry.endpoints import RegistryConfig, endpoints
from pouch.registry.manifest import build_manifest
from pouch.registry.progress import Emit, LayerProgress, PushResult
from pouch.registry.pull import _rewrap
from pouch.types import Descriptor, sha256_digest, short_id

log = logging.getLogger(__name__)


class Pusher:
    def __init__(self, images, config: RegistryConfig, timeout: float) -> None:
        self.images = images
        self.config = config
        self.timeout = timeout

    def push(self, text: str, tag: str, creds: Credentials, emit: Emit) -> str:
        """Push ``text`` (``name[:tag]``); returns the manifest digest."""
        ref = refs.parse_reference(text + (f":{tag}" if tag and ":" not in text.rsplit("/", 1)[-1] else ""))
        ref = ref.with_default_tag()
        if ref.digest:
            raise InvalidArgument("cannot push a digest reference")
        record = self.images.get(str(ref))
        endpoint = [e for e in endpoints(ref.domain, self.config) if not e.mirror][0]
        scopes = (repository_scope(ref.path, ("pull", "push")),)
        client = RegistryClient(endpoint.url, ref.path, Authenticator(creds), scopes, self.timeout, self.config.certs_dir)
        emit(LayerProgress(f"The push refers to repository [{ref.name}]"))
        try:
            return self._push(client, ref, record, emit)
        except Unauthorized as exc:
            raise _rewrap(exc, f"pushing {ref.familiar()}: denied: requested access to the resource is denied") from None
        except (RegistryError, InvalidArgument, NotFound) as exc:
            raise _rewrap(exc, f"pushing {ref.familiar()}") from None

    def _push(self, client: RegistryClient, ref: refs.Reference, record, emit: Emit) -> str:
        content = self.images.content
        try:
            layers, keep_manifest = blobs.push_layers(content, record.config, record.manifest_digest)
        except KeyError as exc:
            raise InvalidArgument(f"layer blob {exc.args[0]} is not in the store (image stored before blobs were "
                                  "kept); re-pull or re-load the image") from None
        sources = self._mount_sources(ref, record)
        for layer in reversed(layers):
            emit(LayerProgress("Preparing", short_id(layer.digest)))
        with self.images.lease() as lease:  # compressed blobs stay only if the push succeeds
            if not keep_manifest:
                layers = [self._compressed(layer, lease) for layer in layers]
            with ThreadPoolExecutor(3, thread_name_prefix="push") as pool:
                for f in [pool.submit(self._push_layer, client, layer, sources, emit) for layer in reversed(layers)]:
                    f.result()
            config = Descriptor(oci.MEDIA_OCI_CONFIG, record.id, content.size(record.id))
            self._push_blob(client, config, [], lambda n: None)
            if keep_manifest:
                raw = content.read(record.manifest_digest)
                media_type = _media_type(raw)
            else:
                raw, media_type = build_manifest(config, layers), oci.MEDIA_OCI_MANIFEST
            digest = client.put_manifest(ref.tag, raw, media_type) or sha256_digest(raw)
            if not keep_manifest:
                self.images.remember_manifest(record.id, raw)
        emit(LayerProgress(f"{ref.tag}: digest: {digest} size: {len(raw)}"))
        emit(PushResult(ref.tag, digest, len(raw)))
        return digest

    def _compressed(self, layer: Descriptor, lease) -> Descriptor:
        """The gzip blob of an uncompressed layer (written to the store, leased)."""
        images = self.images
        tmp = os.path.join(images.tmp_dir, f"push-{short_id(layer.digest)}-{threading.get_ident()}.gz")
        try:
            with images.open_blob(layer.digest) as source:
                digest, size = gzip_file(source, tmp)
            lease.blobs.add(digest)
            if images.has_blob(digest):
                os.unlink(tmp)
            else:
                images.commit_download(tmp, digest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return Descriptor(oci.MEDIA_OCI_LAYER_GZIP, digest, size)

    def _mount_sources(self, ref: refs.Reference, record) -> list[str]:
        """Other repositories of the same registry this image is known under."""
        out = []
        for name in (*record.repo_tags, *record.repo_digests):
            other = refs.parse_reference(name)
            if other.domain == ref.domain and other.path != ref.path and other.path not in out:
                out.append(other.path)
        return out

    def _push_layer(self, client: RegistryClient, layer: Descriptor, sources: list[str], emit: Emit) -> None:
        ident = short_id(layer.digest)
        outcome = self._push_blob(client, layer, sources,
                                  lambda n: emit(LayerProgress("Pushing", ident, n, layer.size)))
        emit(LayerProgress(outcome, ident))

    def _push_blob(self, client: RegistryClient, blob: Descriptor, sources: list[str], on_progress) -> str:
        if client.blob_exists(blob.digest):
            return "Layer already exists"
        location = None
        for source in sources:
            scopes = (*client.scopes, repository_scope(source, ("pull",)))
            try:
                location = client.mount_blob(blob.digest, source, scopes)
            except (RegistryError, Unauthorized, NotFound) as exc:
                log.debug("mount of %s from %s failed: %s", blob.digest, source, exc)
                continue
            if location is None:
                return f"Mounted from {source}"
            break
        location = location or client.start_upload()
        content = self.images.content
        client.upload_blob(location, blob.digest, blob.size, lambda: content.open(blob.digest), on_progress)
        return "Pushed"


def _media_type(raw: bytes) -> str:
    try:
        return json.loads(raw).get("mediaType") or oci.MEDIA_OCI_MANIFEST
    except ValueError:
        return oci.MEDIA_OCI_MANIFEST


__all__ = ["Pusher", "PouchError"]
