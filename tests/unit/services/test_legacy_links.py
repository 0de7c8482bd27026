"""Legacy links' pure parts (services/links.py): dockerd's environment and hosts line."""

from __future__ import annotations

import pytest

from pouch.errors import InvalidArgument
from pouch.services.links import link_env, link_hosts, parse_link


def test_parse_link_forms():
    assert parse_link("db") == ("db", "db")
    assert parse_link("db:web-db") == ("db", "web-db")
    assert parse_link("/db:/app/web-db") == ("db", "web-db")  # as inspect shows it
    with pytest.raises(InvalidArgument):
        parse_link(":x")


def test_env_as_dockerd_builds_it():
    env = link_env("web-db", "app", ["PATH=/bin", "HOME=/root", "MODE=on", "EMPTY="], ["5432/tcp", "53/udp"],
                   "10.0.0.5")
    assert env == [
        "WEB_DB_PORT=udp://10.0.0.5:53",
        "WEB_DB_PORT_53_UDP=udp://10.0.0.5:53", "WEB_DB_PORT_53_UDP_ADDR=10.0.0.5", "WEB_DB_PORT_53_UDP_PORT=53",
        "WEB_DB_PORT_53_UDP_PROTO=udp",
        "WEB_DB_PORT_5432_TCP=tcp://10.0.0.5:5432", "WEB_DB_PORT_5432_TCP_ADDR=10.0.0.5",
        "WEB_DB_PORT_5432_TCP_PORT=5432", "WEB_DB_PORT_5432_TCP_PROTO=tcp",
        "WEB_DB_NAME=/app/web-db", "WEB_DB_ENV_MODE=on", "WEB_DB_ENV_EMPTY=",
    ]
    assert link_env("db", "app", [], [], "10.0.0.5") == ["DB_NAME=/app/db"]


def test_hosts_line():
    assert link_hosts("web-db", "db", "c0ffee", "10.0.0.5") == "web-db c0ffee db:10.0.0.5"
    assert link_hosts("db", "db", "c0ffee", "10.0.0.5") == "db c0ffee:10.0.0.5"
