"""The endpoints clients probe that Pouch answers as a Docker node outside any swarm does, and
``POST /session`` refused.

moby (``daemon/cluster``): on a node that never joined a swarm, every manager call answers 503
``This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this
node to swarm and try again.`` and ``POST /swarm/leave`` 503 ``This node is not part of a swarm``
(so a client that leaves a swarm during cleanup goes on). Pouch has no swarm mode: ``init`` and
``join`` are refused with 501 rather than pretending.

``POST /session`` (and ``POST /grpc``) is BuildKit's gRPC-over-hijack channel (file sync, secrets, ssh for builds);
Pouch has the classic builder only (``/_ping`` says ``Builder-Version: 1``), so it answers 501
before any upgrade: the docker client reports ``unable to upgrade to h2c, received 501``.
"""

from __future__ import annotations

from pouch.api.server import Request, Response, Router, error_response

NOT_A_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" '
                 "to connect this node to swarm and try again.")
NOT_IN_SWARM = "This node is not part of a swarm"
NO_SWARM_MODE = "swarm mode is not supported by Pouch"
NO_SESSIONS = "sessions (BuildKit) are not supported by Pouch: build with the classic builder (DOCKER_BUILDKIT=0)"

# moby's swarm routers: each collection, its items, and their sub-resources
_MANAGER_COLLECTIONS = ("nodes", "services", "tasks", "secrets", "configs")


def _unavailable(message: str, status: int = 503):
    def handler(req: Request) -> Response:
        return error_response(status, message)
    return handler


def add_swarm_routes(router: Router) -> None:
    manager = _unavailable(NOT_A_MANAGER)
    router.add("GET", "/swarm", manager)
    router.add("GET", "/swarm/unlockkey", manager)
    router.add("POST", "/swarm/update", manager)
    router.add("POST", "/swarm/unlock", manager)
    router.add("POST", "/swarm/leave", _unavailable(NOT_IN_SWARM))
    router.add("POST", "/swarm/init", _unavailable(NO_SWARM_MODE, 501))
    router.add("POST", "/swarm/join", _unavailable(NO_SWARM_MODE, 501))
    for name in _MANAGER_COLLECTIONS:
        for method in ("GET", "POST", "DELETE"):
            router.add(method, f"/{name}", manager)
            router.add(method, f"/{name}/{{rest:path}}", manager)
    router.add("POST", "/session", _unavailable(NO_SESSIONS, 501))
    router.add("POST", "/grpc", _unavailable(NO_SESSIONS, 501))  # BuildKit's API (buildx's docker driver probes it)
