"""Disk quota fields of the create body and of inspect (``pouch.snapshots.quota``). Pure.

Accepted: PouchContainer's ``DiskQuota`` (in ``HostConfig`` or at the top level as its
ContainerConfig has it): a map ``{"/": "10g"}`` or a string ``"10g"`` / ``"/=10g"``; and
docker's ``HostConfig.StorageOpt`` ``{"size": "10g"}``. Inspect shows both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pouch.errors import InvalidArgument
from pouch.snapshots.quota import writable_layer_size


def _disk_quota_map(value: Any, field: str) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):  # "10g" or "/=10g"
        path, sep, size = value.rpartition("=")
        return {path if sep else "/": size}
    if isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return dict(value)
    raise InvalidArgument(f"{field}: expected an object of path to size (e.g. {{\"/\": \"10g\"}}) or a size string")


def disk_quota_from_docker(body: Mapping[str, Any], host: Mapping[str, Any]) -> str:
    """The writable layer's quota as given ("" for none), every size checked."""
    quota = _disk_quota_map(body.get("DiskQuota"), "Config.DiskQuota")
    quota.update(_disk_quota_map(host.get("DiskQuota"), "HostConfig.DiskQuota"))
    storage_opt = host.get("StorageOpt") or {}
    if not isinstance(storage_opt, Mapping) or not all(isinstance(v, str) for v in storage_opt.values()):
        raise InvalidArgument("HostConfig.StorageOpt: expected an object of strings (e.g. {\"size\": \"10g\"})")
    return writable_layer_size(quota, dict(storage_opt))


def disk_quota_to_docker(disk_quota: str) -> dict[str, Any]:
    """``HostConfig.DiskQuota`` and ``HostConfig.StorageOpt`` for inspect (absent without a quota,
    as docker omits an empty StorageOpt)."""
    if not disk_quota:
        return {}
    return {"DiskQuota": {"/": disk_quota}, "StorageOpt": {"size": disk_quota}}
