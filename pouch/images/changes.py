"""``--change`` instructions of ``pouch import`` / ``pouch commit`` (Dockerfile syntax).

Supported, as in Docker's ``validCommitCommands`` (minus ONBUILD): CMD,
ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR. Semantics
follow the Dockerfile reference:

* CMD/ENTRYPOINT/VOLUME take the JSON (exec) form ``["a", "b"]``; anything
  else is the shell form, run as ``["/bin/sh", "-c", "<text>"]``;
* ENTRYPOINT clears CMD unless a CMD was given earlier in the same changes;
* ENV and LABEL take ``K=V K2="v 2"`` or the legacy ``K value with spaces``;
* WORKDIR is resolved against the previous WORKDIR;
* EXPOSE normalises ``80`` to ``80/tcp`` and expands ranges.

Variable substitution (``$VAR``) is not performed. Pure: strings in, an
:class:`~pouch.models.ImageConfig` out.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import re
import shlex
import signal
from collections.abc import Iterable

from pouch.errors import InvalidArgument
from pouch.models import ImageConfig
from pouch.oci.env import merge_env

SHELL = ("/bin/sh", "-c")
VALID_CHANGE_COMMANDS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")
_PROTOCOLS = ("tcp", "udp", "sctp")


def split_instruction(line: str) -> tuple[str, str]:
    """``'cmd ["sh"]'`` -> ``("CMD", '["sh"]')``."""
    stripped = line.strip()
    if not stripped:
        raise InvalidArgument("empty change instruction")
    parts = stripped.split(None, 1)
    return parts[0].upper(), parts[1].strip() if len(parts) > 1 else ""


def parse_json_array(args: str) -> list[str] | None:
    """The exec form's list, or None when ``args`` is not a JSON array of strings."""
    if not args.startswith("["):
        return None
    try:
        value = json.loads(args)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def parse_command(instruction: str, args: str) -> tuple[str, ...]:
    exec_form = parse_json_array(args)
    if exec_form is not None:
        return tuple(exec_form)
    if not args:
        raise InvalidArgument(f"{instruction} requires at least one argument")
    return (*SHELL, args)


def _words(instruction: str, args: str) -> list[str]:
    try:
        return shlex.split(args, posix=True)
    except ValueError as exc:
        raise InvalidArgument(f"{instruction} {args}: {exc}") from exc


def parse_key_values(instruction: str, args: str) -> list[tuple[str, str]]:
    """ENV/LABEL arguments: ``K=V ...`` or the legacy single ``K V``."""
    if not args:
        raise InvalidArgument(f"{instruction} requires at least one argument")
    first, _, rest = args.partition(" ")
    if "=" not in first:
        rest = rest.strip()
        if not rest:
            raise InvalidArgument(f"{instruction} {first}: must have two arguments")
        return [(_words(instruction, first)[0], " ".join(_words(instruction, rest)))]
    pairs = []
    for word in _words(instruction, args):
        key, sep, value = word.partition("=")
        if not sep:
            raise InvalidArgument(f"Syntax error - can't find = in {word!r}. Must be of the form: name=value")
        if not key:
            raise InvalidArgument(f"{instruction} names can not be blank")
        pairs.append((key, value))
    return pairs


def parse_expose(args: str) -> list[str]:
    ports: list[str] = []
    for spec in args.split():
        port, _, proto = spec.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in _PROTOCOLS:
            raise InvalidArgument(f"invalid proto: {proto}")
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", port)
        if not match:
            raise InvalidArgument(f"invalid containerPort: {port}")
        start = int(match.group(1))
        end = int(match.group(2) or start)
        if not (0 < start <= end <= 65535):
            raise InvalidArgument(f"invalid port range: {port}")
        ports += [f"{p}/{proto}" for p in range(start, end + 1)]
    if not ports:
        raise InvalidArgument("EXPOSE requires at least one argument")
    return ports


def check_signal(value: str) -> str:
    name = value.upper()
    if name.isdigit() and 0 < int(name) <= 64:
        return value
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name in signal.Signals.__members__ or re.fullmatch(r"SIGRTM(IN\+\d+|AX-\d+|IN|AX)", name):
        return value
    raise InvalidArgument(f"Invalid signal: {value}")


def parse_volumes(args: str) -> list[str]:
    exec_form = parse_json_array(args)
    volumes = exec_form if exec_form is not None else args.split()
    if not volumes or any(not v.strip() for v in volumes):
        raise InvalidArgument("VOLUME specified can not be an empty string")
    return [v.strip() for v in volumes]


def apply_change(config: ImageConfig, line: str, cmd_set: bool = False) -> tuple[ImageConfig, bool]:
    """Apply one instruction; ``cmd_set`` tracks whether CMD was given (see ENTRYPOINT)."""
    instruction, args = split_instruction(line)
    replace = dataclasses.replace
    if instruction == "CMD":
        return replace(config, cmd=parse_command(instruction, args)), True
    if instruction == "ENTRYPOINT":
        changed = replace(config, entrypoint=parse_command(instruction, args))
        return (changed if cmd_set else replace(changed, cmd=None)), cmd_set
    if instruction == "ENV":
        env = merge_env(config.env, [f"{key}={value}" for key, value in parse_key_values(instruction, args)])
        return replace(config, env=tuple(env)), cmd_set  # in place, as a Dockerfile's ENV
    if instruction == "LABEL":
        labels = dict(config.labels)
        labels.update(parse_key_values(instruction, args))
        return replace(config, labels=labels), cmd_set
    if instruction == "WORKDIR":
        if not args:
            raise InvalidArgument("WORKDIR requires exactly one argument")
        return replace(config, working_dir=posixpath.normpath(posixpath.join(config.working_dir or "/", args))), cmd_set
    if instruction == "USER":
        if not args:
            raise InvalidArgument("USER requires exactly one argument")
        return replace(config, user=args), cmd_set
    if instruction == "EXPOSE":
        ports = sorted(set(config.exposed_ports) | set(parse_expose(args)))
        return replace(config, exposed_ports=tuple(ports)), cmd_set
    if instruction == "STOPSIGNAL":
        if not args:
            raise InvalidArgument("STOPSIGNAL requires exactly one argument")
        return replace(config, stop_signal=check_signal(args)), cmd_set
    if instruction == "VOLUME":
        volumes = sorted(set(config.volumes) | set(parse_volumes(args)))
        return replace(config, volumes=tuple(volumes)), cmd_set
    raise InvalidArgument(f"{instruction} is not a valid change command")


def apply_changes(changes: Iterable[str], base: ImageConfig | None = None) -> ImageConfig:
    """Apply ``--change`` instructions in order to ``base`` (default: empty config)."""
    config, cmd_set = base or ImageConfig(), False
    for line in changes:
        config, cmd_set = apply_change(config, line, cmd_set)
    return config
