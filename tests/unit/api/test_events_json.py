"""Docker's JSON of the typed events (``pouch.api.events_json``), key for key."""

from __future__ import annotations

from pouch.api.events_json import event_to_docker
from pouch.events import Event

NANO = 1_700_000_000_123_456_789


def test_container_event_has_the_legacy_keys():
    obj = event_to_docker(Event("container", "die", "c" * 64, {"image": "busybox", "exitCode": "3"}, NANO))
    assert obj == {"Type": "container", "Action": "die", "Actor": {"ID": "c" * 64, "Attributes": {
        "image": "busybox", "exitCode": "3"}}, "scope": "local", "time": 1_700_000_000,
        "timeNano": NANO, "status": "die", "id": "c" * 64, "from": "busybox"}
    assert list(obj) == ["Type", "Action", "Actor", "scope", "time", "timeNano", "status", "id", "from"]


def test_image_event_has_status_and_id_but_no_from():
    obj = event_to_docker(Event("image", "pull", "busybox:latest", {"name": "busybox:latest"}, NANO))
    assert obj == {"Type": "image", "Action": "pull", "Actor": {"ID": "busybox:latest", "Attributes": {
        "name": "busybox:latest"}}, "scope": "local", "time": 1_700_000_000, "timeNano": NANO,
        "status": "pull", "id": "busybox:latest"}


def test_network_and_volume_events_have_no_legacy_keys():
    net = event_to_docker(Event("network", "connect", "n" * 64, {"container": "c" * 64, "name": "bridge",
                                                                  "type": "bridge"}, NANO))
    assert net == {"Type": "network", "Action": "connect", "Actor": {"ID": "n" * 64, "Attributes": {
        "container": "c" * 64, "name": "bridge", "type": "bridge"}}, "scope": "local", "time": 1_700_000_000,
        "timeNano": NANO}
    vol = event_to_docker(Event("volume", "create", "data", {"driver": "local"}, NANO))
    assert set(vol) == {"Type", "Action", "Actor", "scope", "time", "timeNano"}


def test_health_status_event():
    obj = event_to_docker(Event("container", "health_status: healthy", "c" * 64, {"image": "bb", "name": "web"}, NANO))
    assert obj["Action"] == obj["status"] == "health_status: healthy" and obj["from"] == "bb"
