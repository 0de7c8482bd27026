"""Routes of the local image life cycle: commit, changes (diff), export, history, save (get), prune.

Thin handlers over ``pouch.services.commit`` and ``pouch.images.{commit,save,prune}``
(Docker Engine API v1.41: ``POST /commit``, ``GET /containers/{id}/changes``,
``GET /containers/{id}/export``, ``GET /images/{name}/history``,
``GET /images/get?names=``, ``GET /images/{name}/get``, ``POST /images/prune``).
``format=oci`` on the two ``get`` routes is Pouch's (``pouch save --format oci``).
"""

from __future__ import annotations

from pouch.api import filters as list_filters
from pouch.api.prune_json import image_prune_json
from pouch.api.server import Request, Response, Router, json_response, stream_response
from pouch.errors import InvalidArgument
from pouch.images.commit import history_with_sizes
from pouch.images.prune import parse_prune_filters, prune_images
from pouch.images.save import save_stream
from pouch.services.commit import changes as container_changes
from pouch.services.commit import commit_container, export_stream
from pouch.snapshots.overlay import chain_ids


def add_lifecycle_routes(router: Router, engine) -> None:
    routes = LifecycleRoutes(engine)
    router.add("POST", "/commit", routes.commit)
    router.add("GET", "/containers/{id}/changes", routes.changes)
    router.add("GET", "/containers/{id}/export", routes.export)
    router.add("GET", "/images/{name:path}/history", routes.history)
    router.add("GET", "/images/get", routes.save_many)
    router.add("GET", "/images/{name:path}/get", routes.save_one)
    router.add("POST", "/images/prune", routes.prune)


class LifecycleRoutes:
    def __init__(self, engine) -> None:
        self.engine = engine

    def commit(self, req: Request) -> Response:
        container = req.query_str("container")
        if not container:
            raise InvalidArgument("container is required")
        changes: list[str] = []
        for value in req.query.get("changes", []):  # docker CLI: one per line in one value; docker-py: repeated
            changes += [line for line in value.split("\n") if line.strip()]
        image_id = commit_container(
            self.engine, container, repo=req.query_str("repo"), tag=req.query_str("tag"),
            comment=req.query_str("comment"), author=req.query_str("author"), changes=tuple(changes),
            pause=req.query_bool("pause", True), body=req.json() or None,
        )
        return json_response({"Id": image_id}, status=201)

    def changes(self, req: Request) -> Response:
        return json_response(container_changes(self.engine, req.params["id"]) or None)

    def export(self, req: Request) -> Response:
        return stream_response(export_stream(self.engine, req.params["id"]), content_type="application/x-tar")

    def history(self, req: Request) -> Response:
        images = self.engine.images
        record = images.get(req.params["name"])
        sizes = []
        for chain in _chains(record):
            try:
                sizes.append(images.snapshots.stat(chain).size)
            except Exception:  # noqa: BLE001 - a missing snapshot shows as 0
                sizes.append(0)
        return json_response(history_with_sizes(record, sizes))

    def _save(self, refs: list[str], fmt: str) -> Response:
        return stream_response(save_stream(self.engine.images, refs, fmt or "docker"), content_type="application/x-tar")

    def save_many(self, req: Request) -> Response:
        refs = [n for value in req.query.get("names", []) for n in value.split(",") if n]
        return self._save(refs, req.query_str("format"))

    def save_one(self, req: Request) -> Response:
        return self._save([req.params["name"]], req.query_str("format"))

    def prune(self, req: Request) -> Response:
        dangling_only = parse_prune_filters(list_filters.parse_filters(req.query_str("filters")))
        result = prune_images(self.engine.images, dangling_only,
                              collect=lambda: self.engine.gc.collect().space_reclaimed)
        return json_response(image_prune_json(result))


def _chains(record) -> list[str]:
    return chain_ids(record.diff_ids)
