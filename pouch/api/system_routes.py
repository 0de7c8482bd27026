"""Routes of the engine's housekeeping (Docker Engine API v1.41-1.45): thin handlers over
:mod:`pouch.services.prune`.

``POST /containers/prune?filters=`` (``{"ContainersDeleted", "SpaceReclaimed"}``),
``GET /system/df`` (``{"LayersSize", "Images", "Containers", "Volumes", "BuildCache"}``),
``POST /build/prune`` (``{"CachesDeleted", "SpaceReclaimed"}``).
"""

from __future__ import annotations

from pouch.api import filters as list_filters
from pouch.api import versions
from pouch.api.container_json import container_summary
from pouch.api.image_json import image_summary
from pouch.api.prune_json import build_cache_prune_json, container_prune_json
from pouch.api.server import Request, Response, Router, json_response
from pouch.api.volume_routes import volume_json
from pouch.services.prune import disk_usage, prune_build_cache, prune_containers


def add_system_routes(router: Router, engine) -> None:
    routes = SystemRoutes(engine)
    router.add("POST", "/containers/prune", routes.prune_containers)
    router.add("GET", "/system/df", routes.disk_usage)
    router.add("POST", "/build/prune", routes.prune_build_cache)


class SystemRoutes:
    def __init__(self, engine) -> None:
        self.engine = engine

    def prune_containers(self, req: Request) -> Response:
        report = prune_containers(self.engine, list_filters.parse_filters(req.query_str("filters")))
        return json_response(container_prune_json(report))

    def disk_usage(self, req: Request) -> Response:
        return json_response(disk_usage_json(self.engine, disk_usage(self.engine), req.api_version))

    def prune_build_cache(self, req: Request) -> Response:
        return json_response(build_cache_prune_json(prune_build_cache(self.engine, all_=req.query_bool("all"))))


def disk_usage_json(engine, usage, api_version: str) -> dict:
    """Docker's ``system.DiskUsage`` from :class:`pouch.services.prune.DiskUsage`, in the shape of
    the client's API version (:mod:`pouch.api.versions`)."""
    images = []
    for item in usage.images:
        summary = image_summary(item.record)
        summary.update(SharedSize=item.shared_size, Containers=item.containers)
        images.append(versions.image_summary_for(summary, api_version))
    containers = []
    for item in usage.containers:
        image = engine.images.get_or_none(item.container.image_id)
        containers.append(container_summary(item.container, image.image_config if image else None,
                                            size_rw=item.size_rw, size_root_fs=item.size_root_fs))
    volumes = [{**volume_json(item.volume, item.mountpoint), "UsageData": {"Size": item.size, "RefCount": item.ref_count}}
               for item in usage.volumes]
    cache = [versions.build_cache_for({"ID": entry.key.removeprefix("sha256:")[:25], "Parent": "", "Type": "regular",
              "Description": f"pouch build step: {entry.image_id.removeprefix('sha256:')[:12]}",
              "InUse": entry.in_use, "Shared": entry.shared, "Size": entry.size,
              "CreatedAt": "0001-01-01T00:00:00Z", "LastUsedAt": None, "UsageCount": 0}, api_version)
             for entry in usage.build_cache]
    return {"LayersSize": usage.layers_size, "Images": images, "Containers": containers, "Volumes": volumes,
            "BuildCache": cache}
