"""``GET /distribution/{name}/json`` (Docker Engine API v1.30+, ``DistributionInspect``): what the
registry serves under an image name, as moby answers it -- the descriptor the name resolves to and
the platforms it offers. A thin handler over :mod:`pouch.registry.distribution`.
"""

from __future__ import annotations

from pouch.api.server import Request, Response, Router, json_response
from pouch.images import oci
from pouch.registry.auth import decode_registry_auth
from pouch.registry.distribution import DistributionInspect, inspect_distribution


def add_distribution_routes(router: Router, engine) -> None:
    router.add("GET", "/distribution/{name:path}/json", lambda req: inspect(engine, req))


def inspect(engine, req: Request) -> Response:
    creds = decode_registry_auth(req.headers.get("x-registry-auth", ""))
    service = engine.registry_service()
    found = inspect_distribution(service.config, req.params["name"], creds, service.timeout)
    return json_response(distribution_json(found))


def platform_json(p: oci.Platform) -> dict:
    """An OCI ``Platform`` as Go's ``ocispec.Platform`` marshals it (``variant`` omitted when empty)."""
    return {"architecture": p.architecture, "os": p.os, **({"variant": p.variant} if p.variant else {})}


def distribution_json(found: DistributionInspect) -> dict:
    return {"Descriptor": found.descriptor.to_oci(), "Platforms": [platform_json(p) for p in found.platforms]}
