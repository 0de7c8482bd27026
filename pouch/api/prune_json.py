"""Docker's answers of ``DELETE /images/{name}`` and of the prunes, from the engine's typed
reports (Docker Engine API v1.41: ``ImageDeleteResponseItem``, ``ImagesPruneResponse``,
``ContainersPruneResponse``, ``BuildCachePruneResponse``). Pure."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pouch.images.deleted import ImageDeleteItem
from pouch.images.prune import ImagePruneReport
from pouch.services.prune import PruneReport


def image_delete_json(items: Iterable[ImageDeleteItem]) -> list[dict[str, str]]:
    """``[{"Untagged": name}, {"Deleted": id}, ...]`` in the order things were done."""
    return [{"Untagged": item.untagged} if item.untagged else {"Deleted": item.deleted} for item in items]


def image_prune_json(report: ImagePruneReport) -> dict[str, Any]:
    return {"ImagesDeleted": image_delete_json(report.deleted) or None, "SpaceReclaimed": report.space_reclaimed}


def container_prune_json(report: PruneReport) -> dict[str, Any]:
    return {"ContainersDeleted": list(report.deleted) or None, "SpaceReclaimed": report.space_reclaimed}


def build_cache_prune_json(report: PruneReport) -> dict[str, Any]:
    return {"CachesDeleted": list(report.deleted) or None, "SpaceReclaimed": report.space_reclaimed}
