"""``GET /events``: the daemon's events as dockerd streams them.

One JSON object per line, each sent (and flushed) as it happens; ``since`` replays
the kept history first; ``until`` ends the stream once it passes (at once when it is
in the past: the history only); ``filters`` are dockerd's (``pouch.events.event_matches``).
The stream also ends when the client goes away or pouchd shuts down.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from pouch.api import filters as api_filters
from pouch.api.events_json import event_to_docker
from pouch.api.server import Request, Response, Router, stream_response
from pouch.engine import Engine
from pouch.errors import InvalidArgument
from pouch.events import check_event_filters, event_matches, parse_timestamp


def add_events_routes(router: Router, engine: Engine) -> None:
    router.add("GET", "/events", lambda req: events(engine, req))


def events(engine: Engine, req: Request) -> Response:
    bus = engine.events
    filters = api_filters.parse_filters(req.query_str("filters"))
    check_event_filters(filters)
    now = time.time_ns()
    since = parse_timestamp(req.query_str("since"), now)
    until = parse_timestamp(req.query_str("until"), now)
    if since is not None and until is not None and until < since:
        raise InvalidArgument(f"`since` time ({req.query_str('since')}) cannot be after "
                              f"`until` time ({req.query_str('until')})")
    if until is not None and since is None:
        since = 0  # dockerd replays the kept events up to `until`

    def body() -> Iterator[bytes]:
        yield b""  # the head goes out now: clients wait for it before the first event
        for event in bus.follow(since, until, alive=lambda: not req.disconnected()):
            if event_matches(filters, event):
                yield json.dumps(event_to_docker(event)).encode() + b"\n"

    return stream_response(body(), content_type="application/json")
