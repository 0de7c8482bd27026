"""Rendezvous between ``start`` and clients attaching to a created container.

The docker CLI attaches *before* it starts a container and expects every byte
of output. conmon's attach socket only exists once conmon has run ``runc
create``, and the container's process runs only after ``runc start``. So
``start`` opens the gate between those two steps and waits (briefly) until
every client that was waiting has connected to the socket.
"""

from __future__ import annotations

import threading
import time


class AttachGate:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: dict[str, int] = {}
        self._open: set[str] = set()

    def wait_open(self, container_id: str, timeout: float | None = None) -> bool:
        """Block until ``start`` opens the gate for this container; the caller must then
        call ``connected`` (also when it failed to connect)."""
        with self._cond:
            self._waiting[container_id] = self._waiting.get(container_id, 0) + 1
            ok = self._cond.wait_for(lambda: container_id in self._open, timeout)
            if not ok:
                self._leave(container_id)
            return ok

    def connected(self, container_id: str) -> None:
        with self._cond:
            self._leave(container_id)
            self._cond.notify_all()

    def _leave(self, container_id: str) -> None:
        left = self._waiting.get(container_id, 0) - 1
        if left > 0:
            self._waiting[container_id] = left
        else:
            self._waiting.pop(container_id, None)

    def open_and_wait(self, container_id: str, timeout: float = 5.0) -> None:
        """Let waiting clients connect, and return once they all have (or on timeout)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._open.add(container_id)
            self._cond.notify_all()
            while self._waiting.get(container_id, 0) > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)

    def close(self, container_id: str) -> None:
        with self._cond:
            self._open.discard(container_id)
