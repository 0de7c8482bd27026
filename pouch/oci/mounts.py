"""The ``mounts`` of a container's runtime spec (config.md#mounts), as ``pouch.types.Mount``.

Order, as dockerd 20.10 writes it: the default kernel filesystems first (/proc, /dev,
/dev/pts, /sys, /sys/fs/cgroup, /dev/mqueue, /dev/shm), then the container's own mounts
(the /etc files the daemon generates, ``-v`` binds, ``--tmpfs``) sorted so that a parent
directory is mounted before anything inside it, then the ``--init`` binary.

A user mount replaces the default or /etc file at the same destination, and a user mount
over a directory drops the defaults beneath it (``--tmpfs /dev`` drops /dev/pts...).

Pure functions; nothing here touches the filesystem.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence

from pouch.errors import InvalidArgument
from pouch.models import BindMount
from pouch.types import Mount

#: Options Docker gives every ``--tmpfs`` mount before the user's own.
TMPFS_DEFAULT_OPTIONS: tuple[str, ...] = ("rw", "noexec", "nosuid", "nodev")

#: ``--mount bind-propagation`` / ``-v ...:rshared`` values (Docker's list).
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
DEFAULT_PROPAGATION = "rprivate"

#: The order dockerd puts the generated /etc files in.
_ETC_ORDER = ("/etc/resolv.conf", "/etc/hostname", "/etc/hosts")

#: Pairs of mount flags where the later one cancels the earlier (mount(8)).
_OPPOSITES = {
    "ro": "rw", "rw": "ro",
    "exec": "noexec", "noexec": "exec",
    "suid": "nosuid", "nosuid": "suid",
    "dev": "nodev", "nodev": "dev",
    "atime": "noatime", "noatime": "atime",
    "diratime": "nodiratime", "nodiratime": "diratime",
    "sync": "async", "async": "sync",
    "relatime": "norelatime", "norelatime": "relatime",
    "strictatime": "nostrictatime", "nostrictatime": "strictatime",
}  # fmt: skip


def clean_destination(path: str) -> str:
    """A container path made canonical; it must be absolute and not ``/`` itself."""
    if not path.startswith("/"):
        raise InvalidArgument(f"invalid mount path: '{path}' mount path must be absolute")
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if cleaned == "/":
        raise InvalidArgument("invalid mount path: '/' can't be a mount destination")
    return cleaned


def default_mounts(shm_size: int, privileged: bool = False) -> list[Mount]:
    """The kernel filesystems every container gets, as dockerd 20.10 writes them
    (moby ``oci.DefaultLinuxSpec`` + ``WithMounts``). /sys and the cgroup mount are
    read-only unless privileged."""
    if shm_size < 0:
        raise InvalidArgument(f"SHM size can not be less than 0: {shm_size}")
    ro = () if privileged else ("ro",)
    return [
        Mount("proc", "proc", "/proc", ("nosuid", "noexec", "nodev")),
        Mount("tmpfs", "tmpfs", "/dev", ("nosuid", "strictatime", "mode=755", "size=65536k")),
        Mount("devpts", "devpts", "/dev/pts",
              ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")),
        Mount("sysfs", "sysfs", "/sys", ("nosuid", "noexec", "nodev", *ro)),
        Mount("cgroup", "cgroup", "/sys/fs/cgroup", (*ro, "nosuid", "noexec", "nodev")),
        Mount("mqueue", "mqueue", "/dev/mqueue", ("nosuid", "noexec", "nodev")),
        Mount("tmpfs", "shm", "/dev/shm", ("nosuid", "noexec", "nodev", "mode=1777", f"size={shm_size}")),
    ]  # fmt: skip


def etc_file_mounts(etc_files: Mapping[str, str], read_only: bool = False) -> list[Mount]:
    """Binds of the files the daemon generates (/etc/hosts, /etc/hostname,
    /etc/resolv.conf); read-only with ``--read-only``, as Docker does."""
    ordered = [p for p in _ETC_ORDER if p in etc_files] + [p for p in etc_files if p not in _ETC_ORDER]
    opts = ("rbind", "rprivate", *(("ro",) if read_only else ()))
    return [Mount("bind", etc_files[p], clean_destination(p), opts) for p in ordered]


def bind_mount(bind: BindMount) -> Mount:
    """``-v /host:/ctr[:ro][,propagation]`` -> a recursive bind, ``rprivate`` by default."""
    if not bind.source.startswith("/"):
        raise InvalidArgument(f"invalid mount config for type \"bind\": bind source path must be absolute: {bind.source}")
    propagation = bind.propagation or DEFAULT_PROPAGATION
    if propagation not in PROPAGATIONS:
        raise InvalidArgument(f"invalid mount propagation: '{bind.propagation}'")
    opts = ["rbind"]
    if bind.read_only:
        opts.append("ro")
    opts.append(propagation)
    return Mount("bind", bind.source, clean_destination(bind.target), tuple(opts))


def merge_tmpfs_options(defaults: Sequence[str], user: Iterable[str]) -> list[str]:
    """Docker's ``mount.MergeTmpfsOptions``: the user's options after the defaults, a
    later flag cancelling its opposite (``exec`` beats ``noexec``) and a later
    ``key=value`` replacing the same key. Order of the survivors is kept."""
    out: list[str] = []
    for opt in [*defaults, *(o.strip() for o in user)]:
        if not opt:
            continue
        key = opt.split("=", 1)[0]
        opposite = _OPPOSITES.get(opt)
        out = [o for o in out if o != opt and o != opposite and ("=" not in opt or o.split("=", 1)[0] != key)]
        out.append(opt)
    return out


def tmpfs_mount(target: str, data: str) -> Mount:
    """``--tmpfs /run:size=64m,mode=1777`` -> a tmpfs with Docker's defaults merged in."""
    opts = merge_tmpfs_options(TMPFS_DEFAULT_OPTIONS, data.split(",") if data else ())
    return Mount("tmpfs", "tmpfs", clean_destination(target), tuple(opts))


def init_mount(host_path: str, destination: str) -> Mount:
    """The ``--init`` binary, bind-mounted read-only (Docker: ``/sbin/docker-init``)."""
    return Mount("bind", host_path, destination, ("bind", "ro"))


def _depth(mount: Mount) -> int:
    return len([p for p in mount.target.split("/") if p])


def _covered(dest: str, by: set[str]) -> bool:
    """``dest`` equals one of ``by`` or lies beneath one of them."""
    return any(dest == d or dest.startswith(d + "/") for d in by)


def assemble_mounts(
    defaults: Sequence[Mount],
    etc_files: Sequence[Mount],
    user: Sequence[Mount],
    init: Sequence[Mount] = (),
) -> list[Mount]:
    """Put the lists together with Docker's precedence and order (see the module docstring).

    Two user mounts at the same destination are an error (Docker: "Duplicate mount point").
    """
    seen: set[str] = set()
    for m in user:
        if m.target in seen:
            raise InvalidArgument(f"Duplicate mount point: {m.target}")
        seen.add(m.target)
    etc = [m for m in etc_files if m.target not in seen]
    kept_defaults = [m for m in defaults if not _covered(m.target, seen)]
    # sorted() is stable: mounts of equal depth keep their order (etc files first).
    own = sorted([*etc, *user], key=_depth)
    return [*kept_defaults, *own, *init]


def rootfs_propagation(binds: Iterable[BindMount]) -> str:
    """``linux.rootfsPropagation`` needed by the binds: a shared or slave bind only
    propagates if the container's root is itself shared/slave (moby ``WithMounts``).
    The runtime layer must also make each such bind's host source mount shared."""
    props = {b.propagation for b in binds}
    if props & {"shared", "rshared"}:
        return "rshared"
    if props & {"slave", "rslave"}:
        return "rslave"
    return ""
