"""Which host id range each user-namespaced container holds: one small JSON file,
``userns.json``, in the container's directory (``<root>/containers/<id>/``).

The record lives and dies with the container: written at create, read at each start (so a
container keeps its range across stops, restarts and pouchd restarts, and the ids in its
writable layer stay right), gone when its directory is removed, which frees the range. A new
range is the lowest one no record holds (:func:`pouch.userns.ranges.first_free`), chosen under a
lock so two creates never share one.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading

from pouch.jsonfile import write_json_atomic
from pouch.userns.ranges import IdRange, first_free, floor_above, parse_subid

RECORD = "userns.json"


def read_subid_floor(paths: tuple[str, ...] = ("/etc/subuid", "/etc/subgid")) -> int:
    """The first base above the host's subordinate id ranges (missing files: none)."""
    ranges: list[tuple[int, int]] = []
    for path in paths:
        with contextlib.suppress(OSError), open(path, encoding="utf-8", errors="replace") as f:
            ranges += parse_subid(f.read())
    return floor_above(ranges)


class UsernsAllocator:
    """Id ranges of the containers under ``containers_dir`` (``<root>/containers``)."""

    def __init__(self, containers_dir: str, floor: int | None = None) -> None:
        self.containers_dir = containers_dir
        self.floor = read_subid_floor() if floor is None else floor
        self._lock = threading.Lock()

    def _record(self, container_id: str) -> str:
        return os.path.join(self.containers_dir, container_id, RECORD)

    def range_of(self, container_id: str) -> IdRange | None:
        """The container's range, None for a container without a user namespace."""
        try:
            with open(self._record(container_id), encoding="utf-8") as f:
                return IdRange.from_dict(json.load(f))
        except FileNotFoundError:
            return None

    def in_use(self) -> list[IdRange]:
        out = []
        with contextlib.suppress(FileNotFoundError):
            for cid in os.listdir(self.containers_dir):
                with contextlib.suppress(OSError, ValueError, KeyError):
                    found = self.range_of(cid)
                    if found is not None:
                        out.append(found)
        return out

    def allocate(self, container_id: str) -> IdRange:
        """Give the container (whose directory exists) a free range and record it."""
        with self._lock:
            existing = self.range_of(container_id)
            if existing is not None:
                return existing
            ids = first_free(self.in_use(), self.floor)
            write_json_atomic(self._record(container_id), ids.to_dict())
            return ids
