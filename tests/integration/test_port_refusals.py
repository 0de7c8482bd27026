"""A published host port that a host process listens on is refused at start, as Docker's proxy
bind refuses it, and the failed start leaves nothing behind; a host IP the host does not have is
refused. Both with the pouch CLI and the docker CLI."""

from __future__ import annotations

import socket
import subprocess

import pytest

from tests.integration.conftest import free_port, mounts_below, needs_docker, unique_name

pytestmark = pytest.mark.usefixtures("clean_containers")


def _nat_rules_with(port: int) -> list[str]:
    out = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if f"--dport {port} " in line or f"--dport {port}\n" in line + "\n"]


def test_port_a_host_process_listens_on_is_already_allocated(daemon):
    port = free_port()
    name = unique_name("busy")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        result = daemon.cli("run", "-d", "--name", name, "-p", f"{port}:80", "busybox", "sleep", "60", check=False)
        assert result.returncode != 0
        assert f"Bind for 0.0.0.0:{port} failed: port is already allocated" in result.stderr
        info = daemon.inspect(name)
        assert info["State"]["Status"] == "created" and info["State"]["Pid"] == 0
        assert _nat_rules_with(port) == []
        assert not [m for m in mounts_below(daemon.root) if info["Id"] in m]
    daemon.cli("start", name)  # the port is free again: the same container starts
    assert daemon.inspect(name)["State"]["Running"]
    assert _nat_rules_with(port) != []
    daemon.cli("rm", "-f", name)
    assert _nat_rules_with(port) == []


def test_udp_port_held_by_a_host_socket(daemon):
    port = free_port(socket.SOCK_DGRAM)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("0.0.0.0", port))
        result = daemon.cli("run", "--rm", "-p", f"{port}:53/udp", "busybox", "true", check=False)
    assert result.returncode != 0 and "port is already allocated" in result.stderr


def test_host_ip_the_host_does_not_have(daemon):
    port = free_port()
    result = daemon.cli("run", "--rm", "-p", f"192.0.2.77:{port}:80", "busybox", "true", check=False)
    assert result.returncode != 0
    assert "cannot assign requested address" in result.stderr and "192.0.2.77" in result.stderr
    assert daemon.cli("ps", "-aq").stdout.strip() == ""  # --rm: the failed container is gone


@needs_docker
def test_docker_cli_sees_the_same_refusal(daemon):
    port = free_port()
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", port))
        listener.listen()
        result = daemon.docker("run", "--rm", "-p", f"{port}:80", "busybox", "true", check=False)
    assert result.returncode != 0 and "port is already allocated" in result.stderr
