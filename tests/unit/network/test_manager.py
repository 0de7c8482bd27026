"""NetworkManager against the real plugins (root): bridge, none, host, container modes."""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from pouch.errors import InvalidArgument
from pouch.models import PortBinding, parse_network_mode
from pouch.network import cni, netns
from pouch.network.manager import NetworkManager, remove_network_leftovers

CID_A = "a" * 64
CID_B = "b" * 64

SERVER = """
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80))
s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"hello from pouch\\n")
    c.close()
"""


def ns_run(path: str, *argv: str) -> str:
    return subprocess.run(["nsenter", f"--net={path}", *argv], capture_output=True, text=True, check=True).stdout


def ping(ip: str) -> bool:
    argv = ["ping", "-c", "1", "-W", "2", ip] if shutil.which("ping") else ["busybox", "ping", "-c", "1", "-W", "2", ip]
    return subprocess.run(argv, capture_output=True).returncode == 0


def fetch(host: str, port: int) -> bytes:
    with socket.create_connection((host, port), timeout=2) as s:
        return s.recv(100)


def test_bridge_attachment(no_leaks):
    env = no_leaks
    att = env.manager.setup(CID_A, "bridge", [])
    try:
        subnet = env.config.bridge_subnet
        assert att.network == "bridge"
        assert att.netns_path == os.path.join(env.config.netns_dir, CID_A)
        assert netns.netns_exists(att.netns_path)
        assert att.ip_address.startswith(subnet.rsplit(".", 1)[0] + ".")
        assert att.prefix_len == 24
        assert att.gateway == env.manager.gateway
        assert len(att.mac_address) == 17
        addrs = ns_run(att.netns_path, "ip", "-o", "-4", "addr")
        assert f"eth0    inet {att.ip_address}/24" in addrs
        assert f"link/ether {att.mac_address}" in ns_run(att.netns_path, "ip", "-o", "link", "show", "eth0")
        assert "default via " + att.gateway in ns_run(att.netns_path, "ip", "route")
        assert ping(att.ip_address)
        assert env.allocations() == [att.ip_address]
    finally:
        env.manager.teardown(CID_A, att)
    assert not os.path.exists(att.netns_path)


def test_two_attachments_get_different_ips(no_leaks):
    env = no_leaks
    a = env.manager.setup(CID_A, "bridge", [])
    try:
        b = env.manager.setup(CID_B, "bridge", [])
        try:
            assert a.ip_address != b.ip_address
            assert a.mac_address != b.mac_address
            assert ping(a.ip_address) and ping(b.ip_address)
            assert env.allocations() == sorted([a.ip_address, b.ip_address])
        finally:
            env.manager.teardown(CID_B, b)
    finally:
        env.manager.teardown(CID_A, a)


def test_port_mapping_reachable_via_localhost_and_gateway(no_leaks):
    env = no_leaks
    att = env.manager.setup(CID_A, "bridge", [PortBinding(80)])
    server = None
    try:
        (binding,) = att.port_bindings
        assert binding.host_port > 0 and binding.container_port == 80
        server = subprocess.Popen(
            ["nsenter", f"--net={att.netns_path}", sys.executable, "-c", SERVER], stdout=subprocess.PIPE
        )
        assert server.stdout.readline() == b"ready\n"
        assert fetch(att.ip_address, 80) == b"hello from pouch\n"
        assert fetch("127.0.0.1", binding.host_port) == b"hello from pouch\n"
        assert fetch(att.gateway, binding.host_port) == b"hello from pouch\n"
    finally:
        if server is not None:
            server.kill()
            server.wait()
            server.stdout.close()
        env.manager.teardown(CID_A, att)
    with pytest.raises(OSError):
        fetch("127.0.0.1", binding.host_port)


def test_none_mode_leaves_the_namespace_to_the_runtime(no_leaks):
    """--network none: runc creates a fresh netns (lo only); the manager names and owns nothing."""
    env = no_leaks
    att = env.manager.setup(CID_A, "none", [])
    seen = []
    assert att.network == "none" and att.ip_address == "" and att.netns_path == ""
    env.manager.setup(CID_B, "none", [], alongside=seen.append)
    assert seen == [""]
    env.manager.teardown(CID_A, att)
    assert not os.path.exists(env.manager.netns_path(CID_A))


def test_host_and_container_modes(no_leaks):
    env = no_leaks
    assert env.manager.setup(CID_A, "host", []) is None
    env.manager.teardown(CID_A, None)
    owner = env.manager.setup(CID_A, "bridge", [])
    try:
        joined = env.manager.setup(CID_B, f"container:{CID_A}", [], other_netns=owner.netns_path)
        assert joined.netns_path == owner.netns_path and joined.network == "container"
        env.manager.teardown(CID_B, joined)
        assert netns.netns_exists(owner.netns_path)  # not the joiner's to delete
        with pytest.raises(InvalidArgument):
            env.manager.setup(CID_B, f"container:{CID_A}", [])
    finally:
        env.manager.teardown(CID_A, owner)


def test_teardown_is_idempotent(no_leaks):
    env = no_leaks
    att = env.manager.setup(CID_A, "bridge", [PortBinding(80)])
    env.manager.teardown(CID_A, att)
    env.manager.teardown(CID_A, att)
    env.manager.teardown(CID_A, None)


def test_teardown_after_netns_vanished(no_leaks):
    """After a reboot (or exec_root wiped) the netns is gone; DEL still frees the IP and rules."""
    env = no_leaks
    att = env.manager.setup(CID_A, "bridge", [PortBinding(80)])
    netns.delete_netns(att.netns_path)  # destroys the veth pair with it
    env.manager.teardown(CID_A, att)


def test_teardown_without_attachment_uses_cached_result(no_leaks):
    """The daemon crashed before it stored the attachment: the CNI cache is enough."""
    env = no_leaks
    env.manager.setup(CID_A, "bridge", [PortBinding(80)])
    env.manager.teardown(CID_A, None)


def test_teardown_with_lost_cache_uses_attachment(no_leaks):
    env = no_leaks
    att = env.manager.setup(CID_A, "bridge", [PortBinding(80)])
    os.unlink(os.path.join(env.config.cni_dir, "results", f"{CID_A}.json"))
    env.manager.teardown(CID_A, att)


def test_failed_setup_without_plugins_leaves_nothing(no_leaks, tmp_path):
    env = no_leaks
    bad = NetworkManager(dataclasses.replace(env.config, cni_plugin_dirs=(str(tmp_path / "nowhere"),)))
    with pytest.raises(cni.CNIError, match="CNI plugin bridge lookup failed: plugin not found"):
        bad.setup(CID_A, "bridge", [])
    assert not os.path.exists(bad.netns_path(CID_A))


def test_failed_setup_mid_chain_leaves_nothing(no_leaks, tmp_path):
    """bridge succeeds, portmap is missing: the bridge's work is undone."""
    env = no_leaks
    for name in ("bridge", "host-local"):
        os.symlink(f"/usr/lib/cni/{name}", tmp_path / name)
    bad = NetworkManager(dataclasses.replace(env.config, cni_plugin_dirs=(str(tmp_path),)))
    with pytest.raises(cni.CNIError, match="portmap"):
        bad.setup(CID_A, "bridge", [PortBinding(80)])
    assert not os.path.exists(bad.netns_path(CID_A))


def test_plugin_error_names_plugin_and_message(net_env):
    inv = cni.Invocation(CID_A, "/nonexistent/netns", ("/usr/lib/cni",))
    conf = {"cniVersion": cni.CNI_VERSION, "name": "x", "type": "host-local", "ipam": {"type": "host-local"}}
    with pytest.raises(cni.CNIError) as info:
        cni.exec_plugin("host-local", "ADD", conf, inv)
    assert (info.value.plugin, info.value.command, info.value.msg) == ("host-local", "ADD", "no IP ranges specified")
    assert info.value.message == "CNI plugin host-local ADD failed: no IP ranges specified"
    assert info.value.status == 500


def test_setup_teardown_timing(no_leaks, capsys):
    env = no_leaks
    timings = {}
    for label, ports in (("no ports", []), ("one port", [PortBinding(80)])):
        t0 = time.perf_counter()
        att = env.manager.setup(CID_A, "bridge", ports)
        t1 = time.perf_counter()
        env.manager.teardown(CID_A, att)
        t2 = time.perf_counter()
        timings[label] = (t1 - t0, t2 - t1)
    t0 = time.perf_counter()
    env.manager.teardown(CID_A, env.manager.setup(CID_A, "none", []))
    timings["none"] = (time.perf_counter() - t0, 0.0)
    with capsys.disabled():
        for label, (setup, teardown) in timings.items():
            print(f"\n  {label}: setup {setup * 1000:.0f} ms, teardown {teardown * 1000:.0f} ms", end="")
    assert all(s + t < 2.0 for s, t in timings.values())


def parse_mode(mode: str) -> tuple[str, str]:
    parsed = parse_network_mode(mode)
    return parsed.kind.value, parsed.target


def test_parse_network_mode():
    assert parse_mode("bridge") == ("bridge", "")
    assert parse_mode("default") == ("bridge", "")
    assert parse_mode("none") == ("none", "")
    assert parse_mode("host") == ("host", "")
    assert parse_mode("container:web") == ("container", "web")
    assert parse_mode("backend") == ("network", "backend")  # a user-defined network
    for bad in ("container:", "my net", "container", "x:y"):
        with pytest.raises(InvalidArgument):
            parse_mode(bad)


def test_remove_network_leftovers(no_leaks):
    """A daemon killed with a container attached: its rules can be swept by bridge + subnet."""
    env = no_leaks
    att = env.manager.setup(CID_A, "bridge", [PortBinding(80)])
    before_sweep = env.snapshot()["iptables"]
    done = remove_network_leftovers(env.config.bridge_name, env.config.bridge_subnet)
    assert len(done) >= 4  # dnat rule + chain, the static chains
    assert env.snapshot()["iptables"] < before_sweep
    assert remove_network_leftovers(env.config.bridge_name, env.config.bridge_subnet) == []
    env.manager.teardown(CID_A, att)  # still fine with the rules gone
    env.manager.ensure_ready()  # the static rules back, for the tests that follow


def test_setup_replaces_stale_state(no_leaks):
    """A daemon that died with the container attached left netns, IP and cache behind."""
    env = no_leaks
    env.manager.setup(CID_A, "bridge", [PortBinding(80)])
    att = env.manager.setup(CID_A, "bridge", [PortBinding(80)])
    assert len(env.allocations()) == 1
    env.manager.teardown(CID_A, att)
