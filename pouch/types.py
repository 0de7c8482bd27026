"""Shared currency of the engine: digests, descriptors and mounts.

Pure data, no IO. Everything above (images, snapshots, runtime) speaks these.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def is_digest(value: str) -> bool:
    return bool(_DIGEST_RE.match(value))


def sha256_digest(data: bytes) -> str:
    """The OCI digest string ``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def short_id(digest_or_id: str, length: int = 12) -> str:
    """Docker's short form of an id: the first 12 hex characters, no algorithm."""
    return digest_or_id.split(":", 1)[-1][:length]


@dataclass(frozen=True)
class Descriptor:
    """OCI content descriptor (image-spec descriptor.md)."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)

    def to_oci(self) -> dict:
        out: dict = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    @classmethod
    def from_oci(cls, data: dict) -> Descriptor:
        return cls(data["mediaType"], data["digest"], int(data["size"]), dict(data.get("annotations") or {}))


@dataclass(frozen=True)
class Mount:
    """A filesystem mount as containerd describes it: the lingua franca between
    snapshots, the runtime spec and ``pouch.mount``.

    ``type`` is the filesystem type (``overlay``, ``bind``, ``tmpfs``...), ``options``
    the comma-separable mount options (``ro``, ``lowerdir=...``).
    """

    type: str
    source: str
    target: str
    options: tuple[str, ...] = ()

    def to_oci(self) -> dict:
        return {"destination": self.target, "type": self.type, "source": self.source, "options": list(self.options)}
