"""The API version and the endpoints clients probe, with the real clients: docker CLI 28,
docker-py pinned to old and new versions, raw requests with explicit ``/v1.24/`` and ``/v1.41/``."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from pouch import API_VERSION
from tests.integration.conftest import needs_docker, needs_registry, unique_name


def request(daemon, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("localhost", timeout=60)
    conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.sock.connect(daemon.sock)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@needs_docker
def test_docker_cli_28_speaks_the_new_version(daemon):
    assert API_VERSION == "1.45"
    version = daemon.docker("version", "--format", "{{.Client.APIVersion}} {{.Server.APIVersion}}").stdout.split()
    assert version == ["1.45", "1.45"]
    name = unique_name("v145")
    daemon.docker("run", "-d", "--name", name, "busybox", "sleep", "1000")
    assert daemon.docker("inspect", "-f", "{{.State.Status}}", name).stdout.strip() == "running"
    daemon.docker("rm", "-f", name)


def test_image_inspect_shape_follows_the_version_asked(daemon):
    old = [json.loads(request(daemon, "GET", f"/v{v}/images/busybox/json")[2]) for v in ("1.24", "1.41")]
    new = json.loads(request(daemon, "GET", "/v1.45/images/busybox/json")[2])
    for doc in old:
        assert "ContainerConfig" in doc and "VirtualSize" in doc
    assert "ContainerConfig" not in new and "Container" not in new and "VirtualSize" not in new
    assert new["Config"]["Cmd"] == ["sh"]
    listing = json.loads(request(daemon, "GET", "/v1.45/images/json")[2])
    assert listing and all("VirtualSize" not in i for i in listing)
    assert all("VirtualSize" in i for i in json.loads(request(daemon, "GET", "/v1.41/images/json")[2]))


def test_container_dns_names_at_1_44(daemon):
    net, name = unique_name("net"), unique_name("dns")
    daemon.cli("network", "create", net)
    daemon.cli("run", "-d", "--name", name, "--network", net, "--network-alias", "www", "busybox", "sleep", "1000")
    cid = daemon.inspect(name)["Id"]
    v141 = json.loads(request(daemon, "GET", f"/v1.41/containers/{name}/json")[2])["NetworkSettings"]["Networks"][net]
    v145 = json.loads(request(daemon, "GET", f"/v1.45/containers/{name}/json")[2])["NetworkSettings"]["Networks"][net]
    assert "DNSNames" not in v141 and cid[:12] in v141["Aliases"]
    assert v145["Aliases"] == ["www"]
    assert v145["DNSNames"][:3] == [name, "www", cid[:12]]


def test_docker_py_pinned_old_and_new(daemon):
    docker = pytest.importorskip("docker")
    for version in ("1.24", "1.41", "1.45"):
        client = docker.DockerClient(base_url=daemon.host, version=version)
        try:
            assert client.version()["ApiVersion"] == API_VERSION
            assert client.containers.run("busybox", ["echo", version], remove=True) == f"{version}\n".encode()
            assert client.images.get("busybox").attrs["Config"]["Cmd"] == ["sh"]
        finally:
            client.close()


def test_ping_answers_the_builder_and_swarm_questions(daemon):
    for method in ("GET", "HEAD"):
        status, headers, _ = request(daemon, method, "/_ping")
        assert status == 200
        assert headers["builder-version"] == "1"  # dockerd 20.10 without BuildKit
        assert headers["swarm"] == "inactive"
        assert headers["api-version"] == API_VERSION


@needs_docker
def test_swarm_endpoints_answer_as_a_node_outside_any_swarm(daemon):
    leave = daemon.docker("swarm", "leave", "--force", check=False)
    assert leave.returncode == 1 and "This node is not part of a swarm" in leave.stderr
    for args in (("node", "ls"), ("service", "ls"), ("secret", "ls"), ("config", "ls")):
        result = daemon.docker(*args, check=False)
        assert result.returncode == 1
        assert "This node is not a swarm manager" in result.stderr, args
    for path in ("/swarm", "/nodes", "/services", "/tasks", "/secrets", "/configs", "/services/x/logs"):
        status, _, body = request(daemon, "GET", "/v1.41" + path)
        assert status == 503 and json.loads(body)["message"].startswith("This node is not a swarm manager"), path
    assert request(daemon, "POST", "/v1.41/swarm/leave?force=1")[0] == 503
    info = json.loads(daemon.docker("info", "--format", "{{json .Swarm}}").stdout)
    assert info["LocalNodeState"] == "inactive"


def test_session_is_refused_before_any_upgrade(daemon):
    status, _, body = request(daemon, "POST", "/v1.41/session",
                              headers={"Upgrade": "h2c", "Connection": "Upgrade", "X-Docker-Expose-Session-Uuid": "x"})
    assert status == 501
    assert "BuildKit" in json.loads(body)["message"]


@needs_registry
def test_distribution_inspect_of_a_pushed_image(daemon, registry):
    name = f"{registry.host}/probe/busybox:v1"
    daemon.cli("tag", "busybox:latest", name)
    pushed = daemon.cli("push", name).stdout
    digest = pushed.split("v1: digest: ", 1)[1].split()[0]
    docker = pytest.importorskip("docker")
    client = docker.APIClient(base_url=daemon.host, version="1.41")
    try:
        found = client.inspect_distribution(name)
        with pytest.raises(docker.errors.NotFound):
            client.inspect_distribution(f"{registry.host}/probe/busybox:nope")
    finally:
        client.close()
    assert found["Descriptor"]["digest"] == digest
    assert found["Descriptor"]["mediaType"].endswith("manifest.v2+json") or "oci" in found["Descriptor"]["mediaType"]
    assert found["Descriptor"]["size"] > 0
    assert found["Platforms"] == [{"architecture": "amd64", "os": "linux"}]
    daemon.cli("rmi", name)


def test_console_size_of_a_tty_from_1_42(daemon):
    sizes = {}
    for version in ("1.41", "1.45"):
        body = json.dumps({"Image": "busybox", "Cmd": ["stty", "size"], "Tty": True,
                           "HostConfig": {"ConsoleSize": [30, 100]}}).encode()
        status, _, answer = request(daemon, "POST", f"/v{version}/containers/create", body,
                                    {"Content-Type": "application/json"})
        assert status == 201, answer
        cid = json.loads(answer)["Id"]
        assert request(daemon, "POST", f"/v{version}/containers/{cid}/start")[0] == 204
        request(daemon, "POST", f"/v{version}/containers/{cid}/wait")
        sizes[version] = daemon.cli("logs", cid).stdout.strip()
        inspect = json.loads(request(daemon, "GET", f"/v{version}/containers/{cid}/json")[2])
        assert inspect["HostConfig"]["ConsoleSize"] == ([30, 100] if version == "1.45" else [0, 0])
        daemon.cli("rm", cid)
    assert sizes["1.45"] == "30 100"
    assert sizes["1.41"] != "30 100"  # dockerd ignores ConsoleSize before 1.42
