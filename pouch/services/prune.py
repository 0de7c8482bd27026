"""Housekeeping use cases: ``container prune``, ``system df`` and the build cache prune.

``system prune`` is the client's composition of the prunes (as the docker CLI does):
containers, networks, images (``POST /images/prune``, ``pouch.images.prune``), volumes
with ``--volumes``, the build cache.

Sizes are Docker's: a container's ``SizeRw`` is the bytes of its writable layer (hard links
once), its ``SizeRootFs`` that plus its image's; an image's ``SharedSize`` is the bytes of
its layers that another image also has, ``LayersSize`` the bytes of every layer once.
The build cache is the ``build_cache`` index of ``pouch build`` (step -> image): its layers
belong to images (``Shared``), so pruning it frees the index, and the step images nothing
else needs. Pure: :func:`parse_container_prune_filters`, :func:`prune_candidates`,
:func:`shared_sizes`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pouch.diskusage import directory_size
from pouch.errors import InvalidArgument, PouchError
from pouch.events import parse_timestamp
from pouch.labels import label_matches, labels_match
from pouch.metadata import build_cache
from pouch.metadata import images as image_store
from pouch.runtime.logs import parse_timestamp_ns
from pouch.snapshots.overlay import chain_ids

log = logging.getLogger(__name__)

_PRUNABLE = ("created", "exited", "dead")


@dataclass(frozen=True)
class ContainerPruneFilters:
    until: float | None = None  # created before this time (epoch seconds)
    labels: tuple[str, ...] = ()  # key or key=value, all must match
    not_labels: tuple[str, ...] = ()  # label!=: none may match


def parse_container_prune_filters(filters: Mapping[str, list[str]], now: float) -> ContainerPruneFilters:
    """The ``filters`` of ``POST /containers/prune``: ``until``, ``label``, ``label!``."""
    for key in filters:
        if key not in ("until", "label", "label!"):
            raise InvalidArgument(f"invalid filter '{key}'")
    until = None
    values = filters.get("until") or []
    if len(values) > 1:
        raise InvalidArgument("more than one until filter specified")
    if values:
        nanos = parse_timestamp(values[0], int(now * 1_000_000_000))
        until = None if nanos is None else nanos / 1_000_000_000
    return ContainerPruneFilters(until, tuple(filters.get("label") or ()), tuple(filters.get("label!") or ()))


def prune_candidates(containers: Iterable, filters: ContainerPruneFilters, created_at, labels_of) -> list:
    """The containers ``container prune`` removes: not running, paused or restarting, created
    before ``until``, with every ``label`` and no ``label!``."""
    out = []
    for c in containers:
        if c.state.status.value not in _PRUNABLE:
            continue
        if filters.until is not None and created_at(c) > filters.until:
            continue
        labels = labels_of(c)
        if not labels_match(filters.labels, labels):
            continue
        if any(label_matches(e, labels) for e in filters.not_labels):
            continue
        out.append(c)
    return out


def shared_sizes(chains: Mapping[str, list[str]], layer_sizes: Mapping[str, int]) -> dict[str, int]:
    """Image id -> bytes of its layers that another image also has (``chains``: id -> chain ids)."""
    users: dict[str, int] = {}
    for chain in chains.values():
        for layer in set(chain):
            users[layer] = users.get(layer, 0) + 1
    return {image_id: sum(layer_sizes.get(layer, 0) for layer in set(chain) if users[layer] > 1)
            for image_id, chain in chains.items()}


def container_size_rw(engine, c) -> int:
    return directory_size(engine.images.rw_dirs(c.id).upper)


def _created_at(c) -> float:
    try:
        return parse_timestamp_ns(c.created) / 1_000_000_000
    except (ValueError, TypeError):
        return 0.0


def _labels_of(engine, c) -> dict[str, str]:
    image = engine.images.get_or_none(c.image_id)
    config = image.image_config if image else None
    return {**(dict(config.labels) if config else {}), **c.options.labels}


# --- container prune ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PruneReport:
    """What a prune removed (container ids, or build cache keys) and the bytes it freed."""

    deleted: tuple[str, ...]
    space_reclaimed: int


def prune_containers(engine, filters: Mapping[str, list[str]]) -> PruneReport:
    """``container prune``: remove the stopped containers the filters select."""
    parsed = parse_container_prune_filters(filters, time.time())
    containers = engine.containers
    deleted, reclaimed = [], 0
    for c in prune_candidates(containers.list(), parsed, _created_at, lambda c: _labels_of(engine, c)):
        size = container_size_rw(engine, c)
        try:
            containers.remove(c.id)
        except PouchError as err:  # started or removed meanwhile
            log.info("prune: keeping container %s: %s", c.id[:12], err.message)
            continue
        deleted.append(c.id)
        reclaimed += size
    if engine.events is not None:
        engine.events.emit("container", "prune", "", {"reclaimed": str(reclaimed)})
    return PruneReport(tuple(deleted), reclaimed)


# --- disk usage --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImageUsage:
    record: object  # images.record.ImageRecord
    shared_size: int
    containers: int


@dataclass(frozen=True)
class ContainerUsage:
    container: object  # models.Container
    size_rw: int
    size_root_fs: int


@dataclass(frozen=True)
class VolumeUsage:
    volume: object  # metadata.volumes.Volume
    mountpoint: str
    size: int
    ref_count: int


@dataclass(frozen=True)
class CacheEntry:
    key: str
    image_id: str
    size: int
    shared: bool
    in_use: bool


@dataclass(frozen=True)
class DiskUsage:
    layers_size: int
    images: list[ImageUsage]
    containers: list[ContainerUsage]
    volumes: list[VolumeUsage]
    build_cache: list[CacheEntry]


def _chains(records) -> dict[str, list[str]]:
    return {r.id: chain_ids(r.diff_ids) for r in records}


def disk_usage(engine) -> DiskUsage:
    """``GET /system/df``."""
    images = engine.images
    layer_sizes = {row.chain_id: row.size for row in image_store.list_snapshots(images.db)}
    records = images.list_images()
    chains = _chains(records)
    shared = shared_sizes(chains, layer_sizes)
    containers = engine.containers.list()
    using: dict[str, int] = {}
    for c in containers:
        using[c.image_id] = using.get(c.image_id, 0) + 1
    parents = images.parent_ids()
    image_usage = [ImageUsage(r, shared.get(r.id, 0), using.get(r.id, 0)) for r in records
                   if not (r.id in parents and not r.repo_tags and not r.repo_digests)]
    sizes = {r.id: r.size for r in records}
    container_usage = []
    for c in containers:
        size_rw = container_size_rw(engine, c)
        container_usage.append(ContainerUsage(c, size_rw, size_rw + sizes.get(c.image_id, 0)))
    return DiskUsage(
        layers_size=sum(layer_sizes.values()),
        images=image_usage,
        containers=container_usage,
        volumes=_volume_usage(engine),
        build_cache=_cache_entries(engine, records, chains, layer_sizes, using, parents),
    )


def _volume_usage(engine) -> list[VolumeUsage]:
    volumes = getattr(engine, "volumes", None)
    if volumes is None:
        return []
    users = volumes.users()
    out = []
    for v in volumes.list():
        path = volumes.data_path(v.name)
        size = -1 if getattr(v, "has_device", False) else directory_size(path)
        out.append(VolumeUsage(v, path, size, len(users.get(v.name, []))))
    return out


# --- the build cache ---------------------------------------------------------------------------

def _cache_entries(engine, records, chains, layer_sizes, using, parents: set[str]) -> list[CacheEntry]:
    """One entry per cached build step: its own layer's size; ``Shared`` while an image that is
    tagged, used or built upon (``parents``) holds it (the image prune reclaims those bytes, not this one)."""
    by_id = {r.id: r for r in records}
    out = []

    for key, image_id in build_cache.entries(engine.images.db):
        record = by_id.get(image_id)
        chain = chains.get(image_id) or []
        own = layer_sizes.get(chain[-1], 0) if chain else 0
        held = record is not None and bool(record.repo_tags or record.repo_digests or image_id in parents)
        out.append(CacheEntry(key, image_id, own if record is not None else 0, held, using.get(image_id, 0) > 0))
    return out


def prune_build_cache(engine, all_: bool = False) -> PruneReport:
    """``builder prune``: forget cached steps (all with ``all_``, else those no image holds)
    and remove the step images nothing else needs."""
    images = engine.images
    deleted, reclaimed = [], 0
    with images.transaction():  # the store stays still while step images are weighed and removed
        records = images.list_images()
        entries = _cache_entries(engine, records, _chains(records), {}, {}, images.parent_ids())
        layer_sizes = {row.chain_id: row.size for row in image_store.list_snapshots(images.db)}
        for entry in entries:
            if entry.shared and not all_:
                continue
            with images.db.transaction() as tx:
                build_cache.forget_entry(tx, entry.key, entry.image_id)
            deleted.append(entry.key)
            if entry.shared or images.get_or_none(entry.image_id) is None:
                continue
            if images.containers_using(entry.image_id):
                continue
            try:
                items = images.remove(entry.image_id)
            except PouchError:
                continue
            reclaimed += sum(layer_sizes.get(item.deleted, 0) for item in items
                             if item.deleted and item.deleted != entry.image_id)
    return PruneReport(tuple(deleted), reclaimed)
