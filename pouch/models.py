"""Internal models of images and containers.

These are the engine's own vocabulary. Docker's wire JSON (``Config``,
``HostConfig``, inspect output) is converted to and from these at the API edge
(``pouch.api.convert``); the OCI runtime spec is generated from them by
``pouch.oci``. Everything here is pure data with dict round-trips for storage.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

DEFAULT_SHM_SIZE = 64 * 1024 * 1024
DEFAULT_STOP_TIMEOUT = 10


def _tuple_or_none(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


@dataclass(frozen=True)
class ImageConfig:
    """The ``config`` member of an OCI image configuration (image-spec config.md)."""

    user: str = ""
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    working_dir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    stop_signal: str = ""
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()

    @classmethod
    def from_oci(cls, data: dict | None) -> "ImageConfig":
        data = data or {}
        return cls(
            user=data.get("User") or "",
            env=tuple(data.get("Env") or ()),
            entrypoint=_tuple_or_none(data.get("Entrypoint")),
            cmd=_tuple_or_none(data.get("Cmd")),
            working_dir=data.get("WorkingDir") or "",
            labels=dict(data.get("Labels") or {}),
            stop_signal=data.get("StopSignal") or "",
            exposed_ports=tuple(sorted((data.get("ExposedPorts") or {}).keys())),
            volumes=tuple(sorted((data.get("Volumes") or {}).keys())),
        )

    def to_oci(self) -> dict:
        out: dict[str, Any] = {}
        if self.user:
            out["User"] = self.user
        if self.exposed_ports:
            out["ExposedPorts"] = {p: {} for p in self.exposed_ports}
        if self.env:
            out["Env"] = list(self.env)
        if self.entrypoint is not None:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            out["Cmd"] = list(self.cmd)
        if self.volumes:
            out["Volumes"] = {v: {} for v in self.volumes}
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.labels:
            out["Labels"] = dict(self.labels)
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        return out


@dataclass(frozen=True)
class BindMount:
    """``-v /host:/ctr[:ro]``: a host path bind-mounted into the container."""

    source: str
    target: str
    read_only: bool = False
    propagation: str = ""  # "", "rprivate", "rshared", "rslave", ...


@dataclass(frozen=True)
class PortBinding:
    """``-p [ip:]hostPort:containerPort[/proto]``."""

    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""
    host_port: int = 0


class RichMode(StrEnum):
    """What runs as pid 1 of a rich container."""

    DUMB_INIT = "dumb-init"  # the host's dumb-init (a static build), bind-mounted read-only
    SBIN_INIT = "sbin-init"  # the image's /sbin/init (systemd mode when that is systemd)
    SYSTEMD = "systemd"  # the image's systemd


@dataclass(frozen=True)
class RichOptions:
    """``--rich`` and its companions: the rich-container part of a create request."""

    mode: RichMode = RichMode.DUMB_INIT
    init_script: str = ""  # a path inside the container, run as the first prestart hook
    prestart_hooks: tuple[str, ...] = ()  # shell commands run inside, after init is up, before the app
    poststop_hooks: tuple[str, ...] = ()  # shell commands run inside after the app exits
    ops_dir: str = ""  # host directory shown read-only at /.pouch/ops

    @classmethod
    def from_dict(cls, data: dict) -> "RichOptions":
        data = dict(data)
        data["mode"] = RichMode(data.get("mode") or RichMode.DUMB_INIT)
        for key in ("prestart_hooks", "poststop_hooks"):
            data[key] = tuple(data.get(key) or ())
        return cls(**data)


class NetworkMode(StrEnum):
    BRIDGE = "bridge"
    NONE = "none"
    HOST = "host"
    CONTAINER = "container"  # the option string is "container:NAME"


@dataclass(frozen=True)
class CreateOptions:
    """Everything a user can ask for when creating a container.

    Fields mirror ``pouch run`` flags; ``image`` is the reference as typed.
    ``cmd``/``entrypoint`` of None mean "use the image's".
    """

    image: str
    name: str = ""
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    hostname: str = ""
    domainname: str = ""
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    attach_stdout: bool = True
    attach_stderr: bool = True
    binds: tuple[BindMount, ...] = ()
    tmpfs: dict[str, str] = field(default_factory=dict)  # target -> "size=64m,mode=1777"
    read_only: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    security_opt: tuple[str, ...] = ()
    network_mode: str = "bridge"  # bridge | none | host | container:NAME_OR_ID
    port_bindings: tuple[PortBinding, ...] = ()
    exposed_ports: tuple[str, ...] = ()  # "80/tcp"
    runtime: str = "runc"
    stop_signal: str = ""
    stop_timeout: int | None = None
    auto_remove: bool = False
    shm_size: int = DEFAULT_SHM_SIZE
    init: bool = False
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()  # "name:ip"
    rich: RichOptions | None = None  # None: a plain container
    enable_lxcfs: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "CreateOptions":
        data = dict(data)
        data["binds"] = tuple(BindMount(**b) for b in data.get("binds") or ())
        data["port_bindings"] = tuple(PortBinding(**p) for p in data.get("port_bindings") or ())
        data["rich"] = RichOptions.from_dict(data["rich"]) if data.get("rich") else None
        for key in ("cmd", "entrypoint"):
            data[key] = _tuple_or_none(data.get(key))
        known = {f.name for f in dataclasses.fields(cls)}
        for f in dataclasses.fields(cls):
            if f.name in data and isinstance(data[f.name], list):
                data[f.name] = tuple(data[f.name])
        return cls(**{k: v for k, v in data.items() if k in known})


class Status(StrEnum):
    """Docker's container states (``State.Status``)."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"

    def is_active(self) -> bool:
        """A container in this state has processes: it must be stopped before removal."""
        return self in (Status.RUNNING, Status.PAUSED, Status.RESTARTING)


@dataclass
class ContainerState:
    status: Status = Status.CREATED
    pid: int = 0
    conmon_pid: int = 0
    exit_code: int = 0
    started_at: str = "0001-01-01T00:00:00Z"
    finished_at: str = "0001-01-01T00:00:00Z"
    error: str = ""
    oom_killed: bool = False
    stopped_by_user: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ContainerState":
        data = dict(data)
        data["status"] = Status(data.get("status", "created"))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class NetworkAttachment:
    """What the network layer gave a container (Docker's ``NetworkSettings``)."""

    network: str  # "bridge"
    netns_path: str
    ip_address: str = ""
    prefix_len: int = 0
    gateway: str = ""
    mac_address: str = ""
    port_bindings: tuple[PortBinding, ...] = ()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "NetworkAttachment":
        data = dict(data)
        data["port_bindings"] = tuple(PortBinding(**p) for p in data.get("port_bindings") or ())
        return cls(**data)


@dataclass
class Container:
    """One container as the metadata store keeps it."""

    id: str  # 64 hex characters
    name: str  # without the leading "/"
    image_id: str  # "sha256:..." digest of the image config
    image_ref: str  # as the user typed it
    created: str  # RFC 3339, UTC
    options: CreateOptions
    state: ContainerState = field(default_factory=ContainerState)
    network: NetworkAttachment | None = None
    restart_count: int = 0
