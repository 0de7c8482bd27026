"""The CLI described from its own definitions, for the generated completions and man pages.

Every verb's flags are what the verb itself hands to ``Context.parse`` (its synopsis,
description and flag spec): each verb is run with a context whose ``parse`` records them
and stops the verb there, so nothing is kept by hand and nothing reaches a daemon. The
command tree is ``main.COMMANDS`` and ``main.MANAGEMENT``. Used by ``scripts/gen-completion.py``
and ``scripts/gen-man.py`` (never on the CLI's own path).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from pouch.cli import main
from pouch.cli.flags import BOOL, F, Flag

# pouch's global options (main._parse_global), as flags
GLOBAL_FLAGS = [
    F("-D", "--debug", help="Enable debug mode"),
    F("-H", "--host", kind="str", help="Daemon socket to connect to (env POUCH_HOST)", metavar="string"),
    F("-v", "--version", help="Print version information and quit"),
    F("-h", "--help", help="Print usage"),
]
MANAGEMENT_HELP = {"container": "Manage containers", "image": "Manage images", "network": "Manage networks",
                   "system": "Manage Pouch", "volume": "Manage volumes"}


@dataclass(frozen=True)
class Command:
    """One verb: ``key`` in main.COMMANDS (``network-create``), its name as typed (``network create``)."""

    key: str
    name: str
    summary: str
    synopsis: str
    description: str
    flags: tuple[Flag, ...]

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.name.split())


class _Captured(Exception):
    pass


class _RecordingContext(main.Context):
    """A context whose ``parse`` records the verb's definitions and stops it."""

    recorded: tuple[str, str, list[Flag]] = ("", "", [])

    def parse(self, synopsis: str, description: str, spec: list[Flag], argv: list[str], **_: Any) -> Any:
        self.recorded = (synopsis, description, list(spec))
        raise _Captured


def command(key: str) -> Command:
    """The definitions of verb ``key``."""
    ctx = _RecordingContext("unix:///nonexistent", stdout=io.StringIO(), stderr=io.StringIO())
    try:
        main.run_command(ctx, key, [])
    except _Captured:
        pass
    else:
        raise RuntimeError(f"pouch {key} did not parse its flags")
    synopsis, description, spec = ctx.recorded
    return Command(key, _name(key), main.COMMANDS[key][2], synopsis, description, tuple(spec))


def _name(key: str) -> str:
    """``network-create`` -> ``network create`` (the management commands' verbs); ``ps`` -> ``ps``."""
    head, _, tail = key.partition("-")
    return f"{head} {tail}" if tail and head in main.MANAGEMENT else key


def commands() -> list[Command]:
    """Every verb, top-level and management ones, sorted by key."""
    return [command(key) for key in sorted(main.COMMANDS)]


def top_level() -> list[tuple[str, str]]:
    """What may follow ``pouch``: the verbs and the management commands, with their summaries."""
    verbs = [(key, main.COMMANDS[key][2]) for key in sorted(main.COMMANDS) if "-" not in key]
    return sorted(verbs + list(MANAGEMENT_HELP.items()))


def subcommands(group: str) -> dict[str, str]:
    """``pouch GROUP SUB`` -> the verb key it runs (``container ls`` -> ``ps``)."""
    return dict(main.MANAGEMENT[group])


def takes_value(flag: Flag) -> bool:
    return flag.kind != BOOL


def value_name(flag: Flag) -> str:
    return flag.metavar or {"int": "int", "list": "list"}.get(flag.kind, "string")
