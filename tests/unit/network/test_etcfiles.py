"""Per-container /etc/hosts, /etc/resolv.conf, /etc/hostname (pure builders + writers)."""

from __future__ import annotations

import os

import pytest

from pouch.errors import InvalidArgument
from pouch.network import etcfiles
from pouch.network.etcfiles import build_hostname, build_hosts, build_resolv_conf, filter_resolv_conf

DOCKER_DEFAULT_HOSTS = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)


def test_hosts_like_docker():
    assert build_hosts("abc123", "192.168.5.2") == DOCKER_DEFAULT_HOSTS + "192.168.5.2\tabc123\n"


def test_hosts_extra_hosts_domain_and_host_gateway():
    out = build_hosts("web", "10.0.0.2", ["db:10.0.0.9", "v6:fd00::1", "gw:host-gateway"], domainname="example.org",
                      host_gateway_ip="10.0.0.1")
    assert out == DOCKER_DEFAULT_HOSTS + (
        "10.0.0.9\tdb\nfd00::1\tv6\n10.0.0.1\tgw\n10.0.0.2\tweb.example.org web\n"
    )
    assert build_hosts("a.b.c", "10.0.0.2").endswith("10.0.0.2\ta.b.c a\n")


def test_hosts_without_ip_and_for_host_network():
    assert build_hosts("box") == DOCKER_DEFAULT_HOSTS
    host = "127.0.0.1 localhost\n10.1.1.1 myhost\n"
    assert build_hosts("box", extra_hosts=["x:1.2.3.4"], host_hosts=host) == host + "1.2.3.4\tx\n"


@pytest.mark.parametrize("entry", ["nocolon", "name:", ":1.2.3.4", "name:not-an-ip", "gw:host-gateway"])
def test_bad_extra_hosts(entry):
    with pytest.raises(InvalidArgument):
        build_hosts("h", "10.0.0.2", [entry])


def test_hostname():
    assert build_hostname("abc123") == "abc123\n"


HOST_RESOLV = """# managed by someone
nameserver 127.0.0.53
nameserver 10.255.255.53
nameserver ::1
nameserver 2001:db8::53
search corp.example
options edns0 trust-ad
"""


def test_resolv_drops_loopback_and_ipv6_nameservers():
    assert filter_resolv_conf(HOST_RESOLV) == (
        "# managed by someone\nnameserver 10.255.255.53\nsearch corp.example\noptions edns0 trust-ad\n"
    )
    assert build_resolv_conf(HOST_RESOLV) == filter_resolv_conf(HOST_RESOLV)


def test_resolv_falls_back_to_google_when_only_loopback():
    out = build_resolv_conf("nameserver 127.0.0.53\noptions edns0\n")
    assert out == "options edns0\n\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    assert build_resolv_conf("") == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"


def test_resolv_host_network_is_the_hosts_file():
    assert build_resolv_conf(HOST_RESOLV, host_network=True) == HOST_RESOLV


def test_resolv_overrides():
    out = build_resolv_conf(HOST_RESOLV, dns=["1.1.1.1"], dns_options=["ndots:2"])
    assert out == "search corp.example\nnameserver 1.1.1.1\noptions ndots:2\n"
    out = build_resolv_conf(HOST_RESOLV, dns_search=["a.example", "b.example"])
    assert out == "search a.example b.example\nnameserver 10.255.255.53\noptions edns0 trust-ad\n"
    out = build_resolv_conf(HOST_RESOLV, dns_search=["."])
    assert out == "nameserver 10.255.255.53\noptions edns0 trust-ad\n"


def test_writers(tmp_path):
    resolv = tmp_path / "host-resolv"
    resolv.write_text("nameserver 127.0.0.1\n")
    d = tmp_path / "ctr"
    etcfiles.write_hosts(str(d / "hosts"), "box", "10.0.0.2")
    etcfiles.write_hostname(str(d / "hostname"), "box")
    etcfiles.write_resolv_conf(str(d / "resolv.conf"), host_resolv_path=str(resolv))
    assert (d / "hosts").read_text().endswith("10.0.0.2\tbox\n")
    assert (d / "hostname").read_text() == "box\n"
    assert (d / "resolv.conf").read_text() == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    assert oct(os.stat(d / "hosts").st_mode & 0o777) == "0o644"
    assert sorted(os.listdir(d)) == ["hostname", "hosts", "resolv.conf"]  # no temp files left
