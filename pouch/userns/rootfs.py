"""A user-namespaced container's root filesystem: its overlay on idmapped lower layers.

The image layers stay as they are on disk (the image's ids) and shared between containers;
each container sees them through idmapped clones (its range's mapping: on-disk id ``n`` shows
as ``base + n``), attached under a staging directory only for the overlay mount(2), which
clones its layers privately, then detached again. The overlay mount itself cannot be idmapped
on this kernel, nor can the upper layer be (see :mod:`pouch.userns.idmap`), so the writable
layer holds *host* ids: the upper directory's root is chowned to the range, files the
container creates or copies up are stored as ``base + n``. ``commit``/``diff``/``export``/``cp``
must shift them back (not done yet).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

from pouch import mount as mounts
from pouch.errors import Internal
from pouch.types import Mount
from pouch.userns.idmap import idmapped_clone, userns_fd
from pouch.userns.paths import open_way_to
from pouch.userns.ranges import IdRange


def split_overlay_options(options: Sequence[str]) -> tuple[list[str], str, str, tuple[str, ...]]:
    """(lowerdirs top first, upperdir, workdir, the other options) of an overlay Mount."""
    lowers: list[str] = []
    upper = work = ""
    rest = []
    for option in options:
        key, _, value = option.partition("=")
        if key == "lowerdir":
            lowers = value.split(":")
        elif key == "upperdir":
            upper = value
        elif key == "workdir":
            work = value
        else:
            rest.append(option)
    if not lowers:
        raise Internal(f"not an overlay mount: {options}")
    return lowers, upper, work, tuple(rest)


def shift_upper_root(upper: str, top_lower: str, ids: IdRange) -> None:
    """The upper directory's root owned as the top lower layer's root, shifted into ``ids``:
    the merged ``/`` takes its owner from there and must be the container's root's."""
    st = os.stat(top_lower)
    os.chown(upper, ids.to_host(st.st_uid), ids.to_host(st.st_gid))


def mount_rootfs(m: Mount, target: str, ids: IdRange | None, container_dir: str) -> None:
    """Mount the rootfs ``m`` on ``target``; with ``ids``, on lower layers idmapped into the
    range, staged under ``<container_dir>/idmap`` (emptied again), with the way to it open
    to the container's root (:mod:`pouch.userns.paths`)."""
    if ids is None:
        mounts.mount(m, target)
        return
    open_way_to(container_dir, ids)
    stage = os.path.join(container_dir, "idmap")
    lowers, upper, work, rest = split_overlay_options(m.options)
    if upper:
        shift_upper_root(upper, lowers[0], ids)
    os.makedirs(stage, mode=0o700, exist_ok=True)
    staged: list[str] = []
    try:
        with userns_fd(ids) as ns:
            for i, lower in enumerate(lowers):
                path = os.path.join(stage, str(i))
                with contextlib.suppress(FileExistsError):
                    os.mkdir(path, 0o700)
                idmapped_clone(lower, path, ns)
                staged.append(path)
        options = [f"lowerdir={':'.join(staged)}", *rest]
        if upper:
            options += [f"upperdir={upper}", f"workdir={work}"]
        mounts.mount(Mount("overlay", "overlay", m.target, tuple(options)), target)
    finally:
        for path in staged:
            mounts.unmount(path, lazy=True)
        for name in os.listdir(stage):
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(stage, name))
