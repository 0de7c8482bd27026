"""``/etc/pouch/daemon.json``: pouchd's flags as a file, merged with the command line as dockerd does.

The file's keys are the flags' long names (``"exec-root"``, ``"cri"``, ``"cni-conf-dir"``…), with
Docker's ``daemon.json`` spellings where dockerd has the same setting (:data:`KEY_RENAMES`):
``"hosts"`` (``-H``), ``"data-root"`` (``--root``), ``"insecure-registries"``, ``"registry-mirrors"``,
``"runtimes"`` (``{"NAME": {"path": ..., "runtimeArgs": [...]}}`` for ``--add-runtime`` and
``--runtime-args``) and ``"log-opts"`` (``{"max-size": "10m", "max-file": "3"}``: ``--log-opt``, and
``--log-max-size``/``--log-max-files`` for those two). dockerd's rules:

- a key the daemon has no flag for is an error (all of them named);
- a setting given both as a flag and in the file is an error naming it, with both values;
- the file is read again on ``SIGHUP`` and only what dockerd reloads changes (:data:`RELOADABLE`:
  debug, the registry mirrors and insecure registries, the runtimes and the default runtime);
  a file that does not parse keeps the running configuration.

Glossary: a *dest* is argparse's name of a flag's value (``exec_root``); *values* map dests to
what argparse would have produced for them (strings, lists of strings, bools, numbers), so the
file goes through the same validation as the command line.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pouch.config import DaemonConfig
from pouch.errors import InvalidArgument

# dest -> the file key, where it is not the flag's long name
KEY_RENAMES = {
    "host": "hosts",
    "root": "data-root",
    "insecure_registry": "insecure-registries",
    "registry_mirror": "registry-mirrors",
    "add_runtime": "runtimes",
    "runtime_args": "runtimes",
    "log_max_size": "log-opts",
    "log_max_files": "log-opts",
    "log_opt": "log-opts",
}
NOT_IN_FILE = ("help", "version", "config_file", "debug_faults")  # config_file names the file; debug_faults: tests only
LOG_OPTS = {"max-size": "log_max_size", "max-file": "log_max_files"}

# DaemonConfig fields a SIGHUP changes (dockerd's Reload: debug, registry, runtimes, default-runtime)
RELOADABLE = ("debug", "registry_mirrors", "insecure_registries", "registry_timeout", "runtimes", "runtime_args",
              "default_runtime")


@dataclass(frozen=True)
class FileOption:
    """One flag as the file knows it: its dest, its key, the kind of JSON value it takes and its default."""

    dest: str
    key: str
    kind: str  # "bool", "str", "int", "float" or "list"
    default: Any = None


def file_option(dest: str, long_name: str, *, takes_value: bool, is_list: bool, number: type | None,
                default: Any) -> FileOption:
    """The file's view of a flag, from what argparse knows of it."""
    key = KEY_RENAMES.get(dest, long_name.lstrip("-"))
    if not takes_value:
        kind = "bool"
    elif is_list:
        kind = "list"
    elif number is int:
        kind = "int"
    elif number is float:
        kind = "float"
    else:
        kind = "str"
    return FileOption(dest, key, kind, default)


def read_config_file(path: str, required: bool) -> dict[str, Any]:
    """The file's JSON object; {} when it does not exist and was not asked for by name."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        if required:
            raise InvalidArgument(f"unable to configure the daemon with file {path}: no such file") from None
        return {}
    except OSError as err:
        raise InvalidArgument(f"unable to configure the daemon with file {path}: {err.strerror}") from None
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise InvalidArgument(f"unable to configure the daemon with file {path}: {err}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"unable to configure the daemon with file {path}: not a JSON object")
    return doc


def values_from_file(doc: Mapping[str, Any], options: Sequence[FileOption]) -> dict[str, Any]:
    """The file's settings as argparse values by dest; InvalidArgument for unknown keys or wrong types."""
    by_key: dict[str, list[FileOption]] = {}
    for option in options:
        by_key.setdefault(option.key, []).append(option)
    unknown = sorted(k for k in doc if k not in by_key)
    if unknown:
        raise InvalidArgument(f"the following directives don't match any configuration option: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "runtimes":
            values.update(_runtimes(value))
        elif key == "log-opts":
            values.update(_log_opts(value))
        else:
            option = by_key[key][0]
            values[option.dest] = _typed(option, value)
    return values


def _typed(option: FileOption, value: Any) -> Any:
    def wrong(expected: str) -> InvalidArgument:
        return InvalidArgument(f"daemon configuration: {option.key!r} must be {expected}, not {json.dumps(value)}")

    if option.kind == "bool":
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if option.kind == "list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise wrong("a list of strings")
        return list(value)
    if option.kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise wrong("a number")
        try:
            return int(value) if option.kind == "int" else float(value)
        except ValueError:
            raise wrong("a number") from None
    if not isinstance(value, str):
        raise wrong("a string")
    return value


def _runtimes(value: Any) -> dict[str, Any]:
    """``{"crun": {"path": "/usr/bin/crun", "runtimeArgs": ["--debug"]}}`` as --add-runtime/--runtime-args."""
    if not isinstance(value, dict):
        raise InvalidArgument('daemon configuration: "runtimes" must be an object of {"path": ..., "runtimeArgs": [...]}')
    added, args = [], []
    for name, spec in value.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
            raise InvalidArgument(f'daemon configuration: runtime {name!r} needs a "path"')
        extra = set(spec) - {"path", "runtimeArgs"}
        if extra:
            raise InvalidArgument(f"daemon configuration: runtime {name!r}: unknown keys {', '.join(sorted(extra))}")
        added.append(f"{name}={spec['path']}")
        runtime_args = spec.get("runtimeArgs", [])
        if not isinstance(runtime_args, list) or not all(isinstance(a, str) for a in runtime_args):
            raise InvalidArgument(f'daemon configuration: runtime {name!r}: "runtimeArgs" must be a list of strings')
        if runtime_args:
            args.append(f"{name}={shlex.join(runtime_args)}")
    return {"add_runtime": added, "runtime_args": args}


def _log_opts(value: Any) -> dict[str, Any]:
    """``log-opts``: every option of the default driver (``--log-opt``, checked against ``log-driver``
    by the daemon), and max-size/max-file also as ``--log-max-size``/``--log-max-files``."""
    if not isinstance(value, dict):
        raise InvalidArgument('daemon configuration: "log-opts" must be an object')
    out: dict[str, Any] = {"log_opt": [f"{k}={v}" for k, v in value.items()]}
    for name, dest in LOG_OPTS.items():
        if name in value:
            text = str(value[name])
            if dest == "log_max_files":
                if not text.isdigit():
                    raise InvalidArgument(f"daemon configuration: log-opts max-file must be a number, not {text!r}")
                out[dest] = int(text)
            else:
                out[dest] = text
    return out


def merge(flags: Mapping[str, Any], from_file: Mapping[str, Any], options: Sequence[FileOption]) -> dict[str, Any]:
    """Every dest's value: the flag's, else the file's, else the default. A setting in both is an error."""
    key_of = {o.dest: o.key for o in options}
    conflicts: dict[str, str] = {}
    for dest in flags:
        key = key_of.get(dest)
        if key is not None and any(key_of.get(d) == key for d in from_file):
            shown_file = [from_file[d] for d in from_file if key_of.get(d) == key]
            shown_flag = [flags[d] for d in flags if key_of.get(d) == key]
            conflicts[key] = f"{key}: (from flag: {_show(shown_flag)}, from file: {_show(shown_file)})"
    if conflicts:
        raise InvalidArgument("the following directives are specified both as a flag and in the configuration file: "
                              + ", ".join(conflicts[k] for k in sorted(conflicts)))
    values = {o.dest: o.default for o in options}
    values.update(from_file)
    values.update(flags)
    return values


def _show(values: list[Any]) -> str:
    flat = [v for value in values for v in (value if isinstance(value, list) else [value])]
    return str(flat[0]) if len(flat) == 1 else "[" + " ".join(str(v) for v in flat) + "]"


@dataclass(frozen=True)
class Reload:
    """What a SIGHUP does: the configuration to run with now, the settings it changed and the
    changed ones that need a restart (left as they were)."""

    config: DaemonConfig
    changed: tuple[str, ...]
    needs_restart: tuple[str, ...]


def plan_reload(running: DaemonConfig, loaded: DaemonConfig) -> Reload:
    """``running`` with the reloadable settings of ``loaded``."""
    changed = tuple(f for f in RELOADABLE if getattr(running, f) != getattr(loaded, f))
    fixed = tuple(f.name for f in dataclasses.fields(DaemonConfig)
                  if f.name not in RELOADABLE and getattr(running, f.name) != getattr(loaded, f.name))
    config = dataclasses.replace(running, **{f: getattr(loaded, f) for f in changed})
    return Reload(config, changed, fixed)
