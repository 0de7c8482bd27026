"""Real compose projects with Debian's ``docker-compose`` (1.29, an Engine API client) against pouchd.

Only the local busybox image is used: no pulls, no builds. The assertions are on what a user
sees: exit codes, outputs, and the containers, networks and volumes left after ``down``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration.conftest import Daemon, unique_name, wait_until

pytestmark = pytest.mark.skipif(not shutil.which("docker-compose"), reason="docker-compose is not installed")

MINIMAL = """\
version: "2.4"
services:
  one:
    image: busybox:latest
    command: sh -c "echo hello-from-one; exec sleep 1000"
"""

THREE_SERVICES = """\
version: "2.4"
services:
  db:
    image: busybox:latest
    command: sh -c "sleep 1; echo ready > /data/ready; exec sleep 1000"
    volumes: ["data:/data"]
    networks: [back]
    healthcheck:
      test: ["CMD", "test", "-f", "/data/ready"]
      interval: 1s
      timeout: 2s
      retries: 30
  web:
    image: busybox:latest
    command: sh -c "mkdir -p /www && echo served-by-web > /www/index.html && exec httpd -f -p 8080 -h /www"
    depends_on:
      db:
        condition: service_healthy
    networks: [front, back]
    restart: unless-stopped
  worker:
    image: busybox:latest
    command: sh -c "exec sleep 1000"
    networks: [back]
    restart: on-failure
networks:
  front: {}
  back:
    internal: true
volumes:
  data: {}
"""


@dataclass
class Project:
    daemon: Daemon
    name: str
    directory: str

    def compose(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        env = dict(os.environ, DOCKER_HOST=self.daemon.host, COMPOSE_PROJECT_NAME=self.name,
                   DOCKER_CONFIG=os.path.join(self.directory, ".docker"))
        result = subprocess.run(["docker-compose", *args], cwd=self.directory, env=env, capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def objects(self) -> dict[str, set[str]]:
        """The names of the project's containers, networks and volumes that pouchd knows."""
        prefix = self.name + "_"
        containers = self.daemon.api("GET", "/containers/json?all=1") or []
        networks = self.daemon.api("GET", "/networks") or []
        volumes = (self.daemon.api("GET", "/volumes") or {}).get("Volumes") or []  # type: ignore[union-attr]
        return {"containers": {n.lstrip("/") for c in containers for n in c["Names"]  # type: ignore[union-attr]
                               if n.lstrip("/").startswith(prefix)},
                "networks": {n["Name"] for n in networks if n["Name"].startswith(prefix)},  # type: ignore[index]
                "volumes": {v["Name"] for v in volumes if v["Name"].startswith(prefix)}}


def project(daemon: Daemon, tmp_path, compose_file: str) -> Iterator[Project]:
    (tmp_path / "docker-compose.yml").write_text(compose_file)
    p = Project(daemon, unique_name("compose"), str(tmp_path))
    try:
        yield p
    finally:
        p.compose("down", "-v", "--remove-orphans", "-t", "1", check=False)


@pytest.fixture
def minimal(daemon, tmp_path) -> Iterator[Project]:
    yield from project(daemon, tmp_path, MINIMAL)


@pytest.fixture
def three(daemon, tmp_path) -> Iterator[Project]:
    yield from project(daemon, tmp_path, THREE_SERVICES)


def running_services(p: Project) -> set[str]:
    return set(p.compose("ps", "--services", "--filter", "status=running").stdout.split())


def test_one_service_on_the_default_network(minimal: Project) -> None:
    p = minimal
    p.compose("up", "-d")
    assert running_services(p) == {"one"}
    assert f"{p.name}_one_1" in p.compose("ps").stdout
    inside = p.compose("exec", "-T", "one", "sh", "-c", "echo inside; ip -4 addr show eth0 | grep -c inet")
    assert inside.stdout.split() == ["inside", "1"]
    wait_until(lambda: "hello-from-one" in p.compose("logs", "--no-color", "one").stdout, what="the service's log")
    assert p.objects()["networks"] == {f"{p.name}_default"}
    assert "up-to-date" in p.compose("up", "-d").stderr
    p.compose("stop", "-t", "1")  # a stopped container is reconnected before its start
    assert running_services(p) == set()
    p.compose("start")
    assert p.compose("exec", "-T", "one", "echo", "back").stdout == "back\n"
    p.compose("down", "-t", "1")
    assert p.objects() == {"containers": set(), "networks": set(), "volumes": set()}


def test_three_services_networks_volume_healthcheck(three: Project) -> None:
    p = three
    p.compose("up", "-d")  # web waits for db's health
    assert running_services(p) == {"db", "web", "worker"}
    db = p.daemon.inspect(f"{p.name}_db_1")
    assert db["State"]["Health"]["Status"] == "healthy"
    assert set(db["NetworkSettings"]["Networks"]) == {f"{p.name}_back"}
    web = p.daemon.inspect(f"{p.name}_web_1")
    assert set(web["NetworkSettings"]["Networks"]) == {f"{p.name}_front", f"{p.name}_back"}
    assert web["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    # peers by service name on the internal network; no way out of it
    served = p.compose("exec", "-T", "worker", "wget", "-q", "-O-", "http://web:8080/")
    assert served.stdout == "served-by-web\n"
    routes = p.compose("exec", "-T", "worker", "ip", "route").stdout
    assert "default" not in routes
    assert "default" in p.compose("exec", "-T", "web", "ip", "route").stdout
    # a one-off container: the service's volume and networks, removed after
    one_off = p.compose("run", "--rm", "-T", "db", "sh", "-c", "cat /data/ready; ping -c1 -W2 worker >/dev/null && echo reached")
    assert one_off.stdout.split() == ["ready", "reached"]
    assert len(p.objects()["containers"]) == 3
    p.compose("down", "-v", "-t", "1")
    assert p.objects() == {"containers": set(), "networks": set(), "volumes": set()}
