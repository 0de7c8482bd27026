"""Flag values the verbs share, each parsed as the docker CLI does: sizes (go-units
``RAMInBytes``), CPU counts, restart policies, ``--filter``, Go durations and ``--since``.

Pure, and cheap to import (``ps``, ``rm``, ``run`` and the flag modules use it): nothing
from the standard library but what the interpreter already loaded.
"""

from __future__ import annotations

from pouch.cli.flags import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class OptionError(UsageError):
    """A flag value that does not parse (``invalid argument ...``)."""


_RAM_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_ram(value: str) -> int:
    """go-units ``RAMInBytes``: ``128m`` -> 134217728; binary units, optional ``i``/``b``."""
    text = value.strip()
    num = text.rstrip("bBiI" + "kKmMgGtTpP")
    suffix = text[len(num):].strip().lower()
    num = num.strip()
    unit = suffix[:1] if suffix and suffix[0] in "kmgtp" else ""
    rest = suffix[len(unit):]
    if rest not in ("", "b", "i", "ib") or (rest == "i" and not unit):
        raise OptionError(f"invalid size: '{value}'")
    try:
        size = float(num)
    except ValueError:
        raise OptionError(f"invalid size: '{value}'") from None
    if size < 0 or not num or not num[0].isdigit():
        raise OptionError(f"invalid size: '{value}'")
    return int(size * _RAM_UNITS[unit])


def parse_cpus(value: str) -> int:
    try:
        cpus = float(value)
    except ValueError:
        raise OptionError(f"failed to parse {value} as a rational number") from None
    if cpus < 0:
        raise OptionError(f"invalid value: {value}")
    return int(round(cpus * 1e9))


def parse_restart(value: str) -> dict[str, Any]:
    name, _, count = value.partition(":")
    if name not in ("", "no", "always", "unless-stopped", "on-failure"):
        raise OptionError(f"invalid restart policy {value}")
    if count and name != "on-failure":
        raise OptionError(f"maximum retry count cannot be used with restart policy '{name}'")
    try:
        retries = int(count) if count else 0
    except ValueError:
        raise OptionError(f"maximum retry count must be an integer: {count}") from None
    return {"Name": "" if name == "no" else name, "MaximumRetryCount": retries}


def parse_filters(values: list[str]) -> dict[str, list[str]]:
    """``--filter k=v`` (repeatable) -> the API's ``filters`` map (JSON-encoded by the client)."""
    out: dict[str, list[str]] = {}
    for value in values:
        key, eq, val = value.partition("=")
        if not eq or not key:
            raise OptionError(f"bad format of filter (expected name=value): {value}")
        out.setdefault(key.strip().lower(), []).append(val)
    return out


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(text: str) -> float:
    """Go ``time.ParseDuration`` (``1h30m``, ``10s``, ``1.5h``) -> seconds."""
    rest = text.strip()
    if rest in ("0", ""):
        if rest == "":
            raise OptionError(f'time: invalid duration "{text}"')
        return 0.0
    total = 0.0
    while rest:
        i = 0
        while i < len(rest) and (rest[i].isdigit() or rest[i] == "."):
            i += 1
        if i == 0:
            raise OptionError(f'time: invalid duration "{text}"')
        number = rest[:i]
        rest = rest[i:]
        for unit in ("ns", "us", "µs", "ms", "s", "m", "h"):
            if rest.startswith(unit) and not (unit in ("m",) and rest.startswith("ms")):
                total += float(number) * _DURATION_UNITS[unit]
                rest = rest[len(unit):]
                break
        else:
            raise OptionError(f'time: missing unit in duration "{text}"')
    return total


def parse_since(value: str, now: float) -> str:
    """docker ``--since``/``--until``: a unix timestamp (``1700000000[.5]``), an
    RFC 3339 date, or a duration relative to ``now`` (``10m``) -> the API's
    ``seconds[.nanoseconds]`` string."""
    text = value.strip()
    try:
        float(text)
        return text
    except ValueError:
        pass
    if text and text[-1] in "smhu" and text[0].isdigit():
        return _fmt_ts(now - parse_go_duration(text))
    from datetime import UTC, datetime  # noqa: PLC0415 - lazy: datetime costs ~2.5 ms, paid only for an RFC 3339 value

    iso = text.replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        raise OptionError(f"invalid value for \"since\": failed to parse value as time or duration: \"{value}\"") from None
    if dt.tzinfo is None:
        dt = dt.astimezone()  # docker: local time when no zone is given
    return _fmt_ts(dt.astimezone(UTC).timestamp())


def _fmt_ts(ts: float) -> str:
    secs = int(ts)
    nanos = int(round((ts - secs) * 1e9))
    return f"{secs}.{nanos:09d}"
