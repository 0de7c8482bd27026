"""Where cgroups are: the host's layout (v1, hybrid or v2) and a container's directories.

A container's ``linux.cgroupsPath`` is ``/pouch/<id>``, or ``<--cgroup-parent>/<id>``;
runc (cgroupfs driver) creates it below every v1 controller's mount point, or below the
unified mount on a pure v2 host. :func:`parse_layout` reads ``/proc/self/mountinfo``
text (pure); :func:`host_layout` and :func:`host_facts` are the IO edge.
"""

from __future__ import annotations

import os
import posixpath
import resource
from dataclasses import dataclass, field

from pouch.cgroups.limits import HostFacts, parse_cpuset
from pouch.errors import InvalidArgument

DEFAULT_PARENT = "/pouch"
V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "devices", "freezer")
_RLIMITS = {name: getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_")}
CAP_SYS_RESOURCE = 24


@dataclass(frozen=True)
class CgroupLayout:
    """``version`` 2 when the unified hierarchy has the controllers (a pure v2 host)."""

    version: int
    v1: dict[str, str] = field(default_factory=dict)  # controller -> mount point
    unified: str = ""  # the cgroup2 mount point ("" when there is none)

    def dir(self, controller: str, cgroups_path: str) -> str:
        """The directory of ``cgroups_path`` for ``controller`` (any controller on v2)."""
        rel = cgroups_path.lstrip("/")
        if self.version == 2:
            return posixpath.join(self.unified, rel)
        if controller not in self.v1:
            return ""
        return posixpath.join(self.v1[controller], rel)


def parse_layout(mountinfo: str) -> CgroupLayout:
    """The cgroup mounts of a mountinfo text: v2 when no v1 controller is mounted (a
    hybrid host has v1 controllers and an empty cgroup2 ``unified`` mount)."""
    v1: dict[str, str] = {}
    unified = ""
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        mount_point, fstype, options = fields[4], tail[0], tail[2].split(",")
        if fstype == "cgroup2" and not unified:
            unified = mount_point
        elif fstype == "cgroup":
            for opt in options:
                if opt in V1_CONTROLLERS and opt not in v1:
                    v1[opt] = mount_point
    version = 2 if unified and not v1 else 1
    return CgroupLayout(version, v1 if version == 1 else {}, unified)


def cgroups_path_for(container_id: str, cgroup_parent: str = "") -> str:
    """``linux.cgroupsPath``: ``/pouch/<id>`` or ``/<parent>/<id>`` (always absolute, so the
    cgroup never lands below the daemon's own)."""
    parent = cgroup_parent or DEFAULT_PARENT
    if ".." in parent.split("/"):
        raise InvalidArgument(f"--cgroup-parent: {cgroup_parent!r} must not contain '..'")
    if "\n" in parent or "\x00" in parent:
        raise InvalidArgument("--cgroup-parent: invalid characters")
    return posixpath.normpath(posixpath.join("/", parent, container_id))


# --- IO edge --------------------------------------------------------------------------------

_layout: CgroupLayout | None = None


def host_layout() -> CgroupLayout:
    """The daemon's cgroup layout (read once)."""
    global _layout
    if _layout is None:
        with open("/proc/self/mountinfo") as f:
            text = f.read()
        _layout = parse_layout(text)
    return _layout


def read_or_empty(path: str) -> str:
    """A cgroup or /proc file's text; "" when it cannot be read (a controller not mounted)."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def host_facts(host_capabilities: tuple[str, ...] | None = None) -> HostFacts:
    """What ``pouch.cgroups.limits`` checks against, read from this host."""
    layout = host_layout()
    ncpu = os.cpu_count() or 1
    if layout.version == 2:
        root = layout.unified
        cpus_text = read_or_empty(posixpath.join(root, "cpuset.cpus.effective"))
        mems_text = read_or_empty(posixpath.join(root, "cpuset.mems.effective"))
        controllers = read_or_empty(posixpath.join(root, "cgroup.controllers")).split()
        blkio_weight, swap, oom_disable = "io" in controllers, "memory" in controllers, False
    else:
        cpuset = layout.v1.get("cpuset", "")
        cpus_text = read_or_empty(posixpath.join(cpuset, "cpuset.effective_cpus")) if cpuset else ""
        mems_text = read_or_empty(posixpath.join(cpuset, "cpuset.effective_mems")) if cpuset else ""
        blkio = layout.v1.get("blkio", "")
        blkio_weight = bool(blkio) and any(
            os.path.exists(posixpath.join(blkio, name)) for name in ("blkio.weight", "blkio.bfq.weight"))
        memory = layout.v1.get("memory", "")
        swap = bool(memory) and os.path.exists(posixpath.join(memory, "memory.memsw.limit_in_bytes"))
        oom_disable = bool(memory)
    cpus = parse_cpuset(cpus_text.strip()) if cpus_text.strip() else frozenset(range(ncpu))
    mems = parse_cpuset(mems_text.strip()) if mems_text.strip() else frozenset({0})
    caps = host_capabilities
    return HostFacts(
        ncpu=ncpu, cpus=cpus, mems=mems, blkio_weight=blkio_weight, swap_limit=swap, oom_kill_disable=oom_disable,
        rlimits={name: resource.getrlimit(number) for name, number in _RLIMITS.items()},
        can_raise_rlimits=caps is not None and "CAP_SYS_RESOURCE" in caps,
    )


__all__ = ["CgroupLayout", "DEFAULT_PARENT", "cgroups_path_for", "host_facts", "host_layout", "parse_layout"]
