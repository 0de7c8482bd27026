"""``pouch events``: the daemon's events as they happen (``GET /events``), like ``docker events``.

``--since``/``--until`` take a unix timestamp, an RFC 3339 date or a duration before now
(``10m``); with ``--until`` the command ends once that time passes. Each event is one
line: ``TIME TYPE ACTION ID (attributes)`` as docker prints it, or ``--format`` (a Go
template over the event's JSON; ``{{json .}}`` for the raw object).
"""

from __future__ import annotations

import time

from pouch.cli.client import CLIError
from pouch.cli.flags import LIST, STR, F
from pouch.cli.format import TemplateError, record, render_template
from pouch.cli.values import parse_filters, parse_since

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pouch.cli.main import Context

EVENTS_FLAGS = [
    F("-f", "--filter", kind=LIST, help="Filter output based on conditions provided"),
    F("--format", kind=STR, help="Format the output using the given Go template"),
    F("--since", kind=STR, help="Show all events created since timestamp"),
    F("--until", kind=STR, help="Stream events until this timestamp"),
]


EMPTY_MESSAGE = {"status": "", "id": "", "from": "", "Type": "", "Action": "",
                 "Actor": {"ID": "", "Attributes": None}, "scope": "", "time": 0, "timeNano": 0}
_GO_NAMES = {"status": "Status", "id": "ID", "from": "From", "scope": "Scope", "time": "Time", "timeNano": "TimeNano"}


def message(event: dict[str, Any]) -> Any:
    """An event as docker's ``*events.Message`` for templates: Go's field names (``.Status``,
    ``.ID``, ``.Time``), ``{{json .}}`` the wire JSON."""
    rec = record("*events.Message", {_GO_NAMES.get(k, k): v for k, v in {**EMPTY_MESSAGE, **event}.items()})
    rec.json = event
    return rec


def format_event(event: dict[str, Any]) -> str:
    """docker's ``prettyPrintEvent``: local time with nanoseconds, type, action, actor id,
    then the attributes sorted by name."""
    nanos = event.get("timeNano") or (event.get("time") or 0) * 1_000_000_000
    seconds, fraction = divmod(int(nanos), 1_000_000_000)
    local = time.localtime(seconds)
    offset = time.strftime("%z", local)
    zone = "Z" if offset in ("+0000", "-0000") else f"{offset[:3]}:{offset[3:]}"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", local) + f".{fraction:09d}{zone}"
    actor = event.get("Actor") or {}
    line = f"{stamp} {event.get('Type', '')} {event.get('Action', '')} {actor.get('ID', '')}"
    attributes = actor.get("Attributes") or {}
    if attributes:
        line += " (" + ", ".join(f"{k}={attributes[k]}" for k in sorted(attributes)) + ")"
    return line


def cmd_events(ctx: Context, argv: list[str]) -> int:
    opts, _ = ctx.parse("[OPTIONS]", "Get real time events from the server", EVENTS_FLAGS, argv, max_args=0)
    now = time.time()
    params = {
        "since": parse_since(opts["since"], now) if opts["since"] else None,
        "until": parse_since(opts["until"], now) if opts["until"] else None,
        "filters": parse_filters(opts["filter"]) or None,
    }
    template = opts["format"]
    if template:  # docker checks the template on an empty message first (exit 64, "status 64" of cobra's usage errors)
        try:
            render_template(template, message(EMPTY_MESSAGE))
        except TemplateError as e:
            raise CLIError(f"Error parsing format: {e}", 64) from None
    resp = ctx.client.request("GET", "/events", params=params)
    try:
        for event in resp.iter_json():
            try:
                ctx.out(render_template(template, message(event)) if template else format_event(event))
            except TemplateError as e:
                raise CLIError(f"Error parsing format: {e}") from None
            ctx.stdout.flush()
    except KeyboardInterrupt:
        return 0
    finally:
        resp.close()
    return 0
