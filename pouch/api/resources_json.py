"""Docker's resource fields of ``HostConfig`` <-> ``Resources`` and ``Isolation``.

Create (``POST /containers/create``), inspect (``HostConfig``) and update
(``POST /containers/{id}/update``, Docker's ``UpdateConfig``). Field names are
Docker Engine API v1.41's; each error names the field. Pure functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pouch.cgroups.limits import ULIMIT_NAMES, normalize_resources
from pouch.errors import InvalidArgument
from pouch.models import DeviceMapping, Isolation, Resources, ThrottleDevice, Ulimit

_THROTTLES = (("BlkioDeviceReadBps", "device_read_bps"), ("BlkioDeviceWriteBps", "device_write_bps"),
              ("BlkioDeviceReadIOps", "device_read_iops"), ("BlkioDeviceWriteIOps", "device_write_iops"))

#: Docker's UpdateConfig field -> Resources field.
UPDATE_FIELDS = {
    "Memory": "memory", "MemorySwap": "memory_swap", "MemoryReservation": "memory_reservation",
    "KernelMemory": "kernel_memory", "NanoCpus": "nano_cpus", "NanoCPUs": "nano_cpus", "CpuShares": "cpu_shares",
    "CpuPeriod": "cpu_period", "CpuQuota": "cpu_quota", "CpusetCpus": "cpuset_cpus", "CpusetMems": "cpuset_mems",
    "PidsLimit": "pids_limit", "BlkioWeight": "blkio_weight",
}


def _int(host: Mapping[str, Any], key: str) -> int:
    """An integer field; 0 when absent or null."""
    value = _opt_int(host, key)
    return 0 if value is None else value


def _opt_int(host: Mapping[str, Any], key: str) -> int | None:
    """An integer field; None when absent or null."""
    value = host.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not value.is_integer()):
        raise InvalidArgument(f"HostConfig.{key}: expected an integer, got {json.dumps(value)[:80]}")
    if not -(1 << 63) <= value < (1 << 63):  # Go's int64 fields: json.Unmarshal refuses
        raise InvalidArgument(f"HostConfig.{key}: cannot unmarshal number {int(value)} into a value of type int64")
    return int(value)


def _str(host: Mapping[str, Any], key: str) -> str:
    value = host.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(f"HostConfig.{key}: expected a string, got {json.dumps(value)[:80]}")
    return value


def _list(host: Mapping[str, Any], key: str) -> list:
    value = host.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidArgument(f"HostConfig.{key}: expected an array")
    return value


def _objects(host: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = _list(host, key)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidArgument(f"HostConfig.{key}[{i}]: expected an object")
    return items


def _throttle(host: Mapping[str, Any], key: str) -> tuple[ThrottleDevice, ...]:
    out = []
    for i, item in enumerate(_objects(host, key)):
        path = _str(item, "Path")
        rate = _int(item, "Rate")
        if not path:
            raise InvalidArgument(f"HostConfig.{key}[{i}].Path: required")
        if rate < 0:
            raise InvalidArgument(f"HostConfig.{key}[{i}].Rate: must be a non-negative integer")
        out.append(ThrottleDevice(path, rate))
    return tuple(out)


def resources_from_docker(host: Mapping[str, Any]) -> Resources:
    """``Resources`` from a create body's ``HostConfig`` (with Docker's create defaults)."""
    ulimits = []
    for i, item in enumerate(_objects(host, "Ulimits")):
        name = _str(item, "Name")
        if name not in ULIMIT_NAMES:
            raise InvalidArgument(f"HostConfig.Ulimits[{i}].Name: invalid ulimit type: {name}")
        ulimits.append(Ulimit(name, _int(item, "Soft") or 0, _int(item, "Hard") or 0))
    devices = []
    for i, item in enumerate(_objects(host, "Devices")):
        on_host = _str(item, "PathOnHost")
        if not on_host:
            raise InvalidArgument(f"HostConfig.Devices[{i}].PathOnHost: required")
        devices.append(DeviceMapping(on_host, _str(item, "PathInContainer") or on_host,
                                     _str(item, "CgroupPermissions") or "rwm"))
    oom_kill_disable = host.get("OomKillDisable")
    if oom_kill_disable is not None and not isinstance(oom_kill_disable, bool):
        raise InvalidArgument("HostConfig.OomKillDisable: expected a boolean")
    res = Resources(
        memory=_int(host, "Memory"),
        memory_swap=_int(host, "MemorySwap"),
        memory_reservation=_int(host, "MemoryReservation"),
        kernel_memory=_int(host, "KernelMemory"),
        memory_swappiness=_opt_int(host, "MemorySwappiness"),
        oom_kill_disable=bool(oom_kill_disable),
        nano_cpus=_int(host, "NanoCpus") or _int(host, "NanoCPUs"),
        cpu_shares=_int(host, "CpuShares"),
        cpu_period=_int(host, "CpuPeriod"),
        cpu_quota=_int(host, "CpuQuota"),
        cpuset_cpus=_str(host, "CpusetCpus"),
        cpuset_mems=_str(host, "CpusetMems"),
        pids_limit=_opt_int(host, "PidsLimit"),
        blkio_weight=_int(host, "BlkioWeight"),
        ulimits=tuple(ulimits),
        devices=tuple(devices),
        cgroup_parent=_str(host, "CgroupParent"),
        **{field: _throttle(host, key) for key, field in _THROTTLES},
    )
    if res.memory_swappiness == -1:
        res = Resources(**{**res.__dict__, "memory_swappiness": None})
    return normalize_resources(res)


def isolation_from_docker(host: Mapping[str, Any]) -> Isolation:
    sysctls = host.get("Sysctls") or {}
    if not isinstance(sysctls, dict) or not all(isinstance(v, str) for v in sysctls.values()):
        raise InvalidArgument("HostConfig.Sysctls: expected an object of strings")
    groups = _list(host, "GroupAdd")
    if not all(isinstance(g, str) for g in groups):
        raise InvalidArgument("HostConfig.GroupAdd: expected an array of strings")
    ipc = _str(host, "IpcMode")
    return Isolation(
        ipc_mode="" if ipc == "private" else ipc,
        pid_mode=_str(host, "PidMode"),
        uts_mode=_str(host, "UTSMode"),
        sysctls=dict(sysctls),
        group_add=tuple(groups),
        oom_score_adj=_int(host, "OomScoreAdj") or 0,
    )


def host_config_fields(res: Resources, iso: Isolation) -> dict[str, Any]:
    """The resource part of inspect's ``HostConfig`` (Docker's names and zero values)."""
    def throttle(devices: tuple[ThrottleDevice, ...]) -> list[dict[str, Any]] | None:
        return [{"Path": d.path, "Rate": d.rate} for d in devices] or None

    return {
        "CpuShares": res.cpu_shares,
        "Memory": res.memory,
        "NanoCpus": res.nano_cpus,
        "CgroupParent": res.cgroup_parent,
        "BlkioWeight": res.blkio_weight,
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": throttle(res.device_read_bps),
        "BlkioDeviceWriteBps": throttle(res.device_write_bps),
        "BlkioDeviceReadIOps": throttle(res.device_read_iops),
        "BlkioDeviceWriteIOps": throttle(res.device_write_iops),
        "CpuPeriod": res.cpu_period,
        "CpuQuota": res.cpu_quota,
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "CpusetCpus": res.cpuset_cpus,
        "CpusetMems": res.cpuset_mems,
        "Devices": [{"PathOnHost": d.path_on_host, "PathInContainer": d.path_in_container,
                     "CgroupPermissions": d.permissions} for d in res.devices],
        "DeviceCgroupRules": None,
        "KernelMemory": res.kernel_memory,
        "MemoryReservation": res.memory_reservation,
        "MemorySwap": res.memory_swap,
        "MemorySwappiness": res.memory_swappiness,
        "OomKillDisable": res.oom_kill_disable,
        "PidsLimit": res.pids_limit if res.pids_limit and res.pids_limit > 0 else None,
        "Ulimits": [{"Name": u.name, "Soft": u.soft, "Hard": u.hard} for u in res.ulimits] or None,
        "IpcMode": iso.ipc_mode or "private",
        "PidMode": iso.pid_mode,
        "UTSMode": iso.uts_mode,
        "Sysctls": dict(iso.sysctls) if iso.sysctls else None,
        "GroupAdd": list(iso.group_add) or None,
        "OomScoreAdj": iso.oom_score_adj,
    }


def update_from_docker(body: Mapping[str, Any]) -> dict[str, Any]:
    """The resource changes of an update body: only the fields set (Docker: zero means
    "unchanged"; ``PidsLimit`` counts whenever present, 0 or -1 being unlimited)."""
    changes: dict[str, Any] = {}
    for key, field in UPDATE_FIELDS.items():
        if key not in body or body[key] is None:
            continue
        value = _str(body, key) if field in ("cpuset_cpus", "cpuset_mems") else _int(body, key)
        if field == "pids_limit":
            changes[field] = value
        elif value:
            changes[field] = value
    return changes


__all__ = ["host_config_fields", "isolation_from_docker", "resources_from_docker", "update_from_docker"]
