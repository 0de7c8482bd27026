"""What in a container's writable layer is Pouch's own, not the container's.

``commit`` and ``diff`` look at a container's overlay upper dir, where pouchd
and runc leave runtime artefacts that must not travel into an image (the
committed image has to run again, in rich mode too, and get fresh ones):

* ``/.pouch`` and everything below it: the mount points of rich containers'
  ``bin``, ``rich``, ``run`` and ``ops`` (``pouch.rich.layout``);
* ``/etc/machine-id``: systemd mode writes the container's id there; the
  layer keeps the file but empty (systemd's "uninitialised", as image builders
  leave it);
* under ``/etc/systemd/system``: the links systemd mode creates
  (``pouch.rich.systemd.rootfs_files``): units pointing into ``/.pouch`` (the
  app's ``pouch-app.service``, ops units) with their ``*.wants`` links, and the
  getty units masked to ``/dev/null``;
* ``/etc/profile.d/pouch-env.sh`` (``pouch.rich.profile``) and its temp file;
* the empty files runc creates as mount points for pouchd's per-container
  ``/etc/hosts``, ``/etc/hostname`` and ``/etc/resolv.conf`` (Docker keeps
  them in an "init layer" that commit leaves out for the same reason).

Pure: a path and what is there in, a :class:`~pouch.images.layertar.Action` out.
"""

from __future__ import annotations

import posixpath

from pouch.images.layertar import Action, Kind, Node
from pouch.rich import layout
from pouch.rich.profile import PROFILE_PATH
from pouch.rich.systemd import APP_UNIT, MASKED_UNITS

MACHINE_ID = "/etc/machine-id"
SYSTEMD_SYSTEM = "/etc/systemd/system"
ETC_MOUNT_POINTS = ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf")


def runtime_artefact(path: str, kind: Kind, link_target: str = "", size: int = 0) -> Action:
    """Whether ``path`` of a container's upper dir is Pouch's (SKIP), a file to keep
    empty (EMPTY), or the container's own (KEEP)."""
    path = posixpath.normpath("/" + path.lstrip("/"))
    if path == layout.IN_ROOT or path.startswith(layout.IN_ROOT + "/"):
        return Action.SKIP
    if path == MACHINE_ID:
        return Action.EMPTY if kind == Kind.FILE and size else Action.KEEP
    if path in (PROFILE_PATH, PROFILE_PATH + ".tmp"):
        return Action.SKIP
    if path in ETC_MOUNT_POINTS:
        return Action.SKIP if kind == Kind.FILE and size == 0 else Action.KEEP
    if kind == Kind.SYMLINK and _is_systemd_unit_link(path, link_target):
        return Action.SKIP
    return Action.KEEP


def _is_systemd_unit_link(path: str, target: str) -> bool:
    parent, name = posixpath.split(path)
    in_wants = parent.startswith(SYSTEMD_SYSTEM + "/") and parent.endswith((".wants", ".requires"))
    if parent != SYSTEMD_SYSTEM and not in_wants:
        return False
    if target.startswith(layout.IN_ROOT + "/"):
        return True  # pouch-app.service and the ops units, bound read-only from the host
    if parent == SYSTEMD_SYSTEM and target == "/dev/null" and name in MASKED_UNITS:
        return True
    return name == APP_UNIT


def select_container_files(node: Node) -> Action:
    """:func:`runtime_artefact` as a :mod:`~pouch.images.layertar` ``select`` callback."""
    return runtime_artefact(node.path, node.kind, node.link_target, node.size)
