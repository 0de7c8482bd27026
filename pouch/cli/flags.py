"""A tiny command-line flag parser with docker's (spf13/pflag) conventions.

Why not argparse: docker's rules differ in ways users notice — ``-h`` is
``--hostname`` for ``run``, flag parsing stops at the first positional for
``run``/``exec`` (``pouch run busybox ls -l``), ``--rm=false`` is valid, short
flags combine (``-it``, ``-p8080:80``), and a bad flag exits 125 with
``See 'pouch run --help'.``. This module is pure and unit-tested.

Glossary: a *spec* is a list of :class:`Flag`; ``parse`` returns a dict keyed
by ``Flag.dest`` and the list of positional arguments.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~3 ms at startup; annotations are strings anyway
    from typing import Any

BOOL, STR, INT, LIST = "bool", "str", "int", "list"
_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}


class UsageError(Exception):
    """Bad command line; the CLI prints it with a hint and exits ``code``
    (125 for flags like docker; 1 for a wrong argument count). ``hinted``:
    the message already carries its ``See 'pouch X --help'.`` hint."""

    def __init__(self, message: str, code: int = 125, hinted: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.hinted = hinted


class Flag:
    """One flag: its names (``("-e", "--env")``), kind, help text and default.
    (A plain class: dataclasses would cost ~8 ms of imports.)"""

    __slots__ = ("names", "kind", "help", "default", "dest_name", "metavar")

    def __init__(self, names: tuple[str, ...], kind: str = BOOL, help: str = "", default: Any = None,
                 dest_name: str = "", metavar: str = "") -> None:
        self.names = names
        self.kind = kind
        self.help = help
        self.default = default
        self.dest_name = dest_name
        self.metavar = metavar

    @property
    def dest(self) -> str:
        if self.dest_name:
            return self.dest_name
        long = [n for n in self.names if n.startswith("--")]
        return (long[0] if long else self.names[0]).lstrip("-").replace("-", "_")

    def initial(self) -> Any:
        if self.kind == LIST:
            return list(self.default or [])
        if self.kind == BOOL:
            return bool(self.default)
        return self.default


def F(*names: str, kind: str = BOOL, help: str = "", default: Any = None, dest: str = "",
      metavar: str = "") -> Flag:
    return Flag(tuple(names), kind, help, default, dest, metavar)


HELP = F("--help", help="Print usage")


def parse(spec: list[Flag], argv: list[str], *, interspersed: bool = True) -> tuple[dict[str, Any], list[str]]:
    """Parse ``argv`` against ``spec``. ``interspersed=False`` stops at the first
    positional (everything after it is the container's command line)."""
    table: dict[str, Flag] = {name: f for f in [*spec, HELP] for name in f.names}
    opts: dict[str, Any] = {f.dest: f.initial() for f in spec}
    opts["help"] = False
    positional: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            positional.extend(argv[i:])
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            if not interspersed:
                positional.extend(argv[i:])
                break
            continue
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            flag = table.get(name)
            if flag is None:
                raise UsageError(f"unknown flag: {name}")
            if flag.kind == BOOL:
                _set(opts, flag, _parse_bool(name, value) if eq else True)
                continue
            if not eq:
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: {name}")
                value = argv[i]
                i += 1
            _set(opts, flag, _convert(flag, name, value))
            continue
        # short flags, possibly combined: -it, -p8080:80, -e=FOO (pflag accepts "=")
        j = 1
        while j < len(arg):
            name = "-" + arg[j]
            flag = table.get(name)
            if flag is None:
                raise UsageError(f"unknown shorthand flag: {arg[j]!r} in {arg}")
            j += 1
            if flag.kind == BOOL:
                if j < len(arg) and arg[j] == "=":
                    _set(opts, flag, _parse_bool(name, arg[j + 1:]))
                    break
                _set(opts, flag, True)
                continue
            value = arg[j:]
            if value.startswith("="):
                value = value[1:]
            elif not value:
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: {arg[j - 1]!r} in {arg}")
                value = argv[i]
                i += 1
            _set(opts, flag, _convert(flag, name, value))
            break
    return opts, positional


def _parse_bool(name: str, value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UsageError(f'invalid argument "{value}" for "{name}" flag: strconv.ParseBool: parsing "{value}": invalid syntax')


def _convert(flag: Flag, name: str, value: str) -> Any:
    if flag.kind == INT:
        try:
            return int(value)
        except ValueError:
            raise UsageError(
                f'invalid argument "{value}" for "{name}" flag: strconv.ParseInt: parsing "{value}": invalid syntax') from None
    return value


def _set(opts: dict[str, Any], flag: Flag, value: Any) -> None:
    if flag.kind == LIST:
        opts[flag.dest].append(value)
    else:
        opts[flag.dest] = value


def usage(prog: str, synopsis: str, description: str, spec: list[Flag]) -> str:
    """Docker-style ``--help`` text."""
    lines = ["", f"Usage:  {prog} {synopsis}", "", description, ""]
    if spec:
        lines.append("Options:")
        rows = []
        for flag in spec:
            short = [n for n in flag.names if not n.startswith("--")]
            long = [n for n in flag.names if n.startswith("--")]
            left = (f"{short[0]}, " if short else "    ") + (long[0] if long else "")
            if flag.kind != BOOL:
                left += " " + (flag.metavar or {INT: "int", LIST: "list"}.get(flag.kind, "string"))
            rows.append((left, flag.help))
        width = max(len(r[0]) for r in rows)
        lines.extend(f"  {left.ljust(width)}   {text}".rstrip() for left, text in rows)
    return "\n".join(lines) + "\n"
