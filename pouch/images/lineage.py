"""Which image an image was built on (pure).

Docker's legacy builder records each step image's parent in its config
(``"parent": "sha256:..."``, moby's ``image.V1Image.Parent``). From that:
``docker images`` hides an untagged image with children (an intermediate step)
unless ``-a``, ``rmi`` refuses to delete an image with children, and deleting
an image also deletes its parent step when nothing else needs it.
"""

from __future__ import annotations

from collections.abc import Mapping


def parent_of(config: Mapping) -> str:
    parent = config.get("parent")
    return parent if isinstance(parent, str) else ""


def children(configs: Mapping[str, Mapping], image_id: str) -> list[str]:
    """Ids of the images (``configs``: id -> config) whose parent is ``image_id``."""
    return sorted(i for i, config in configs.items() if parent_of(config) == image_id)


def parent_ids(configs: Mapping[str, Mapping]) -> set[str]:
    """Ids that are some stored image's parent."""
    return {p for config in configs.values() if (p := parent_of(config)) and p in configs}
