"""``--disk-quota`` (PouchContainer) and ``--storage-opt`` (docker) of ``run``/``create``
-> ``HostConfig.DiskQuota`` / ``HostConfig.StorageOpt``. The daemon checks the sizes.
Pure; imports nothing of the engine."""

from __future__ import annotations

from pouch.cli.flags import LIST, F, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pouch.cli.flags import Flag

QUOTA_FLAGS: list[Flag] = [
    F("--disk-quota", kind=LIST, help="Limit the container's writable layer (SIZE or /=SIZE, e.g. 10g)"),
    F("--storage-opt", kind=LIST, help="Storage driver options for the container (size=SIZE)"),
]


def quota_host_config(get: Callable[[str], Any]) -> dict[str, Any]:
    host: dict[str, Any] = {}
    disk_quota: dict[str, str] = {}
    for value in get("disk_quota") or []:
        path, sep, size = value.rpartition("=")
        if not size:
            raise UsageError(f"invalid argument \"{value}\" for \"--disk-quota\" flag: expected SIZE or /=SIZE")
        disk_quota[path if sep else "/"] = size
    if disk_quota:
        host["DiskQuota"] = disk_quota
    storage_opt: dict[str, str] = {}
    for value in get("storage_opt") or []:
        key, sep, opt = value.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid storage option: {value}")  # docker's parseStorageOpts
        storage_opt[key] = opt
    if storage_opt:
        host["StorageOpt"] = storage_opt
    return host
