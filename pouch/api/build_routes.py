"""``POST /build`` (Docker Engine API v1.41, the legacy builder's wire format).

The body is the build context as a tar (plain or compressed, as the docker CLI
and docker-py send it); it is unpacked under the image store's tmp dir (names
kept inside it), the Dockerfile is parsed before the answer starts (a bad one is
a 400), then the steps stream as JSON lines; a failure mid-build ends the stream
with ``{"errorDetail": {"message": m}, "error": m}``.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Iterator

from pouch.api.server import Request, Response, Router, stream_response
from pouch.archive import unpack_into
from pouch.build.builder import Builder, BuildError, BuildOptions
from pouch.errors import InvalidArgument, PouchError
from pouch.registry.auth import Credentials

log = logging.getLogger(__name__)


def add_build_routes(router: Router, engine) -> None:
    routes = BuildRoutes(engine)
    router.add("POST", "/build", routes.build)


def _json_map(req: Request, name: str) -> dict[str, str]:
    raw = req.query_str(name)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidArgument(f"{name}: invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{name} must be a JSON object")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def build_options(req: Request):
    if req.query_str("remote"):
        raise InvalidArgument(f"building from a remote context ({req.query_str('remote')}) is not supported: "
                              "send the context as the request body (a tar)")
    return BuildOptions(
        tags=tuple(t for t in req.query.get("t", []) if t),
        dockerfile=req.query_str("dockerfile") or "Dockerfile",
        build_args=_json_map(req, "buildargs"),
        target=req.query_str("target"),
        no_cache=req.query_bool("nocache"),
        remove=req.query_bool("rm", True),
        force_remove=req.query_bool("forcerm"),
        labels=_json_map(req, "labels"),
    )


def _unpack_context(stream, target: str) -> None:
    """The context tar (plain or gzip) unpacked safely: no entry lands outside ``target``."""
    unpack_into(stream, target)


def _encode(msg: dict) -> bytes:
    return json.dumps(msg).encode() + b"\r\n"


def _lines(messages: Iterator[dict], quiet: bool) -> Iterator[bytes]:
    """The JSON lines of a build. ``q=1`` (Docker's SuppressOutput): the steps' output is
    held back and only the image id is sent at the end (``aux`` and ``{"stream": id}``); a
    failure sends what was held back, then the error, so the user still sees why."""
    if not quiet:
        for msg in messages:
            yield _encode(msg)
        return
    held: list[dict] = []
    image_id = ""
    try:
        for msg in messages:
            if isinstance(msg.get("aux"), dict) and msg["aux"].get("ID"):
                image_id = msg["aux"]["ID"]
                yield _encode(msg)
            else:
                held.append(msg)
    except BaseException:
        for msg in held:
            yield _encode(msg)
        raise
    yield _encode({"stream": image_id + "\n"})


class BuildRoutes:
    def __init__(self, engine) -> None:
        self.engine = engine

    def build(self, req: Request) -> Response:
        opts = build_options(req)
        work = tempfile.mkdtemp(prefix="build-context-", dir=self.engine.images.tmp_dir)
        try:
            _unpack_context(req.stream(), work)
            builder = Builder(self.engine, work, opts, pull=self._puller())
            builder.pull_missing()
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return stream_response(self._run(builder, work, req.query_bool("q")))

    def _puller(self):
        def pull(name: str) -> list[dict]:
            events: list[dict] = []
            self.engine.registry_service().pull(name, Credentials(), "", events.append)
            return events

        return pull

    def _run(self, builder, work: str, quiet: bool) -> Iterator[bytes]:
        try:
            yield from _lines(builder.run(), quiet)
        except PouchError as exc:
            log.info("build failed: %s", exc)
            message = str(exc)
            yield _encode({"errorDetail": {"message": message, **_code(exc)}, "error": message})
        except Exception as exc:  # noqa: BLE001 - a bug must still end the stream readably
            log.exception("build failed")
            message = f"build failed: {exc}"
            yield _encode({"errorDetail": {"message": message}, "error": message})
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _code(exc: PouchError) -> dict:
    return {"code": exc.code} if isinstance(exc, BuildError) else {}
