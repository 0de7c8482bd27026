"""pouchd on a real host: several -H (unix, tcp with mutual TLS, fd:// from systemd), --group,
sd_notify READY, /etc/pouch/daemon.json and SIGHUP, with the docker CLI, docker-py and pouch."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

import pytest

from tests.integration.conftest import (
    POUCHD,
    Daemon,
    cleanup_daemon_leftovers,
    free_port,
    needs_docker,
    running_daemon,
    wait_until,
)
from tests.tls_certs import make_certs

pytestmark = needs_docker


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(str(tmp_path_factory.mktemp("tls")))


@pytest.fixture(scope="module")
def tls_daemon(tmp_path_factory, busybox_tar, certs):
    port = free_port()
    flags = ("-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", certs.ca,
             "--tlscert", certs.server_cert, "--tlskey", certs.server_key)
    with running_daemon(str(tmp_path_factory.mktemp("pouchd-tls")), busybox_tar, extra_args=flags) as d:
        d.tcp = f"tcp://127.0.0.1:{port}"  # type: ignore[attr-defined]
        yield d


def docker_tls(d, certs, *args: str, cert: tuple[str, str] | None = None, input: str | None = None):
    client_cert, client_key = cert or (certs.client_cert, certs.client_key)
    tls = ["--tlsverify", "--tlscacert", certs.ca]
    if client_cert:
        tls += ["--tlscert", client_cert, "--tlskey", client_key]
    return subprocess.run(["docker", *tls, "-H", d.tcp, *args], capture_output=True, text=True, timeout=60, input=input,
                          env=dict(os.environ, DOCKER_CONFIG=os.path.join(d.base, "docker-tls")))


def test_the_docker_cli_over_mutual_tls(tls_daemon, certs):
    d = tls_daemon
    run = docker_tls(d, certs, "run", "--rm", "busybox", "echo", "hello over tls")
    assert (run.returncode, run.stdout) == (0, "hello over tls\n"), run.stderr
    piped = docker_tls(d, certs, "run", "-i", "--rm", "busybox", "tr", "a-z", "A-Z", input="through the relay\n" * 2000)
    assert (piped.returncode, piped.stdout) == (0, "THROUGH THE RELAY\n" * 2000), piped.stderr
    name = d.cli("create", "--name", "over-tls", "busybox").stdout.strip()
    ps = docker_tls(d, certs, "ps", "-a", "--format", "{{.Names}}")
    assert ps.returncode == 0 and "over-tls" in ps.stdout.split(), ps.stderr
    d.cli("rm", name)


def test_a_client_without_a_valid_certificate_is_refused(tls_daemon, certs, tmp_path):
    d = tls_daemon
    no_cert = docker_tls(d, certs, "ps", cert=("", ""))
    assert no_cert.returncode != 0 and "tls" in no_cert.stderr.lower(), no_cert.stderr
    other = make_certs(str(tmp_path / "other"), ca_name="otherca")
    foreign = docker_tls(d, certs, "ps", cert=(other.client_cert, other.client_key))
    assert foreign.returncode != 0 and "certificate" in foreign.stderr.lower(), foreign.stderr
    with socket.create_connection(("127.0.0.1", int(d.tcp.rsplit(":", 1)[1])), timeout=10) as plain:
        plain.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")  # no TLS at all
        try:
            answer = plain.recv(100)
        except ConnectionResetError:
            answer = b""
        assert not answer.startswith(b"HTTP/1.1 200")
    assert "TLS handshake with 127.0.0.1" in d.read_log()


def test_docker_py_over_tls(tls_daemon, certs, monkeypatch):
    import docker

    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # requests prefers them to the client's own CA
        monkeypatch.delenv(name, raising=False)
    tls = docker.tls.TLSConfig(client_cert=(certs.client_cert, certs.client_key), ca_cert=certs.ca, verify=True)
    client = docker.DockerClient(base_url=tls_daemon.tcp.replace("tcp://", "https://"), tls=tls)
    try:
        assert client.ping() is True
        assert client.containers.run("busybox", ["echo", "docker-py over tls"], remove=True) == b"docker-py over tls\n"
    finally:
        client.close()


# --- daemons started here: own flags, a config file, systemd's protocols -----------------------


class HostDaemon(Daemon):
    """A pouchd with exactly the given arguments (no -H, no --debug added), optionally behind
    ``systemd-socket-activate``; it reports READY=1 on the test's own notify socket."""

    def __init__(self, base: str, flags: tuple[str, ...] = (), activate: bool = False, also_listen: str = "") -> None:
        super().__init__(base)
        self.flags = flags
        self.activate = activate
        self.also_listen = also_listen  # a second socket for systemd-socket-activate (fd 4)
        self.notify_path = os.path.join(base, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)

    def start(self) -> None:
        argv = [POUCHD, "--root", self.root, "--exec-root", self.exec_root, "--bridge-name", self.bridge,
                "--bip", self.subnet, *self.flags]
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        if self.activate:  # systemd's pouchd.socket in small: the socket exists before pouchd runs
            extra = ["-l", self.also_listen] if self.also_listen else []
            argv = ["systemd-socket-activate", "-l", self.sock, *extra, "-E", f"NOTIFY_SOCKET={self.notify_path}",
                    *argv]
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, env=env)
        if self.activate:
            wait_until(lambda: os.path.exists(self.sock), what="systemd-socket-activate's socket")
            subprocess.Popen([os.path.join(os.path.dirname(POUCHD), "pouch"), "-H", self.host, "version"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).wait(60)  # starts pouchd
        self.notify.settimeout(30)
        try:
            message = self.notify.recv(4096).decode()
        except TimeoutError:
            raise RuntimeError(f"pouchd sent no READY=1:\n{self.read_log()}") from None
        assert "READY=1" in message.split("\n"), message
        self.ready_message = message

    def stop(self) -> None:
        super().stop()
        self.notify.close()


def _stopped(d: HostDaemon) -> None:
    try:
        d.stop()
    finally:
        cleanup_daemon_leftovers(d)


def test_socket_activation_and_sd_notify(tmp_path, certs):
    port = free_port()
    tls = ("--tlsverify", "--tlscacert", certs.ca, "--tlscert", certs.server_cert, "--tlskey", certs.server_key)
    d = HostDaemon(str(tmp_path), flags=("-H", "fd://", *tls), activate=True, also_listen=f"127.0.0.1:{port}")
    d.start()
    try:
        assert "MAINPID=" in d.ready_message
        assert d.cli("version").returncode == 0
        assert d.docker("ps").returncode == 0
        log = d.read_log()
        assert "API listening on fd://3" in log and f"API listening on fd://4 (127.0.0.1:{port})" in log
        d.tcp = f"tcp://127.0.0.1:{port}"  # type: ignore[attr-defined]
        over_tls = docker_tls(d, certs, "version", "--format", "{{.Server.Version}}")
        assert over_tls.returncode == 0 and over_tls.stdout.strip(), over_tls.stderr  # systemd's TCP socket, with TLS
        assert docker_tls(d, certs, "ps", cert=("", "")).returncode != 0
    finally:
        _stopped(d)


def test_daemon_json_sighup_and_the_socket_group(tmp_path):
    port = free_port()
    config_file = tmp_path / "daemon.json"
    sock = str(tmp_path / "pouchd.sock")
    doc = {"hosts": [f"unix://{sock}", f"tcp://127.0.0.1:{port}"], "debug": False, "group": "4242",
           "registry-mirrors": ["https://mirror-a.example"]}
    config_file.write_text(json.dumps(doc))
    d = HostDaemon(str(tmp_path), flags=("--config-file", str(config_file)))
    d.start()
    try:
        st = os.stat(sock)
        assert (st.st_mode & 0o777, st.st_gid) == (0o660, 4242)
        tcp = ["docker", "-H", f"tcp://127.0.0.1:{port}"]  # plain TCP: allowed on loopback

        def info() -> dict:
            out = subprocess.run([*tcp, "info", "--format", "{{json .}}"], capture_output=True, text=True, timeout=60,
                                 env=dict(os.environ, DOCKER_CONFIG=str(tmp_path / "docker")))
            assert out.returncode == 0, out.stderr
            return json.loads(out.stdout)

        before = info()
        assert before["Debug"] is False and before["RegistryConfig"]["Mirrors"] == ["https://mirror-a.example"]
        doc.update({"debug": True, "registry-mirrors": ["https://mirror-b.example"],
                    "insecure-registries": ["myreg.example:5000"], "default-runtime": "crun2",
                    "runtimes": {"crun2": {"path": "/usr/bin/runc", "runtimeArgs": ["--debug"]}}})
        doc["hosts"] = doc["hosts"][:1]  # not reloadable: stays as it is, and the log says so
        config_file.write_text(json.dumps(doc))
        os.kill(d.proc.pid, signal.SIGHUP)
        wait_until(lambda: "not reloaded, restart pouchd to change: hosts" in d.read_log(), what="the reload")
        after = info()
        assert after["Debug"] is True and after["RegistryConfig"]["Mirrors"] == ["https://mirror-b.example"]
        assert "myreg.example:5000" in after["RegistryConfig"]["IndexConfigs"]
        assert (after["DefaultRuntime"], sorted(after["Runtimes"])) == ("crun2", ["crun2", "runc"])
        assert "reloaded debug: False -> True" in d.read_log()

        config_file.write_text('{"debug": false, "nonsense": 1}')
        os.kill(d.proc.pid, signal.SIGHUP)
        wait_until(lambda: "don't match any configuration option: nonsense" in d.read_log(), what="the refusal")
        assert info()["Debug"] is True  # the running configuration is kept
    finally:
        _stopped(d)


def test_startup_refusals_name_the_setting(tmp_path):
    config_file = tmp_path / "daemon.json"
    config_file.write_text(json.dumps({"debug": True, "exec-root": str(tmp_path / "run")}))
    common = ["--config-file", str(config_file), "--root", str(tmp_path / "root"), "--bridge-name", "ptrefused",
              "--bip", "10.199.199.0/24"]
    for extra, says in ((["--debug"], "specified both as a flag and in the configuration file: debug"),
                        (["-H", "tcp://0.0.0.0:2375"], "refusing to listen on tcp://0.0.0.0:2375 without TLS"),
                        (["--group", "no-such-group-x"], "--group no-such-group-x: no such group")):
        started = time.monotonic()
        result = subprocess.run([POUCHD, *common, "-H", f"unix://{tmp_path}/x.sock", *extra], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode != 0 and says in result.stderr, (extra, result.stderr)
        assert time.monotonic() - started < 30
    assert not os.path.exists(tmp_path / "run") and not os.path.exists(tmp_path / "root" / "pouch.db")  # nothing made
