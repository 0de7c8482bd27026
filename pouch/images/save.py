"""``docker save``: images as a docker-archive or OCI image-layout tarball.

Both formats hold the blobs at ``blobs/sha256/<hex>`` with ``oci-layout`` and
``index.json`` (image-spec ``image-layout.md``); the docker format adds
``manifest.json`` (``[{"Config", "RepoTags", "Layers"}]``), which is what
``docker load`` reads (Docker 25+ writes exactly this combination), so one
archive loads into docker, podman, containerd and Pouch. ``format="oci"``
leaves ``manifest.json`` out. Names: ``io.containerd.image.name`` (full
reference) and ``org.opencontainers.image.ref.name`` (the tag) annotations.

Layer blobs come from the content store: the blobs the image's manifest
lists (a pulled or loaded image), else the uncompressed tar whose digest is the
diffID (commit keeps it; load and import keep theirs). An older image whose
blob is missing gets its layer regenerated from the snapshot
(:mod:`pouch.images.layertar`); if the new tar's digest is not the diffID
(another tar writer made the original), the saved config lists the new
diffIDs -- the image gets a new id -- and pouchd logs a warning saying so.

The pure part (:func:`archive_members`) lays the archive out; the IO resolves
blobs and streams the tar.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pouch import reference
from pouch.errors import InvalidArgument, NotFound
from pouch.images import oci
from pouch.images.layertar import end_of_archive, header, padding, write_layer
from pouch.snapshots.overlay import chain_ids

log = logging.getLogger(__name__)

FORMATS = ("docker", "oci")
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class LayerBlob:
    digest: str
    media_type: str
    size: int
    path: str  # the file to copy into the archive


@dataclass(frozen=True)
class SaveItem:
    config: bytes
    layers: tuple[LayerBlob, ...]
    names: tuple[str, ...]  # normalised references: docker.io/library/busybox:latest

    @property
    def config_digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.config).hexdigest()


# --- pure: the archive's layout -------------------------------------------------------------

def blob_name(digest: str) -> str:
    return "blobs/sha256/" + digest.split(":", 1)[1]


def oci_manifest(item: SaveItem) -> bytes:
    manifest = {
        "schemaVersion": 2,
        "mediaType": oci.MEDIA_OCI_MANIFEST,
        "config": {"mediaType": oci.MEDIA_OCI_CONFIG, "digest": item.config_digest, "size": len(item.config)},
        "layers": [{"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size} for layer in item.layers],
    }
    return json.dumps(manifest, separators=(",", ":")).encode()


def _tag_of(name: str) -> str:
    ref = reference.parse_reference(name)
    return ref.tag or "latest"


def oci_index(items: Sequence[SaveItem]) -> dict:
    manifests = []
    for item in items:
        data = oci_manifest(item)
        desc = {"mediaType": oci.MEDIA_OCI_MANIFEST, "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
                "size": len(data)}
        if not item.names:
            manifests.append(desc)
        for name in item.names:
            manifests.append({**desc, "annotations": {oci.ANNOTATION_CONTAINERD_NAME: name,
                                                      oci.ANNOTATION_REF_NAME: _tag_of(name)}})
    return {"schemaVersion": 2, "mediaType": oci.MEDIA_OCI_INDEX, "manifests": manifests}


def docker_manifest(items: Sequence[SaveItem]) -> list[dict]:
    return [{
        "Config": blob_name(item.config_digest),
        "RepoTags": [reference.familiar(n) for n in item.names] or None,
        "Layers": [blob_name(layer.digest) for layer in item.layers],
    } for item in items]


def archive_members(items: Sequence[SaveItem], fmt: str) -> list[tuple[str, bytes | LayerBlob]]:
    """``(name, content)`` in archive order: bytes, or a layer blob to copy; each blob once."""
    if fmt not in FORMATS:
        raise InvalidArgument(f"unknown save format {fmt!r}: use docker or oci")
    members: list[tuple[str, bytes | LayerBlob]] = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')]
    seen: set[str] = set()

    def add(name: str, content: bytes | LayerBlob) -> None:
        if name not in seen:
            seen.add(name)
            members.append((name, content))

    for item in items:
        for layer in item.layers:
            add(blob_name(layer.digest), layer)
        add(blob_name(item.config_digest), item.config)
        manifest = oci_manifest(item)
        add(blob_name("sha256:" + hashlib.sha256(manifest).hexdigest()), manifest)
    members.append(("index.json", json.dumps(oci_index(items), separators=(",", ":")).encode()))
    if fmt == "docker":
        members.append(("manifest.json", json.dumps(docker_manifest(items), separators=(",", ":")).encode()))
    return members


def with_diff_ids(config: dict, diff_ids: list[str]) -> bytes:
    changed = dict(config, rootfs=dict(config.get("rootfs") or {}, type="layers", diff_ids=diff_ids))
    return oci.encode_config(changed)


# --- IO -----------------------------------------------------------------------------------

def _manifest_layers(images, record) -> list[LayerBlob] | None:
    """The blobs the image's manifest lists, when the content store has all of them."""
    digest = record.manifest_digest
    if not digest or not images.content.exists(digest):
        return None
    try:
        manifest = json.loads(images.content.read(digest))
    except ValueError:
        return None
    layers = manifest.get("layers") if isinstance(manifest, dict) else None
    if not isinstance(layers, list) or len(layers) != len(record.diff_ids):
        return None
    out = []
    for desc in layers:
        blob = desc.get("digest", "")
        if not images.content.exists(blob):
            return None
        out.append(LayerBlob(blob, desc.get("mediaType") or oci.MEDIA_OCI_LAYER, images.content.size(blob),
                             images.content.path(blob)))
    return out


def resolve_item(images, record, names: tuple[str, ...], work: str) -> SaveItem:
    """The image's config and layer blobs; regenerates missing layers under ``work``."""
    config_raw = images.content.read(record.id) if images.content.exists(record.id) else oci.encode_config(record.config)
    layers = _manifest_layers(images, record)
    if layers is not None:
        return SaveItem(config_raw, tuple(layers), names)
    diff_ids = record.diff_ids
    chains = chain_ids(diff_ids)
    out: list[LayerBlob] = []
    new_diff_ids: list[str] = []
    for diff_id, chain in zip(diff_ids, chains):
        if images.content.exists(diff_id):
            out.append(LayerBlob(diff_id, oci.MEDIA_OCI_LAYER, images.content.size(diff_id), images.content.path(diff_id)))
            new_diff_ids.append(diff_id)
            continue
        snapshot = images.snapshots.stat(chain)
        path = os.path.join(work, diff_id.split(":", 1)[1] + ".tar")
        if not os.path.exists(path):
            written = write_layer(images.snapshots.fs_dir(snapshot), path, overlay=True)
        else:
            written = None
        digest = written.diff_id if written else _sha256_file(path)
        if digest == diff_id:
            log.warning("layer %s of %s was not in the content store: regenerated it from its snapshot", diff_id,
                        record.id)
        else:
            log.warning("layer %s of %s was not in the content store: regenerated from its snapshot as %s; "
                        "the saved image gets new diffIDs and a new id", diff_id, record.id, digest)
        out.append(LayerBlob(digest, oci.MEDIA_OCI_LAYER, os.path.getsize(path), path))
        new_diff_ids.append(digest)
    if new_diff_ids != diff_ids:
        config_raw = with_diff_ids(record.config, new_diff_ids)
        log.warning("saving %s as %s (regenerated layers)", record.id, "sha256:" + hashlib.sha256(config_raw).hexdigest())
    return SaveItem(config_raw, tuple(out), names)


def _sha256_file(path: str) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


def save_stream(images, refs: Sequence[str], fmt: str = "docker") -> Iterator[bytes]:
    """Resolve every image now (a missing one is a 404 before the 200), stream later."""
    if fmt not in FORMATS:
        raise InvalidArgument(f"unknown save format {fmt!r}: use docker or oci")
    if not refs:
        raise InvalidArgument("no images given to save")
    work = tempfile.mkdtemp(prefix="save-", dir=images.tmp_dir)
    try:
        found: dict[str, tuple[object, list[str]]] = {}
        for ref in refs:
            record, name = images.find(ref)
            entry = found.setdefault(record.id, (record, []))
            if name and name not in entry[1]:
                entry[1].append(name)
        items = [resolve_item(images, record, tuple(names), work) for record, names in found.values()]
        members = archive_members(items, fmt)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    for image_id in found:
        images.events.emit("image", "save", image_id, {"name": image_id})
    return _stream(members, work)


def _stream(members: list[tuple[str, bytes | LayerBlob]], work: str) -> Iterator[bytes]:
    try:
        written = 0
        for directory in ("blobs/", "blobs/sha256/"):
            data = header(_info(directory, 0, tarfile.DIRTYPE))
            written += len(data)
            yield data
        for name, content in members:
            size = len(content) if isinstance(content, bytes) else content.size
            data = header(_info(name, size, tarfile.REGTYPE))
            written += len(data)
            yield data
            if isinstance(content, bytes):
                yield content
            else:
                remaining = size
                with open(content.path, "rb") as f:
                    while remaining > 0 and (chunk := f.read(min(CHUNK, remaining))):
                        remaining -= len(chunk)
                        yield chunk
                if remaining:
                    raise NotFound(f"layer blob {content.digest} is shorter than recorded")
            written += size
            pad = padding(size)
            written += len(pad)
            yield pad
        yield end_of_archive(written)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _info(name: str, size: int, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.mtime = 0
    info.uname = info.gname = ""
    return info
