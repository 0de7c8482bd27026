"""Manifests as the registry serves them, pure: parse, verify, pick a platform, build.

OCI image-spec ``manifest.md`` and ``image-index.md``; Docker's schema2
(``application/vnd.docker.distribution.manifest.v2+json``) and manifest lists
are the same shapes under other media types. Schema1 (signed, deprecated) is
refused by name, like any media type this engine cannot unpack.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from pouch.errors import InvalidArgument
from pouch.images import oci
from pouch.types import Descriptor, is_digest

MEDIA_OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MEDIA_DOCKER_LAYER_PLAIN = "application/vnd.docker.image.rootfs.diff.tar"
MEDIA_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"

LAYER_TYPES = (
    oci.MEDIA_OCI_LAYER,
    oci.MEDIA_OCI_LAYER_GZIP,
    MEDIA_OCI_LAYER_ZSTD,
    oci.MEDIA_DOCKER_LAYER,
    MEDIA_DOCKER_LAYER_PLAIN,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
)
CONFIG_TYPES = (oci.MEDIA_OCI_CONFIG, MEDIA_DOCKER_CONFIG)
# what a pull asks for, best first (the Accept header)
ACCEPT = (oci.MEDIA_DOCKER_LIST, oci.MEDIA_OCI_INDEX, oci.MEDIA_DOCKER_MANIFEST, oci.MEDIA_OCI_MANIFEST)
MAX_MANIFEST_SIZE = 4 * 1024 * 1024


@dataclass(frozen=True)
class ImageManifest:
    digest: str
    media_type: str
    raw: bytes
    config: Descriptor
    layers: tuple[Descriptor, ...]


@dataclass(frozen=True)
class ImageIndex:
    digest: str
    media_type: str
    raw: bytes
    manifests: tuple[dict, ...]  # descriptors with their "platform"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def parse_platform(text: str) -> oci.Platform:
    """``linux/arm64/v8``, ``linux/amd64``, ``arm64`` (os defaults to linux)."""
    parts = [p for p in (text or "").strip().lower().split("/")]
    if not text or not all(parts) or len(parts) > 3:
        raise InvalidArgument(f"invalid platform {text!r}: use os/arch[/variant]")
    if len(parts) == 1:
        parts = ["linux", *parts]
    return oci.Platform(parts[0], parts[1], parts[2] if len(parts) > 2 else "")


def _descriptor(doc: object, what: str) -> Descriptor:
    if not isinstance(doc, dict) or not is_digest(str(doc.get("digest", ""))) or not isinstance(doc.get("size", 0), int):
        raise InvalidArgument(f"invalid {what} descriptor in manifest")
    return Descriptor(str(doc.get("mediaType") or ""), doc["digest"], int(doc.get("size", 0)))


def parse_manifest(data: bytes, content_type: str, expected_digest: str | None) -> ImageManifest | ImageIndex:
    """Verify ``data`` against ``expected_digest`` (when the reference or a descriptor gave one), then parse it."""
    digest = digest_of(data)
    if expected_digest and digest != expected_digest:
        raise InvalidArgument(f"manifest digest mismatch: expected {expected_digest}, got {digest}")
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise InvalidArgument(f"invalid manifest: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument("invalid manifest: not a JSON object")
    media_type = str(doc.get("mediaType") or content_type.split(";")[0].strip())
    if media_type == MEDIA_DOCKER_SCHEMA1 or doc.get("schemaVersion") == 1:
        raise InvalidArgument("unsupported manifest: Docker schema 1 images are deprecated and not supported")
    if media_type in oci.INDEX_TYPES or (not media_type and "manifests" in doc):
        manifests = doc.get("manifests")
        if not isinstance(manifests, list):
            raise InvalidArgument("invalid image index: no manifests list")
        for m in manifests:
            _descriptor(m, "index")
        return ImageIndex(digest, media_type or oci.MEDIA_OCI_INDEX, data, tuple(manifests))
    if media_type in oci.MANIFEST_TYPES or (not media_type and "layers" in doc):
        config = _descriptor(doc.get("config"), "config")
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise InvalidArgument("invalid manifest: no layers list")
        descriptors = tuple(_descriptor(layer, "layer") for layer in layers)
        for layer in descriptors:
            check_layer_media_type(layer.media_type)
        if config.media_type and config.media_type not in CONFIG_TYPES:
            raise InvalidArgument(f"unsupported config media type {config.media_type!r}: not a container image")
        return ImageManifest(digest, media_type or oci.MEDIA_OCI_MANIFEST, data, config, descriptors)
    raise InvalidArgument(f"unsupported manifest media type {media_type!r}")


def check_layer_media_type(media_type: str) -> None:
    if media_type not in LAYER_TYPES:
        raise InvalidArgument(f"unsupported layer media type {media_type!r}")


def select_platform(index: ImageIndex, platform: oci.Platform) -> dict:
    """The descriptor of the best manifest for ``platform`` (containerd's ``platforms.Only`` spirit):
    exact variant first, then one without variant; attestation manifests (``unknown/unknown``) never."""
    candidates = [m for m in index.manifests if (m.get("platform") or {}).get("os") != "unknown"]
    exact = [m for m in candidates if _platform_of(m) == platform]
    if exact:
        return exact[0]
    loose = [m for m in candidates if platform.matches(m.get("platform") or {}) and "platform" in m]
    if loose:
        return loose[0]
    available = ", ".join(sorted({str(_platform_of(m)) for m in candidates})) or "none"
    raise InvalidArgument(f"no matching manifest for {platform} in the manifest list entries (available: {available})")


def _platform_of(descriptor: dict) -> oci.Platform:
    p = descriptor.get("platform") or {}
    return oci.Platform(p.get("os", ""), p.get("architecture", ""), p.get("variant", ""))


def build_manifest(config: Descriptor, layers: list[Descriptor]) -> bytes:
    """An OCI image manifest for ``push`` of an image that has no stored manifest."""
    doc = {
        "schemaVersion": 2,
        "mediaType": oci.MEDIA_OCI_MANIFEST,
        "config": {"mediaType": oci.MEDIA_OCI_CONFIG, "digest": config.digest, "size": config.size},
        "layers": [{"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size} for layer in layers],
    }
    return json.dumps(doc, separators=(",", ":")).encode()
