"""The event bus, dockerd's event filters, since/until parsing and `pouch events` output (pure)."""

from __future__ import annotations

import threading
import time

import pytest

from pouch.errors import InvalidArgument
from pouch.events import Event, EventBus, check_event_filters, event_matches, parse_timestamp
from tests.waiting import wait_until


def ev(type_="container", action="start", actor="a" * 64, **attributes) -> Event:
    return Event(type_, action, actor, attributes, time_nano=1)


def test_filters_by_type_event_container_image_and_label():
    start = ev(name="web", image="busybox:latest", tier="front")
    assert event_matches({}, start)
    assert event_matches({"type": ["container"]}, start)
    assert not event_matches({"type": ["image"]}, start)
    assert event_matches({"event": ["start", "die"]}, start)
    assert not event_matches({"event": ["die"]}, start)
    assert event_matches({"container": ["web"]}, start)
    assert event_matches({"container": ["aaaa"]}, start)  # an id prefix
    assert not event_matches({"container": ["db"]}, start)
    assert event_matches({"image": ["busybox"]}, start)  # the tag stripped
    assert event_matches({"image": ["busybox:latest"]}, start)
    assert not event_matches({"image": ["alpine"]}, start)
    assert event_matches({"label": ["tier=front"]}, start)
    assert event_matches({"label": ["tier"]}, start)
    assert not event_matches({"label": ["tier=back"]}, start)
    assert not event_matches({"container": ["web"], "event": ["die"]}, start)


def test_container_filter_keeps_only_that_containers_events():
    pull = ev("image", "pull", "busybox:latest", name="busybox:latest")
    assert not event_matches({"container": ["web"]}, pull)
    assert event_matches({"image": ["busybox"]}, pull)
    net = ev("network", "connect", "n" * 64, name="bridge", container="a" * 64)
    assert event_matches({"network": ["bridge"]}, net) and not event_matches({"network": ["other"]}, net)
    vol = ev("volume", "create", "data", driver="local")
    assert event_matches({"volume": ["data"]}, vol) and not event_matches({"volume": ["data"]}, net)


def test_health_status_and_exec_events_match_by_prefix():
    health = ev(action="health_status: healthy")
    assert event_matches({"event": ["health_status"]}, health)
    assert event_matches({"event": ["health_status: healthy"]}, health)
    assert not event_matches({"event": ["health_status: unhealthy"]}, health)
    assert event_matches({"event": ["exec_start"]}, ev(action="exec_start: sh -c true"))


def test_bad_filters_are_400s():
    check_event_filters({"type": ["container"], "event": ["x"]})
    with pytest.raises(InvalidArgument, match="invalid filter 'colour'"):
        check_event_filters({"colour": ["red"]})
    with pytest.raises(InvalidArgument, match="Unknown event type"):
        check_event_filters({"type": ["bogus"]})


def test_events_are_typed_values():
    event = Event("container", "die", "c" * 64, {"exitCode": "3"}, 1_700_000_000_123_456_789)
    assert event.time == 1_700_000_000 and event.scope == "local"
    assert event_matches({"scope": ["local"]}, event) and not event_matches({"scope": ["swarm"]}, event)
    bus = EventBus()
    emitted = bus.emit("volume", "create", "data", {"driver": "local"})
    assert (emitted.type, emitted.action, emitted.actor_id, dict(emitted.attributes)) == (
        "volume", "create", "data", {"driver": "local"})
    assert abs(emitted.time_nano - time.time_ns()) < 10**9 and bus.history() == [emitted]


def test_parse_timestamp():
    now = 2_000_000_000 * 10**9
    assert parse_timestamp("", now) is None
    assert parse_timestamp("1700000000", now) == 1_700_000_000 * 10**9
    assert parse_timestamp("1700000000.5", now) == 1_700_000_000_500_000_000
    assert parse_timestamp("1700000000.000000001", now) == 1_700_000_000_000_000_001
    assert parse_timestamp("10m", now) == now - 600 * 10**9
    assert parse_timestamp("1h30m", now) == now - 5400 * 10**9
    assert parse_timestamp("2023-11-14T22:13:20Z", now) == 1_700_000_000 * 10**9
    with pytest.raises(InvalidArgument, match="invalid time value"):
        parse_timestamp("yesterday", now)


def test_bus_replays_since_then_follows_until():
    bus = EventBus()
    first = bus.emit("container", "create", "x")
    started = time.monotonic()
    events = bus.follow(first.time_nano, time.time_ns() + 1_000_000_000, poll=0.05)
    assert next(events).action == "create"  # replayed: the follower is subscribed from here on
    bus.emit("container", "start", "x")
    bus.emit("container", "die", "x")
    assert [e.action for e in events] == ["start", "die"]  # then the stream ends once `until` passes
    assert time.monotonic() - started < 3


def test_bus_until_in_the_past_returns_history_only_and_ring_is_bounded():
    bus = EventBus(capacity=3)
    for action in ("a", "b", "c", "d"):
        bus.emit("container", action, "x")
    started = time.monotonic()
    assert [e.action for e in bus.follow(0, time.time_ns())] == ["b", "c", "d"]
    assert time.monotonic() - started < 1


def test_bus_follow_stops_when_the_client_goes_away_or_the_bus_closes():
    bus = EventBus()
    start = bus.emit("container", "start", "x")
    alive = [True]
    events = bus.follow(start.time_nano, alive=lambda: alive[0], poll=0.05)
    assert next(events).action == "start" and bus.listeners == 1
    alive[0] = False  # the client went away
    assert list(events) == [] and bus.listeners == 0
    t = threading.Thread(target=lambda: list(bus.follow(None)))
    t.start()
    wait_until(lambda: bus.listeners == 1, what="the second follower to subscribe")
    bus.close()
    t.join(5)
    assert not t.is_alive()


def test_pouch_events_line_format(monkeypatch):
    from pouch.cli.events import format_event

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        line = format_event({"Type": "container", "Action": "die", "timeNano": 1_700_000_000_000_000_042,
                             "Actor": {"ID": "abc", "Attributes": {"name": "web", "exitCode": "1", "image": "bb"}}})
    finally:
        monkeypatch.undo()
        time.tzset()
    assert line == "2023-11-14T22:13:20.000000042Z container die abc (exitCode=1, image=bb, name=web)"
