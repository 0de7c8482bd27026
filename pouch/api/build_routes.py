"""``POST /build`` (Docker Engine API v1.41, the legacy builder's wire format).

The body is the build context as a tar (plain or compressed, as the docker CLI
and docker-py send it); it is unpacked under the image store's tmp dir (names
kept inside it), the Dockerfile is parsed before the answer starts (a bad one is
a 400), then the steps stream as JSON lines (the engine's typed progress rendered by
:mod:`pouch.api.progress_json`); a failure mid-build ends the stream with
``{"errorDetail": {"message": m}, "error": m}``.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator

from pouch.api.progress_json import build_lines, encode_build, error_json
from pouch.api.server import Request, Response, Router, stream_response
from pouch.archive import open_decompressed, unpack_into
from pouch.build.builder import Builder, BuildError, BuildOptions
from pouch.build.context_tar import CompleteTar
from pouch.errors import InvalidArgument, PouchError
from pouch.models import parse_network_mode

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
        extra_hosts=tuple(_extra_host(h) for h in req.query.get("extrahosts", []) if h),
        network_mode=_network_mode(req.query_str("networkmode")),
        cache_from=tuple(_json_list(req, "cachefrom")),
    )


def _extra_host(text: str) -> str:
    """``name:ip`` (the docker CLI also takes ``name=ip``, and sends it so from some versions)."""
    name, sep, ip = text.partition("=") if "=" in text else text.partition(":")
    if not sep or not name or not ip:
        raise InvalidArgument(f"invalid extra host {text!r}: use name:ip")
    return f"{name}:{ip}"


def _network_mode(text: str) -> str:
    """``networkmode``: dockerd's classic builder runs RUN steps on ``default`` (the bridge), ``host``,
    ``none`` or a network; ``container:X`` as well."""
    mode = "bridge" if text in ("", "default") else text
    parse_network_mode(mode)  # a 400 naming the accepted modes
    return mode


def _json_list(req: Request, name: str) -> list[str]:
    raw = req.query_str(name)
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidArgument(f"{name}: invalid JSON: {exc}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"{name} must be a JSON array of strings")
    return [v for v in value if v]


def _unpack_context(stream, target: str) -> None:
    """The context tar (plain or gzip) unpacked safely: no entry lands outside ``target``; a tar cut
    after its last member's data, as the docker CLI sends one with ``-f ../Dockerfile``, read whole."""
    with open_decompressed(stream) as plain:
        unpack_into(CompleteTar(plain), target)


class BuildRoutes:
    def __init__(self, engine) -> None:
        self.builds = engine.builds

    def build(self, req: Request) -> Response:
        opts = build_options(req)
        work = self.builds.context_dir()
        try:
            _unpack_context(req.stream(), work)
            builder = self.builds.prepare(work, opts)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return stream_response(_run(builder, work, req.query_bool("q")))


def _run(builder: Builder, work: str, quiet: bool) -> Iterator[bytes]:
    try:
        yield from build_lines(builder.run(), quiet)
    except PouchError as exc:
        log.info("build failed: %s", exc)
        yield encode_build(error_json(str(exc), exc.code if isinstance(exc, BuildError) else None))
    except Exception as exc:  # noqa: BLE001 - a bug must still end the stream readably
        log.exception("build failed")
        yield encode_build(error_json(f"build failed: {exc}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
