"""How many bytes a directory tree holds, as `system df` and `volume ls` report it."""

from __future__ import annotations

import os
import stat


def directory_size(path: str) -> int:
    """Bytes below ``path`` as Docker counts a layer or a volume: every non-directory once
    (hard links once, symlinks by their own size, never followed), without entering other
    filesystems mounted below it. 0 when ``path`` is missing."""
    try:
        root_dev = os.lstat(path).st_dev
    except OSError:
        return 0
    total, seen = 0, set()
    for dirpath, dirnames, filenames in os.walk(path):
        subdirs = []
        for name in dirnames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):  # os.walk lists a symlink to a directory among the directories
                total += st.st_size
            elif st.st_dev == root_dev:
                subdirs.append(name)
        dirnames[:] = subdirs
        for name in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total
