"""Docker's JSON of ``GET /containers/{id}/top`` (Engine API v1.41 ``ContainerTopOKBody``):
``Titles`` (the ``ps`` columns) and ``Processes`` (one list of fields per process)."""

from __future__ import annotations

from typing import Any

from pouch.services.top import TopResult


def top_to_docker(top: TopResult) -> dict[str, Any]:
    return {"Titles": list(top.titles), "Processes": [list(row) for row in top.processes]}


__all__ = ["top_to_docker"]
