"""Published ports against a real pouchd: ranges, UDP, a host IP, -P/--expose with automatic
host ports, `pouch port`, reachability from the host through 127.0.0.1 and the host's own
address (busybox httpd in the container, a Python socket on the host; UDP through a small
static echo server compiled here, as busybox-static has no UDP listener)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

from tests.integration.conftest import free_port_range, unique_name

UDP_ECHO_C = r"""
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET; a.sin_port = htons(atoi(argv[1])); a.sin_addr.s_addr = INADDR_ANY;
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) return 1;
    char buf[2048];
    for (;;) {
        struct sockaddr_in from; socklen_t len = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
        if (n >= 0) sendto(s, buf, n, 0, (struct sockaddr *)&from, len);
    }
}
"""


@pytest.fixture
def ports_daemon(daemon):
    yield daemon
    daemon.remove_all_containers()


def free_tcp_range(count: int) -> int:
    """A base port with ``count`` consecutive free TCP ports (outside the ephemeral range)."""
    return free_port_range(count)


def host_address() -> str:
    """The host's address on the interface of its default route (not loopback)."""
    routes = subprocess.run(["ip", "-4", "-o", "route", "show", "default"], capture_output=True, text=True).stdout
    if " dev " not in routes:
        pytest.skip("no default route: no host address to test with")
    dev = routes.split(" dev ", 1)[1].split()[0]
    addrs = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", dev], capture_output=True, text=True).stdout
    return addrs.split(" inet ", 1)[1].split("/", 1)[0]


def http_get(host: str, port: int, path: str = "/hostname", timeout: float = 5.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
                if data:
                    return data
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing answers on {host}:{port}")
        time.sleep(0.1)


def serve(ports: list[int]) -> tuple[str, ...]:
    """A busybox command serving /etc over HTTP on every port of ``ports``."""
    script = " & ".join(f"httpd -f -p {p} -h /etc" for p in ports) + " & wait"
    return ("busybox", "sh", "-c", script)


def test_publish_a_range_reachable_through_loopback_and_the_host_address(ports_daemon):
    ranged = unique_name("ranged")
    d = ports_daemon
    base = free_tcp_range(3)
    d.cli("run", "-d", "--name", ranged, "--hostname", ranged, "-p", f"{base}-{base + 2}:80-82", *serve([80, 81, 82]))
    assert d.cli("port", ranged).stdout.splitlines() == [f"{80 + i}/tcp -> 0.0.0.0:{base + i}" for i in range(3)]
    assert d.cli("port", ranged, "81").stdout.strip() == f"0.0.0.0:{base + 1}"
    addr = host_address()
    for i in range(3):
        assert http_get("127.0.0.1", base + i).endswith(f"{ranged}\n".encode())
        assert http_get(addr, base + i).endswith(f"{ranged}\n".encode())
    ports = d.inspect(ranged)["NetworkSettings"]["Ports"]
    assert ports["80/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": str(base)}]
    # the same host port for a second container: Docker's "port is already allocated"
    taken = d.cli("run", "-d", "-p", f"{base}:80", "busybox", "sleep", "100", check=False)
    assert taken.returncode == 125 and "port is already allocated" in taken.stderr
    assert d.docker("port", ranged, "82/tcp").stdout.strip() == f"0.0.0.0:{base + 2}"


def test_publish_all_and_expose_get_ephemeral_ports(ports_daemon):
    auto = unique_name("auto")
    d = ports_daemon
    d.cli("run", "-d", "--name", auto, "--hostname", auto, "--expose", "7000", "--expose", "7001-7002/udp",
          "-P", *serve([7000]))
    lines = d.cli("port", auto).stdout.splitlines()
    assert [line.split(" -> ")[0] for line in lines] == ["7000/tcp", "7001/udp", "7002/udp"]
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        lo, hi = (int(x) for x in f.read().split())
    host_ports = [int(line.rsplit(":", 1)[1]) for line in lines]
    assert all(lo <= p <= hi for p in host_ports) and len(set(host_ports)) == 3
    assert http_get("127.0.0.1", host_ports[0]).endswith(f"{auto}\n".encode())
    assert d.inspect(auto)["HostConfig"]["PublishAllPorts"] is True
    missing = d.cli("port", auto, "9999", check=False)
    assert missing.returncode != 0 and "No public port '9999/tcp'" in missing.stderr


def test_host_port_range_for_one_port_takes_a_free_one(ports_daemon):
    first = unique_name("first")
    second = unique_name("second")
    d = ports_daemon
    base = free_tcp_range(2)
    d.cli("run", "-d", "--name", first, "--hostname", first, "-p", f"{base}-{base + 1}:80", *serve([80]))
    d.cli("run", "-d", "--name", second, "--hostname", second, "-p", f"{base}-{base + 1}:80", *serve([80]))
    assert d.cli("port", first, "80").stdout.strip() == f"0.0.0.0:{base}"
    assert d.cli("port", second, "80").stdout.strip() == f"0.0.0.0:{base + 1}"
    assert http_get("127.0.0.1", base + 1).endswith(f"{second}\n".encode())


def test_udp_on_a_host_ip(ports_daemon, tmp_path):
    echo = unique_name("echo")
    if not shutil.which("gcc") or not os.path.exists("/usr/lib/x86_64-linux-gnu/libc.a"):
        pytest.skip("needs gcc and a static libc to build the UDP echo server")
    d = ports_daemon
    (tmp_path / "udpecho.c").write_text(UDP_ECHO_C)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    subprocess.run(["gcc", "-static", "-O2", "-o", str(bindir / "udpecho"), str(tmp_path / "udpecho.c")], check=True)
    d.cli("run", "-d", "--name", echo, "-v", f"{bindir}:/opt/bin:ro", "-p", "127.0.0.1::90/udp",
          "busybox", "/opt/bin/udpecho", "90")
    binding = d.cli("port", echo, "90/udp").stdout.strip()
    host_ip, port = binding.rsplit(":", 1)
    assert host_ip == "127.0.0.1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        for _ in range(20):  # the server may still be starting: UDP has no handshake to wait on
            s.sendto(b"ping over udp", ("127.0.0.1", int(port)))
            try:
                assert s.recvfrom(100)[0] == b"ping over udp"
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("no UDP echo through the published port")
    # bound to 127.0.0.1 only: the host's other address does not forward it
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        s.sendto(b"nope", (host_address(), int(port)))
        with pytest.raises(OSError):
            s.recvfrom(100)


def test_ps_ports_column_collapses_ranges_per_host_ip_as_docker(ports_daemon):
    pscol = unique_name("pscol")
    d = ports_daemon
    b = free_tcp_range(6)
    d.cli("run", "-d", "--name", pscol, "-p", f"{b}-{b + 2}:{b}-{b + 2}", "-p", f"127.0.0.1:{b + 3}-{b + 4}:{b + 3}-{b + 4}",
          "-p", f"{b + 5}:80", "--expose", "7000-7001", "busybox", "sleep", "1000")
    # docker's order: by container port, a range per host IP, then the ports published on other numbers
    expected = (f"7000-7001/tcp, 0.0.0.0:{b}-{b + 2}->{b}-{b + 2}/tcp, "
                f"127.0.0.1:{b + 3}-{b + 4}->{b + 3}-{b + 4}/tcp, 0.0.0.0:{b + 5}->80/tcp\n")
    assert d.cli("ps", "--filter", f"name={pscol}", "--format", "{{.Ports}}").stdout == expected
    assert d.docker("ps", "--filter", f"name={pscol}", "--format", "{{.Ports}}").stdout == expected
    assert f"   {expected.strip()}   {pscol}" in d.cli("ps", "--filter", f"name={pscol}").stdout


def test_one_host_port_on_two_host_addresses(ports_daemon):
    twoaddr = unique_name("twoaddr")
    d = ports_daemon
    port = free_tcp_range(1)
    d.cli("run", "-d", "--name", twoaddr, "--hostname", twoaddr, "-p", f"127.0.0.1:{port}:80",
          "-p", f"127.0.0.2:{port}:80", *serve([80]))
    for addr in ("127.0.0.1", "127.0.0.2"):  # as Docker: a host port is taken per address
        assert http_get(addr, port).endswith(f"{twoaddr}\n".encode())
    shown = f"127.0.0.1:{port}->80/tcp, 127.0.0.2:{port}->80/tcp\n"
    assert d.cli("ps", "--filter", f"name={twoaddr}", "--format", "{{.Ports}}").stdout == shown
    assert d.docker("ps", "--filter", f"name={twoaddr}", "--format", "{{.Ports}}").stdout == shown
    taken = d.cli("run", "-d", "-p", f"{port}:80", "busybox", "sleep", "100", check=False)  # every address: refused
    assert taken.returncode == 125 and f"Bind for 0.0.0.0:{port} failed: port is already allocated" in taken.stderr


def test_docker_py_publishes_ports(ports_daemon):
    import docker

    d = ports_daemon
    base = free_tcp_range(1)
    client = docker.DockerClient(base_url=d.host)
    try:
        c = client.containers.run("busybox", ["sh", "-c", "httpd -f -p 80 -h /etc"], detach=True, hostname="dpy",
                                  ports={"80/tcp": ("127.0.0.1", base), "7000/tcp": None})
        c.reload()
        assert c.ports["80/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(base)}]
        auto = int(c.ports["7000/tcp"][0]["HostPort"])  # an automatic host port
        assert auto > 0 and auto != base
        assert http_get("127.0.0.1", base).endswith(b"dpy\n")
        c.remove(force=True)
    finally:
        client.close()
