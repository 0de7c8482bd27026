"""The inputs of :func:`pouch.oci.spec.generate_spec`: what the daemon gathered for one
container's runtime spec, as typed values.

:class:`SpecInput` carries the create options, the image config and what the daemon
resolved on the host (rootfs, /etc files, netns, user, limits, seccomp);
:class:`ResourceInput` the host-resolved part of the resource options (device numbers,
other containers' namespaces, gids), built by ``pouch.oci.resources``. Both ``spec`` and
``resources`` import them from here, so neither imports the other's types.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pouch.models import CreateOptions, ImageConfig
from pouch.oci.user import ResolvedUser


@dataclass(frozen=True)
class DeviceNode:
    """One ``linux.devices`` entry and its cgroup rule (config-linux.md#devices)."""

    path: str  # in the container
    kind: str  # "c" or "b"
    major: int
    minor: int
    file_mode: int = 0o666
    uid: int = 0
    gid: int = 0
    permissions: str = "rwm"

    def to_oci(self) -> dict:
        return {"path": self.path, "type": self.kind, "major": self.major, "minor": self.minor,
                "fileMode": self.file_mode, "uid": self.uid, "gid": self.gid}

    def rule(self) -> dict:
        return {"allow": True, "type": self.kind, "major": self.major, "minor": self.minor,
                "access": self.permissions}


@dataclass(frozen=True)
class ResourceInput:
    """What the daemon resolved on the host for the resource options (``pouch.oci.resources``)."""

    devices: tuple[DeviceNode, ...] = ()
    block_devices: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # throttled path -> (major, minor)
    ipc_namespace: str = ""  # --ipc container:X: the path of X's namespace
    pid_namespace: str = ""  # --pid container:X
    uts_namespace: str = ""  # uts container:X (a CRI pod's containers)
    extra_gids: tuple[int, ...] = ()  # --group-add, resolved


@dataclass(frozen=True)
class SpecInput:
    """Everything :func:`pouch.oci.spec.generate_spec` needs, gathered by the daemon.

    ``netns``: None shares the host's network namespace; ``""`` lets the runtime create
    a new one; a path joins that namespace (bridge/none networks whose netns the daemon
    created, ``container:NAME``). ``host_rlimits`` maps ``RLIMIT_*`` names to the
    daemon's ``resource.getrlimit`` (soft, hard). ``seccomp`` is the rendered
    ``linux.seccomp`` section (see ``pouch.oci.seccomp.resolve_seccomp``) or None for
    unconfined. ``host_capabilities`` is the daemon's bounding set (None: don't clamp).
    """

    container_id: str
    options: CreateOptions
    image: ImageConfig
    rootfs: str
    hostname: str
    etc_files: dict[str, str]
    netns: str | None
    user: ResolvedUser
    cgroups_path: str
    host_rlimits: dict[str, tuple[int, int]] = field(default_factory=dict)
    seccomp: dict | None = None
    init_path: str = ""
    host_capabilities: tuple[str, ...] | None = None
    resources: ResourceInput | None = None  # host-resolved devices, namespaces, gids (pouch.oci.resources)


SpecOption = Callable[[dict, SpecInput], None]
