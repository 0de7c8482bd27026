"""What the image store knows about one image."""

from __future__ import annotations

from dataclasses import dataclass, field

from pouch.images import oci
from pouch.models import ImageConfig


@dataclass(frozen=True)
class ImageRecord:
    id: str  # sha256:<hex> of the config blob
    repo_tags: tuple[str, ...]  # normalised: docker.io/library/busybox:latest
    repo_digests: tuple[str, ...]  # normalised: docker.io/library/busybox@sha256:...
    created: str  # RFC 3339, from the config ("0001-01-01T00:00:00Z" when absent)
    size: int  # bytes of file content in all layers
    config: dict = field(default_factory=dict)  # the full OCI image config
    chain_id: str = ""  # ChainID of the top layer, '' for an image without layers
    layer_dirs: tuple[str, ...] = ()  # unpacked layer directories, top first
    manifest_digest: str = ""

    @property
    def image_config(self) -> ImageConfig:
        return ImageConfig.from_oci(self.config.get("config"))

    @property
    def diff_ids(self) -> list[str]:
        return oci.diff_ids(self.config)

    @property
    def architecture(self) -> str:
        return self.config.get("architecture", "")

    @property
    def os(self) -> str:
        return self.config.get("os", "")
