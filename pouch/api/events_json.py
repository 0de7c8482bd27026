"""Docker's JSON of an event (Engine API v1.41 ``GET /events``, moby ``api/types/events``):
``Type``, ``Action``, ``Actor`` (``ID``, ``Attributes``), ``scope``, ``time``, ``timeNano``,
and for container and image events the legacy keys ``status``, ``id`` and ``from``
(the image), which older clients still read.
"""

from __future__ import annotations

from typing import Any

from pouch.events import Event

LEGACY_TYPES = ("container", "image")  # the types dockerd still writes status/id/from for


def event_to_docker(event: Event) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "Type": event.type,
        "Action": event.action,
        "Actor": {"ID": event.actor_id, "Attributes": dict(event.attributes)},
        "scope": event.scope,
        "time": event.time,
        "timeNano": event.time_nano,
    }
    if event.type in LEGACY_TYPES:
        obj["status"] = event.action
        obj["id"] = event.actor_id
        if "image" in event.attributes:
            obj["from"] = event.attributes["image"]
    return obj


__all__ = ["event_to_docker"]
