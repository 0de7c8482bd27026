"""Docker's JSON for containers: ``GET /containers/{id}/json`` and ``GET /containers/json``.

The **effective** entrypoint/cmd are the create options merged with the image config the
way dockerd's ``merge()`` does (daemon/commit.go); the env is merged by the rule the process
gets it by (``pouch.oci.env``). Pure functions only.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pouch.api.convert import _port_sort_key, format_bind, parse_port_key  # noqa: E402
from pouch.api.health_json import (
    health_state_to_docker,
    healthcheck_to_docker,
    restart_policy_to_docker,
)
from pouch.api.network_json import container_networks, endpoint_id  # endpoint ids: stable per container and network
from pouch.api.quota_json import disk_quota_to_docker
from pouch.api.resources_json import host_config_fields
from pouch.api.rich_json import rich_config_fields, rich_host_config_fields
from pouch.humanize import human_duration
from pouch.models import (
    Container,
    CreateOptions,
    ImageConfig,
    LogConfig,
    NetworkKind,
    Status,
    VolumeMount,
)
from pouch.network.networks import builtin_id as network_id  # the id of bridge, host, none
from pouch.network.networks import endpoint_configs, endpoints_of
from pouch.oci.env import container_env
from pouch.services.health import enabled as health_enabled
from pouch.services.health import health_text

# --- the effective config (dockerd's merge of create options and image config) ------------


def effective_command(options: CreateOptions, image: ImageConfig) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """``(entrypoint, cmd)`` as dockerd's ``merge()``: the image's Cmd only applies while
    the user gave no entrypoint; the image's Entrypoint only while the user's is unset."""
    entrypoint, cmd = options.entrypoint, options.cmd
    if not entrypoint:
        if not cmd:
            cmd = image.cmd
        if entrypoint is None:
            entrypoint = image.entrypoint
    return entrypoint, cmd


def effective_argv(options: CreateOptions, image: ImageConfig) -> list[str]:
    entrypoint, cmd = effective_command(options, image)
    return list(entrypoint or ()) + list(cmd or ())


def command_string(argv: list[str]) -> str:
    """``Command`` of ``docker ps``: path and args joined by spaces, as dockerd does."""
    return " ".join(argv)


# --- GET /containers/{id}/json ---------------------------------------------------------------


@dataclass(frozen=True)
class InspectPaths:
    """Host paths shown by inspect; empty strings where a thing does not exist (yet)."""

    resolv_conf: str = ""
    hostname: str = ""
    hosts: str = ""
    log: str = ""
    rootfs: str = ""  # overlay merged dir
    upper: str = ""
    work: str = ""
    lower: str = ""  # colon-separated lower dirs


def _or_null(items: Any) -> Any:
    return list(items) if items else None


def _ports_map(c: Container, exposed: list[str]) -> dict[str, Any]:
    """``NetworkSettings.Ports``: published ports with their host side, exposed ones null."""
    if c.network is None or not c.state.status.is_active():
        return {}
    out: dict[str, Any] = {key: None for key in exposed}
    for p in c.network.port_bindings:
        key = f"{p.container_port}/{p.protocol}"
        entry = {"HostIp": p.host_ip or "0.0.0.0", "HostPort": str(p.host_port)}
        out[key] = (out.get(key) or []) + [entry]
    return out


def _endpoint(c: Container, name: str, live: bool) -> dict[str, Any]:
    att = c.network if live and c.network is not None and c.network.network == name else None
    return {
        "IPAMConfig": None,
        "Links": None,
        "Aliases": None,
        "NetworkID": network_id(name),
        "EndpointID": endpoint_id(c.id, name) if att else "",
        "Gateway": att.gateway if att else "",
        "IPAddress": att.ip_address if att else "",
        "IPPrefixLen": att.prefix_len if att else 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": att.mac_address if att else "",
        "DriverOpts": None,
    }


def _networks(c: Container) -> dict[str, Any]:
    mode = c.options.network
    if mode.joins_container:
        return {}
    if mode.is_host or mode.is_none:
        return {mode.kind.value: _endpoint(c, mode.kind.value, c.state.status.is_active())}
    return container_networks(c, endpoint_configs(c.options), endpoints_of(c.network),  # bridge, user-defined
                              {n: network_id(n) for n in ("bridge", "host", "none")})


def _mount_points(options: CreateOptions) -> list[dict[str, Any]]:
    binds = [
        {
            "Type": "bind",
            "Source": b.source,
            "Destination": b.target,
            "Mode": "ro" if b.read_only else "",
            "RW": not b.read_only,
            "Propagation": b.propagation or "rprivate",
        }
        for b in options.binds
    ]
    volumes = [
        {
            "Type": "volume",
            "Name": v.name,
            "Source": v.source,
            "Destination": v.target,
            "Driver": "local",
            "Mode": "ro" if v.read_only else ("" if v.anonymous else "z"),
            "RW": not v.read_only,
            "Propagation": "",
        }
        for v in options.volumes
    ]
    return binds + volumes


def _volume_bind(v: VolumeMount) -> str:
    """A ``-v NAME:/path[:ro,nocopy]`` as the user gave it (``HostConfig.Binds``)."""
    opts = (["ro"] if v.read_only else []) + (["nocopy"] if v.nocopy else [])
    return f"{v.name}:{v.target}" + (":" + ",".join(opts) if opts else "")


def host_config(options: CreateOptions, name: str = "") -> dict[str, Any]:
    """``HostConfig`` as inspect shows it: the create options Pouch keeps, Docker's zero values otherwise."""
    port_bindings: dict[str, list[dict[str, str]]] = {}
    for p in options.port_bindings:
        port_bindings.setdefault(f"{p.container_port}/{p.protocol}", []).append(
            {"HostIp": p.host_ip, "HostPort": str(p.host_port) if p.host_port else ""}
        )
    out: dict[str, Any] = {
        "Binds": _or_null([*(format_bind(b) for b in options.binds),
                           *(_volume_bind(v) for v in options.volumes if v.origin == "binds" and not v.anonymous)]),
        "ContainerIDFile": "",
        "LogConfig": _log_config(options.log_config),
        "NetworkMode": options.network_mode,
        "PortBindings": port_bindings,
        "RestartPolicy": restart_policy_to_docker(options.restart_policy),
        "AutoRemove": options.auto_remove,
        "VolumeDriver": "",
        "VolumesFrom": _or_null(options.volumes_from),
        "CapAdd": _or_null(options.cap_add),
        "CapDrop": _or_null(options.cap_drop),
        "CgroupnsMode": "private",
        "Dns": list(options.dns),
        "DnsOptions": list(options.dns_options),
        "DnsSearch": list(options.dns_search),
        "ExtraHosts": _or_null(options.extra_hosts),
        "GroupAdd": None,
        "IpcMode": "private",
        "Cgroup": "",
        "Links": _links(options.links, name),
        "OomScoreAdj": 0,
        "PidMode": "",
        "Privileged": options.privileged,
        "PublishAllPorts": options.publish_all,
        "ReadonlyRootfs": options.read_only,
        "SecurityOpt": _or_null(options.security.given),
        "UTSMode": "",
        "UsernsMode": options.userns_mode,
        "ShmSize": options.shm_size,
        "Runtime": options.runtime,
        "ConsoleSize": list(options.console_size),
        "Isolation": "",
        "CpuShares": 0,
        "Memory": 0,
        "NanoCpus": 0,
        "CgroupParent": "",
        "BlkioWeight": 0,
        "CpuPeriod": 0,
        "CpuQuota": 0,
        "CpusetCpus": "",
        "CpusetMems": "",
        "Devices": [],
        "MemoryReservation": 0,
        "MemorySwap": 0,
        "MemorySwappiness": None,
        "OomKillDisable": False,
        "PidsLimit": None,
        "Ulimits": None,
        "MaskedPaths": None,
        "ReadonlyPaths": None,
        "Init": True if options.init else None,
    }
    if options.tmpfs:
        out["Tmpfs"] = dict(options.tmpfs)
    out.update(host_config_fields(options.resources, options.isolation))  # resources_json: limits, --ipc...
    out.update(rich_host_config_fields(options))
    out.update(disk_quota_to_docker(options.disk_quota))  # DiskQuota, StorageOpt
    return out


def container_config(c: Container, image: ImageConfig) -> dict[str, Any]:
    """``Config``: the create options merged with the image config."""
    o = c.options
    entrypoint, cmd = effective_command(o, image)
    exposed = sorted(set(image.exposed_ports) | set(o.exposed_ports), key=_port_sort_key)
    out: dict[str, Any] = {
        "Hostname": o.hostname or c.id[:12],
        "Domainname": o.domainname,
        "User": o.user or image.user,
        "AttachStdin": o.open_stdin and o.stdin_once,
        "AttachStdout": o.attach_stdout,
        "AttachStderr": o.attach_stderr,
        "Tty": o.tty,
        "OpenStdin": o.open_stdin,
        "StdinOnce": o.stdin_once,
        "Env": container_env(image.env, o.env),
        "Cmd": None if cmd is None else list(cmd),
        "Image": c.image_ref,
        "Volumes": {v: {} for v in image.volumes} or None,
        "WorkingDir": o.working_dir or image.working_dir,
        "Entrypoint": None if entrypoint is None else list(entrypoint),
        "OnBuild": None,
        "Labels": {**image.labels, **o.labels},
    }
    if exposed:
        out["ExposedPorts"] = {p: {} for p in exposed}
    stop_signal = o.stop_signal or image.stop_signal
    if stop_signal:
        out["StopSignal"] = stop_signal
    if o.stop_timeout is not None:
        out["StopTimeout"] = o.stop_timeout
    if o.healthcheck is not None:
        out["Healthcheck"] = healthcheck_to_docker(o.healthcheck)
    out.update(rich_config_fields(o))
    return out


def container_state(c: Container) -> dict[str, Any]:
    s = c.state
    health = {"Health": health_state_to_docker(s.health)} if s.health and health_enabled(c.options.healthcheck) else {}
    return {
        "Status": s.status.value,
        "Running": s.status in (Status.RUNNING, Status.PAUSED, Status.RESTARTING),  # Docker: restarting is running
        "Paused": s.status is Status.PAUSED,
        "Restarting": s.status is Status.RESTARTING,
        "OOMKilled": s.oom_killed,
        "Dead": s.status is Status.DEAD,
        "Pid": s.pid if s.status.is_active() else 0,
        "ExitCode": s.exit_code,
        "Error": s.error,
        "StartedAt": s.started_at,
        "FinishedAt": s.finished_at,
        **health,
    }


def container_inspect(
    c: Container, image: ImageConfig, paths: InspectPaths, exec_ids: list[str] | tuple[str, ...] = ()
) -> dict[str, Any]:
    """``GET /containers/{id}/json`` (ContainerInspectResponse, API v1.41)."""
    argv = effective_argv(c.options, image)
    config = container_config(c, image)
    live = c.state.status.is_active() and c.network is not None
    att = c.network if live else None
    bridge = att if c.options.network.kind == NetworkKind.BRIDGE else None  # the top-level fields: the default bridge's
    graph_data = {
        k: v
        for k, v in (("LowerDir", paths.lower), ("MergedDir", paths.rootfs), ("UpperDir", paths.upper), ("WorkDir", paths.work))
        if v
    }
    return {
        "Id": c.id,
        "Created": c.created,
        "Path": argv[0] if argv else "",
        "Args": argv[1:],
        "State": container_state(c),
        "Image": c.image_id,
        "ResolvConfPath": paths.resolv_conf,
        "HostnamePath": paths.hostname,
        "HostsPath": paths.hosts,
        "LogPath": paths.log,
        "Name": "/" + c.name,
        "RestartCount": c.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": _or_null(exec_ids),
        "HostConfig": host_config(c.options, c.name),
        "GraphDriver": {"Name": "overlay2", "Data": graph_data or None},
        "Mounts": _mount_points(c.options),
        "Config": config,
        "NetworkSettings": {
            "Bridge": "",
            "SandboxID": endpoint_id(c.id, "sandbox") if live else "",
            "HairpinMode": False,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "Ports": _ports_map(c, list(config.get("ExposedPorts", {}))),
            "SandboxKey": att.netns_path if att else "",
            "SecondaryIPAddresses": None,
            "SecondaryIPv6Addresses": None,
            "EndpointID": endpoint_id(c.id, "bridge") if bridge else "",
            "Gateway": bridge.gateway if bridge else "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "IPAddress": bridge.ip_address if bridge else "",
            "IPPrefixLen": bridge.prefix_len if bridge else 0,
            "IPv6Gateway": "",
            "MacAddress": bridge.mac_address if bridge else "",
            "Networks": _networks(c),
        },
    }


# --- GET /containers/json ---------------------------------------------------------------------


def parse_time(value: str) -> float | None:
    """Seconds since the epoch of an RFC 3339 time; None for Go's zero time or ""."""
    if not value or value.startswith("0001-01-01"):
        return None
    text = value.strip().replace("Z", "+00:00")
    # Python < 3.11 rejects more than 6 fractional digits; Go writes up to 9.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def status_text(c: Container, now: float) -> str:
    """``Status`` of ``docker ps`` as moby's ``State.String()``."""
    s = c.state
    started, finished = parse_time(s.started_at), parse_time(s.finished_at)
    if s.status is Status.PAUSED:
        return f"Up {human_duration(now - (started or now))} (Paused)"
    if s.status is Status.RESTARTING:
        return f"Restarting ({s.exit_code}) {human_duration(now - (finished or now))} ago"
    if s.status is Status.RUNNING:
        health = health_text(s.health) if health_enabled(c.options.healthcheck) else ""
        return f"Up {human_duration(now - (started or now))}" + (f" ({health})" if health else "")
    if s.status is Status.REMOVING:
        return "Removal In Progress"
    if s.status is Status.DEAD:
        return "Dead"
    if started is None:
        return "Created"
    if finished is None:
        return ""
    return f"Exited ({s.exit_code}) {human_duration(now - finished)} ago"


def summary_ports(c: Container, image: ImageConfig | None = None) -> list[dict[str, Any]]:
    """``Ports`` of a summary: published ports, and exposed-only ones without a public side."""
    if c.network is None or not c.state.status.is_active():
        return []
    out: list[dict[str, Any]] = []
    published: set[str] = set()
    for p in c.network.port_bindings:
        published.add(f"{p.container_port}/{p.protocol}")
        out.append({"IP": p.host_ip or "0.0.0.0", "PrivatePort": p.container_port, "PublicPort": p.host_port, "Type": p.protocol})
    exposed = set(c.options.exposed_ports) | set(image.exposed_ports if image else ())
    for key in sorted(exposed - published, key=_port_sort_key):
        port, proto = parse_port_key(key, "ExposedPorts")
        out.append({"PrivatePort": port, "Type": proto})
    return out


def container_summary(
    c: Container,
    image: ImageConfig | str | None = None,
    command: str | None = None,
    size_rw: int | None = None,
    size_root_fs: int | None = None,
    *,
    image_ref_display: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """One entry of ``GET /containers/json`` (ContainerSummary, API v1.41).

    ``image`` is the container's image config when the store still has it: it adds the
    image's labels and exposed ports and completes ``Command``. ``Image`` shows
    ``image_ref_display`` (default: the reference as typed; dockerd shows the image id
    once that name points elsewhere). For the older call form a string in place of
    ``image`` is taken as ``image_ref_display``. ``now`` is for tests.
    """
    if isinstance(image, str):
        image_ref_display, image = image, None
    config = image or ImageConfig()
    if command is None:
        command = command_string(effective_argv(c.options, config))
    now = time.time() if now is None else now
    created = parse_time(c.created)
    out: dict[str, Any] = {
        "Id": c.id,
        "Names": ["/" + c.name],
        "Image": image_ref_display or c.image_ref,
        "ImageID": c.image_id,
        "Command": command,
        "Created": int(created) if created is not None else 0,
        "Ports": summary_ports(c, image),
        "Labels": {**config.labels, **c.options.labels},
        "State": c.state.status.value,
        "Status": status_text(c, now),
        "HostConfig": {"NetworkMode": c.options.network_mode},
        "NetworkSettings": {"Networks": _networks(c)},
        "Mounts": _mount_points(c.options),
    }
    if size_rw is not None:
        out["SizeRw"] = size_rw
    if size_root_fs is not None:
        out["SizeRootFs"] = size_root_fs
    return out


def _log_config(cfg: LogConfig) -> dict:
    """``HostConfig.LogConfig``; conmon's k8s-file (records older than log drivers) is served as
    json-file is, and shown as such."""
    return {"Type": "json-file" if cfg.type in ("", "k8s-file") else cfg.type, "Config": dict(cfg.config)}


def _links(links: tuple[str, ...], parent: str) -> list[str] | None:
    """``--link db:web-db`` of container ``app`` as dockerd shows it: ``/db:/app/web-db``."""
    out = []
    for link in links:
        child, _, alias = link.partition(":")
        out.append(f"/{child}:/{parent}/{alias}")
    return out or None
