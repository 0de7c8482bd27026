"""Reading image tarballs given to ``pouch load``.

Two formats, both tar archives:

* ``docker save``: ``manifest.json`` = ``[{"Config": "<hex>.json" | "blobs/sha256/<hex>",
  "RepoTags": [...], "Layers": ["<id>/layer.tar" | "blobs/sha256/<hex>", ...]}]``
  (``repositories`` and per-layer ``json``/``VERSION`` files are legacy and ignored).
  Docker 25+ writes an OCI layout too; ``manifest.json`` wins when both exist.
* OCI image layout (image-spec ``image-layout.md``): ``oci-layout``,
  ``index.json`` whose descriptors point (maybe through nested indexes, resolved
  for the host platform) at manifests in ``blobs/<alg>/<hex>``; names come from
  the ``io.containerd.image.name`` or ``org.opencontainers.image.ref.name``
  annotations (a bare tag such as ``latest`` names nothing).

This module only reads and verifies metadata (every JSON blob is checked against
its digest); it turns the archive into :class:`ImagePlan` values. Layers are
read later, streamed into the snapshotter, which verifies them.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import tarfile
from dataclasses import dataclass
from typing import IO

from pouch import reference
from pouch.errors import InvalidArgument
from pouch.images import oci
from pouch.types import is_digest

MAX_JSON_SIZE = 32 * 1024 * 1024
_BLOB_PATH_RE = re.compile(r"^blobs/sha256/([a-f0-9]{64})$")
_HEX_JSON_RE = re.compile(r"^([a-f0-9]{64})\.json$")


@dataclass(frozen=True)
class LayerSource:
    member: str  # path inside the archive
    media_type: str
    digest: str | None  # blob digest to verify, when the archive states one


@dataclass(frozen=True)
class ImagePlan:
    config: bytes
    config_json: dict
    layers: tuple[LayerSource, ...]
    names: tuple[str, ...]  # normalised references to tag
    manifest: bytes = b""
    manifest_digest: str = ""

    @property
    def image_id(self) -> str:
        return "sha256:" + hashlib.sha256(self.config).hexdigest()

    @property
    def diff_ids(self) -> list[str]:
        return oci.diff_ids(self.config_json)


class Bundle:
    """Random access to the members of an (uncompressed, seekable) image tarball."""

    def __init__(self, tf: tarfile.TarFile) -> None:
        self.tf = tf
        self.members = {posixpath.normpath(m.name.lstrip("/")): m for m in tf.getmembers()}

    def has(self, name: str) -> bool:
        return posixpath.normpath(name) in self.members

    def open(self, name: str) -> IO[bytes]:
        member = self.members.get(posixpath.normpath(name))
        if member is None:
            raise InvalidArgument(f"invalid image archive: {name} is missing")
        try:
            stream = self.tf.extractfile(member)
        except KeyError:
            stream = None
        if stream is None:
            raise InvalidArgument(f"invalid image archive: {name} is not a file")
        return stream

    def read(self, name: str) -> bytes:
        member = self.members.get(posixpath.normpath(name))
        if member is not None and member.size > MAX_JSON_SIZE:
            raise InvalidArgument(f"invalid image archive: {name} is too large")
        with self.open(name) as f:
            return f.read(MAX_JSON_SIZE + 1)

    def read_blob(self, descriptor: dict) -> bytes:
        """Read and verify the blob a descriptor points at."""
        digest = descriptor.get("digest", "")
        if not is_digest(digest):
            raise InvalidArgument(f"invalid image archive: unsupported digest {digest!r}")
        data = self.read(blob_path(digest))
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise InvalidArgument(
                f"invalid image archive: digest mismatch for {blob_path(digest)}: expected {digest}, got {actual}")
        if "size" in descriptor and int(descriptor["size"]) != len(data):
            raise InvalidArgument(f"invalid image archive: size mismatch for {digest}")
        return data


def blob_path(digest: str) -> str:
    algorithm, _, hex_ = digest.partition(":")
    return f"blobs/{algorithm}/{hex_}"


def _json(data: bytes, what: str) -> object:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise InvalidArgument(f"invalid image archive: {what} is not valid JSON: {exc}") from exc


def read_plans(bundle: Bundle, platform: oci.Platform) -> list[ImagePlan]:
    if bundle.has("manifest.json"):
        return read_docker_save(bundle)
    if bundle.has("index.json"):
        return read_oci_layout(bundle, platform)
    raise InvalidArgument("invalid image archive: neither manifest.json nor index.json found")


# --- docker save -------------------------------------------------------------------------


def _digest_from_path(path: str) -> str | None:
    norm = posixpath.normpath(path)
    match = _BLOB_PATH_RE.match(norm) or _HEX_JSON_RE.match(norm)
    return "sha256:" + match.group(1) if match else None


def read_docker_save(bundle: Bundle) -> list[ImagePlan]:
    entries = _json(bundle.read("manifest.json"), "manifest.json")
    if not isinstance(entries, list):
        raise InvalidArgument("invalid image archive: manifest.json is not a list")
    plans = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise InvalidArgument("invalid image archive: manifest.json entry without Config")
        config = bundle.read(entry["Config"])
        expected = _digest_from_path(entry["Config"])
        actual = "sha256:" + hashlib.sha256(config).hexdigest()
        if expected and expected != actual:
            raise InvalidArgument(f"invalid image archive: config {entry['Config']} has digest {actual}")
        config_json = oci.parse_config(config)
        layers = tuple(
            LayerSource(path, oci.MEDIA_OCI_LAYER, _digest_from_path(path)) for path in entry.get("Layers") or []
        )
        _check_layer_count(layers, config_json)
        names = tuple(reference.normalize(tag) for tag in entry.get("RepoTags") or [])
        plans.append(ImagePlan(config, config_json, layers, names))
    return plans


def _check_layer_count(layers: tuple[LayerSource, ...], config_json: dict) -> None:
    if len(layers) != len(oci.diff_ids(config_json)):
        raise InvalidArgument(
            f"invalid image archive: {len(layers)} layers but {len(oci.diff_ids(config_json))} diff_ids in the config"
        )


# --- OCI image layout -------------------------------------------------------------------------


def _name_from_annotations(annotations: dict) -> str | None:
    for key in (oci.ANNOTATION_CONTAINERD_NAME, oci.ANNOTATION_REF_NAME):
        value = annotations.get(key)
        if not value:
            continue
        if key == oci.ANNOTATION_REF_NAME and not any(c in value for c in ":/@"):
            continue  # a bare tag names no repository
        return reference.normalize(value)
    return None


def _resolve_manifest(bundle: Bundle, descriptor: dict, platform: oci.Platform, depth: int = 0) -> tuple[dict, bytes]:
    if depth > 4:
        raise InvalidArgument("invalid image archive: image indexes nested too deeply")
    data = bundle.read_blob(descriptor)
    doc = _json(data, descriptor["digest"])
    if not isinstance(doc, dict):
        raise InvalidArgument(f"invalid image archive: {descriptor['digest']} is not a JSON object")
    media_type = descriptor.get("mediaType") or doc.get("mediaType", "")
    if media_type in oci.INDEX_TYPES or "manifests" in doc:
        candidates = [m for m in doc.get("manifests") or [] if platform.matches(m.get("platform") or {})]
        if not candidates:
            raise InvalidArgument(f"no matching manifest for {platform} in the image index")
        return _resolve_manifest(bundle, candidates[0], platform, depth + 1)
    return {**descriptor, "digest": descriptor["digest"]}, data


def read_oci_layout(bundle: Bundle, platform: oci.Platform) -> list[ImagePlan]:
    if not bundle.has("oci-layout"):
        raise InvalidArgument("invalid image archive: oci-layout is missing")
    layout = _json(bundle.read("oci-layout"), "oci-layout")
    if not isinstance(layout, dict) or layout.get("imageLayoutVersion") != "1.0.0":
        raise InvalidArgument("invalid image archive: unsupported oci-layout version")
    index = _json(bundle.read("index.json"), "index.json")
    if not isinstance(index, dict):
        raise InvalidArgument("invalid image archive: index.json is not an object")
    plans = []
    for descriptor in index.get("manifests") or []:
        if not isinstance(descriptor, dict):
            raise InvalidArgument("invalid image archive: bad descriptor in index.json")
        name = _name_from_annotations(descriptor.get("annotations") or {})
        resolved, manifest_bytes = _resolve_manifest(bundle, descriptor, platform)
        manifest = _json(manifest_bytes, resolved["digest"])
        assert isinstance(manifest, dict)
        config = bundle.read_blob(manifest.get("config") or {})
        config_json = oci.parse_config(config)
        layers = tuple(
            LayerSource(blob_path(layer["digest"]), layer.get("mediaType", ""), layer["digest"])
            for layer in manifest.get("layers") or []
        )
        _check_layer_count(layers, config_json)
        plans.append(
            ImagePlan(config, config_json, layers, (name,) if name else (), manifest_bytes, resolved["digest"])
        )
    return plans
