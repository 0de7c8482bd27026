"""A user-namespaced container's network namespace, owned by its user namespace.

A netns pouchd made the usual way belongs to the host's user namespace: the container's root
could not mount sysfs in it, nor set its ``net.*`` sysctls, and runc 1.1 cannot ``exec`` into
the container at all (it joins the user namespace first, then may not join that netns). So
pouchd makes the user namespace first (the container's range), the netns inside it, and
pins the user namespace on ``<container dir>/userns.ns`` for runc to join by path
(:func:`userns_pin`; unpinned at teardown, :func:`release_userns_pin`). The container's root
then holds CAP_NET_ADMIN over its own network, as on a VM of its own.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

from pouch import mount as mounts
from pouch.errors import Internal
from pouch.network.netns import ensure_netns_dir
from pouch.userns.idmap import create_netns_in_userns
from pouch.userns.ranges import IdRange

PIN = "userns.ns"
BIND_STAGE = "idmap-binds"


def userns_pin(container_dir: str) -> str:
    return os.path.join(container_dir, PIN)


def bind_stage(container_dir: str) -> str:
    """Where idmapped clones of ``-v SRC:DST:idmap`` sources wait for runc (pouch/userns/spec.py)."""
    return os.path.join(container_dir, BIND_STAGE)


def release_userns_pin(container_dir: str) -> None:
    """Unpin the user namespace and detach the staged idmapped binds (idempotent)."""
    pin = userns_pin(container_dir)
    if mounts.is_mountpoint(pin):
        mounts.unmount(pin, lazy=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(pin)
    stage = bind_stage(container_dir)
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(stage):
            path = os.path.join(stage, name)
            if mounts.is_mountpoint(path):
                mounts.unmount(path, lazy=True)
            with contextlib.suppress(OSError):
                os.rmdir(path)


def netns_maker(ids: IdRange, container_dir: str) -> Callable[[str], None]:
    """``SandboxConfig.make_netns`` for a container with ``ids``."""

    def make(path: str) -> None:
        ensure_netns_dir(os.path.dirname(path))
        release_userns_pin(container_dir)
        pin = userns_pin(container_dir)
        made = []
        try:
            for file in (path, pin):
                os.close(os.open(file, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444))
                made.append(file)
            create_netns_in_userns(ids, path, pin)
        except FileExistsError:
            raise Internal(f"network namespace {path} already exists") from None
        except BaseException:
            for file in made:
                with contextlib.suppress(OSError):
                    os.unlink(file)
            raise

    return make
