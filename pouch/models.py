"""Internal models of images and containers.

These are the engine's own vocabulary. Docker's wire JSON (``Config``,
``HostConfig``, inspect output) is converted to and from these at the API edge
(``pouch.api.convert``); the OCI runtime spec is generated from them by
``pouch.oci``. Everything here is pure data with dict round-trips for storage.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pouch.errors import InvalidArgument

DEFAULT_SHM_SIZE = 64 * 1024 * 1024
DEFAULT_STOP_TIMEOUT = 10


def known_fields(cls: type, data: dict) -> dict:
    """The items of ``data`` that are fields of the dataclass ``cls``: rows written by a newer
    (or older) Pouch read back without the keys this one does not know."""
    known = _field_names(cls)
    return {k: v for k, v in data.items() if k in known}


_FIELD_NAMES: dict[type, frozenset[str]] = {}


def _field_names(cls: type) -> frozenset[str]:
    """The field names of the dataclass ``cls``, computed once (``ps`` decodes a row per container)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = frozenset(f.name for f in dataclasses.fields(cls))
    return names


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
    def from_oci(cls, data: dict | None) -> ImageConfig:
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
    create_source: bool = False  # -v (HostConfig.Binds): a missing host directory is made at start; --mount refuses it
    idmap: bool = False  # -v SRC:DST:idmap (podman's): with --userns=auto, host id n shows as n inside (pouch/userns)


@dataclass(frozen=True)
class VolumeMount:
    """A volume of the local driver mounted into the container (``pouch.volumes``):
    ``-v NAME:/ctr``, ``-v /ctr`` and the image's VOLUME (anonymous), ``--mount
    type=volume``, ``--volumes-from``. Anonymous ones get their name, and every one its
    host ``source`` (``<root>/volumes/<name>/_data``), when the container is created."""

    name: str  # "" for an anonymous volume until the container is created
    target: str
    read_only: bool = False
    nocopy: bool = False  # no copy-up of the image's content into an empty volume
    anonymous: bool = False  # `rm -v` and `run --rm` remove it
    origin: str = "binds"  # binds | mounts | volumes (Config.Volumes) | image | volumes-from
    source: str = ""  # the host directory, filled at create
    driver_options: dict[str, str] = field(default_factory=dict)  # --mount volume-opt: used if it is created
    labels: dict[str, str] = field(default_factory=dict)  # --mount volume-label: used if it is created

    def as_bind(self) -> BindMount:
        return BindMount(self.source, self.target, self.read_only)


@dataclass(frozen=True)
class PortBinding:
    """``-p [ip:]hostPort:containerPort[/proto]``."""

    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""
    host_port: int = 0
    host_port_end: int = 0  # -p 8000-8010:80: any free port of host_port..host_port_end (0: just host_port)


@dataclass(frozen=True)
class EndpointConfig:
    """One network a container is connected to, as asked (``--network``, ``--ip``,
    ``--network-alias``, ``--mac-address``, ``network connect``); see network/networks.py."""

    network: str  # the network's name ("bridge" for the default one)
    network_id: str = ""
    aliases: tuple[str, ...] = ()
    ipv4_address: str = ""  # a static address, "" for one from the pool
    mac_address: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> EndpointConfig:
        data = dict(data)
        data["aliases"] = tuple(data.get("aliases") or ())
        return cls(**known_fields(cls, data))


@dataclass(frozen=True)
class Endpoint:
    """One interface of a running container on one network (what CNI ADD gave)."""

    network: str
    network_id: str = ""
    ifname: str = "eth0"
    ip_address: str = ""
    prefix_len: int = 0
    gateway: str = ""
    mac_address: str = ""
    aliases: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict) -> Endpoint:
        data = dict(data)
        data["aliases"] = tuple(data.get("aliases") or ())
        return cls(**known_fields(cls, data))


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
    def from_dict(cls, data: dict) -> RichOptions:
        data = dict(data)
        data["mode"] = RichMode(data.get("mode") or RichMode.DUMB_INIT)
        for key in ("prestart_hooks", "poststop_hooks"):
            data[key] = tuple(data.get(key) or ())
        return cls(**data)


@dataclass(frozen=True)
class ThrottleDevice:
    """``--device-read-bps /dev/sda:1mb`` and friends: a rate for one block device."""

    path: str
    rate: int


@dataclass(frozen=True)
class Ulimit:
    """``--ulimit nofile=1024:2048``: ``name`` without the ``RLIMIT_`` prefix, lower case."""

    name: str
    soft: int
    hard: int


@dataclass(frozen=True)
class DeviceMapping:
    """``--device /dev/x[:/dev/y][:rwm]``."""

    path_on_host: str
    path_in_container: str
    permissions: str = "rwm"


@dataclass(frozen=True)
class Resources:
    """Docker's ``HostConfig`` resources (``container.Resources``): cgroup limits, devices,
    ulimits. Zero/empty means "not set" as in Docker; ``pids_limit`` None or <= 0 is unlimited,
    ``memory_swap`` -1 is unlimited swap. ``pouch update`` changes the cgroup part of it."""

    memory: int = 0
    memory_swap: int = 0
    memory_reservation: int = 0
    kernel_memory: int = 0  # accepted and ignored (deprecated in the kernel)
    memory_swappiness: int | None = None
    oom_kill_disable: bool = False
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpu_period: int = 0
    cpu_quota: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int | None = None
    blkio_weight: int = 0
    device_read_bps: tuple[ThrottleDevice, ...] = ()
    device_write_bps: tuple[ThrottleDevice, ...] = ()
    device_read_iops: tuple[ThrottleDevice, ...] = ()
    device_write_iops: tuple[ThrottleDevice, ...] = ()
    ulimits: tuple[Ulimit, ...] = ()
    devices: tuple[DeviceMapping, ...] = ()
    cgroup_parent: str = ""

    @classmethod
    def from_dict(cls, data: dict | None) -> Resources:
        data = dict(data or {})
        for key in ("device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops"):
            data[key] = tuple(ThrottleDevice(**d) for d in data.get(key) or ())
        data["ulimits"] = tuple(Ulimit(**u) for u in data.get("ulimits") or ())
        data["devices"] = tuple(DeviceMapping(**d) for d in data.get("devices") or ())
        return cls(**known_fields(cls, data))


@dataclass(frozen=True)
class Isolation:
    """What a container shares with the host or another container and its kernel knobs:
    ``--ipc``, ``--pid``, ``--uts``, ``--sysctl``, ``--group-add``, ``--oom-score-adj``."""

    ipc_mode: str = ""  # "" (private) | private | shareable | none | host | container:NAME
    pid_mode: str = ""  # "" | host | container:NAME
    uts_mode: str = ""  # "" | host | container:NAME (a CRI pod's containers share the infra's)
    sysctls: dict[str, str] = field(default_factory=dict)
    group_add: tuple[str, ...] = ()
    oom_score_adj: int = 0

    @classmethod
    def from_dict(cls, data: dict | None) -> Isolation:
        data = dict(data or {})
        data["group_add"] = tuple(data.get("group_add") or ())
        return cls(**known_fields(cls, data))


@dataclass(frozen=True)
class RestartPolicy:
    """``--restart no|always|unless-stopped|on-failure[:N]`` (``HostConfig.RestartPolicy``);
    the decisions are in ``services/restart.py``."""

    name: str = "no"
    maximum_retry_count: int = 0  # on-failure only; 0 = no limit


@dataclass(frozen=True)
class LogConfig:
    """``--log-driver``/``--log-opt`` (``HostConfig.LogConfig``): the driver's name and its options
    as given; validated and applied by ``runtime/logconfig.py``. An empty type: the daemon's default
    (resolved at create). ``k8s-file`` is conmon's own format (records written before log drivers, CRI)."""

    type: str = ""
    config: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict | None) -> LogConfig:
        data = data or {}
        return cls(str(data.get("type") or ""), {str(k): str(v) for k, v in (data.get("config") or {}).items()})


@dataclass(frozen=True)
class HealthConfig:
    """``Config.Healthcheck`` as given at create (``--health-*``): durations in nanoseconds,
    0 meaning "the image's, else Docker's default"; ``test`` () = the image's, ("NONE",) = off."""

    test: tuple[str, ...] = ()  # ("CMD", argv...) | ("CMD-SHELL", "command") | ("NONE",)
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

    @classmethod
    def from_dict(cls, data: dict | None) -> HealthConfig | None:
        if data is None:
            return None
        data = dict(data)
        data["test"] = tuple(data.get("test") or ())
        return cls(**known_fields(cls, data))


class NetworkKind(StrEnum):
    BRIDGE = "bridge"  # the default bridge (``bridge``, ``default`` or empty)
    NONE = "none"
    HOST = "host"
    CONTAINER = "container"  # ``container:NAME``: another container's network namespace
    NETWORK = "network"  # a user-defined network, by name or id


_NETWORK_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


@dataclass(frozen=True)
class NetworkMode:
    """A parsed ``--network`` / ``HostConfig.NetworkMode``; ``target`` is the container
    (``container:X``) or the user-defined network's name or id."""

    kind: NetworkKind
    target: str = ""

    @property
    def is_host(self) -> bool:
        return self.kind == NetworkKind.HOST

    @property
    def is_none(self) -> bool:
        return self.kind == NetworkKind.NONE

    @property
    def joins_container(self) -> bool:
        return self.kind == NetworkKind.CONTAINER

    @property
    def has_own_netns(self) -> bool:
        """bridge, none and user networks get a namespace of their own; host and container:X don't."""
        return self.kind not in (NetworkKind.HOST, NetworkKind.CONTAINER)


def parse_network_mode(mode: str) -> NetworkMode:
    """``bridge|default|none|host|container:X|NETWORK`` -> :class:`NetworkMode` (400 otherwise)."""
    if mode in ("", "default", "bridge"):
        return NetworkMode(NetworkKind.BRIDGE)
    if mode in ("none", "host"):
        return NetworkMode(NetworkKind(mode))
    kind, sep, target = mode.partition(":")
    if kind == "container" and sep and target:
        return NetworkMode(NetworkKind.CONTAINER, target)
    if not sep and mode != "container" and _NETWORK_NAME_RE.match(mode):
        return NetworkMode(NetworkKind.NETWORK, mode)
    raise InvalidArgument(f"network mode {mode!r} is not supported (bridge, none, host, container:NAME, a network's name)")


class SeccompMode(StrEnum):
    DEFAULT = "default"  # Pouch's default profile: no ``seccomp=`` option, or ``seccomp=builtin``
    UNCONFINED = "unconfined"
    PROFILE = "profile"  # the user's (``SecurityOptions.seccomp_profile``)


@dataclass(frozen=True)
class SecurityOptions:
    """``--security-opt`` / ``HostConfig.SecurityOpt`` parsed (docker run reference,
    "Security configuration"); see :func:`parse_security_opts` for the spellings.

    ``given`` keeps the options as written: inspect shows them. ``seccomp_profile`` is,
    with ``seccomp=PROFILE``, the profile's JSON text (what the docker CLI sends after
    reading the file) or a path the daemon reads at start. ``apparmor`` and ``labels``
    are accepted and ignored: this host runs neither AppArmor nor SELinux. ``invalid``
    is only set on a record stored before options were checked at create: starting it
    fails with that message, as it always did.
    """

    given: tuple[str, ...] = ()
    no_new_privileges: bool = False
    seccomp: SeccompMode = SeccompMode.DEFAULT
    seccomp_profile: str = ""
    unconfined_systempaths: bool = False
    apparmor: str = ""
    labels: tuple[str, ...] = ()
    invalid: str = ""
    # a CRI container's masked / read-only /proc paths (None: Docker's lists)
    masked_paths: tuple[str, ...] | None = None
    readonly_paths: tuple[str, ...] | None = None

    def check(self) -> None:
        """Raise the parse error an old record's options carry (400)."""
        if self.invalid:
            raise InvalidArgument(self.invalid)

    @classmethod
    def from_dict(cls, data: dict | None) -> SecurityOptions:
        data = dict(data or {})
        data["given"] = tuple(data.get("given") or ())
        data["labels"] = tuple(data.get("labels") or ())
        for key in ("masked_paths", "readonly_paths"):
            data[key] = _tuple_or_none(data.get(key))
        data["seccomp"] = SeccompMode(data.get("seccomp") or SeccompMode.DEFAULT)
        return cls(**known_fields(cls, data))

    @classmethod
    def from_legacy(cls, opts: Any) -> SecurityOptions:
        """A record's ``security_opt`` strings (stored as given before they were parsed at
        create): parsed, or kept with the error their start used to fail with."""
        given = tuple(opts or ())
        try:
            return parse_security_opts(given)
        except InvalidArgument as e:
            return cls(given=given, invalid=e.message)


_TRUE = {"true", "t", "1", "yes"}  # Go's strconv.ParseBool, case-insensitive (and yes/no)
_FALSE = {"false", "f", "0", "no"}


def _split_security_opt(opt: str) -> tuple[str, str | None]:
    """``key=value`` first; Docker still accepts the old ``key:value``."""
    for sep in ("=", ":"):
        if sep in opt:
            key, _, value = opt.partition(sep)
            return key, value
    return opt, None


def _security_bool(opt: str, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InvalidArgument(f"invalid --security-opt {opt!r}: expected true or false")


def _parse_security_opt(opt: str, fields: dict[str, Any]) -> None:
    """One option into ``fields`` (SecurityOptions' keyword arguments); 400 naming it."""
    key, value = _split_security_opt(opt.strip())
    if key == "no-new-privileges":
        fields["no_new_privileges"] = True if value is None else _security_bool(opt, value)
    elif key == "disable" and value is None:  # Docker's old spelling of label=disable
        fields["labels"] += ("disable",)
    elif value is None:
        raise InvalidArgument(f"invalid --security-opt: {opt!r}")
    elif key == "seccomp":
        if not value:
            raise InvalidArgument(f"invalid --security-opt {opt!r}: seccomp needs a profile")
        if value in ("builtin", "unconfined"):
            fields["seccomp"] = SeccompMode.DEFAULT if value == "builtin" else SeccompMode.UNCONFINED
            fields["seccomp_profile"] = ""
        else:
            fields["seccomp"], fields["seccomp_profile"] = SeccompMode.PROFILE, value
    elif key == "systempaths":
        if value != "unconfined":
            raise InvalidArgument(f"invalid --security-opt {opt!r}: only systempaths=unconfined is supported")
        fields["unconfined_systempaths"] = True
    elif key == "apparmor":
        fields["apparmor"] = value
    elif key == "label":
        fields["labels"] += (value,)
    else:
        raise InvalidArgument(f"invalid --security-opt: {opt!r}")


def parse_security_opts(opts: Any) -> SecurityOptions:
    """Every ``--security-opt`` (an iterable of strings), as dockerd's ``parseSecurityOpt``
    takes them, ``key=value`` or the deprecated ``key:value``; later values of a key win:

    - ``no-new-privileges`` alone or with a boolean (``true``/``false``, ``1``/``0``, ``t``/``f``);
    - ``seccomp=unconfined`` | ``seccomp=builtin`` (the default) | ``seccomp=PROFILE``
      (the JSON text, or a path the daemon reads);
    - ``systempaths=unconfined`` (the docker CLI turns it into empty MaskedPaths/ReadonlyPaths);
    - ``apparmor=PROFILE``, ``label=...`` and the old bare ``disable``: accepted, ignored.

    Anything else is an InvalidArgument naming the option, as with Docker.
    """
    given = tuple(opts)
    fields: dict[str, Any] = {"given": given, "labels": ()}
    for opt in given:
        if not isinstance(opt, str):
            raise InvalidArgument(f"invalid --security-opt: {opt!r}")
        _parse_security_opt(opt, fields)
    return SecurityOptions(**fields)


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
    console_size: tuple[int, int] = (0, 0)  # the tty's (height, width) at start; (0, 0): the runtime's default
    open_stdin: bool = False
    stdin_once: bool = False
    attach_stdout: bool = True
    attach_stderr: bool = True
    binds: tuple[BindMount, ...] = ()
    volumes: tuple[VolumeMount, ...] = ()  # resolved by pouch.volumes at create
    volumes_from: tuple[str, ...] = ()  # "CONTAINER[:ro|rw]", as given
    tmpfs: dict[str, str] = field(default_factory=dict)  # target -> "size=64m,mode=1777"
    read_only: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    security: SecurityOptions = field(default_factory=SecurityOptions)  # --security-opt, parsed at create
    network_mode: str = "bridge"  # bridge | none | host | container:NAME_OR_ID | NETWORK, as given (see .network)
    port_bindings: tuple[PortBinding, ...] = ()
    exposed_ports: tuple[str, ...] = ()  # "80/tcp"
    runtime: str = ""  # empty: the daemon's --default-runtime (resolved at create)
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
    resources: Resources = field(default_factory=Resources)  # cgroup limits, devices, ulimits
    isolation: Isolation = field(default_factory=Isolation)  # --ipc/--pid/--uts, sysctls, groups
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)  # services/restart.py
    healthcheck: HealthConfig | None = None  # None: the image's HEALTHCHECK (services/health.py)
    # the networks it is connected to (network/networks.py); None: its mode's one network (a record
    # written before there were several networks), () none at all (each disconnected)
    networks: tuple[EndpointConfig, ...] | None = None
    publish_all: bool = False  # -P: every exposed port on an ephemeral host port
    disk_quota: str = ""  # --disk-quota / --storage-opt size=: the writable layer's limit as given (snapshots/quota.py)
    # a CRI pod's infra container: the CNI conflist (--cni-conf-dir's) its sandbox's eth0 is made from,
    # as it is, instead of Pouch's networks (network/sandbox.py); None: Pouch's networks
    cni_conflist: dict | None = None
    # the file conmon writes the log to, when another owner rotates it (a CRI container's log_directory +
    # log_path: the kubelet renames it and asks to reopen); "": <container dir>/ctr.log, rotated by pouchd
    log_path: str = ""
    log_config: LogConfig = field(default_factory=LogConfig)  # --log-driver/--log-opt (runtime/logconfig.py)
    links: tuple[str, ...] = ()  # --link NAME:ALIAS, legacy links on the default bridge (services/links.py)
    # --userns: "" none (or the daemon's --userns-remap, resolved at create), "host", "auto": a host id
    # range of its own (pouch/userns; the range is recorded in the container's directory)
    userns_mode: str = ""

    @property
    def network(self) -> NetworkMode:
        """``network_mode`` parsed (validated at create, so it parses)."""
        return parse_network_mode(self.network_mode)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CreateOptions:
        data = dict(data)
        data["binds"] = tuple(BindMount(**b) for b in data.get("binds") or ())
        data["volumes"] = tuple(VolumeMount(**v) for v in data.get("volumes") or ())
        data["port_bindings"] = tuple(PortBinding(**p) for p in data.get("port_bindings") or ())
        data["rich"] = RichOptions.from_dict(data["rich"]) if data.get("rich") else None
        data["resources"] = Resources.from_dict(data.get("resources"))
        data["isolation"] = Isolation.from_dict(data.get("isolation"))
        data["restart_policy"] = RestartPolicy(**data["restart_policy"]) if data.get("restart_policy") else RestartPolicy()
        data["healthcheck"] = HealthConfig.from_dict(data.get("healthcheck"))
        if data.get("networks") is not None:
            data["networks"] = tuple(EndpointConfig.from_dict(e) for e in data["networks"])
        if "security" in data:
            data["security"] = SecurityOptions.from_dict(data["security"])
        else:  # a record written before --security-opt was parsed at create
            data["security"] = SecurityOptions.from_legacy(data.get("security_opt"))
        # a record written before log drivers: conmon's k8s-file log, as it was
        data["log_config"] = LogConfig.from_dict(data["log_config"]) if "log_config" in data else LogConfig("k8s-file")
        for key in ("cmd", "entrypoint"):
            data[key] = _tuple_or_none(data.get(key))
        for name in _field_names(cls):
            if name in data and isinstance(data[name], list):
                data[name] = tuple(data[name])
        return cls(**known_fields(cls, data))


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


@dataclass(frozen=True)
class HealthResult:
    """One probe in ``State.Health.Log`` (Docker's HealthcheckResult)."""

    start: str  # RFC 3339
    end: str
    exit_code: int  # 0 healthy, 1 unhealthy, -1 could not run / timed out
    output: str  # at most 4 KiB (then "...")


@dataclass
class HealthState:
    """``State.Health``: starting | healthy | unhealthy, the failing streak, the last 5 probes."""

    status: str = "starting"
    failing_streak: int = 0
    log: tuple[HealthResult, ...] = ()

    @classmethod
    def from_dict(cls, data: dict) -> HealthState:
        return cls(data.get("status", "starting"), data.get("failing_streak", 0),
                   tuple(HealthResult(**r) for r in data.get("log") or ()))


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
    health: HealthState | None = None  # with a health check (services/health.py)

    @property
    def ever_started(self) -> bool:
        """Whether the container's process has run once (``started_at`` is not Docker's zero time)."""
        return not self.started_at.startswith("0001-01-01")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ContainerState:
        data = dict(data)
        data["status"] = Status(data.get("status", "created"))
        data["health"] = HealthState.from_dict(data["health"]) if data.get("health") else None
        return cls(**known_fields(cls, data))


@dataclass(frozen=True)
class NetworkAttachment:
    """What the network layer gave a container (Docker's ``NetworkSettings``).

    ``endpoints`` holds one entry per network (eth0, eth1...); the top-level address
    fields are the first endpoint's. Rows written before several networks existed
    have no ``endpoints``: their one endpoint is the top-level fields on ``network``."""

    network: str  # "bridge", a network's name, "none" or "container"
    netns_path: str
    ip_address: str = ""
    prefix_len: int = 0
    gateway: str = ""
    mac_address: str = ""
    port_bindings: tuple[PortBinding, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NetworkAttachment:
        data = dict(data)
        data["port_bindings"] = tuple(PortBinding(**p) for p in data.get("port_bindings") or ())
        data["endpoints"] = tuple(Endpoint.from_dict(e) for e in data.get("endpoints") or ())
        return cls(**known_fields(cls, data))


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
