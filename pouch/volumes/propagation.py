"""Bind propagation checks (moby ``ensureShared``/``ensureSharedOrSlave``).

A ``shared``/``rshared`` bind only propagates if the host mount its source lives on is
itself shared, and a ``slave``/``rslave`` bind needs a shared or slave one: otherwise the
container would silently not see (or not send) mount events, so the start is refused with
the path and its mount point named, as dockerd does. Parsing is pure; ``check_binds``
reads ``/proc/self/mountinfo``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from pouch.errors import InvalidArgument
from pouch.models import BindMount
from pouch.mount import _unescape  # mountinfo's \ooo escapes


@dataclass(frozen=True)
class MountInfo:
    mount_point: str
    optional: tuple[str, ...]  # "shared:1", "master:2"...

    @property
    def shared(self) -> bool:
        return any(o.startswith("shared:") for o in self.optional)

    @property
    def slave(self) -> bool:
        return any(o.startswith("master:") for o in self.optional)


def parse_mountinfo(text: str) -> list[MountInfo]:
    out = []
    for line in text.splitlines():
        fields = line.split(" ")
        if len(fields) < 7 or "-" not in fields[6:]:
            continue
        optional = tuple(fields[6:fields.index("-", 6)])
        out.append(MountInfo(_unescape(fields[4]), optional))
    return out


def source_mount(path: str, mounts: list[MountInfo]) -> MountInfo:
    """The mount ``path`` (already resolved) lives on: the last mounted one with the longest
    mount point containing it."""
    best: MountInfo | None = None
    for m in mounts:
        prefix = m.mount_point.rstrip("/") + "/"
        if path == m.mount_point or path.startswith(prefix) or m.mount_point == "/":
            if best is None or len(m.mount_point) >= len(best.mount_point):
                best = m
    if best is None:
        raise InvalidArgument(f"could not find the mount point of {path}")
    return best


def check_propagation(binds: Iterable[BindMount], mounts: list[MountInfo], realpath=os.path.realpath) -> None:
    for b in binds:
        if b.propagation in ("shared", "rshared"):
            m = source_mount(realpath(b.source), mounts)
            if not m.shared:
                raise InvalidArgument(f"path {b.source} is mounted on {m.mount_point} but it is not a shared mount")
        elif b.propagation in ("slave", "rslave"):
            m = source_mount(realpath(b.source), mounts)
            if not (m.shared or m.slave):
                raise InvalidArgument(
                    f"path {b.source} is mounted on {m.mount_point} but it is not a shared or slave mount")


def check_binds(binds: Iterable[BindMount]) -> None:
    """Refuse shared/slave binds whose host source cannot propagate (reads mountinfo)."""
    binds = [b for b in binds if b.propagation in ("shared", "rshared", "slave", "rslave")]
    if binds:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            check_propagation(binds, parse_mountinfo(f.read()))
