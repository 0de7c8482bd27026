"""Overlay snapshotter: image layers unpacked once, stacked with overlayfs.

Glossary (OCI image-spec ``config.md``, containerd's snapshotter vocabulary):

diffID
    sha256 of a layer's *uncompressed* tar stream, listed in the image config's
    ``rootfs.diff_ids``.
chainID
    identity of a layer *stack*: ``chainID(L0) = diffID(L0)``,
    ``chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln))``. Two images that
    share their bottom layers share those snapshots.
committed snapshot
    one layer applied on top of its parent stack, keyed by its chainID;
    read-only, stored in ``snapshots_dir/<n>/fs`` (``n`` a small number so that
    overlay's option string stays short) with a row in the ``snapshots`` table.
    Each directory holds only its own layer (whiteouts as overlay whiteouts);
    the stack is the chain of parents.
container key / rw layer
    a container's writable upper and overlay work dirs under
    ``snapshots_dir/containers/<key>/{upper,work}``; the file ``parent`` there
    records the chainID it was stacked on so that image removal never deletes
    layers a container still mounts.

Directories appear fully formed (unpack into a temporary name, then rename);
rows are written after the directory exists and removed before it is deleted,
so a crash leaves at most an orphan directory, which :meth:`cleanup` removes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from pouch.archive import Readable, unpack_layer
from pouch.errors import Conflict, InvalidArgument, NotFound
from pouch.metadata import images as store
from pouch.metadata.db import Database
from pouch.metadata.images import SnapshotRow
from pouch.mount import overlay_options
from pouch.types import Mount

log = logging.getLogger(__name__)

_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def chain_id(parent_chain_id: str, diff_id: str) -> str:
    """ChainID of ``diff_id`` applied on the stack ``parent_chain_id`` ('' for none)."""
    if not parent_chain_id:
        return diff_id
    return "sha256:" + hashlib.sha256(f"{parent_chain_id} {diff_id}".encode()).hexdigest()


def chain_ids(diff_ids: Iterable[str]) -> list[str]:
    """ChainIDs of every prefix of the layer list, bottom first."""
    out: list[str] = []
    parent = ""
    for diff_id in diff_ids:
        parent = chain_id(parent, diff_id)
        out.append(parent)
    return out


def check_media_type(media_type: str) -> None:
    """Layers are tar streams, plain, gzip or zstd (detected by their magic bytes)."""
    if media_type and not any(t in media_type for t in ("tar", "layer")):
        raise InvalidArgument(f"unsupported layer media type {media_type}")


@dataclass(frozen=True)
class AppliedLayer:
    chain_id: str
    diff_id: str
    created: bool  # False when the snapshot existed already


class RwDirs(NamedTuple):
    upper: str
    work: str


class OverlaySnapshotter:
    def __init__(self, db: Database, root: str, max_layer_size: int = 0) -> None:
        self.db = db
        self.root = root
        self.max_layer_size = max_layer_size  # bytes one layer may unpack to (0: only the free space)
        self.containers_dir = os.path.join(root, "containers")
        self.empty_dir = os.path.join(root, "empty")
        self._lock = threading.RLock()
        self._busy: set[str] = set()  # numbered directories being unpacked now (no row yet)
        for path in (root, self.containers_dir, self.empty_dir):  # private: layers hold images' files
            os.makedirs(path, mode=0o700, exist_ok=True)

    # --- committed snapshots ---------------------------------------------------------
    def exists(self, chain_id: str) -> bool:
        return store.get_snapshot(self.db, chain_id) is not None

    def stat(self, chain_id: str) -> SnapshotRow:
        row = store.get_snapshot(self.db, chain_id)
        if row is None:
            raise NotFound(f"snapshot {chain_id} not found")
        return row

    def fs_dir(self, row: SnapshotRow) -> str:
        return os.path.join(self.root, row.dir, "fs")

    def chain(self, chain_id: str) -> list[SnapshotRow]:
        """The snapshot ``chain_id`` and its ancestors, top first."""
        rows: list[SnapshotRow] = []
        current = chain_id
        while current:
            row = self.stat(current)
            rows.append(row)
            current = row.parent
        return rows

    def lowerdirs(self, chain_id: str) -> list[str]:
        return [self.fs_dir(row) for row in self.chain(chain_id)]

    def size(self, chain_id: str) -> int:
        return sum(row.size for row in self.chain(chain_id)) if chain_id else 0

    def apply_layer(
        self,
        parent_chain_id: str,
        stream: Readable,
        media_type: str = "",
        *,
        diff_id: str | None = None,
        digest: str | None = None,
    ) -> str:
        """Commit the layer ``stream`` on top of ``parent_chain_id``; return its chainID.

        With ``diff_id`` known, an existing snapshot is reused without reading
        ``stream``; otherwise the layer is unpacked, its diffID (and blob
        ``digest`` if given) verified, and the snapshot committed.
        """
        return self.apply(parent_chain_id, stream, media_type, diff_id=diff_id, digest=digest).chain_id

    def apply(
        self,
        parent_chain_id: str,
        stream: Readable,
        media_type: str = "",
        *,
        diff_id: str | None = None,
        digest: str | None = None,
    ) -> AppliedLayer:
        """:meth:`apply_layer`, also telling the diffID and whether the snapshot is new."""
        check_media_type(media_type)
        if diff_id is not None:
            known = chain_id(parent_chain_id, diff_id)
            if self.exists(known):
                return AppliedLayer(known, diff_id, False)
        if parent_chain_id:
            self.stat(parent_chain_id)
        snap_dir = self._claim_dir()
        try:
            result = unpack_layer(stream, os.path.join(snap_dir, "fs"), expected_diff_id=diff_id,
                                  expected_digest=digest, max_bytes=self.max_layer_size)
            new_id = chain_id(parent_chain_id, result.diff_id)
            with self._lock:
                if self.exists(new_id):  # applied meanwhile, or diffID was not given
                    shutil.rmtree(snap_dir)
                    return AppliedLayer(new_id, result.diff_id, False)
                row = SnapshotRow(new_id, parent_chain_id, os.path.basename(snap_dir), result.diff_id, result.size)
                with self.db.transaction() as tx:
                    store.insert_snapshot(tx, row)
        except BaseException:
            shutil.rmtree(snap_dir, ignore_errors=True)
            raise
        finally:
            with self._lock:
                self._busy.discard(os.path.basename(snap_dir))
        log.debug("committed snapshot %s in %s", new_id, snap_dir)
        return AppliedLayer(new_id, result.diff_id, True)

    def _claim_dir(self) -> str:
        with self._lock:
            numbers = [int(name) for name in os.listdir(self.root) if name.isdigit()]
            numbers += [int(row.dir) for row in store.list_snapshots(self.db) if row.dir.isdigit()]
            n = max(numbers, default=0) + 1
            while True:
                path = os.path.join(self.root, str(n))
                try:
                    os.mkdir(path, 0o700)
                    self._busy.add(str(n))
                    return path
                except FileExistsError:
                    n += 1

    def remove(self, chain_id: str) -> None:
        """Remove one committed snapshot; refused while another is stacked on it."""
        with self._lock:
            row = self.stat(chain_id)
            children = [r.chain_id for r in store.list_snapshots(self.db) if r.parent == chain_id]
            if children:
                raise Conflict(f"snapshot {chain_id} has dependent snapshots")
            with self.db.transaction() as tx:
                store.delete_snapshot(tx, chain_id)
            shutil.rmtree(os.path.join(self.root, row.dir), ignore_errors=True)

    def remove_unused(self, chain_ids_in_use: Iterable[str]) -> list[str]:
        """Remove every snapshot that neither ``chain_ids_in_use`` nor a container's
        rw layer stacks on; return the removed chainIDs, topmost first."""
        with self._lock:
            rows = {r.chain_id: r for r in store.list_snapshots(self.db)}
            keep: set[str] = set()
            for top in [*chain_ids_in_use, *self._rw_parents()]:
                current = top
                while current and current not in keep and current in rows:
                    keep.add(current)
                    current = rows[current].parent
            doomed = [cid for cid in rows if cid not in keep]

            def depth(cid: str) -> int:
                d, current = 0, rows[cid].parent
                while current in rows:
                    d, current = d + 1, rows[current].parent
                return d

            doomed.sort(key=depth, reverse=True)
            with self.db.transaction() as tx:
                for cid in doomed:
                    store.delete_snapshot(tx, cid)
            for cid in doomed:
                shutil.rmtree(os.path.join(self.root, rows[cid].dir), ignore_errors=True)
            return doomed

    def dir_state(self) -> tuple[frozenset[str], frozenset[str]]:
        """The snapshot directories on disk and those being unpacked now, seen at one instant."""
        with self._lock:
            return frozenset(n for n in os.listdir(self.root) if n.isdigit()), frozenset(self._busy)

    def rw_keys(self) -> list[str]:
        """The keys of the writable layers on disk."""
        return sorted(os.listdir(self.containers_dir))

    def rw_parent(self, key: str) -> str:
        """The chain a writable layer is stacked on ('' when none is recorded)."""
        try:
            with open(os.path.join(self._rw_dir(key), "parent"), encoding="ascii") as f:
                return f.read().strip()
        except (OSError, InvalidArgument):
            return ""

    def remove_dir(self, name: str) -> None:
        """Remove a numbered directory that has no row, unless it is being unpacked (GC)."""
        with self._lock:
            if not name.isdigit() or name in self._busy or name in {r.dir for r in store.list_snapshots(self.db)}:
                return
            shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)

    def remove_chains(self, doomed: Iterable[str]) -> None:
        """Remove these snapshots (topmost first), rows then directories (GC: already known unused)."""
        with self._lock:
            rows = {r.chain_id: r for r in store.list_snapshots(self.db)}
            gone = [rows[c] for c in doomed if c in rows]
            with self.db.transaction() as tx:
                for row in gone:
                    store.delete_snapshot(tx, row.chain_id)
            for row in gone:
                shutil.rmtree(os.path.join(self.root, row.dir), ignore_errors=True)

    def cleanup(self) -> None:
        """Remove directories left by interrupted unpacks (call at daemon start)."""
        with self._lock:
            known = {row.dir for row in store.list_snapshots(self.db)}
            for name in os.listdir(self.root):
                if (name.isdigit() and name not in known) or name.startswith(".unpack-"):
                    log.info("removing orphan snapshot directory %s", name)
                    shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)

    # --- container rw layers -------------------------------------------------------------
    def _rw_dir(self, key: str) -> str:
        if not _KEY_RE.match(key):
            raise InvalidArgument(f"invalid snapshot key {key!r}")
        return os.path.join(self.containers_dir, key)

    def _rw_parents(self) -> list[str]:
        parents = []
        for key in os.listdir(self.containers_dir):
            with contextlib.suppress(OSError):
                with open(os.path.join(self.containers_dir, key, "parent"), encoding="ascii") as f:
                    parents.append(f.read().strip())
        return parents

    def rw_dirs(self, container_key: str) -> RwDirs:
        base = self._rw_dir(container_key)
        return RwDirs(os.path.join(base, "upper"), os.path.join(base, "work"))

    def prepare_rw(self, container_key: str, parent_chain_id: str = "") -> RwDirs:
        """Create (or reuse) the writable layer of ``container_key``; record its parent stack."""
        base = self._rw_dir(container_key)
        dirs = self.rw_dirs(container_key)
        os.makedirs(base, mode=0o700, exist_ok=True)
        for path in (dirs.upper, dirs.work):
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o755)
        if parent_chain_id:
            tmp = os.path.join(base, "parent.tmp")
            with open(tmp, "w", encoding="ascii") as f:
                f.write(parent_chain_id + "\n")
            os.rename(tmp, os.path.join(base, "parent"))
        return dirs

    def rootfs_mount(self, chain_id: str, container_key: str) -> Mount:
        """The overlay mount of the stack ``chain_id`` with ``container_key``'s rw layer on top."""
        lowers = self.lowerdirs(chain_id) if chain_id else [self.empty_dir]
        rw = self.prepare_rw(container_key, chain_id)
        return Mount("overlay", "overlay", "/", overlay_options(lowers, rw.upper, rw.work))

    def remove_rw(self, container_key: str) -> None:
        """Delete a container's rw layer (it must be unmounted already)."""
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self._rw_dir(container_key))
