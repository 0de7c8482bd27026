"""``GET /containers/{id}/stats?stream=1|0&one-shot=0|1`` (Docker Engine API v1.41):
newline-separated stats JSON objects, one a second while streaming, or one object.
A thin handler over ``pouch.services.stats``; ``pouch.api.stats_json`` renders the samples."""

from __future__ import annotations

import json
from collections.abc import Iterator

from pouch.api.server import Request, Response, Router, stream_response
from pouch.api.stats_json import stats_to_docker
from pouch.engine import Engine


def add_stats_routes(router: Router, engine: Engine) -> None:
    router.add("GET", "/containers/{id}/stats", lambda req: stats(engine, req))


def stats(engine: Engine, req: Request) -> Response:
    service = engine.stats
    engine.containers.get(req.params["id"])  # 404 before the 200 head
    stream = req.query_bool("stream", True)
    one_shot = req.query_bool("one-shot", False)
    samples = service.samples(req.params["id"], stream=stream, one_shot=one_shot)

    def body() -> Iterator[bytes]:
        yield b""  # the head goes out at once (docker stats waits for it)
        for sample in samples:
            yield json.dumps(stats_to_docker(sample)).encode() + b"\n"

    return stream_response(body(), content_type="application/json")
