"""Routes of networks (Docker Engine API v1.41): thin handlers over the network service
(``NetworkManager``) and, for connect/disconnect, the container service (which records
the container's endpoints and holds its lock).

``GET /networks``, ``GET /networks/{id}``, ``POST /networks/create``,
``DELETE /networks/{id}``, ``POST /networks/{id}/connect``,
``POST /networks/{id}/disconnect``, ``POST /networks/prune``.
"""

from __future__ import annotations

import time

from pouch.api import filters as list_filters
from pouch.api import network_json
from pouch.api.container_json import parse_time
from pouch.api.network_create_json import request_from_docker
from pouch.api.server import Request, Response, Router, empty_response, json_response
from pouch.engine import Engine
from pouch.errors import InvalidArgument
from pouch.events import parse_timestamp
from pouch.network import networks
from pouch.network.manager import NetworkManager


def add_network_routes(router: Router, engine: Engine) -> None:
    routes = NetworkRoutes(engine)
    router.add("GET", "/networks", routes.list)
    router.add("GET", "/networks/{id}", routes.inspect)
    router.add("POST", "/networks/create", routes.create)
    router.add("DELETE", "/networks/{id}", routes.remove)
    router.add("POST", "/networks/{id}/connect", routes.connect)
    router.add("POST", "/networks/{id}/disconnect", routes.disconnect)
    router.add("POST", "/networks/prune", routes.prune)


class NetworkRoutes:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def manager(self) -> NetworkManager:
        return self.engine.network

    def _json(self, rec: networks.NetworkRecord) -> dict:
        return network_json.network_json(rec, self.manager.members(rec))

    def list(self, req: Request) -> Response:
        filters = list_filters.parse_filters(req.query_str("filters"))
        network_json.check_filters(filters, network_json.NETWORK_FILTERS)
        out = []
        for rec in self.manager.records():
            members = self.manager.members(rec)
            if network_json.network_filter(rec, filters, in_use=bool(members)):
                out.append(network_json.network_json(rec, members))
        return json_response(out)

    def inspect(self, req: Request) -> Response:
        return json_response(self._json(self.manager.get(req.params["id"])))

    def create(self, req: Request) -> Response:
        rec = self.manager.create(request_from_docker(req.json()))
        return json_response({"Id": rec.id, "Warning": ""}, status=201)

    def remove(self, req: Request) -> Response:
        self.manager.remove(req.params["id"])
        return empty_response(204)

    def _container(self, body: object) -> str:
        if not isinstance(body, dict):
            raise InvalidArgument("request body must be a JSON object")
        container = body.get("Container")
        if not isinstance(container, str) or not container:
            raise InvalidArgument("Container is required: the container to connect or disconnect")
        return container

    def connect(self, req: Request) -> Response:
        body = req.json()
        container = self._container(body)
        rec = self.manager.get(req.params["id"])
        cfg = network_json.endpoint_config_from_docker(rec.name, body.get("EndpointConfig") or {}, "EndpointConfig")
        self.engine.containers.connect_network(container, rec.id, cfg)
        return empty_response(200)

    def disconnect(self, req: Request) -> Response:
        body = req.json()
        container = self._container(body)
        force = body.get("Force")
        if force is not None and not isinstance(force, bool):
            raise InvalidArgument("Force: expected a boolean")
        self.engine.containers.disconnect_network(container, req.params["id"], bool(force))
        return empty_response(200)

    def prune(self, req: Request) -> Response:
        filters = list_filters.parse_filters(req.query_str("filters"))
        network_json.check_filters(filters, network_json.PRUNE_FILTERS)
        until = _until(filters.get("until", []))

        def keep(rec: networks.NetworkRecord) -> bool:
            return network_json.prune_keeps(rec, filters, parse_time(rec.created), until)

        return json_response({"NetworksDeleted": self.manager.prune(keep) or None})


def _until(values: list[str]) -> float | None:
    """``until=`` of prune (the last one given): seconds since the epoch, an RFC 3339 date or a Go
    duration before now (``pouch.events.parse_timestamp``, as ``container prune`` reads it)."""
    if not values:
        return None
    try:
        nanos = parse_timestamp(values[-1], time.time_ns())
    except InvalidArgument:
        nanos = None
    if nanos is None:
        raise InvalidArgument(f"invalid filter 'until={values[-1]}'")
    return nanos / 1_000_000_000
