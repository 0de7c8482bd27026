"""Garbage collection of the image store and container files, as a pure mark-and-sweep.

containerd's GC (``metadata/gc``) walks references from roots and deletes what it did not
reach; this module does the same over :class:`GcFacts`, a picture of the store taken under
the image store's lock, and returns the :class:`Garbage` to delete. IO (gathering the facts,
deleting) is in :mod:`pouch.services.gc`.

Roots and the references they hold:

- an **image record** → its config blob, manifest blob, layer blobs (the manifest's, or the
  uncompressed ones named by its diffIDs) and its top snapshot;
- a **container record** (or a container whose removal is journaled) → its own directory,
  its writable layer, the snapshot that layer is stacked on and the config blob of its image
  (an image deleted with ``rmi -f`` keeps both for it), with that config's top snapshot; a
  directory or layer named ``<id>.<suffix>`` (``pouch upgrade``'s old layer) is the container's;
- a **lease** (an operation in progress: a pull, a push) → the blobs and snapshots it
  named, and the partial download ``ingest/<hex>.partial`` of each blob it named;
- **work in progress** this daemon tracks in memory (an unpack into a snapshot directory
  not yet recorded, a content write in ``ingest/``) is never garbage;
- a snapshot → its parent.

What is not reached is garbage: blobs, snapshot rows and their directories, snapshot
directories without a row, ingest files, leftovers in ``tmp/``, container directories and
writable layers without a record. ``tmp/`` entries and container directories can be made by
an operation before anything references them (a create makes its directory, then its
record), so they are garbage only when they are *stale*: older than this daemon (its own
operations in progress are younger) -- at start, every one is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

PARTIAL_SUFFIX = ".partial"


def owner(name: str) -> str:
    """The container a directory or writable layer belongs to: ``<id>`` or ``<id>.<suffix>``
    (``pouch upgrade`` sets the old writable layer aside as ``<id>.upgrade-old``)."""
    return name.partition(".")[0]


@dataclass(frozen=True)
class ImageRefs:
    """What one image record references."""

    blobs: frozenset[str]
    top_chain: str = ""


@dataclass(frozen=True)
class ContainerRefs:
    """What one container (with a record, or a journaled removal) references."""

    id: str
    config_blob: str = ""  # its image's config: kept after rmi -f
    chains: frozenset[str] = frozenset()  # its rw layer's parent, its image's top snapshot


@dataclass(frozen=True)
class SnapshotFact:
    parent: str
    dir: str


@dataclass(frozen=True)
class GcFacts:
    images: tuple[ImageRefs, ...] = ()
    containers: tuple[ContainerRefs, ...] = ()
    lease_blobs: frozenset[str] = frozenset()
    lease_chains: frozenset[str] = frozenset()
    blobs: frozenset[str] = frozenset()  # digests in content/blobs
    snapshots: Mapping[str, SnapshotFact] = field(default_factory=dict)  # chain id -> row
    snapshot_dirs: frozenset[str] = frozenset()  # numbered directories under snapshots/
    busy_snapshot_dirs: frozenset[str] = frozenset()  # being unpacked now
    ingest: frozenset[str] = frozenset()  # names in content/ingest
    busy_ingest: frozenset[str] = frozenset()  # being written now
    tmp: frozenset[str] = frozenset()  # stale names in tmp/ (older than this daemon)
    container_dirs: frozenset[str] = frozenset()  # stale ids under containers/
    rw_dirs: frozenset[str] = frozenset()  # stale keys under snapshots/containers/


@dataclass(frozen=True)
class Garbage:
    blobs: tuple[str, ...] = ()
    chains: tuple[str, ...] = ()  # topmost first: a child goes before its parent
    snapshot_dirs: tuple[str, ...] = ()  # directories without a row
    ingest: tuple[str, ...] = ()
    tmp: tuple[str, ...] = ()
    container_dirs: tuple[str, ...] = ()
    rw_dirs: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return any((self.blobs, self.chains, self.snapshot_dirs, self.ingest, self.tmp, self.container_dirs,
                    self.rw_dirs))


def reachable_chains(tops: Iterable[str], snapshots: Mapping[str, SnapshotFact]) -> set[str]:
    """Every snapshot ``tops`` stack on, themselves included."""
    keep: set[str] = set()
    for top in tops:
        current = top
        while current and current not in keep and current in snapshots:
            keep.add(current)
            current = snapshots[current].parent
    return keep


def _depth(chain: str, snapshots: Mapping[str, SnapshotFact]) -> int:
    depth, current = 0, snapshots[chain].parent
    while current in snapshots and depth <= len(snapshots):
        depth, current = depth + 1, snapshots[current].parent
    return depth


def find_garbage(facts: GcFacts) -> Garbage:
    """Mark from the roots, return what was not marked."""
    live_ids = {c.id for c in facts.containers}
    keep_blobs = set(facts.lease_blobs)
    tops = set(facts.lease_chains)
    for image in facts.images:
        keep_blobs |= image.blobs
        tops.add(image.top_chain)
    for c in facts.containers:
        keep_blobs.add(c.config_blob)
        tops |= c.chains
    keep_chains = reachable_chains(tops, facts.snapshots)
    doomed = [cid for cid in facts.snapshots if cid not in keep_chains]
    doomed.sort(key=lambda cid: (-_depth(cid, facts.snapshots), cid))
    recorded_dirs = {row.dir for row in facts.snapshots.values()}
    leased_partials = {digest.partition(":")[2] + PARTIAL_SUFFIX for digest in facts.lease_blobs}
    return Garbage(
        blobs=tuple(sorted(facts.blobs - keep_blobs)),
        chains=tuple(doomed),
        snapshot_dirs=tuple(sorted(facts.snapshot_dirs - recorded_dirs - facts.busy_snapshot_dirs)),
        ingest=tuple(sorted(facts.ingest - facts.busy_ingest - leased_partials)),
        tmp=tuple(sorted(facts.tmp)),
        container_dirs=tuple(sorted(n for n in facts.container_dirs if owner(n) not in live_ids)),
        rw_dirs=tuple(sorted(n for n in facts.rw_dirs if owner(n) not in live_ids)),
    )
