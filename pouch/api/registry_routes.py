"""``POST /images/create?fromImage=``, ``POST /images/{name}/push``, ``POST /auth``.

Pull and push run in a worker thread that reports progress into a queue: an
error before the first progress message is an ordinary HTTP error (404 for an
unknown image, 401 for refused credentials...), as moby answers before it has
flushed anything; later errors end the JSON stream with an ``error`` message. The
service reports typed progress; Docker's JSON lines are rendered here
(:mod:`pouch.api.progress_json`).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from pouch.api.progress_json import encode_registry, error_json, registry_progress_json
from pouch.api.server import Request, Response, json_response, stream_response
from pouch.errors import Internal, InvalidArgument, PouchError
from pouch.registry.auth import credentials_from_json, decode_registry_auth
from pouch.registry.progress import Emit

log = logging.getLogger(__name__)
_DONE = object()


def streamed(job: Callable[[Emit], object]) -> Response:
    events: queue.Queue = queue.Queue()

    def run() -> None:
        try:
            job(events.put)
            events.put(_DONE)
        except PouchError as exc:
            events.put(exc)
        except Exception as exc:  # noqa: BLE001 - reported to the client, logged here
            log.exception("registry operation failed")
            events.put(Internal(str(exc) or type(exc).__name__))

    threading.Thread(target=run, name="registry-job", daemon=True).start()
    first = events.get()
    if isinstance(first, PouchError):
        raise first

    def body():
        item = first
        while item is not _DONE:
            if isinstance(item, PouchError):
                yield encode_registry(error_json(item.message))
                return
            yield encode_registry(registry_progress_json(item))
            item = events.get()

    return stream_response(body(), content_type="application/json")


def pull(engine, req: Request) -> Response:
    image = req.query_str("fromImage")
    tag = req.query_str("tag")
    if tag:
        image += ("@" if tag.startswith("sha256:") else ":") + tag
    creds = decode_registry_auth(req.headers.get("x-registry-auth", ""))
    service = engine.registry_service()
    platform = req.query_str("platform")
    return streamed(lambda emit: service.pull(image, creds, platform, emit))


def push(engine, req: Request) -> Response:
    creds = decode_registry_auth(req.headers.get("x-registry-auth", ""))
    service = engine.registry_service()
    name, tag = req.params["name"], req.query_str("tag")
    engine.images.get(name + (f":{tag}" if tag else ""))  # 404 before anything streams
    return streamed(lambda emit: service.push(name, tag, creds, emit))


def auth(engine, req: Request) -> Response:
    body = req.json()
    if not isinstance(body, dict):
        raise InvalidArgument("invalid auth configuration")
    engine.registry_service().login(credentials_from_json(body))
    return json_response({"Status": "Login Succeeded", "IdentityToken": ""})
