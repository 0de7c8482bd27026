"""Docker wire JSON <-> Pouch's internal models, pure functions only.

Docker Engine API v1.41 shapes: ``ContainerConfig`` + ``HostConfig`` in
``POST /containers/create`` here; the inspect and list shapes are in
``container_json``, the list filters in ``filters`` (both re-exported).

Glossary: the **create body** is what a client sends (Config fields at top level plus
``HostConfig``); the **effective** entrypoint/cmd/env are the create options merged
with the image config the way dockerd's ``merge()`` does (daemon/commit.go).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any

from pouch.api.health_json import healthcheck_from_docker, restart_policy_from_docker
from pouch.api.mounts_json import volume_from_api_mount
from pouch.api.network_json import endpoints_from_docker, parse_host_port_range
from pouch.api.quota_json import disk_quota_from_docker
from pouch.api.resources_json import isolation_from_docker, resources_from_docker
from pouch.api.rich_json import rich_from_docker
from pouch.errors import InvalidArgument
from pouch.models import (
    DEFAULT_SHM_SIZE,
    BindMount,
    CreateOptions,
    LogConfig,
    NetworkKind,
    PortBinding,
    VolumeMount,
    parse_network_mode,
    parse_security_opts,
)
from pouch.runtime.logconfig import check_choice
from pouch.services.links import parse_link
from pouch.services.names import validate_container_name
from pouch.userns.ranges import parse_userns_mode
from pouch.volumes.specs import (
    PROPAGATIONS,
    anonymous_volumes,
    check_driver,
    parse_volumes_from,
    split_binds,
)

_PROTOCOLS = ("tcp", "udp", "sctp")
_ZERO_TIME = "0001-01-01T00:00:00Z"
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

# --- small typed getters; every error names the field ------------------------------------


def _get(body: Mapping[str, Any], key: str, field: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = body.get(key)
    if value is None:
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise InvalidArgument(f"{field}: expected {_kind_name(kind)}, got {json.dumps(value)[:80]}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer", dict: "an object", list: "an array"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _get_str(body: Mapping[str, Any], key: str, field: str, default: str = "") -> str:
    return _get(body, key, field, str, default)


def _get_bool(body: Mapping[str, Any], key: str, field: str, default: bool = False) -> bool:
    return _get(body, key, field, bool, default)


def _get_int(body: Mapping[str, Any], key: str, field: str, default: int | None = 0) -> int | None:
    value = _get(body, key, field, (int, float), default)
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidArgument(f"{field}: expected an integer, got {value}")
        value = int(value)
    if value is not None and not INT64_MIN <= value <= INT64_MAX:  # Go's int64 fields: json.Unmarshal refuses
        raise InvalidArgument(f"{field}: cannot unmarshal number {value} into a value of type int64")
    return value


def _get_str_list(body: Mapping[str, Any], key: str, field: str) -> tuple[str, ...]:
    value = _get(body, key, field, list, [])
    for item in value:
        if not isinstance(item, str):
            raise InvalidArgument(f"{field}: expected an array of strings, got {json.dumps(item)[:80]}")
    return tuple(value)


def _get_strslice(body: Mapping[str, Any], key: str, field: str) -> tuple[str, ...] | None:
    """Docker's StrSlice: null, a string or an array of strings."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return _get_str_list(body, key, field)


def _get_str_map(body: Mapping[str, Any], key: str, field: str) -> dict[str, str]:
    value = _get(body, key, field, dict, {})
    for k, v in value.items():
        if not isinstance(v, str):
            raise InvalidArgument(f"{field}: value of {k!r} must be a string")
    return dict(value)


# --- names, ports, mounts ----------------------------------------------------------------


def parse_port_key(key: str, field: str) -> tuple[int, str]:
    """``"80/tcp"`` or ``"80"`` -> ``(80, "tcp")``."""
    port_s, _, proto = key.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in _PROTOCOLS:
        raise InvalidArgument(f"{field}: invalid protocol {proto!r} in {key!r}")
    if not port_s.isdigit() or not 0 < int(port_s) <= 65535:
        raise InvalidArgument(f"{field}: invalid port {key!r}")
    return int(port_s), proto


def _parse_host_port(value: Any, field: str) -> int:
    if value in (None, ""):
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.isdigit() or int(value) > 65535:
        raise InvalidArgument(f"{field}: invalid host port {json.dumps(value)}")
    return int(value)


def _parse_ip(value: Any, field: str) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(f"{field}: expected a string")
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        raise InvalidArgument(f"{field}: invalid IP address {value!r}") from None


def _clean_path(path: str) -> str:
    cleaned = re.sub("/+", "/", path)
    return cleaned.rstrip("/") or "/"


def format_bind(bind: BindMount) -> str:
    opts = ["ro"] if bind.read_only else []
    if bind.propagation:
        opts.append(bind.propagation)
    return f"{bind.source}:{bind.target}" + (":" + ",".join(opts) if opts else "")


def _tmpfs_options_from_mount(mount: Mapping[str, Any], field: str) -> str:
    opts_in = _get(mount, "TmpfsOptions", f"{field}.TmpfsOptions", dict, {})
    opts = []
    size = _get_int(opts_in, "SizeBytes", f"{field}.TmpfsOptions.SizeBytes", 0)
    if size:
        if size < 0:
            raise InvalidArgument(f"{field}.TmpfsOptions.SizeBytes: must not be negative")
        opts.append(f"size={size}")
    mode = _get_int(opts_in, "Mode", f"{field}.TmpfsOptions.Mode", 0)
    if mode:
        opts.append(f"mode={mode & 0o7777:o}")
    if _get_bool(mount, "ReadOnly", f"{field}.ReadOnly"):
        opts.insert(0, "ro")
    return ",".join(opts)


def _parse_mounts(raw: list[Any]) -> tuple[list[BindMount], dict[str, str], list[VolumeMount]]:
    binds: list[BindMount] = []
    tmpfs: dict[str, str] = {}
    volumes: list[VolumeMount] = []
    for i, mount in enumerate(raw):
        field = f"HostConfig.Mounts[{i}]"
        if not isinstance(mount, dict):
            raise InvalidArgument(f"{field}: expected an object")
        kind = _get_str(mount, "Type", f"{field}.Type")
        target = _get_str(mount, "Target", f"{field}.Target")
        if not target.startswith("/"):
            raise InvalidArgument(f"{field}.Target: must be an absolute path, got {target!r}")
        if kind == "bind":
            source = _get_str(mount, "Source", f"{field}.Source")
            if not source.startswith("/"):
                raise InvalidArgument(f"{field}.Source: must be an absolute host path, got {source!r}")
            options = _get(mount, "BindOptions", f"{field}.BindOptions", dict, {})
            propagation = _get_str(options, "Propagation", f"{field}.BindOptions.Propagation")
            if propagation and propagation not in PROPAGATIONS:
                raise InvalidArgument(f"{field}.BindOptions.Propagation: invalid propagation {propagation!r}")
            read_only = _get_bool(mount, "ReadOnly", f"{field}.ReadOnly")
            binds.append(BindMount(_clean_path(source), _clean_path(target), read_only, propagation))
        elif kind == "tmpfs":
            if mount.get("Source"):
                raise InvalidArgument(f"{field}.Source: must not be set for a tmpfs mount")
            tmpfs[_clean_path(target)] = _tmpfs_options_from_mount(mount, field)
        elif kind == "volume":
            volumes.append(volume_from_api_mount(mount, field))
        elif kind in ("npipe", "cluster"):
            raise InvalidArgument(f"{field}.Type: mounts of type {kind!r} are not supported yet")
        else:
            raise InvalidArgument(f"{field}.Type: invalid mount type {kind!r}")
    return binds, tmpfs, volumes


def _parse_port_bindings(raw: Mapping[str, Any]) -> list[PortBinding]:
    out: list[PortBinding] = []
    for key, bindings in raw.items():
        field = f"HostConfig.PortBindings[{key!r}]"
        port, proto = parse_port_key(key, field)
        if bindings is None or bindings == []:
            continue
        if not isinstance(bindings, list):
            raise InvalidArgument(f"{field}: expected an array")
        for b in bindings:
            if not isinstance(b, dict):
                raise InvalidArgument(f"{field}: expected objects with HostIp and HostPort")
            host_ip = _parse_ip(b.get("HostIp"), f"{field}.HostIp")
            span = parse_host_port_range(b.get("HostPort"), f"{field}.HostPort")  # -p 8000-8010:80
            if span:
                out.append(PortBinding(port, proto, host_ip, span[0], span[1] if span[1] != span[0] else 0))
                continue
            host_port = _parse_host_port(b.get("HostPort"), f"{field}.HostPort")
            out.append(PortBinding(port, proto, host_ip, host_port))
    return out


def _port_key(port: int, proto: str) -> str:
    return f"{port}/{proto}"


def _parse_network_mode(value: str) -> str:
    """``HostConfig.NetworkMode`` checked (``models.parse_network_mode``); kept as given,
    except that ``""`` and ``default`` become ``bridge``."""
    try:
        mode = parse_network_mode(value)
    except InvalidArgument:
        if value == "container:":
            raise InvalidArgument("HostConfig.NetworkMode: container: needs a container name or id") from None
        raise InvalidArgument(
            f"HostConfig.NetworkMode: invalid network mode {value!r} (bridge, host, none, container:<name|id>, a network)"
        ) from None
    return NetworkKind.BRIDGE.value if mode.kind == NetworkKind.BRIDGE else value


def _parse_extra_host(entry: str) -> str:
    sep = "=" if "=" in entry else ":"
    host, _, ip = entry.partition(sep)
    if not host or not ip:
        raise InvalidArgument(f"HostConfig.ExtraHosts: invalid entry {entry!r}, expected host:ip")
    if ip != "host-gateway":
        _parse_ip(ip, "HostConfig.ExtraHosts")
    return f"{host}:{ip}"


# --- POST /containers/create ---------------------------------------------------------------


def create_options_from_docker(body: Mapping[str, Any], name: str = "") -> CreateOptions:
    """``CreateOptions`` from a ``POST /containers/create`` body and ``?name=``."""
    if not isinstance(body, Mapping):
        raise InvalidArgument("request body must be a JSON object")
    name = validate_container_name(name)
    image = _get_str(body, "Image", "Config.Image")
    if not image:
        raise InvalidArgument("Config.Image is required: no image was given")
    host = _get(body, "HostConfig", "HostConfig", dict, {})

    entrypoint = _get_strslice(body, "Entrypoint", "Config.Entrypoint")
    if entrypoint == ("",):  # `--entrypoint ""`: no entrypoint at all
        entrypoint = ()
    working_dir = _get_str(body, "WorkingDir", "Config.WorkingDir")
    if working_dir and not working_dir.startswith("/"):
        raise InvalidArgument(f"Config.WorkingDir: the working directory {working_dir!r} must be an absolute path")

    exposed = _get(body, "ExposedPorts", "Config.ExposedPorts", dict, {})
    exposed_ports = {_port_key(*parse_port_key(k, "Config.ExposedPorts")) for k in exposed}
    port_bindings = _parse_port_bindings(_get(host, "PortBindings", "HostConfig.PortBindings", dict, {}))
    for key in _get(host, "PortBindings", "HostConfig.PortBindings", dict, {}):
        exposed_ports.add(_port_key(*parse_port_key(key, "HostConfig.PortBindings")))

    binds, volumes = split_binds(_get_str_list(host, "Binds", "HostConfig.Binds"))  # pouch.volumes.specs
    mount_binds, tmpfs, mount_volumes = _parse_mounts(_get(host, "Mounts", "HostConfig.Mounts", list, []))
    binds += mount_binds
    volumes += mount_volumes + anonymous_volumes(_get(body, "Volumes", "Config.Volumes", dict, {}), "volumes")
    check_driver(_get_str(host, "VolumeDriver", "HostConfig.VolumeDriver"))
    volumes_from = _get_str_list(host, "VolumesFrom", "HostConfig.VolumesFrom")
    for spec in volumes_from:
        parse_volumes_from(spec)
    for target, opts in _get_str_map(host, "Tmpfs", "HostConfig.Tmpfs").items():
        if not target.startswith("/"):
            raise InvalidArgument(f"HostConfig.Tmpfs: mount path {target!r} must be absolute")
        tmpfs[_clean_path(target)] = opts
    seen: set[str] = set()
    for target in [b.target for b in binds] + list(tmpfs) + [v.target for v in volumes if v.origin != "volumes"]:
        if target in seen:
            raise InvalidArgument(f"Duplicate mount point: {target}")
        seen.add(target)

    restart_policy = restart_policy_from_docker(host, _get_bool(host, "AutoRemove", "HostConfig.AutoRemove"))

    stop_timeout = _get_int(body, "StopTimeout", "Config.StopTimeout", None)
    shm_size = _get_int(host, "ShmSize", "HostConfig.ShmSize", 0) or DEFAULT_SHM_SIZE
    if shm_size < 0:
        raise InvalidArgument("HostConfig.ShmSize: must not be negative")
    init = host.get("Init")
    if init is not None and not isinstance(init, bool):
        raise InvalidArgument("HostConfig.Init: expected a boolean")
    rich, enable_lxcfs = rich_from_docker(body, host)

    return CreateOptions(
        image=image,
        name=name,
        cmd=_get_strslice(body, "Cmd", "Config.Cmd"),
        entrypoint=entrypoint,
        env=_parse_env(_get_str_list(body, "Env", "Config.Env")),
        working_dir=working_dir,
        user=_get_str(body, "User", "Config.User"),
        labels=_get_str_map(body, "Labels", "Config.Labels"),
        hostname=_get_str(body, "Hostname", "Config.Hostname"),
        domainname=_get_str(body, "Domainname", "Config.Domainname"),
        tty=_get_bool(body, "Tty", "Config.Tty"),
        open_stdin=_get_bool(body, "OpenStdin", "Config.OpenStdin"),
        stdin_once=_get_bool(body, "StdinOnce", "Config.StdinOnce"),
        attach_stdout=_get_bool(body, "AttachStdout", "Config.AttachStdout", True),
        attach_stderr=_get_bool(body, "AttachStderr", "Config.AttachStderr", True),
        binds=tuple(binds),
        volumes=tuple(v for v in volumes if v.origin != "volumes" or v.target not in seen),
        volumes_from=volumes_from,
        tmpfs=tmpfs,
        read_only=_get_bool(host, "ReadonlyRootfs", "HostConfig.ReadonlyRootfs"),
        cap_add=_get_str_list(host, "CapAdd", "HostConfig.CapAdd"),
        cap_drop=_get_str_list(host, "CapDrop", "HostConfig.CapDrop"),
        privileged=_get_bool(host, "Privileged", "HostConfig.Privileged"),
        security=parse_security_opts(_get_str_list(host, "SecurityOpt", "HostConfig.SecurityOpt")),
        network_mode=_parse_network_mode(_get_str(host, "NetworkMode", "HostConfig.NetworkMode")),
        port_bindings=tuple(port_bindings),
        exposed_ports=tuple(sorted(exposed_ports, key=_port_sort_key)),
        runtime=_get_str(host, "Runtime", "HostConfig.Runtime"),  # empty: the engine picks the default runtime
        stop_signal=_get_str(body, "StopSignal", "Config.StopSignal"),
        stop_timeout=stop_timeout,
        auto_remove=_get_bool(host, "AutoRemove", "HostConfig.AutoRemove"),
        shm_size=shm_size,
        rich=rich,
        enable_lxcfs=enable_lxcfs,
        restart_policy=restart_policy,
        healthcheck=healthcheck_from_docker(body),
        resources=resources_from_docker(host),
        isolation=isolation_from_docker(host),
        init=bool(init),
        dns=tuple(_parse_ip(d, "HostConfig.Dns") for d in _get_str_list(host, "Dns", "HostConfig.Dns")),
        dns_search=_get_str_list(host, "DnsSearch", "HostConfig.DnsSearch"),
        dns_options=_get_str_list(host, "DnsOptions", "HostConfig.DnsOptions"),
        extra_hosts=tuple(_parse_extra_host(h) for h in _get_str_list(host, "ExtraHosts", "HostConfig.ExtraHosts")),
        networks=endpoints_from_docker(body, _get_str(host, "NetworkMode", "HostConfig.NetworkMode")),
        publish_all=_get_bool(host, "PublishAllPorts", "HostConfig.PublishAllPorts"),
        disk_quota=disk_quota_from_docker(body, host),  # --disk-quota, --storage-opt size=
        log_config=_parse_log_config(host),
        links=tuple(_parse_link(v) for v in _get_str_list(host, "Links", "HostConfig.Links")),
        userns_mode=parse_userns_mode(_get_str(host, "UsernsMode", "HostConfig.UsernsMode")),
    )


def _parse_link(value: str) -> str:
    """``HostConfig.Links``: ``NAME[:ALIAS]`` or inspect's ``/NAME:/PARENT/ALIAS`` → ``NAME:ALIAS``."""
    try:
        name, alias = parse_link(value)
    except InvalidArgument as e:
        raise InvalidArgument(f"HostConfig.Links: {e.message}") from None
    return f"{name}:{alias}"


def _parse_log_config(host: Mapping[str, Any]) -> LogConfig:
    """``HostConfig.LogConfig``: a supported driver (or none: the daemon's default) and its options
    as strings; the options are checked against the driver at create."""
    raw = _get(host, "LogConfig", "HostConfig.LogConfig", dict, {})
    cfg = LogConfig(_get_str(raw, "Type", "HostConfig.LogConfig.Type"),
                    _get_str_map(raw, "Config", "HostConfig.LogConfig.Config"))
    check_choice(cfg)
    return cfg


def _parse_env(env: tuple[str, ...]) -> tuple[str, ...]:
    for entry in env:
        if not entry or entry.startswith("="):
            raise InvalidArgument(f"Config.Env: invalid environment variable {entry!r}")
    return env


def _port_sort_key(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    return int(port), proto


__all__ = [
    "create_options_from_docker",
    "format_bind",
    "parse_port_key",
    "validate_container_name",
]
