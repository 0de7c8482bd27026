"""Docker's ``HostConfig.Mounts`` entries of ``Type: volume`` (``--mount type=volume,...``)
-> ``VolumeMount`` (the rules themselves: ``pouch/volumes/specs.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pouch.errors import InvalidArgument
from pouch.models import VolumeMount
from pouch.volumes.specs import check_driver, mount_target, validate_local_options, validate_volume_name


def _str_map(value: Any, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidArgument(f"{field}: expected an object of strings")
    return dict(value)


def volume_from_api_mount(mount: Mapping[str, Any], field: str) -> VolumeMount:
    """A ``HostConfig.Mounts`` entry of ``Type: volume`` (docker ``--mount type=volume``)."""
    source = mount.get("Source") or ""
    target = mount.get("Target") or ""
    if not isinstance(source, str) or not isinstance(target, str):
        raise InvalidArgument(f"{field}: Source and Target must be strings")
    if not target:
        raise InvalidArgument(f"{field}.Target: must not be empty")
    for extra in ("BindOptions", "TmpfsOptions"):
        if mount.get(extra):
            raise InvalidArgument(f"{field}: field {extra} must not be specified for a volume mount")
    read_only = mount.get("ReadOnly") or False
    if not isinstance(read_only, bool):
        raise InvalidArgument(f"{field}.ReadOnly: expected a boolean")
    options = mount.get("VolumeOptions") or {}
    if not isinstance(options, dict):
        raise InvalidArgument(f"{field}.VolumeOptions: expected an object")
    nocopy = options.get("NoCopy") or False
    if not isinstance(nocopy, bool):
        raise InvalidArgument(f"{field}.VolumeOptions.NoCopy: expected a boolean")
    driver_config = options.get("DriverConfig") or {}
    if not isinstance(driver_config, dict):
        raise InvalidArgument(f"{field}.VolumeOptions.DriverConfig: expected an object")
    check_driver(driver_config.get("Name") or "")
    driver_options = _str_map(driver_config.get("Options"), f"{field}.VolumeOptions.DriverConfig.Options")
    if driver_options:
        validate_local_options(driver_options)
    return VolumeMount(
        name=validate_volume_name(source) if source else "",
        target=mount_target(target, target, f"{field}.Target"),
        read_only=read_only,
        nocopy=nocopy,
        anonymous=not source,
        origin="mounts",
        driver_options=driver_options,
        labels=_str_map(options.get("Labels"), f"{field}.VolumeOptions.Labels"),
    )
