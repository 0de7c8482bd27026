"""Which content-store blobs an image owns (for push, save and garbage collection).

Convention: every image keeps the exact layer blobs that describe it --

* an image with a stored manifest (pulled; loaded from an OCI layout): the
  manifest's layer blobs (compressed or not), under the manifest's digests;
* an image without one (imported, committed, loaded from ``docker save``): the
  uncompressed layer tars, whose digests are the config's ``rootfs.diff_ids``.

Pure over a content store's ``exists``/``read``: nothing here writes.
"""

from __future__ import annotations

import json
from typing import Protocol

from pouch.images import oci
from pouch.types import Descriptor, is_digest


class BlobReader(Protocol):
    def exists(self, digest: str) -> bool: ...

    def read(self, digest: str) -> bytes: ...

    def size(self, digest: str) -> int: ...


def manifest_layers(content: BlobReader, manifest_digest: str) -> list[Descriptor] | None:
    """The layer descriptors of a stored manifest, None when there is none (or it is unreadable)."""
    if not manifest_digest or not content.exists(manifest_digest):
        return None
    try:
        doc = json.loads(content.read(manifest_digest))
        return [Descriptor(str(d.get("mediaType", "")), d["digest"], int(d.get("size", 0))) for d in doc["layers"]]
    except (ValueError, KeyError, TypeError):
        return None


def owned_blobs(content: BlobReader, image_id: str, config: dict, manifest_digest: str) -> set[str]:
    """Every blob digest the image refers to: config, manifest, layers (both conventions)."""
    out = {image_id, *oci.diff_ids(config)}
    if manifest_digest:
        out.add(manifest_digest)
        out.update(d.digest for d in manifest_layers(content, manifest_digest) or [])
    return {d for d in out if is_digest(d)}


def push_layers(content: BlobReader, config: dict, manifest_digest: str) -> tuple[list[Descriptor], bool]:
    """The layer blobs to push and whether the stored manifest can be pushed as is.

    Raises KeyError naming a missing blob (an image stored before blobs were kept).
    """
    layers = manifest_layers(content, manifest_digest)
    if layers is not None and all(content.exists(d.digest) for d in layers):
        return layers, True
    out = []
    for diff_id in oci.diff_ids(config):
        if not content.exists(diff_id):
            raise KeyError(diff_id)
        out.append(Descriptor(oci.MEDIA_OCI_LAYER, diff_id, content.size(diff_id)))
    return out, False
