"""Published ports: -P, ranges, automatic host ports (pure)."""

from __future__ import annotations

import random

import pytest

from pouch.errors import Conflict
from pouch.models import PortBinding
from pouch.network import ports


def always_free(proto: str, ip: str, port: int) -> bool:
    return True


def test_publish_all_adds_the_unbound_exposed_ports():
    given = (PortBinding(80, host_port=8080),)
    out = ports.publish_all(["80/tcp", "53/udp", "443/tcp"], given, "127.0.0.1")
    assert out == (given[0], PortBinding(53, "udp", "127.0.0.1"), PortBinding(443, "tcp", "127.0.0.1"))


def test_default_host_ip_only_where_none_was_given():
    out = ports.with_default_host_ip([PortBinding(80), PortBinding(81, host_ip="10.0.0.1")], "127.0.0.1")
    assert [b.host_ip for b in out] == ["127.0.0.1", "10.0.0.1"]
    assert ports.with_default_host_ip([PortBinding(80)], "0.0.0.0") == (PortBinding(80),)


def test_allocate_explicit_range_and_ephemeral():
    bindings = [PortBinding(80, host_port=8080), PortBinding(81, host_port=9000, host_port_end=9005),
                PortBinding(82)]
    out = ports.allocate(bindings, {("tcp", "", 9000), ("tcp", "", 9001)}, lambda p, ip, port: port != 9002,
                         (40000, 40010), random.Random(1))
    assert out[0].host_port == 8080
    assert out[1].host_port == 9003 and out[1].host_port_end == 0
    assert 40000 <= out[2].host_port <= 40010


def test_allocate_refuses_a_taken_port_and_an_exhausted_range():
    with pytest.raises(Conflict, match="port is already allocated"):
        ports.allocate([PortBinding(80, host_port=8080)], {("tcp", "", 8080)}, always_free, (1, 2))
    with pytest.raises(Conflict, match="no free port"):
        ports.allocate([PortBinding(80, host_port=9000, host_port_end=9001)], {("tcp", "", 9000), ("tcp", "", 9001)},
                       always_free, (1, 2))
    # the same port over UDP is another port
    out = ports.allocate([PortBinding(53, "udp", host_port=8080)], {("tcp", "", 8080)}, always_free, (1, 2))
    assert out[0].host_port == 8080


def test_a_host_port_is_per_host_address_but_every_address_takes_them_all():
    two_ips = [PortBinding(80, host_ip="127.0.0.1", host_port=8080), PortBinding(80, host_ip="127.0.0.2", host_port=8080)]
    assert [b.host_port for b in ports.allocate(two_ips, set(), always_free, (1, 2))] == [8080, 8080]
    with pytest.raises(Conflict, match="Bind for 0.0.0.0:8080 failed: port is already allocated"):
        ports.allocate([*two_ips[:1], PortBinding(81, host_port=8080)], set(), always_free, (1, 2))
    with pytest.raises(Conflict, match="Bind for 127.0.0.2:8080 failed"):
        ports.allocate(two_ips[1:], ports.used_ports([PortBinding(80, host_port=8080)]), always_free, (1, 2))
    assert ports.used_ports([PortBinding(80, host_ip="0.0.0.0", host_port=1)]) == {("tcp", "", 1)}
    out = ports.allocate([PortBinding(80, host_ip="127.0.0.2", host_port=9000, host_port_end=9001)],
                         {("tcp", "127.0.0.1", 9000)}, always_free, (1, 2))
    assert out[0].host_port == 9000


def test_two_automatic_ports_differ():
    out = ports.allocate([PortBinding(80), PortBinding(81)], set(), always_free, (5000, 5001), random.Random(0))
    assert {b.host_port for b in out} == {5000, 5001}


def test_port_is_free_sees_a_listener():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        assert not ports.port_is_free("tcp", "127.0.0.1", s.getsockname()[1])
    lo, hi = ports.ephemeral_range()
    assert 0 < lo <= hi
