"""The spec of a user-namespaced container, and the host files it is handed."""

from __future__ import annotations

import copy
import os
import posixpath
import stat

from pouch import mount as mounts
from pouch.errors import Internal
from pouch.oci.userns import joins_netns, with_user_namespace
from pouch.userns.idmap import idmapped_clone, userns_fd
from pouch.userns.netns import bind_stage, userns_pin
from pouch.userns.ranges import IdRange

#: the hierarchy systemd rich mode binds a subtree of (cgroup v1 hybrid hosts)
SYSTEMD_CGROUP_ROOT = "/sys/fs/cgroup/systemd/"


def prepare_userns_spec(spec: dict, ids: IdRange, container_dir: str,
                        idmapped: frozenset[str] = frozenset()) -> dict:
    """``spec`` (rich parts included) with the user namespace: the one pinned with its network
    namespace (:mod:`pouch.userns.netns`), or a new one when the runtime makes the netns too.
    The files pouchd binds from the container's directory (/etc/hosts, resolv.conf, hostname,
    a rich container's run dir and init log) and a systemd container's cgroup subtree are
    handed to the container's ids (:func:`hand_over`), as Docker's remapping does; so is a
    named volume's top directory (its content, copied up from the container's idmapped view of
    the image, already holds the range's ids, as the writable layer does). The binds
    whose destinations are in ``idmapped`` (``-v SRC:DST:idmap``) come from idmapped clones of
    their sources (:func:`stage_idmapped_binds`)."""
    volumes_dir = os.path.join(os.path.dirname(os.path.dirname(container_dir)), "volumes")
    for m in spec.get("mounts", []):
        source = str(m.get("source", ""))
        if m.get("type") != "bind":
            continue
        if _under(source, container_dir) or _under(source, SYSTEMD_CGROUP_ROOT):
            hand_over(source, ids)
        elif _under(source, volumes_dir):  # a named volume: its top directory (copy-up wrote the rest)
            hand_over(source, ids, recursive=False)
    spec = stage_idmapped_binds(spec, ids, container_dir, idmapped)
    pin = userns_pin(container_dir)
    if not joins_netns(spec):
        return with_user_namespace(spec, ids.base, ids.size)
    if not (os.path.exists(pin) and mounts.is_mountpoint(pin)):
        raise Internal("the container's network namespace was made without its user namespace")
    return with_user_namespace(spec, ids.base, ids.size, path=pin)


def stage_idmapped_binds(spec: dict, ids: IdRange, container_dir: str, idmapped: frozenset[str]) -> dict:
    """``spec`` with each bind to a destination in ``idmapped`` coming from an idmapped clone of
    its source, attached under ``<container dir>/idmap-binds/`` until teardown."""
    wanted = {posixpath.normpath(t) for t in idmapped}

    def chosen(m: dict) -> bool:
        return m.get("type") == "bind" and posixpath.normpath(str(m.get("destination", ""))) in wanted

    if not any(chosen(m) for m in spec.get("mounts", [])):
        return spec
    out = copy.deepcopy(spec)
    stage = bind_stage(container_dir)
    os.makedirs(stage, mode=0o700, exist_ok=True)
    with userns_fd(ids) as ns:
        for i, m in enumerate(x for x in out["mounts"] if chosen(x)):
            path = os.path.join(stage, str(i))
            if mounts.is_mountpoint(path):
                mounts.unmount(path, lazy=True)
            os.makedirs(path, mode=0o700, exist_ok=True)
            idmapped_clone(m["source"], path, ns)
            m["source"] = path
    return out


def _under(path: str, parent: str) -> bool:
    return bool(path) and os.path.realpath(path).startswith(os.path.realpath(parent).rstrip("/") + "/")


def shifted(owner: int, ids: IdRange) -> int:
    """An owner id moved into ``ids`` (ids already in it, or beyond its size, kept)."""
    return ids.base + owner if owner < ids.size else owner


def hand_over(path: str, ids: IdRange, recursive: bool = True) -> None:
    """``path`` (a file, or a directory tree) owned inside ``ids``: owner ``n`` becomes ``base + n``."""
    paths = [path]
    if recursive and os.path.isdir(path) and not os.path.islink(path):
        for top, dirs, files in os.walk(path):
            paths += [os.path.join(top, name) for name in dirs + files]
    for p in paths:
        st = os.lstat(p)
        uid, gid = shifted(st.st_uid, ids), shifted(st.st_gid, ids)
        if (uid, gid) != (st.st_uid, st.st_gid):
            os.lchown(p, uid, gid)


def hand_over_stdio(pid: int, ids: IdRange) -> None:
    """The created container's stdin, stdout and stderr (conmon's pipes, root's and 0600 on the
    host) owned by its root: a process that reopens them through /proc/PID/fd (systemd's
    ``StandardOutput=file:``, ``/dev/stdout``) may, as in a container without a user namespace.
    runc tries the same from inside, where it may not chown what host root owns."""
    for fd in (0, 1, 2):
        path = f"/proc/{pid}/fd/{fd}"
        try:
            st = os.stat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISFIFO(st.st_mode) and st.st_uid == 0:
            os.chown(path, ids.base, ids.base)
