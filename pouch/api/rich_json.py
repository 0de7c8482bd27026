"""The rich-container fields of the wire JSON, as PouchContainer named them.

``Config.Rich``, ``Config.RichMode``, ``Config.InitScript`` are PouchContainer's;
``Config.PrestartHooks``, ``Config.PoststopHooks``, ``HostConfig.OpsDir`` and
``HostConfig.EnableLxcfs`` are Pouch's additions. Pure conversions, both ways.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pouch.errors import InvalidArgument
from pouch.models import CreateOptions, RichMode, RichOptions

MODES = ", ".join(m.value for m in RichMode)


def _str_list(body: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = body.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidArgument(f"Config.{key}: expected a list of non-empty commands")
    return tuple(value)


def rich_from_docker(body: Mapping[str, Any], host: Mapping[str, Any]) -> tuple[RichOptions | None, bool]:
    """(RichOptions or None, enable_lxcfs) from a create body; refuses what needs --rich without it."""
    rich = body.get("Rich")
    if rich is not None and not isinstance(rich, bool):
        raise InvalidArgument("Config.Rich: expected a boolean")
    mode = body.get("RichMode") or ""
    init_script = body.get("InitScript") or ""
    prestart = _str_list(body, "PrestartHooks")
    poststop = _str_list(body, "PoststopHooks")
    ops_dir = host.get("OpsDir") or ""
    lxcfs = host.get("EnableLxcfs")
    if lxcfs is not None and not isinstance(lxcfs, bool):
        raise InvalidArgument("HostConfig.EnableLxcfs: expected a boolean")
    for value, field in ((mode, "Config.RichMode"), (init_script, "Config.InitScript"), (ops_dir, "HostConfig.OpsDir")):
        if not isinstance(value, str):
            raise InvalidArgument(f"{field}: expected a string")
    if not rich:
        given = [flag for flag, value in (("--rich-mode", mode), ("--initscript", init_script),
                                          ("--prestart-hook", prestart), ("--poststop-hook", poststop),
                                          ("--ops-dir", ops_dir)) if value]
        if given:
            raise InvalidArgument(f"{', '.join(given)} needs --rich (Config.Rich): this is not a rich container")
        return None, bool(lxcfs)
    try:
        rich_mode = RichMode(mode or RichMode.DUMB_INIT)
    except ValueError:
        raise InvalidArgument(f"unknown rich mode {mode!r}: choose one of {MODES}") from None
    if init_script and not os.path.isabs(init_script):
        raise InvalidArgument(f"--initscript {init_script!r}: must be an absolute path inside the container")
    if ops_dir and not os.path.isabs(ops_dir):
        raise InvalidArgument(f"--ops-dir {ops_dir!r}: must be an absolute host path")
    return RichOptions(rich_mode, init_script, prestart, poststop, ops_dir), bool(lxcfs)


def rich_config_fields(options: CreateOptions) -> dict[str, Any]:
    """The Config members inspect shows for the rich part."""
    r = options.rich
    return {
        "Rich": r is not None,
        "RichMode": r.mode.value if r else "",
        "InitScript": r.init_script if r else "",
        "PrestartHooks": list(r.prestart_hooks) if r and r.prestart_hooks else None,
        "PoststopHooks": list(r.poststop_hooks) if r and r.poststop_hooks else None,
    }


def rich_host_config_fields(options: CreateOptions) -> dict[str, Any]:
    return {"OpsDir": options.rich.ops_dir if options.rich else "", "EnableLxcfs": options.enable_lxcfs}
