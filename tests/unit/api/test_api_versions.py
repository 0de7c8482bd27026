"""What the Engine API version a client asks for changes in Pouch's answers (moby's
docs/api/version-history.md, v1.42-v1.45)."""

from __future__ import annotations

import pytest

from pouch import API_VERSION, MIN_API_VERSION
from pouch.api import versions
from pouch.errors import InvalidArgument


def test_the_api_is_the_one_docker_28_negotiates_down_to_and_old_clients_stay():
    assert versions.parse(API_VERSION) >= (1, 45)
    assert MIN_API_VERSION == "1.24"
    assert versions.at_least("1.45", "1.44") and not versions.at_least("1.41", "1.44")
    assert versions.at_least("1.9", "1.10") is False  # numeric, not lexical


IMAGE = {"Id": "sha256:1", "Container": "", "ContainerConfig": {"Cmd": None}, "Config": {"Cmd": ["sh"]},
         "Size": 10, "VirtualSize": 10}


def test_image_inspect_drops_virtual_size_at_1_44_and_container_config_at_1_45():
    assert versions.image_inspect_for(IMAGE, "1.41") == IMAGE
    v144 = versions.image_inspect_for(IMAGE, "1.44")
    assert "VirtualSize" not in v144 and "ContainerConfig" in v144
    v145 = versions.image_inspect_for(IMAGE, "1.45")
    assert set(v145) == {"Id", "Config", "Size"}


def test_image_summary_drops_virtual_size_at_1_44():
    summary = {"Id": "sha256:1", "Size": 3, "VirtualSize": 3}
    assert versions.image_summary_for(summary, "1.43") == summary
    assert versions.image_summary_for(summary, "1.44") == {"Id": "sha256:1", "Size": 3}


CONTAINER = {
    "Id": "0123456789abcdef" * 4, "Name": "/web", "Config": {"Hostname": "0123456789ab"},
    "NetworkSettings": {"Networks": {
        "bridge": {"Aliases": None, "IPAddress": "10.0.0.2"},
        "app": {"Aliases": ["www", "0123456789ab"], "IPAddress": "10.1.0.2"},
    }},
}


def test_container_inspect_dns_names_at_1_44_and_aliases_as_given_at_1_45():
    old = versions.container_inspect_for(CONTAINER, "1.41")
    assert "DNSNames" not in old["NetworkSettings"]["Networks"]["app"]
    v144 = versions.container_inspect_for(CONTAINER, "1.44")["NetworkSettings"]["Networks"]
    assert v144["app"]["DNSNames"] == ["web", "www", "0123456789ab"]
    assert v144["app"]["Aliases"] == ["www", "0123456789ab"]
    assert v144["bridge"]["DNSNames"] is None  # the default bridge has no DNS
    v145 = versions.container_inspect_for(CONTAINER, "1.45")["NetworkSettings"]["Networks"]
    assert v145["app"]["Aliases"] == ["www"]
    assert v145["app"]["DNSNames"] == ["web", "www", "0123456789ab"]
    assert CONTAINER["NetworkSettings"]["Networks"]["app"]["Aliases"] == ["www", "0123456789ab"]  # not mutated


def test_build_cache_parent_becomes_parents_at_1_42():
    entry = {"ID": "x", "Parent": "", "Type": "regular"}
    assert versions.build_cache_for(entry, "1.41") == entry
    assert versions.build_cache_for(entry, "1.42") == {"ID": "x", "Parents": [], "Type": "regular"}


def test_console_size_is_honoured_from_1_42():
    body = {"Tty": True, "HostConfig": {"ConsoleSize": [30, 100]}}
    assert versions.console_size_for(body, "1.41") == (0, 0)
    assert versions.console_size_for(body, "1.42") == (30, 100)
    assert versions.console_size_for({"HostConfig": {"ConsoleSize": None}}, "1.45") == (0, 0)
    with pytest.raises(InvalidArgument):
        versions.console_size_for({"HostConfig": {"ConsoleSize": [30]}}, "1.45")
