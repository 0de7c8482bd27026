"""What the verbs of the object groups share (``pouch volume ...``, ``pouch network ...``):
``KEY=VALUE`` flags, the ``--filter`` query and ``ls --format`` lines. Pure but for output."""

from __future__ import annotations

from pouch.cli.client import CLIError
from pouch.cli.format import TemplateError, render_rows
from pouch.cli.values import parse_filters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pouch.cli.main import Context


def key_values(values: list[str], flag: str) -> dict[str, str]:
    """``--label a=1 --label b`` -> ``{"a": "1", "b": ""}``; an empty key is an error naming ``flag``."""
    out = {}
    for item in values:
        key, _, val = item.partition("=")
        if not key:
            raise CLIError(f'invalid argument "{item}" for "{flag}" flag: empty key')
        out[key] = val
    return out


def filters_query(values: list[str]) -> dict[str, Any]:
    """``--filter k=v`` flags as the query's ``filters`` (the client JSON-encodes the map)."""
    return {"filters": parse_filters(values)} if values else {}


def print_template_lines(ctx: Context, fmt: str, rows: list[Any], headers: dict[str, str]) -> None:
    """``ls --format`` (docker's formatter: ``table``, ``json``, Go templates)."""
    try:
        ctx.stdout.write(render_rows(fmt, rows, headers))
    except TemplateError as e:
        raise CLIError(f"template parsing error: {e}") from None


def go_time(rfc3339: str) -> str:
    """Go's ``time.Time.String()`` of an API timestamp (``2026-12-08 01:26:50.29161 +0000 UTC``)."""
    date, _, clock = rfc3339.partition("T")
    zone = "+0000 UTC"
    if clock.endswith("Z"):
        clock = clock[:-1]
    elif len(clock) > 6 and clock[-6] in "+-":
        offset = clock[-6:].replace(":", "")
        clock, zone = clock[:-6], f"{offset} {offset}"
    whole, _, frac = clock.partition(".")
    frac = frac.rstrip("0")
    return f"{date} {whole}{'.' + frac if frac else ''} {zone}"
