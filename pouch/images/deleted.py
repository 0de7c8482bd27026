"""What removing an image did, typed: the names untagged, the images and layers deleted.

``docker rmi`` and ``docker image prune`` show these lines; the Docker API renders them
as ``[{"Untagged": ...}, {"Deleted": ...}]`` (``pouch/api/prune_json.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageDeleteItem:
    """One thing a removal did: a name untagged (``busybox:latest``), or an image id or a
    layer's chain id deleted. Exactly one of the two is set."""

    untagged: str = ""
    deleted: str = ""


def untagged(name: str) -> ImageDeleteItem:
    return ImageDeleteItem(untagged=name)


def deleted(ident: str) -> ImageDeleteItem:
    return ImageDeleteItem(deleted=ident)
