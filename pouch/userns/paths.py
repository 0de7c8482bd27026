"""The way from ``/`` to a user-namespaced container's rootfs, open to its root.

runc (1.1) mounts the rootfs, and the /etc files pouchd writes, from inside the container's
user namespace, where the container's root is an ordinary host id (``base``): every directory
on the way must let it through. As Docker does under ``--userns-remap``: pouchd's own
directories (``--root`` and ``<root>/containers``) get ``o+x``; the container's directory is
``0710`` with the container root's group; a directory above ``--root`` without ``o+x`` is an
error naming it (pouchd does not change directories it does not own).
"""

from __future__ import annotations

import os
import stat

from pouch.errors import InvalidArgument
from pouch.userns.ranges import IdRange


def blocking_dirs(path: str, mode_of) -> list[str]:
    """The ancestors of ``path`` (``/`` included, ``path`` excluded) without ``o+x``."""
    out = []
    parent = os.path.dirname(path)
    while True:
        if not mode_of(parent) & stat.S_IXOTH:
            out.append(parent)
        if parent == "/":
            return out
        parent = os.path.dirname(parent)


def open_way_to(container_dir: str, ids: IdRange) -> None:
    """Let the container's root (host ids ``ids.base``) reach ``container_dir``'s files."""
    containers = os.path.dirname(container_dir)
    root = os.path.dirname(containers)
    for own in (root, containers):
        mode = stat.S_IMODE(os.stat(own).st_mode)
        if not mode & stat.S_IXOTH:
            os.chmod(own, mode | stat.S_IXOTH)
    blocked = blocking_dirs(root, lambda p: os.stat(p).st_mode)
    if blocked:
        raise InvalidArgument(
            f"a directory above pouchd's --root ({blocked[0]}) restricts access to a user namespace's root: "
            "allow 'o+x' on it")
    os.chown(container_dir, 0, ids.base)
    os.chmod(container_dir, 0o710)
