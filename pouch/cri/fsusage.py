"""How much of a filesystem a directory tree holds: bytes allocated and inodes, each inode once."""

from __future__ import annotations

import os
from dataclasses import dataclass


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
