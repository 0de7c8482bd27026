"""The ``--mount`` flag's parser (docker's ``opts.MountOpt``): a CSV of key=value fields ->
one ``HostConfig.Mounts`` entry of the create body. Pure.

The CSV goes through ``_csv``, the C module the ``csv`` package wraps: ``csv`` imports
``re`` (and ``enum``), milliseconds of ``run``'s start-up; ``_csv.reader`` with its default
dialect reads exactly as ``csv.reader`` with the ``excel`` one.
"""

from __future__ import annotations

import _csv
import os

from pouch.cli.values import OptionError, parse_ram

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _parse_bool(key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise ValueError(f"invalid value for {key}: {value}")


def _key_value(text: str, key: str) -> tuple[str, str]:
    k, _, v = text.partition("=")
    if not k:
        raise ValueError(f"invalid value for {key}: {text}")
    return k, v


def parse_mount_flag(value: str, cwd: str = "") -> dict[str, Any]:
    """``type=volume,source=v,target=/data,readonly,volume-opt=type=tmpfs`` -> an API Mount."""
    try:
        fields = next(_csv.reader([value]), [])
    except _csv.Error as e:
        raise _mount_error(value, str(e)) from None
    mount: dict[str, Any] = {"Type": "volume"}
    volume: dict[str, Any] = {}
    bind: dict[str, Any] = {}
    tmpfs: dict[str, Any] = {}
    try:
        for field in fields:
            key, eq, val = field.partition("=")
            key = key.lower()
            if not eq:
                if key in ("readonly", "ro"):
                    mount["ReadOnly"] = True
                elif key == "volume-nocopy":
                    volume["NoCopy"] = True
                elif key == "bind-nonrecursive":
                    bind["NonRecursive"] = True
                else:
                    raise ValueError(f"invalid field '{field}' must be a key=value pair")
            elif key == "type":
                mount["Type"] = val.lower()
            elif key in ("source", "src"):
                relative = val == "." or val.startswith("./")
                mount["Source"] = os.path.abspath(os.path.join(cwd or os.getcwd(), val)) if relative else val
            elif key in ("target", "dst", "destination"):
                mount["Target"] = val
            elif key in ("readonly", "ro"):
                mount["ReadOnly"] = _parse_bool(key, val)
            elif key == "consistency":
                mount["Consistency"] = val.lower()
            elif key == "bind-propagation":
                bind["Propagation"] = val.lower()
            elif key == "bind-nonrecursive":
                bind["NonRecursive"] = _parse_bool(key, val)
            elif key == "volume-driver":
                volume.setdefault("DriverConfig", {})["Name"] = val
            elif key == "volume-label":
                k, v = _key_value(val, key)
                volume.setdefault("Labels", {})[k] = v
            elif key == "volume-opt":
                k, v = _key_value(val, key)
                volume.setdefault("DriverConfig", {}).setdefault("Options", {})[k] = v
            elif key == "volume-nocopy":
                volume["NoCopy"] = _parse_bool(key, val)
            elif key == "tmpfs-size":
                try:
                    tmpfs["SizeBytes"] = parse_ram(val)
                except OptionError:
                    raise ValueError(f"invalid value for {key}: {val}") from None
            elif key == "tmpfs-mode":
                try:
                    tmpfs["Mode"] = int(val, 8)
                except ValueError:
                    raise ValueError(f"invalid value for {key}: {val}") from None
            else:
                raise ValueError(f"unexpected key '{key}' in '{field}'")
        kind = mount["Type"]
        if not mount.get("Target"):
            raise ValueError("target is required")
        for options, prefix, owner in ((volume, "volume", "volume"), (bind, "bind", "bind"), (tmpfs, "tmpfs", "tmpfs")):
            if options and kind != owner:
                raise ValueError(f"cannot mix '{prefix}-*' options with mount type '{kind}'")
    except ValueError as e:
        raise _mount_error(value, str(e)) from None
    if volume:
        mount["VolumeOptions"] = volume
    if bind:
        mount["BindOptions"] = bind
    if tmpfs:
        mount["TmpfsOptions"] = tmpfs
    return mount


def _mount_error(value: str, why: str) -> Exception:
    return OptionError(f'invalid argument "{value}" for "--mount" flag: {why}')
