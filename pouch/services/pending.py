"""Removals in progress, journaled under ``<root>/pending-removal/<id>.json``.

The marker is the removal's intent, written before anything is removed: by ``rm`` (``-f``
included) before the container is killed, and for an exited ``--rm`` container before its
record goes (it is removed for clients first and torn down after). It carries what the
teardown needs once the record is gone (the network attachment) and the anonymous volumes
that go with the container (``rm -v``, ``--rm``), so ``recover`` finishes a removal the daemon
did not live to finish (``services/reconcile.py``) and the marker goes when it is done.

A create is journaled the same way (``creating``) from the moment its volumes exist until its
record is written: cut short before that, ``recover`` removes what it made; after, the create
was done and only the marker goes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pouch.jsonfile import write_json_atomic
from pouch.models import NetworkAttachment


@dataclass(frozen=True)
class Removal:
    """One journaled removal."""

    container_id: str
    attachment: NetworkAttachment | None = None  # None too when the marker is unreadable
    volumes: tuple[str, ...] = ()  # the anonymous volumes to remove with it
    creating: bool = False  # a create's journal: undone only if its record was never written


def parse_marker(container_id: str, text: str) -> Removal:
    """A marker's content; an unreadable one still names the container (the file name)."""
    try:
        data = json.loads(text)
        attachment = NetworkAttachment.from_dict(data["network"]) if data.get("network") else None
        volumes = tuple(str(v) for v in data.get("volumes") or ())
        creating = data.get("creating") is True
    except (ValueError, KeyError, TypeError, AttributeError):
        return Removal(container_id)
    return Removal(container_id, attachment, volumes, creating)


class PendingRemovals:
    def __init__(self, root: str) -> None:
        self.directory = os.path.join(root, "pending-removal")

    def _marker(self, container_id: str) -> str:
        return os.path.join(self.directory, container_id + ".json")

    def mark(self, container_id: str, attachment: NetworkAttachment | None, volumes: Sequence[str] = (), *,
             creating: bool = False) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        write_json_atomic(self._marker(container_id), {"network": attachment.to_dict() if attachment else None,
                                                       "volumes": list(volumes), "creating": creating})

    def clear(self, container_id: str) -> None:
        try:
            os.unlink(self._marker(container_id))
        except FileNotFoundError:
            pass

    def entries(self) -> Iterator[Removal]:
        """The journaled removals, oldest first (by id: the order does not matter)."""
        names = sorted(os.listdir(self.directory)) if os.path.isdir(self.directory) else []
        for name in names:
            if name.endswith(".tmp"):  # a marker whose write was cut short: nothing was removed yet
                os.unlink(os.path.join(self.directory, name))
                continue
            if not name.endswith(".json"):
                continue
            try:
                with open(os.path.join(self.directory, name)) as f:
                    text = f.read()
            except OSError:
                text = ""
            yield parse_marker(name.removesuffix(".json"), text)
