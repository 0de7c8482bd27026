"""``POST /containers/{id}/upgrade`` (PouchContainer's API): a container's image replaced in place.

The body is PouchContainer's ``ContainerUpgradeConfig``: ``Image`` (the new image, required
there; empty here keeps the container's own), ``Entrypoint`` and ``Cmd`` (lists; absent or null
keeps the container's). 200 with no body once the container runs (or stays stopped) on the new
image; 404 for an unknown container or image, 409 for a container in a transition, 400 for a
request that changes nothing, 500 when the new container could not start (the old one is back:
the message says why). The work is ``services/upgrade.py``'s.
"""

from __future__ import annotations

from typing import Any

from pouch.api.server import Request, Response, Router, empty_response
from pouch.errors import InvalidArgument
from pouch.services.upgrade_plan import UpgradeRequest


def add_upgrade_routes(router: Router, engine) -> None:
    router.add("POST", "/containers/{id}/upgrade", lambda req: upgrade(engine, req))


def upgrade(engine, req: Request) -> Response:
    engine.upgrades.upgrade(req.params["id"], upgrade_request_from_docker(req.json()))
    return empty_response(200)


def upgrade_request_from_docker(body: Any) -> UpgradeRequest:
    """PouchContainer's ``ContainerUpgradeConfig`` → an :class:`UpgradeRequest` (pure)."""
    if not isinstance(body, dict):
        raise InvalidArgument("request body must be a JSON object")
    image = body.get("Image") or ""
    if not isinstance(image, str):
        raise InvalidArgument("Image must be a string")
    return UpgradeRequest(image=image, entrypoint=_strings(body, "Entrypoint"), cmd=_strings(body, "Cmd"))


def _strings(body: dict, key: str) -> tuple[str, ...] | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, str):  # Docker's strslice: one string is one element
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"{key} must be a list of strings")
    return tuple(value)
