"""Host id ranges of user-namespaced containers: pure data and the allocation rule.

Each container with ``--userns=auto`` gets its own range of :data:`RANGE_SIZE` (65536) host
uids, the same numbers as gids: container id ``n`` is host id ``base + n``. Ranges start at
a *floor* above every range of the host's /etc/subuid and /etc/subgid (so no rootless user's
ids are ever a container's), rounded up to a multiple of :data:`FLOOR_STEP` (100000), and never
below 100000 itself; range ``k`` is ``[floor + k*65536, floor + (k+1)*65536)``. The lowest
range no container holds is taken (a freed range is reused).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pouch.errors import Internal, InvalidArgument

RANGE_SIZE = 65536
FLOOR_STEP = 100000
#: the highest id a range may reach: 2^32-1 is "no id" (``(uid_t)-1``)
MAX_ID = 2**32 - 2

#: the modes ``--userns`` takes: "" (the daemon's default), host, auto
USERNS_MODES = ("", "host", "auto")


@dataclass(frozen=True)
class IdRange:
    """Container ids ``0..size-1`` are host ids ``base..base+size-1`` (uids and gids alike)."""

    base: int
    size: int = RANGE_SIZE

    def to_host(self, container_id: int) -> int:
        if not 0 <= container_id < self.size:
            raise InvalidArgument(f"id {container_id} is outside the container's {self.size} ids")
        return self.base + container_id

    def to_oci(self) -> list[dict]:
        """``linux.uidMappings`` / ``gidMappings`` (config-linux.md#user-namespace-mappings)."""
        return [{"containerID": 0, "hostID": self.base, "size": self.size}]

    def to_dict(self) -> dict:
        return {"base": self.base, "size": self.size}

    @classmethod
    def from_dict(cls, data: dict) -> IdRange:
        return cls(int(data["base"]), int(data.get("size", RANGE_SIZE)))


def parse_userns_mode(mode: str) -> str:
    """``--userns`` as given: "", "host" or "auto" (podman's ``auto``; Docker knows "host")."""
    if mode not in USERNS_MODES:
        raise InvalidArgument(f'invalid --userns mode {mode!r}: use "host" or "auto"')
    return mode


def wants_userns(mode: str, daemon_default: bool) -> bool:
    """The container gets a range of its own: ``auto``, or no mode and ``--userns-remap default``."""
    return mode == "auto" or (mode == "" and daemon_default)


def parse_subid(text: str) -> list[tuple[int, int]]:
    """``name:start:count`` lines of /etc/subuid or /etc/subgid as (start, count); bad lines skipped."""
    out = []
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            out.append((int(parts[1]), int(parts[2])))
    return out


def floor_above(subid_ranges: Iterable[tuple[int, int]]) -> int:
    """The first base: a multiple of 100000, at least 100000, above every subid range."""
    top = max((start + count for start, count in subid_ranges), default=0)
    return max(FLOOR_STEP, -(-top // FLOOR_STEP) * FLOOR_STEP)


def first_free(used: Iterable[IdRange], floor: int, size: int = RANGE_SIZE) -> IdRange:
    """The lowest range ``floor + k*size`` that overlaps none of ``used`` (ranges recorded
    under another floor, before /etc/subuid changed, are avoided too)."""
    taken = sorted((r.base, r.base + r.size) for r in used)
    base = floor
    for start, end in taken:
        if end <= base:
            continue
        if start >= base + size:
            break
        base = max(base + size, floor + -(-(end - floor) // size) * size)
    if base + size - 1 > MAX_ID:
        raise Internal("no free user namespace range left")
    return IdRange(base, size)
