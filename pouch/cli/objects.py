"""What the verbs of the object groups share (``pouch volume ...``, ``pouch network ...``):
``KEY=VALUE`` flags, the ``--filter`` query and ``ls --format`` lines. Pure but for output."""

from __future__ import annotations

from pouch.cli.client import CLIError
from pouch.cli.format import TemplateError, render_template
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


def print_template_lines(ctx: Context, fmt: str, objects: list[dict[str, Any]]) -> None:
    """``ls --format TEMPLATE`` (a leading ``table `` is dropped): one line per object."""
    template = fmt.removeprefix("table ")
    try:
        for obj in objects:
            ctx.out(render_template(template, obj))
    except TemplateError as e:
        raise CLIError(f"template parsing error: {e}") from None
