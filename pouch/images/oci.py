"""OCI image-spec data: media types, the host platform, image configs.

Pure helpers around the image configuration (image-spec ``config.md``) and
manifests (``manifest.md``, ``image-index.md``); Docker's schema2 media types
are accepted wherever the OCI ones are.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform as _platform
import re
from dataclasses import dataclass

from pouch.errors import InvalidArgument
from pouch.models import ImageConfig

MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

INDEX_TYPES = (MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST)
MANIFEST_TYPES = (MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST)

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"

ZERO_TIME = "0001-01-01T00:00:00Z"

_GOARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "i386": "386",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def matches(self, spec: dict) -> bool:
        if spec.get("os", self.os) != self.os or spec.get("architecture", self.architecture) != self.architecture:
            return False
        return not self.variant or not spec.get("variant") or spec["variant"] == self.variant

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def host_platform() -> Platform:
    machine = _platform.machine()
    variant = {"armv7l": "v7", "armv6l": "v6", "aarch64": "v8"}.get(machine, "")
    return Platform("linux", _GOARCH.get(machine, machine), variant if machine.startswith("arm") else "")


def now_rfc3339() -> str:
    """Current UTC time as Docker writes it (RFC 3339 with nanoseconds)."""
    now = _dt.datetime.now(_dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}000Z"


_RFC3339_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def rfc3339_to_unix(value: str) -> int:
    """Seconds since the epoch of an RFC 3339 timestamp (0 when unparsable)."""
    match = _RFC3339_RE.match(value or "")
    if not match:
        return 0
    date, time, _frac, zone = match.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    parsed = _dt.datetime.fromisoformat(f"{date}T{time}{zone}")
    return int(parsed.timestamp())


def diff_ids(config: dict) -> list[str]:
    rootfs = config.get("rootfs") or {}
    if rootfs.get("type", "layers") != "layers":
        raise InvalidArgument(f"unsupported rootfs type {rootfs.get('type')!r} in image config")
    ids = rootfs.get("diff_ids") or []
    if not all(isinstance(d, str) for d in ids):
        raise InvalidArgument("invalid rootfs.diff_ids in image config")
    return list(ids)


def parse_config(raw: bytes) -> dict:
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise InvalidArgument(f"invalid image config: {exc}") from exc
    if not isinstance(config, dict):
        raise InvalidArgument("invalid image config: not a JSON object")
    diff_ids(config)
    return config


def build_import_config(
    diff_id: str,
    image_config: ImageConfig,
    comment: str,
    created: str,
    platform: Platform,
) -> dict:
    """The config of a one-layer image made by ``pouch import`` (as Docker's import writes it)."""
    config: dict = {
        "architecture": platform.architecture,
        "os": platform.os,
        "created": created,
        "config": image_config.to_oci(),
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "comment": comment}],
    }
    if platform.variant:
        config["variant"] = platform.variant
    if comment:
        config["comment"] = comment
    return config


def encode_config(config: dict) -> bytes:
    """Canonical bytes of a config we create (the image id is their sha256)."""
    return json.dumps(config, separators=(",", ":"), sort_keys=True).encode()
