"""How much of a filesystem a directory tree holds: bytes allocated and inodes, each inode once."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# containerd's CRI plugin refreshes its snapshotter's usage in the background every 10 s
# (stats_collect_period); ImageFsInfo here may be that stale, never more.
USAGE_MAX_AGE = 10.0


@dataclass(frozen=True)
class TreeUsage:
    used_bytes: int
    inodes_used: int


def tree_usage(root: str) -> TreeUsage:
    """Walk ``root`` without following symlinks or crossing into other filesystems (an overlay
    mounted inside a container directory is not the store's): hard links count once."""
    try:
        top = os.lstat(root)
    except FileNotFoundError:
        return TreeUsage(0, 0)
    seen = {(top.st_dev, top.st_ino)}
    used = top.st_blocks * 512
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue  # removed while walking
            if st.st_dev != top.st_dev:
                dirnames[:] = [d for d in dirnames if d != name]
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                used += st.st_blocks * 512
    return TreeUsage(used, len(seen))


@dataclass(frozen=True)
class TakenUsage:
    usage: TreeUsage
    taken_ns: int  # wall clock when the walk ended: ImageFsInfo's timestamp


class CachedTreeUsage:
    """``tree_usage(root)`` walked at most once per ``max_age`` seconds (kubelet asks every few seconds,
    and a walk of a large store costs a second of a core). One walk at a time: callers arriving during
    a walk wait for its result. ``invalidate`` after a pull or a removal, so the next call sees it."""

    def __init__(self, root: str, max_age: float = USAGE_MAX_AGE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.root = root
        self.max_age = max_age
        self.clock = clock
        self._lock = threading.Lock()
        self._taken: TakenUsage | None = None
        self._taken_at = 0.0

    def get(self) -> TakenUsage:
        with self._lock:
            if self._taken is None or self.clock() - self._taken_at >= self.max_age:
                usage = tree_usage(self.root)
                self._taken, self._taken_at = TakenUsage(usage, time.time_ns()), self.clock()
            return self._taken

    def invalidate(self) -> None:
        with self._lock:
            self._taken = None
