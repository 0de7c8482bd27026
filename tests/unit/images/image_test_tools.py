"""Builders for crafted layer tars and image tarballs (docker save, OCI layout)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field

from pouch.images.oci import host_platform

MTIME = 1_700_000_000


def _info(name: str, type_: bytes, mode: int, **kw) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = type_
    info.mode = mode
    info.mtime = kw.pop("mtime", MTIME)
    info.uid = kw.pop("uid", 0)
    info.gid = kw.pop("gid", 0)
    xattrs = kw.pop("xattrs", None)
    if xattrs:
        info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
    for key, value in kw.items():
        setattr(info, key, value)
    return info


def file(name: str, data: bytes = b"", mode: int = 0o644, **kw) -> tuple[tarfile.TarInfo, bytes]:
    info = _info(name, tarfile.REGTYPE, mode, **kw)
    info.size = len(data)
    return info, data


def directory(name: str, mode: int = 0o755, **kw) -> tuple[tarfile.TarInfo, None]:
    return _info(name, tarfile.DIRTYPE, mode, **kw), None


def symlink(name: str, target: str, **kw) -> tuple[tarfile.TarInfo, None]:
    return _info(name, tarfile.SYMTYPE, 0o777, linkname=target, **kw), None


def hardlink(name: str, target: str, **kw) -> tuple[tarfile.TarInfo, None]:
    return _info(name, tarfile.LNKTYPE, 0o644, linkname=target, **kw), None


def chardev(name: str, major: int, minor: int, mode: int = 0o666) -> tuple[tarfile.TarInfo, None]:
    return _info(name, tarfile.CHRTYPE, mode, devmajor=major, devminor=minor), None


def fifo(name: str, mode: int = 0o600) -> tuple[tarfile.TarInfo, None]:
    return _info(name, tarfile.FIFOTYPE, mode), None


def make_tar(entries, gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in entries:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0) if gz else raw


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class TestImage:
    layers: list[bytes]  # uncompressed layer tars
    repo_tags: list[str] = field(default_factory=list)
    config_extra: dict = field(default_factory=dict)
    gzip_layers: bool = False  # OCI layout only

    __test__ = False

    @property
    def config(self) -> bytes:
        cfg = {
            "architecture": "amd64",
            "os": "linux",
            "created": "2024-05-06T07:08:09.123456789Z",
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/bin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [sha(layer) for layer in self.layers]},
            "history": [{"created": "2024-05-06T07:08:09Z", "created_by": "test"} for _ in self.layers],
        }
        cfg.update(self.config_extra)
        return json.dumps(cfg).encode()

    @property
    def image_id(self) -> str:
        return sha(self.config)


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = MTIME
    tf.addfile(info, io.BytesIO(data))


def docker_save_tar(images: list[TestImage], legacy_paths: bool = True) -> bytes:
    """The ``docker save`` format (legacy ``<id>/layer.tar`` or Docker 25's ``blobs/sha256``)."""
    buf = io.BytesIO()
    manifest = []
    with tarfile.open(fileobj=buf, mode="w") as tf:
        written: set[str] = set()
        for image in images:
            config = image.config
            hexid = image.image_id.split(":")[1]
            config_path = f"{hexid}.json" if legacy_paths else f"blobs/sha256/{hexid}"
            layer_paths = []
            for layer in image.layers:
                lhex = sha(layer).split(":")[1]
                path = f"{lhex}/layer.tar" if legacy_paths else f"blobs/sha256/{lhex}"
                layer_paths.append(path)
                if path not in written:
                    _add(tf, path, layer)
                    written.add(path)
            if config_path not in written:
                _add(tf, config_path, config)
                written.add(config_path)
            manifest.append({"Config": config_path, "RepoTags": image.repo_tags or None, "Layers": layer_paths})
        _add(tf, "manifest.json", json.dumps(manifest).encode())
        _add(tf, "repositories", b"{}")
    return buf.getvalue()


def oci_layout_tar(images: list[TestImage], use_index: bool = False) -> bytes:
    """An OCI image layout; names in ``org.opencontainers.image.ref.name``."""
    blobs: dict[str, bytes] = {}

    def put(data: bytes) -> str:
        digest = sha(data)
        blobs[digest] = data
        return digest

    index_manifests = []
    for image in images:
        layer_descs = []
        for layer in image.layers:
            blob = gzip.compress(layer, mtime=0) if image.gzip_layers else layer
            media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if image.gzip_layers else "")
            layer_descs.append({"mediaType": media, "digest": put(blob), "size": len(blob)})
        config = image.config
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(config), "size": len(config)},
                "layers": layer_descs,
            }
        ).encode()
        desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(manifest), "size": len(manifest)}
        if use_index:
            inner = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": [
                        {**desc, "digest": "sha256:" + "0" * 64, "platform": {"os": "linux", "architecture": "s390x"}},
                        {**desc, "platform": {"os": "linux", "architecture": host_platform().architecture}},
                    ],
                }
            ).encode()
            desc = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": put(inner), "size": len(inner)}
        for tag in image.repo_tags or [None]:
            entry = dict(desc)
            if tag:
                entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
            index_manifests.append(entry)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        _add(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add(tf, "index.json", json.dumps({"schemaVersion": 2, "manifests": index_manifests}).encode())
        for digest, data in blobs.items():
            _add(tf, "blobs/sha256/" + digest.split(":")[1], data)
    return buf.getvalue()
