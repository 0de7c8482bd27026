"""``docker image prune``: remove dangling images, or with ``-a`` every image no container uses.

Dangling means without a tag (Docker's ``dangling=true``). Each image goes through
``ImageService.remove`` (so its unused layers go too); the space reclaimed is the
size of the layer snapshots that were removed. :func:`prune_candidates` is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from pouch.errors import InvalidArgument, PouchError
from pouch.images.deleted import ImageDeleteItem
from pouch.metadata import images as store


@dataclass(frozen=True)
class ImagePruneReport:
    """What an image prune removed (each image's untags and deletions, in order) and the
    bytes of the layers that went."""

    deleted: tuple[ImageDeleteItem, ...]
    space_reclaimed: int


def parse_prune_filters(filters: dict[str, list[str]]) -> bool:
    """The ``filters`` of ``POST /images/prune`` -> dangling only? (``dangling=false`` is ``-a``)."""
    for key in filters:
        if key != "dangling":
            raise InvalidArgument(f"invalid filter '{key}' (image prune supports dangling)")
    values = filters.get("dangling") or ["true"]
    if values[0] not in ("true", "false", "1", "0"):
        raise InvalidArgument(f"invalid filter 'dangling={values[0]}'")
    return values[0] in ("true", "1")


def prune_candidates(records: Iterable, used_image_ids: AbstractSet[str], dangling_only: bool,
                     parent_ids: AbstractSet[str] = frozenset()) -> list:
    """The images to remove: unused ones, and with ``dangling_only`` only those without a tag.
    Untagged images with children (build steps) are not candidates: removing the top image
    removes them (as Docker prunes only "top" images)."""
    return [r for r in records if r.id not in used_image_ids and (not dangling_only or not r.repo_tags)
            and not (r.id in parent_ids and not r.repo_tags and not r.repo_digests)]


def prune_images(images, dangling_only: bool, collect: Callable[[], int] | None = None) -> ImagePruneReport:
    """Remove the candidates, each through ``images.remove`` (forced: no container uses them;
    who uses an image is the image service's ``containers_using``), then run ``collect``
    (garbage collection, ``services/gc.py``: what no record references) and count its bytes."""
    deleted: list[ImageDeleteItem] = []
    reclaimed = 0
    with images.transaction():
        sizes = {row.chain_id: row.size for row in store.list_snapshots(images.db)}
        records = images.list_images()
        used = {r.id for r in records if images.containers_using(r.id)}
        for record in prune_candidates(records, used, dangling_only, images.parent_ids()):
            try:
                items = images.remove(record.id, force=True)
            except PouchError:
                continue  # removed or taken meanwhile
            deleted += items
            reclaimed += sum(sizes.get(item.deleted, 0) for item in items if item.deleted and item.deleted != record.id)
        if collect is not None:
            reclaimed += collect()
    return ImagePruneReport(tuple(deleted), reclaimed)
