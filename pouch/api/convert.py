"""Docker wire JSON <-> Pouch's internal models, pure functions only.

Docker Engine API v1.41 shapes: ``ContainerConfig`` + ``HostConfig`` in
``POST /containers/create``, ``ContainerInspectResponse`` for
``GET /containers/{id}/json`` and ``ContainerSummary`` for ``GET /containers/json``.

Glossary: the **create body** is what a client sends (Config fields at top level plus
``HostConfig``); the **effective** entrypoint/cmd/env are the create options merged
with the image config the way dockerd's ``merge()`` does (daemon/commit.go).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pouch import reference
from pouch.humanize import human_duration
from pouch.api.rich_json import rich_config_fields, rich_from_docker, rich_host_config_fields
from pouch.errors import InvalidArgument
from pouch.models import (
    DEFAULT_SHM_SIZE,
    BindMount,
    Container,
    CreateOptions,
    ImageConfig,
    PortBinding,
    Status,
)

_NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_PROTOCOLS = ("tcp", "udp", "sctp")
_ZERO_TIME = "0001-01-01T00:00:00Z"

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


def validate_container_name(name: str) -> str:
    """The name without its leading "/"; "" stays "" (the service picks one)."""
    if not name:
        return ""
    if not _NAME_RE.match(name):
        raise InvalidArgument(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name.lstrip("/")


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


def parse_bind(spec: str, field: str = "HostConfig.Binds") -> BindMount:
    """``/src:/dst[:opts]`` where opts is a comma list of ro/rw, z/Z and a propagation."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise InvalidArgument(f"{field}: invalid volume specification {spec!r}")
    source, target = parts[0], parts[1]
    if not source.startswith("/"):
        raise InvalidArgument(
            f"{field}: {spec!r}: named volumes are not supported yet; the source must be an absolute host path"
        )
    if not target.startswith("/"):
        raise InvalidArgument(f"{field}: invalid mount path {target!r} in {spec!r}: it must be absolute")
    read_only: bool | None = None
    propagation = ""
    for opt in parts[2].split(",") if len(parts) == 3 else ():
        if opt in ("ro", "rw"):
            if read_only is not None:
                raise InvalidArgument(f"{field}: invalid mode in {spec!r}: ro/rw given twice")
            read_only = opt == "ro"
        elif opt in _PROPAGATIONS:
            if propagation:
                raise InvalidArgument(f"{field}: invalid mode in {spec!r}: more than one propagation")
            propagation = opt
        elif opt in ("z", "Z", "nocopy", "consistent", "cached", "delegated"):
            continue  # SELinux relabel / volume copy / macOS consistency: nothing to do here
        else:
            raise InvalidArgument(f"{field}: invalid mode {opt!r} in {spec!r}")
    return BindMount(source=_clean_path(source), target=_clean_path(target), read_only=bool(read_only), propagation=propagation)


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


def _parse_mounts(raw: list[Any]) -> tuple[list[BindMount], dict[str, str]]:
    binds: list[BindMount] = []
    tmpfs: dict[str, str] = {}
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
            if propagation and propagation not in _PROPAGATIONS:
                raise InvalidArgument(f"{field}.BindOptions.Propagation: invalid propagation {propagation!r}")
            read_only = _get_bool(mount, "ReadOnly", f"{field}.ReadOnly")
            binds.append(BindMount(_clean_path(source), _clean_path(target), read_only, propagation))
        elif kind == "tmpfs":
            if mount.get("Source"):
                raise InvalidArgument(f"{field}.Source: must not be set for a tmpfs mount")
            tmpfs[_clean_path(target)] = _tmpfs_options_from_mount(mount, field)
        elif kind in ("volume", "npipe", "cluster"):
            raise InvalidArgument(f"{field}.Type: mounts of type {kind!r} are not supported yet")
        else:
            raise InvalidArgument(f"{field}.Type: invalid mount type {kind!r}")
    return binds, tmpfs


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
            host_port = _parse_host_port(b.get("HostPort"), f"{field}.HostPort")
            out.append(PortBinding(port, proto, host_ip, host_port))
    return out


def _parse_network_mode(value: str) -> str:
    if value in ("", "default"):
        return "bridge"
    if value in ("bridge", "host", "none"):
        return value
    if value.startswith("container:"):
        if not value.removeprefix("container:"):
            raise InvalidArgument("HostConfig.NetworkMode: container: needs a container name or id")
        return value
    raise InvalidArgument(
        f"HostConfig.NetworkMode: network {value!r} is not supported (bridge, host, none, container:<name|id>)"
    )


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
    exposed_ports = {"%d/%s" % parse_port_key(k, "Config.ExposedPorts") for k in exposed}
    port_bindings = _parse_port_bindings(_get(host, "PortBindings", "HostConfig.PortBindings", dict, {}))
    for key in _get(host, "PortBindings", "HostConfig.PortBindings", dict, {}):
        exposed_ports.add("%d/%s" % parse_port_key(key, "HostConfig.PortBindings"))

    binds = [parse_bind(b) for b in _get_str_list(host, "Binds", "HostConfig.Binds")]
    mount_binds, tmpfs = _parse_mounts(_get(host, "Mounts", "HostConfig.Mounts", list, []))
    binds += mount_binds
    for target, opts in _get_str_map(host, "Tmpfs", "HostConfig.Tmpfs").items():
        if not target.startswith("/"):
            raise InvalidArgument(f"HostConfig.Tmpfs: mount path {target!r} must be absolute")
        tmpfs[_clean_path(target)] = opts
    seen: set[str] = set()
    for target in [b.target for b in binds] + list(tmpfs):
        if target in seen:
            raise InvalidArgument(f"Duplicate mount point: {target}")
        seen.add(target)

    restart = _get(host, "RestartPolicy", "HostConfig.RestartPolicy", dict, {})
    restart_name = _get_str(restart, "Name", "HostConfig.RestartPolicy.Name")
    if restart_name not in ("", "no"):
        raise InvalidArgument(f"HostConfig.RestartPolicy: restart policy {restart_name!r} is not supported yet")

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
        tmpfs=tmpfs,
        read_only=_get_bool(host, "ReadonlyRootfs", "HostConfig.ReadonlyRootfs"),
        cap_add=_get_str_list(host, "CapAdd", "HostConfig.CapAdd"),
        cap_drop=_get_str_list(host, "CapDrop", "HostConfig.CapDrop"),
        privileged=_get_bool(host, "Privileged", "HostConfig.Privileged"),
        security_opt=_get_str_list(host, "SecurityOpt", "HostConfig.SecurityOpt"),
        network_mode=_parse_network_mode(_get_str(host, "NetworkMode", "HostConfig.NetworkMode")),
        port_bindings=tuple(port_bindings),
        exposed_ports=tuple(sorted(exposed_ports, key=_port_sort_key)),
        runtime=_get_str(host, "Runtime", "HostConfig.Runtime") or "runc",
        stop_signal=_get_str(body, "StopSignal", "Config.StopSignal"),
        stop_timeout=stop_timeout,
        auto_remove=_get_bool(host, "AutoRemove", "HostConfig.AutoRemove"),
        shm_size=shm_size,
        rich=rich,
        enable_lxcfs=enable_lxcfs,
        init=bool(init),
        dns=tuple(_parse_ip(d, "HostConfig.Dns") for d in _get_str_list(host, "Dns", "HostConfig.Dns")),
        dns_search=_get_str_list(host, "DnsSearch", "HostConfig.DnsSearch"),
        dns_options=_get_str_list(host, "DnsOptions", "HostConfig.DnsOptions"),
        extra_hosts=tuple(_parse_extra_host(h) for h in _get_str_list(host, "ExtraHosts", "HostConfig.ExtraHosts")),
    )


def _parse_env(env: tuple[str, ...]) -> tuple[str, ...]:
    for entry in env:
        if not entry or entry.startswith("="):
            raise InvalidArgument(f"Config.Env: invalid environment variable {entry!r}")
    return env


def _port_sort_key(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    return int(port), proto


# --- the effective config (dockerd's merge of create options and image config) ------------


def merge_env(image_env: tuple[str, ...] | list[str], user_env: tuple[str, ...] | list[str]) -> list[str]:
    """Image env with user entries replacing same-named ones, new ones appended (order kept)."""
    out = list(image_env)
    index = {e.partition("=")[0]: i for i, e in enumerate(out)}
    for entry in user_env:
        key = entry.partition("=")[0]
        if key in index:
            out[index[key]] = entry
        else:
            index[key] = len(out)
            out.append(entry)
    return out


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


# --- ids for things Pouch does not model as objects -------------------------------------


def network_id(name: str) -> str:
    """A stable 64-hex id for a network known only by name."""
    return hashlib.sha256(f"pouch-network:{name}".encode()).hexdigest()


def endpoint_id(container_id: str, network: str) -> str:
    return hashlib.sha256(f"pouch-endpoint:{container_id}:{network}".encode()).hexdigest()


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


def _network_name(options: CreateOptions) -> str:
    return "" if options.network_mode.startswith("container:") else options.network_mode


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
    name = _network_name(c.options)
    if not name:
        return {}
    return {name: _endpoint(c, name, c.state.status.is_active())}


def _mount_points(options: CreateOptions) -> list[dict[str, Any]]:
    return [
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


def host_config(options: CreateOptions) -> dict[str, Any]:
    """``HostConfig`` as inspect shows it: the create options Pouch keeps, Docker's zero values otherwise."""
    port_bindings: dict[str, list[dict[str, str]]] = {}
    for p in options.port_bindings:
        port_bindings.setdefault(f"{p.container_port}/{p.protocol}", []).append(
            {"HostIp": p.host_ip, "HostPort": str(p.host_port) if p.host_port else ""}
        )
    out: dict[str, Any] = {
        "Binds": _or_null(format_bind(b) for b in options.binds),
        "ContainerIDFile": "",
        "LogConfig": {"Type": "json-file", "Config": {}},  # served as Docker json-file logs through the API (conmon stores k8s-file)
        "NetworkMode": options.network_mode,
        "PortBindings": port_bindings,
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": options.auto_remove,
        "VolumeDriver": "",
        "VolumesFrom": None,
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
        "Links": None,
        "OomScoreAdj": 0,
        "PidMode": "",
        "Privileged": options.privileged,
        "PublishAllPorts": False,
        "ReadonlyRootfs": options.read_only,
        "SecurityOpt": _or_null(options.security_opt),
        "UTSMode": "",
        "UsernsMode": "",
        "ShmSize": options.shm_size,
        "Runtime": options.runtime,
        "ConsoleSize": [0, 0],
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
    out.update(rich_host_config_fields(options))
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
        "Env": merge_env(image.env, o.env),
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
    out.update(rich_config_fields(o))
    return out


def container_state(c: Container) -> dict[str, Any]:
    s = c.state
    return {
        "Status": s.status.value,
        "Running": s.status in (Status.RUNNING, Status.PAUSED),
        "Paused": s.status is Status.PAUSED,
        "Restarting": s.status is Status.RESTARTING,
        "OOMKilled": s.oom_killed,
        "Dead": s.status is Status.DEAD,
        "Pid": s.pid if s.status.is_active() else 0,
        "ExitCode": s.exit_code,
        "Error": s.error,
        "StartedAt": s.started_at,
        "FinishedAt": s.finished_at,
    }


def container_inspect(
    c: Container, image: ImageConfig, paths: InspectPaths, exec_ids: list[str] | tuple[str, ...] = ()
) -> dict[str, Any]:
    """``GET /containers/{id}/json`` (ContainerInspectResponse, API v1.41)."""
    argv = effective_argv(c.options, image)
    config = container_config(c, image)
    live = c.state.status.is_active() and c.network is not None
    att = c.network if live else None
    name = _network_name(c.options)
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
        "HostConfig": host_config(c.options),
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
            "EndpointID": endpoint_id(c.id, name) if att and name == "bridge" else "",
            "Gateway": att.gateway if att and name == "bridge" else "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "IPAddress": att.ip_address if att and name == "bridge" else "",
            "IPPrefixLen": att.prefix_len if att and name == "bridge" else 0,
            "IPv6Gateway": "",
            "MacAddress": att.mac_address if att and name == "bridge" else "",
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
        dt = dt.replace(tzinfo=timezone.utc)
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
        return f"Up {human_duration(now - (started or now))}"
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


# --- filters -----------------------------------------------------------------------------------

CONTAINER_FILTERS = ("id", "name", "status", "label", "ancestor", "exited")


def parse_filters(raw: str) -> dict[str, list[str]]:
    """``filters=`` query value: ``{"k": ["v"]}`` or the older ``{"k": {"v": true}}``."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise InvalidArgument(f"invalid filter format: {raw!r} is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidArgument("invalid filter format: expected a JSON object")
    out: dict[str, list[str]] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            values = list(value)
        elif isinstance(value, list):
            values = value
        elif isinstance(value, str):
            values = [value]
        else:
            raise InvalidArgument(f"invalid filter format for {key!r}")
        if not all(isinstance(v, str) for v in values):
            raise InvalidArgument(f"invalid filter format for {key!r}: values must be strings")
        out[key] = values
    return out


def check_container_filters(filters: Mapping[str, list[str]]) -> None:
    """Raise InvalidArgument for keys or values ``docker ps`` would reject."""
    for key, values in filters.items():
        if key not in CONTAINER_FILTERS:
            raise InvalidArgument(f"invalid filter '{key}'")
        for value in values:
            if key == "status" and value not in Status._value2member_map_:
                raise InvalidArgument(f"invalid filter 'status={value}'")
            if key == "exited":
                try:
                    int(value)
                except ValueError:
                    raise InvalidArgument(f"invalid filter 'exited={value}'") from None


def _regex_match(pattern: str, text: str) -> bool:
    """moby's ``Args.Match``: equal, or an unanchored regular expression match."""
    if pattern == text:
        return True
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def _normalized(ref: str) -> str:
    try:
        return reference.normalize(ref)
    except InvalidArgument:
        return ref


def _ancestor_matches(
    value: str, c: Container, image: Any, resolve_image: Callable[[str], str | None] | None
) -> bool:
    """By image id (full, ``sha256:``-prefixed or a short prefix) or by reference; dockerd
    also matches descendants of the image, which needs the image store (not done)."""
    image_hex = c.image_id.removeprefix("sha256:")
    candidate = value.removeprefix("sha256:")
    if re.fullmatch(r"[0-9a-f]{4,64}", candidate) and image_hex.startswith(candidate):
        return True
    wanted = _normalized(value)
    refs = {_normalized(c.image_ref), *(_normalized(t) for t in getattr(image, "repo_tags", ()) or ())}
    if wanted in refs:
        return True
    if resolve_image is not None:
        resolved = resolve_image(value)
        return resolved is not None and resolved == c.image_id
    return False


def _label_matches(value: str, labels: Mapping[str, str]) -> bool:
    key, eq, want = value.partition("=")
    if key not in labels:
        return False
    return not eq or labels[key] == want


def container_matches(
    filters: Mapping[str, list[str]],
    c: Container,
    image: Any = None,
    *,
    resolve_image: Callable[[str], str | None] | None = None,
) -> bool:
    """Whether ``c`` passes ``docker ps`` filters: values of one key are OR-ed (labels AND-ed).

    ``image`` is the container's image record when the store still has it (anything with
    ``repo_tags`` and ``image_config``, or an ``ImageConfig``): its tags count for
    ``ancestor`` and its labels for ``label``, since dockerd matches ``Config.Labels``.
    ``resolve_image`` maps an ``ancestor`` value to an image id (``sha256:...``).
    """
    check_container_filters(filters)
    if values := filters.get("id"):
        if not any(_regex_match(v, c.id) for v in values):
            return False
    if values := filters.get("name"):
        if not any(_regex_match(v, "/" + c.name) or _regex_match(v, c.name) for v in values):
            return False
    if values := filters.get("status"):
        if c.state.status.value not in values:
            return False
    if values := filters.get("label"):
        config = image if isinstance(image, ImageConfig) else getattr(image, "image_config", None)
        labels = {**(config.labels if config else {}), **c.options.labels}
        if not all(_label_matches(v, labels) for v in values):
            return False
    if values := filters.get("ancestor"):
        if not any(_ancestor_matches(v, c, image, resolve_image) for v in values):
            return False
    if values := filters.get("exited"):
        if c.state.status not in (Status.EXITED, Status.DEAD) or c.state.exit_code not in {int(v) for v in values}:
            return False
    return True


__all__ = [
    "CONTAINER_FILTERS",
    "InspectPaths",
    "check_container_filters",
    "command_string",
    "container_config",
    "container_inspect",
    "container_matches",
    "container_state",
    "container_summary",
    "create_options_from_docker",
    "effective_argv",
    "effective_command",
    "format_bind",
    "host_config",
    "human_duration",
    "merge_env",
    "network_id",
    "parse_bind",
    "parse_filters",
    "parse_port_key",
    "parse_time",
    "status_text",
    "summary_ports",
    "validate_container_name",
]
