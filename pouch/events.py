"""The daemon's event stream (`GET /events`, `pouch events`), kept in memory as dockerd does.

Every service that changes something a user can see reports it with
``events.emit(type, action, actor_id, attributes)``; ``type`` and ``action`` are
Docker's words (``container``/``create``, ``image``/``pull``, ``network``/``connect``,
``volume``/``destroy``...). The bus keeps the last ``capacity`` events so
``--since`` can replay them, and hands new ones to every subscriber.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

CAPACITY = 1024  # dockerd keeps 256; a little more history costs nothing here


@dataclass(frozen=True)
class Event:
    type: str  # container, image, network, volume, daemon
    action: str  # create, start, die, health_status: healthy, pull, connect...
    actor_id: str
    attributes: dict[str, str] = field(default_factory=dict)
    time_nano: int = 0

    def to_docker(self) -> dict:
        """The JSON object `GET /events` sends (Docker API 1.41, with the legacy keys)."""
        obj: dict = {
            "Type": self.type,
            "Action": self.action,
            "Actor": {"ID": self.actor_id, "Attributes": dict(self.attributes)},
            "scope": "local",
            "time": self.time_nano // 1_000_000_000,
            "timeNano": self.time_nano,
        }
        if self.type == "container" or self.type == "image":
            obj["status"] = self.action
            obj["id"] = self.actor_id
            if "image" in self.attributes:
                obj["from"] = self.attributes["image"]
        return obj


class EventBus:
    """Thread-safe ring buffer plus blocking subscription."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._events: collections.deque[Event] = collections.deque(maxlen=capacity)
        self._changed = threading.Condition()
        self._closed = False

    def emit(self, type_: str, action: str, actor_id: str, attributes: dict[str, str] | None = None) -> Event:
        event = Event(type_, action, actor_id, dict(attributes or {}), time.time_ns())
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()
        return event

    def history(self, since_nano: int = 0, until_nano: int | None = None) -> list[Event]:
        with self._changed:
            return [e for e in self._events
                    if e.time_nano >= since_nano and (until_nano is None or e.time_nano <= until_nano)]

    def follow(self, since_nano: int | None, until_nano: int | None = None,
               stop: threading.Event | None = None, poll: float = 0.5) -> Iterator[Event]:
        """Past events from ``since_nano`` (none when None), then new ones as they come,
        until ``until_nano`` passes, ``stop`` is set or the bus is closed."""
        with self._changed:
            last = self._events[-1].time_nano if self._events else 0
        if since_nano is not None:
            for event in self.history(since_nano, until_nano):
                yield event
        while not self._closed and (stop is None or not stop.is_set()):
            if until_nano is not None and time.time_ns() > until_nano:
                return
            with self._changed:
                fresh = [e for e in self._events if e.time_nano > last]
                if not fresh:
                    self._changed.wait(poll)
                    fresh = [e for e in self._events if e.time_nano > last]
            for event in fresh:
                last = event.time_nano
                if until_nano is not None and event.time_nano > until_nano:
                    return
                yield event

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
