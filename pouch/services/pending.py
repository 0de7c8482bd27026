"""Removals in progress, journaled under ``<root>/pending-removal/<id>.json``.

An exited ``--rm`` container is removed for clients first and torn down after; the marker,
written before the record goes, carries what the teardown needs (the network attachment),
so ``recover`` can finish a teardown the daemon did not live to finish.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

from pouch.jsonfile import write_json_atomic
from pouch.models import NetworkAttachment


class PendingRemovals:
    def __init__(self, root: str) -> None:
        self.directory = os.path.join(root, "pending-removal")

    def _marker(self, container_id: str) -> str:
        return os.path.join(self.directory, container_id + ".json")

    def mark(self, container_id: str, attachment: NetworkAttachment | None) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        write_json_atomic(self._marker(container_id), {"network": attachment.to_dict() if attachment else None})

    def clear(self, container_id: str) -> None:
        try:
            os.unlink(self._marker(container_id))
        except FileNotFoundError:
            pass

    def entries(self) -> Iterator[tuple[str, NetworkAttachment | None]]:
        """(container id, its attachment or None when the marker is unreadable), oldest first."""
        names = sorted(os.listdir(self.directory)) if os.path.isdir(self.directory) else []
        for name in names:
            if name.endswith(".tmp"):  # a marker whose write was cut short: nothing was removed yet
                os.unlink(os.path.join(self.directory, name))
                continue
            if not name.endswith(".json"):
                continue
            attachment = None
            try:
                with open(os.path.join(self.directory, name)) as f:
                    data = json.load(f)
                if data.get("network"):
                    attachment = NetworkAttachment.from_dict(data["network"])
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                pass
            yield name.removesuffix(".json"), attachment
