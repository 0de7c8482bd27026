"""Volume routes (Docker Engine API v1.41): ``GET /volumes``, ``POST /volumes/create``,
``GET /volumes/{name}``, ``DELETE /volumes/{name}``, ``POST /volumes/prune``.

Thin handlers over ``pouch.volumes.service.VolumeService``; ``volume_json`` is Docker's
``Volume`` object.
"""

from __future__ import annotations

from typing import Any

from pouch.api.filters import parse_filters
from pouch.api.server import Request, Response, Router, empty_response, json_response
from pouch.errors import InvalidArgument
from pouch.metadata.volumes import Volume


def add_volume_routes(router: Router, engine) -> None:
    routes = VolumeRoutes(engine.volumes)
    router.add("GET", "/volumes", routes.list)
    router.add("POST", "/volumes/create", routes.create)
    router.add("POST", "/volumes/prune", routes.prune)
    router.add("GET", "/volumes/{name}", routes.inspect)
    router.add("DELETE", "/volumes/{name}", routes.remove)


def volume_json(v: Volume, mountpoint: str) -> dict[str, Any]:
    return {
        "CreatedAt": v.created,
        "Driver": v.driver,
        "Labels": dict(v.labels) or None,
        "Mountpoint": mountpoint,
        "Name": v.name,
        "Options": dict(v.options) or None,
        "Scope": "local",
    }


def _str_map(body: dict, key: str) -> dict[str, str]:
    value = body.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidArgument(f"{key}: expected an object of strings")
    return value


class VolumeRoutes:
    def __init__(self, service) -> None:
        self.service = service

    def _json(self, v: Volume) -> dict[str, Any]:
        return volume_json(v, self.service.data_path(v.name))

    def list(self, req: Request) -> Response:
        volumes = self.service.list(parse_filters(req.query_str("filters")))
        return json_response({"Volumes": [self._json(v) for v in volumes], "Warnings": None})

    def create(self, req: Request) -> Response:
        body = req.json()
        if not isinstance(body, dict):
            raise InvalidArgument("request body must be a JSON object")
        for key in ("Name", "Driver"):
            if not isinstance(body.get(key) or "", str):
                raise InvalidArgument(f"{key}: expected a string")
        v = self.service.create(body.get("Name") or "", body.get("Driver") or "",
                                _str_map(body, "Labels"), _str_map(body, "DriverOpts"))
        return json_response(self._json(v), status=201)

    def inspect(self, req: Request) -> Response:
        return json_response(self._json(self.service.get(req.params["name"])))

    def remove(self, req: Request) -> Response:
        self.service.remove(req.params["name"], force=req.query_bool("force"))
        return empty_response(204)

    def prune(self, req: Request) -> Response:
        removed, space = self.service.prune(parse_filters(req.query_str("filters")))
        return json_response({"VolumesDeleted": removed or None, "SpaceReclaimed": space})
