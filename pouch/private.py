"""Host files are private (the CVE-2021-41091 class): no host user but root may traverse into
an image layer, a container's root file system, its bundle (its env) or the database.

Docker's choice: ``--root`` and ``--exec-root`` are ``0710`` (owner root, group root: the
group bit is what user-namespace remapping would need; Pouch does not remap, so it opens
nothing), and each subtree holding container or image content is ``0700``; the database
and its WAL/SHM files are ``0600`` (``metadata/db.py``). Containers are unaffected: runc
mounts their root file system and binds their files as root before it drops to the
container's user, whose processes never walk these host paths. :func:`make_private` runs at
every start, so a root made by an older pouchd (``0711``/``0755``) is fixed in place.
"""

from __future__ import annotations

import contextlib
import os

from pouch.config import DaemonConfig

ROOT_MODE = 0o710
DIR_MODE = 0o700


def private_dirs(config: DaemonConfig) -> tuple[str, ...]:
    """The subtrees of --root and --exec-root that hold container or image content."""
    root, run = config.root, config.exec_root
    return (
        config.content_dir, config.snapshots_dir, os.path.join(root, "containers"), os.path.join(root, "tmp"),
        os.path.join(root, "held-images"), os.path.join(root, "pending-removal"), os.path.join(root, "volumes"),
        config.cni_dir,
        os.path.dirname(config.bundle_dir("x")), config.exits_dir, config.sockets_dir, os.path.join(run, "runtime"),
    )


def make_private(config: DaemonConfig) -> None:
    """Create --root and --exec-root if needed and set the private modes (also on an old root)."""
    for path in (config.root, config.exec_root):
        os.makedirs(path, mode=ROOT_MODE, exist_ok=True)
        os.chmod(path, ROOT_MODE)
    for path in private_dirs(config):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path, DIR_MODE)
