"""Fixtures that start a real pouchd on a temporary root and socket.

The daemon gets its own bridge name and subnet, so a test run never touches a
pouchd the machine may already run. Teardown removes every container, stops the
daemon by its PID, and checks that no mount is left below the test root.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from tests.integration.registry_support import Registry
from tests.waiting import wait_until

__all__ = ["wait_until"]  # re-exported: `from tests.integration.conftest import wait_until`

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
POUCH = os.path.join(VENV_BIN, "pouch")
POUCHD = os.path.join(VENV_BIN, "pouchd")
CACHE = os.environ.get("POUCH_TEST_CACHE", "/var/cache/pouch-tests")


def _missing_prereqs() -> str:
    if os.geteuid() != 0:
        return "integration tests need root"
    for tool in ("runc", "conmon"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    if not os.path.exists(POUCHD):
        return "pouchd is not installed in .venv"
    return ""


def pytest_collection_modifyitems(config, items):
    reason = _missing_prereqs()
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def busybox_tar() -> str:
    """A busybox rootfs tarball built from Debian's busybox-static, cached between runs."""
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, "busybox-rootfs.tar")
    if not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime("/bin/busybox"):
        subprocess.run([os.path.join(REPO, "scripts", "mkbusybox-rootfs.sh"), path + ".tmp"], check=True)
        os.replace(path + ".tmp", path)
    return path


def cached_debootstrap_image(script: str, tarball: str, what: str) -> str:
    """A Debian rootfs tarball built by ``scripts/<script>`` (debootstrap) and cached in CACHE."""
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, tarball)
    result = subprocess.run([os.path.join(REPO, "scripts", script), path], capture_output=True, text=True)
    if result.returncode != 0 or not os.path.exists(path):
        pytest.fail(f"could not build the {what} test image: {result.stderr[-2000:]}")
    return path


@pytest.fixture(scope="session")
def debian_systemd_tar() -> str:
    """A Debian bookworm rootfs with systemd, cron, rsyslog and openssh-server (debootstrap, cached)."""
    return cached_debootstrap_image("mkdebian-systemd-rootfs.sh", "debian-systemd.tar", "systemd")


@pytest.fixture(scope="session")
def debian_sysvinit_tar() -> str:
    """A Debian bookworm rootfs whose /sbin/init is sysvinit (debootstrap, cached)."""
    return cached_debootstrap_image("mkdebian-sysvinit-rootfs.sh", "debian-sysvinit.tar", "sysvinit")


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy or ``timeout`` passes; return its last value
    (``assert wait_for(...)``; ``wait_until`` fails the test itself, naming what it waited for)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def process_gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (gone, or a zombie its parent has yet to reap)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def unique_name(prefix: str = "t") -> str:
    """A container (network, volume) name no other test of the shared daemon uses: ``prefix-1a2b3c4d``."""
    return f"{prefix}-{secrets.token_hex(4)}"


def free_port_range(count: int = 1, kind: int = socket.SOCK_STREAM) -> int:
    """A base port with ``count`` consecutive ports free on every host address now (outside the
    ephemeral range, where pouchd picks ``-P`` ports), for ``-p HOST:CONTAINER``: other helpers'
    daemons and tests run on the same host, so no port number is written into a test."""
    for _ in range(200):
        base = random.randrange(20000, 30000 - count)
        try:
            for port in range(base, base + count):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("0.0.0.0", port))
            return base
        except OSError:
            continue
    pytest.skip("no free port range")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """One free host port (``socket.SOCK_DGRAM`` for a UDP one)."""
    return free_port_range(1, kind)


needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="the docker CLI is not installed")
needs_registry = pytest.mark.skipif(not os.path.exists("/usr/bin/docker-registry"),
                                    reason="docker-registry not installed")


@pytest.fixture
def registry(tmp_path) -> Iterator[Registry]:
    """A loopback docker-registry (plain HTTP), stopped after the test."""
    r = Registry(str(tmp_path / "registry")).start()
    yield r
    r.stop()


@contextlib.contextmanager
def container(daemon: Daemon, *args: str, name: str) -> Iterator[str]:
    """``pouch run -d --name NAME ARGS...``: yields the id; the container is removed after."""
    cid = daemon.cli("run", "-d", "--name", name, *args).stdout.strip()
    try:
        yield cid
    finally:
        daemon.cli("rm", "-f", name, check=False)


def mounts_below(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path.rstrip("/") + "/")]


def free_test_subnet() -> str:
    """A 10.200-250.x.0/24 no route of the host uses yet (a running daemon's bridge has one).

    Chosen at random and checked against the host, not numbered by a counter: this module
    can be imported twice (as ``conftest`` and as ``tests.integration.conftest``), and two
    counters once gave two daemons the same bridge name and different subnets."""
    routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True).stdout
    used = {line.split()[0] for line in routes.splitlines() if line}
    while True:
        subnet = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}.0/24"
        if subnet not in used:
            return subnet


class Daemon:
    """A pouchd under test, with helpers to drive it through its CLI."""

    def __init__(self, base: str, extra_args: tuple[str, ...] = ()) -> None:
        self.base = base
        self.extra_args = extra_args
        self.root = os.path.join(base, "root")
        self.exec_root = os.path.join(base, "run")
        self.sock = os.path.join(base, "pouchd.sock")
        self.host = "unix://" + self.sock
        self.log = os.path.join(base, "pouchd.log")
        self.bridge = f"pt{secrets.token_hex(5)}"  # unique on the host: daemons never share a bridge
        self.subnet = free_test_subnet()
        self.proc: subprocess.Popen | None = None
        self.env = dict(os.environ, POUCH_HOST=self.host)

    def start(self) -> None:
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [POUCHD, "-H", self.host, "--root", self.root, "--exec-root", self.exec_root,
             "--bridge-name", self.bridge, "--bip", self.subnet, "--debug", *self.extra_args],
            stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pouchd exited with {self.proc.returncode}:\n{self.read_log()}")
            if os.path.exists(self.sock) and self.cli("version", check=False).returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"pouchd did not come up:\n{self.read_log()}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def read_log(self) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-5000:]
        except FileNotFoundError:
            return ""

    def cli(self, *args: str, input: bytes | str | None = None, timeout: float = 60, check: bool = True,
            text: bool = True) -> subprocess.CompletedProcess:
        if isinstance(input, str) and not text:
            input = input.encode()
        result = subprocess.run([POUCH, *args], input=input, capture_output=True, timeout=timeout, env=self.env,
                                text=text)
        if check and result.returncode != 0:
            raise AssertionError(f"pouch {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def docker(self, *args: str, input: str | None = None, timeout: float = 60,
               check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(["docker", "-H", self.host, *args], input=input, capture_output=True, text=True,
                                timeout=timeout, env=dict(os.environ, DOCKER_CONFIG=os.path.join(self.base, "docker")))
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def inspect(self, name: str) -> dict:
        """``pouch inspect NAME``, parsed."""
        return json.loads(self.cli("inspect", name).stdout)[0]

    def api(self, method: str, path: str) -> object:
        """One Engine API request on the daemon's socket (fast: no CLI process); the JSON answer, or None."""
        conn = http.client.HTTPConnection("localhost", timeout=60)
        conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.sock.settimeout(60)
        conn.sock.connect(self.sock)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status >= 400 and response.status != 404:
            raise AssertionError(f"{method} {path}: {response.status} {body[:500]!r}")
        return json.loads(body) if body and response.getheader("Content-Type", "").startswith("application/json") else None

    def objects(self) -> dict[str, set[str]]:
        """The ids of its containers and networks and the names of its volumes."""
        containers = self.api("GET", "/containers/json?all=1") or []
        networks = self.api("GET", "/networks") or []
        volumes = (self.api("GET", "/volumes") or {}).get("Volumes") or []  # type: ignore[union-attr]
        return {"containers": {c["Id"] for c in containers}, "networks": {n["Id"] for n in networks},  # type: ignore[union-attr]
                "volumes": {v["Name"] for v in volumes}}

    def remove_objects(self, keep: dict[str, set[str]]) -> None:
        """Remove the containers, then the networks and volumes, that are not in ``keep``."""
        now = self.objects()
        quote = urllib.parse.quote
        for cid in now["containers"] - keep["containers"]:
            self.api("DELETE", f"/containers/{cid}?force=1&v=1")
        for nid in now["networks"] - keep["networks"]:
            self.api("DELETE", f"/networks/{nid}")
        for name in now["volumes"] - keep["volumes"]:
            self.api("DELETE", f"/volumes/{quote(name, safe='')}?force=1")

    def remove_all_containers(self) -> None:
        ids = self.cli("ps", "-aq", "--no-trunc", check=False).stdout.split()
        if ids:
            self.cli("rm", "-f", *ids, check=False)


@contextlib.contextmanager
def running_daemon(base: str, busybox_tar: str, extra_args: tuple[str, ...] = ()) -> Iterator[Daemon]:
    """A started pouchd with busybox:latest imported; on exit its containers are removed, it is
    stopped by its PID and what it left on the host is checked and cleaned."""
    os.makedirs(base, exist_ok=True)
    d = Daemon(base, extra_args=extra_args)
    d.start()
    try:
        d.cli("import", busybox_tar, "busybox:latest", "--change", 'CMD ["sh"]')
        yield d
    finally:
        if d.proc is None:  # a test killed it
            d.start()
        try:
            d.remove_all_containers()
        finally:
            d.stop()
            cleanup_daemon_leftovers(d)


@pytest.fixture(scope="session")
def daemon(tmp_path_factory, busybox_tar):
    """One pouchd for the session, with the busybox image imported as busybox:latest."""
    with running_daemon(str(tmp_path_factory.mktemp("pouchd")), busybox_tar) as d:
        yield d


@pytest.fixture(autouse=True)
def _remove_what_the_test_left(request):
    """A test on the session's shared daemon: the containers, networks and volumes it made are
    removed after it, pass or fail, so that one failure cannot cascade into other tests (a name
    taken, a port published, a count off). What module fixtures made before it is kept."""
    if "daemon" not in request.fixturenames:
        yield
        return
    d = request.getfixturevalue("daemon")
    before = d.objects()
    yield
    d.remove_objects(before)


@pytest.fixture
def clean_containers(daemon):
    """Remove every container of the shared daemon after the test (``pytestmark = pytest.mark.usefixtures(...)``)."""
    yield
    daemon.remove_all_containers()


def cleanup_daemon_leftovers(d: Daemon) -> None:
    """Remove what a daemon leaves on the host by design (its bridge), and fail loudly on leaks."""
    netns_dir = os.path.join(d.exec_root, "netns")  # a shared bind mount of itself, kept by design like /run/netns
    leaked = [m for m in mounts_below(d.base) if m != netns_dir]
    for target in reversed(leaked):
        subprocess.run(["umount", "-l", target], check=False)
    subprocess.run(["umount", netns_dir], check=False, capture_output=True)
    subprocess.run(["ip", "link", "delete", d.bridge], check=False, capture_output=True)
    try:
        from pouch.network.manager import remove_network_leftovers  # type: ignore[attr-defined]
    except ImportError:
        remove_network_leftovers = None
    if remove_network_leftovers:
        remove_network_leftovers(d.bridge, d.subnet)
    assert not leaked, f"mounts left behind: {leaked}"


@pytest.fixture
def fresh_daemon(tmp_path, busybox_tar):
    """A daemon of the test's own, for tests that kill or restart it."""
    with running_daemon(str(tmp_path), busybox_tar) as d:
        yield d
