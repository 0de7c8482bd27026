"""The spec of a user-namespaced container."""

from __future__ import annotations

import os

from pouch import mount as mounts
from pouch.errors import Internal
from pouch.oci.userns import joins_netns, with_user_namespace
from pouch.userns.netns import userns_pin
from pouch.userns.ranges import IdRange


def prepare_userns_spec(spec: dict, ids: IdRange, container_dir: str) -> dict:
    """``spec`` with the user namespace: the one pinned with its network namespace
    (:mod:`pouch.userns.netns`), or a new one when the runtime makes the netns too."""
    pin = userns_pin(container_dir)
    if not joins_netns(spec):
        return with_user_namespace(spec, ids.base, ids.size)
    if not (os.path.exists(pin) and mounts.is_mountpoint(pin)):
        raise Internal("the container's network namespace was made without its user namespace")
    return with_user_namespace(spec, ids.base, ids.size, path=pin)
