"""The daemon's event stream (`GET /events`, `pouch events`), kept in memory as dockerd does.

Every service that changes something a user can see reports it with
``events.emit(type, action, actor_id, attributes)``; ``type`` and ``action`` are
Docker's words (``container``/``create``, ``image``/``pull``, ``network``/``connect``,
``volume``/``destroy``...). The bus keeps the last ``capacity`` events so
``--since`` can replay them, and hands new ones to every subscriber.

Container events carry Docker's attributes: the container's labels, ``name`` and
``image`` (``container_attributes``), plus ``exitCode`` (die), ``signal`` (kill),
``execID`` (exec_*), ``oldName`` (rename). Health changes are the action
``health_status: healthy`` (or ``unhealthy``/``starting``); exec events are
``exec_create: CMD ARGS``, ``exec_start: CMD ARGS``, ``exec_die``.

Events are typed values (``Event``); ``event_matches`` is dockerd's filter
(``daemon/events/filter.go``) over them, pure. Docker's JSON of an event is written
only by the API (``pouch.api.events_json``).
"""

from __future__ import annotations

import collections
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pouch.errors import InvalidArgument
from pouch.labels import labels_match
from pouch.models import Container

CAPACITY = 1024  # dockerd keeps 256; a little more history costs nothing here
EVENT_FILTERS = ("container", "daemon", "event", "image", "label", "network", "scope", "type", "volume",
                 "plugin", "node", "service", "secret", "config")
EVENT_TYPES = ("builder", "config", "container", "daemon", "image", "network", "node", "plugin", "secret",
               "service", "volume")


@dataclass(frozen=True)
class Event:
    """Something that happened to an object a user can see (the actor: a container's id,
    an image's id or reference, a network's id, a volume's name)."""

    type: str  # container, image, network, volume, daemon
    action: str  # create, start, die, health_status: healthy, pull, connect...
    actor_id: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    time_nano: int = 0  # nanoseconds since the epoch
    seq: int = 0  # order of emission (times may repeat or, with a clock step, go back)
    scope: str = "local"  # this daemon's (swarm's events would be "swarm")

    @property
    def time(self) -> int:
        """Seconds since the epoch."""
        return self.time_nano // 1_000_000_000


def container_attributes(c: Container, **extra: object) -> dict[str, str]:
    """Docker's attributes of a container event: its labels, ``image`` and ``name`` (then ``extra``)."""
    attributes = {str(k): str(v) for k, v in (c.options.labels or {}).items()}
    attributes["image"] = c.image_ref
    attributes["name"] = c.name
    attributes.update({k: str(v) for k, v in extra.items()})
    return attributes


class EventBus:
    """Thread-safe ring buffer plus blocking subscription."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._events: collections.deque[Event] = collections.deque(maxlen=capacity)
        self._changed = threading.Condition()
        self._closed = False
        self._seq = itertools.count(1)
        self._listeners = 0  # open follow() streams

    def emit(self, type_: str, action: str, actor_id: str, attributes: dict[str, str] | None = None) -> Event:
        with self._changed:
            event = Event(type_, action, actor_id, dict(attributes or {}), time.time_ns(), next(self._seq))
            self._events.append(event)
            self._changed.notify_all()
        return event

    @property
    def listeners(self) -> int:
        """Streams following the bus now (``info``'s NEventsListener)."""
        with self._changed:
            return self._listeners

    def emit_container(self, c: Container, action: str, **extra: object) -> Event:
        """A container event with Docker's attributes (``container_attributes``)."""
        return self.emit("container", action, c.id, container_attributes(c, **extra))

    def history(self, since_nano: int = 0, until_nano: int | None = None) -> list[Event]:
        with self._changed:
            return [e for e in self._events
                    if e.time_nano >= since_nano and (until_nano is None or e.time_nano <= until_nano)]

    def follow(self, since_nano: int | None, until_nano: int | None = None,
               stop: threading.Event | None = None, poll: float = 0.5,
               alive: Callable[[], bool] | None = None) -> Iterator[Event]:
        """Past events from ``since_nano`` (none when None), then new ones as they come,
        until ``until_nano`` passes, ``stop`` is set, ``alive()`` turns false or the bus
        is closed. ``until_nano`` in the past: the past events only (dockerd's ``onlyPastEvents``)."""
        with self._changed:
            last = self._events[-1].seq if self._events else 0
            past = self.history(since_nano, until_nano) if since_nano is not None else []  # (reentrant lock)
            self._listeners += 1
        try:
            yield from past
            yield from self._follow_new(last, until_nano, stop, poll, alive)
        finally:
            with self._changed:
                self._listeners -= 1

    def _follow_new(self, last: int, until_nano: int | None, stop: threading.Event | None, poll: float,
                    alive: Callable[[], bool] | None) -> Iterator[Event]:
        while not self._closed and (stop is None or not stop.is_set()) and (alive is None or alive()):
            now = time.time_ns()
            if until_nano is not None and now > until_nano:
                return
            wait = poll if until_nano is None else max(0.0, min(poll, (until_nano - now) / 1e9))
            with self._changed:
                fresh = [e for e in self._events if e.seq > last]
                if not fresh:
                    self._changed.wait(wait)
                    fresh = [e for e in self._events if e.seq > last]
            for event in fresh:
                last = event.seq
                if until_nano is not None and event.time_nano > until_nano:
                    return
                yield event

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()


# --- since / until ----------------------------------------------------------------------------

_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
                   "m": 60_000_000_000, "h": 3_600_000_000_000}


def parse_timestamp(text: str, now_nano: int) -> int | None:
    """``since``/``until`` of ``GET /events`` in nanoseconds: ``seconds[.fraction]`` (what
    clients send), also an RFC 3339 date or a Go duration before now (``10m``); "" is None."""
    text = text.strip()
    if not text:
        return None
    if re.fullmatch(r"-?\d+(\.\d{1,9})?", text):
        seconds, _, fraction = text.partition(".")
        nanos = int(fraction.ljust(9, "0")) if fraction else 0
        return int(seconds) * 1_000_000_000 + (-nanos if seconds.startswith("-") else nanos)
    if re.fullmatch(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", text):
        total = sum(float(n) * _DURATION_UNITS[u] for n, _, u in re.findall(r"(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)", text))
        return now_nano - int(total)
    try:
        when = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00")))
    except ValueError:
        raise InvalidArgument(f"invalid time value {text!r}: expected seconds since the epoch, "
                              "an RFC 3339 date or a duration") from None
    if when.tzinfo is None:
        when = when.astimezone()
    return int(when.astimezone(UTC).timestamp() * 1_000_000_000)


# --- filters (dockerd's daemon/events/filter.go) ------------------------------------------------


def _exact(filters: Mapping[str, list[str]], key: str, value: str) -> bool:
    values = filters.get(key)
    return not values or value in values


def _fuzzy(filters: Mapping[str, list[str]], key: str, value: str) -> bool:
    """moby's ``Args.FuzzyMatch``: equal or a prefix (ids by their short form)."""
    values = filters.get(key)
    return not values or any(value.startswith(v) for v in values)


def _strip_tag(ref: str) -> str:
    name = ref.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def check_event_filters(filters: Mapping[str, list[str]]) -> None:
    for key, values in filters.items():
        if key not in EVENT_FILTERS:
            raise InvalidArgument(f"invalid filter '{key}'")
        if key == "type":
            for value in values:
                if value not in EVENT_TYPES:
                    raise InvalidArgument(f"Unknown event type: {value}")


def event_matches(filters: Mapping[str, list[str]], event: Event) -> bool:
    """Whether ``event`` passes ``docker events --filter``: values of one key are OR-ed,
    keys AND-ed; a ``container``/``image``/``network``/``volume`` filter keeps only events
    about that object, as dockerd does."""
    if not filters:
        return True
    action = event.action
    fuzzy_actions = {"health_status", "exec_create", "exec_start"}
    if any(v in fuzzy_actions for v in filters.get("event", ())):
        if not _fuzzy(filters, "event", action):
            return False
    elif not _exact(filters, "event", action):
        return False
    if not _exact(filters, "type", event.type) or not _exact(filters, "scope", event.scope):
        return False
    attrs = event.attributes

    def by_name(kind: str) -> bool:
        if not filters.get(kind):
            return True
        return event.type == kind and (_fuzzy(filters, kind, event.actor_id) or _fuzzy(filters, kind, attrs.get("name", "")))

    if not all(by_name(kind) for kind in ("container", "network", "volume", "plugin", "service", "secret", "config",
                                          "node")):
        return False
    if filters.get("daemon") and not (event.type == "daemon" and (
            _exact(filters, "daemon", event.actor_id) or _exact(filters, "daemon", attrs.get("name", "")))):
        return False
    if images := filters.get("image"):
        name = attrs.get("name" if event.type == "image" else "image", "")
        candidates = {event.actor_id, name, _strip_tag(event.actor_id), _strip_tag(name)}
        if not candidates & set(images):
            return False
    if labels := filters.get("label"):
        if not labels_match(labels, attrs):
            return False
    return True


__all__ = ["Event", "EventBus", "check_event_filters", "container_attributes", "event_matches", "parse_timestamp"]
