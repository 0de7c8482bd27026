"""Log drivers (--log-driver/--log-opt, HostConfig.LogConfig): json-file in Docker's on-disk format
with rotation and compression, local, syslog to a listener the test starts, none; unknown drivers
and options refused at create; the rotation budget held at any write rate."""

from __future__ import annotations

import glob
import gzip
import json
import os
import shutil
import socket
import subprocess
import time

import pytest

from tests.integration.conftest import POUCH, container, needs_docker, unique_name, wait_until

pytestmark = pytest.mark.usefixtures("clean_containers")


def _cdir(daemon, cid: str) -> str:
    return os.path.join(daemon.root, "containers", cid)


def test_json_file_is_dockers_format_at_dockers_path(daemon):
    name = unique_name("jf")
    with container(daemon, "busybox", "sh", "-c", "echo out; echo err >&2; printf 'a<b>&\\n'; sleep 60",
                   name=name) as cid:
        path = os.path.join(_cdir(daemon, cid), f"{cid}-json.log")
        wait_until(lambda: os.path.exists(path) and os.path.getsize(path) > 0 and
                   len(open(path).read().splitlines()) >= 3, what="three log lines")
        lines = [json.loads(line) for line in open(path).read().splitlines()]
        assert [(x["log"], x["stream"]) for x in lines if x["stream"] == "stdout"] == [("out\n", "stdout"),
                                                                                     ("a<b>&\n", "stdout")]
        assert [(x["log"], x["stream"]) for x in lines if x["stream"] == "stderr"] == [("err\n", "stderr")]
        assert all(list(x) == ["log", "stream", "time"] and x["time"].endswith("Z") for x in lines)
        assert '"a\\u003cb\\u003e\\u0026\\n"' in open(path).read()  # as Go's encoder escapes
        info = daemon.inspect(name)
        assert info["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {}}
        assert info["LogPath"] == path
        assert daemon.cli("logs", name).stdout == "out\na<b>&\n"
        last = daemon.cli("logs", "--tail", "1", name)  # the last line of both streams
        assert (last.stdout + last.stderr) in ("a<b>&\n", "err\n")
        stamped = daemon.cli("logs", "-t", name).stdout.splitlines()[0]
        assert stamped.endswith(" out") and stamped[:4].isdigit()


def test_json_file_attrs(daemon):
    name = unique_name("attrs")
    with container(daemon, "--label", "team=db", "-e", "STAGE=prod", "--log-opt", "labels=team",
                   "--log-opt", "env=STAGE", "--log-opt", "tag={{.Name}}", "busybox", "sh", "-c", "echo a; sleep 60",
                   name=name) as cid:
        path = os.path.join(_cdir(daemon, cid), f"{cid}-json.log")
        wait_until(lambda: os.path.exists(path) and os.path.getsize(path) > 0, what="a log line")
        line = json.loads(open(path).readline())
        assert line["attrs"] == {"team": "db", "STAGE": "prod", "tag": name} and line["log"] == "a\n"
        assert daemon.cli("logs", name).stdout == "a\n"
        assert daemon.cli("logs", "--details", name).stdout == f"STAGE=prod,tag={name},team=db a\n"
        plain = unique_name("plain")
        daemon.cli("run", "--name", plain, "busybox", "echo", "b")
        assert daemon.cli("logs", "--details", plain).stdout == " b\n"  # no attrs: a space, as dockerd


def test_json_file_rotates_and_compresses(daemon):
    name = unique_name("jfrot")
    script = "i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo line-$i; done; sleep 60"
    with container(daemon, "--log-opt", "max-size=20k", "--log-opt", "max-file=3", "--log-opt", "compress=true",
                   "busybox", "sh", "-c", script, name=name) as cid:
        wait_until(lambda: daemon.cli("logs", "--tail", "1", name).stdout == "line-3000\n", timeout=30,
                   what="the last line")
        path = os.path.join(_cdir(daemon, cid), f"{cid}-json.log")
        files = sorted(os.path.basename(p) for p in glob.glob(path + "*"))
        assert files == [f"{cid}-json.log", f"{cid}-json.log.1.gz", f"{cid}-json.log.2.gz"]
        assert os.path.getsize(path) <= 20 * 1024
        with gzip.open(path + ".1.gz") as g:
            rotated = [json.loads(line)["log"] for line in g.read().splitlines()]
        assert len(gzip.decompress(open(path + ".1.gz", "rb").read())) <= 20 * 1024
        lines = daemon.cli("logs", name).stdout.splitlines()
        assert lines[-1] == "line-3000"
        numbers = [int(x.split("-")[1]) for x in lines]
        assert numbers == list(range(numbers[0], 3001)) and numbers[0] > 1  # contiguous; the oldest dropped
        assert rotated[-1].rstrip("\n") in lines


def test_local_driver_reads_back(daemon):
    name = unique_name("local")
    with container(daemon, "--log-driver", "local", "busybox", "sh", "-c", "echo one; echo two >&2; sleep 60",
                   name=name) as cid:
        path = os.path.join(_cdir(daemon, cid), "local-logs", "container.log")
        wait_until(lambda: daemon.cli("logs", name).stdout == "one\n", what="stdout line")
        assert os.path.getsize(path) > 0 and b"one" in open(path, "rb").read()
        both = daemon.cli("logs", name)
        assert (both.stdout, both.stderr) == ("one\n", "two\n")
        assert daemon.inspect(name)["HostConfig"]["LogConfig"]["Type"] == "local"


def test_none_driver_refuses_logs(daemon):
    name = unique_name("nolog")
    with container(daemon, "--log-driver", "none", "busybox", "sh", "-c", "echo hidden; sleep 60", name=name) as cid:
        result = daemon.cli("logs", name, check=False)
        assert result.returncode != 0
        assert "configured logging driver does not support reading" in result.stderr
        assert not glob.glob(os.path.join(_cdir(daemon, cid), "*log*"))


def test_attached_run_shows_output_whatever_the_driver(daemon, tmp_path):
    for driver in ("none", "local", "json-file"):
        assert daemon.cli("run", "--rm", "--log-driver", driver, "busybox", "echo", f"via-{driver}").stdout == \
            f"via-{driver}\n"


def test_unknown_driver_and_option_are_refused_at_create(daemon):
    bad = daemon.cli("create", "--log-driver", "gelf", "busybox", check=False)
    assert bad.returncode != 0 and "gelf" in bad.stderr and "json-file, local, syslog, none" in bad.stderr
    opt = daemon.cli("create", "--log-opt", "max-sise=1m", "busybox", check=False)
    assert opt.returncode != 0 and "unknown log opt 'max-sise' for json-file log driver" in opt.stderr
    syslog_opt = daemon.cli("create", "--log-driver", "syslog", "--log-opt", "max-size=1m", "busybox", check=False)
    assert syslog_opt.returncode != 0 and "unknown log opt 'max-size' for syslog log driver" in syslog_opt.stderr
    assert daemon.cli("ps", "-aq").stdout.strip() == ""


def test_syslog_driver_sends_to_a_listener(daemon, tmp_path):
    sock_path = str(tmp_path / "syslog.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(sock_path)
    listener.settimeout(20)
    name = unique_name("sl")
    try:
        with container(daemon, "--log-driver", "syslog", "--log-opt", f"syslog-address=unixgram://{sock_path}",
                       "--log-opt", "tag=app-{{.Name}}", "busybox", "sh", "-c", "echo hello syslog; echo bad >&2; sleep 60",
                       name=name):
            got = [listener.recv(4096).decode(), listener.recv(4096).decode()]
            assert any(m.startswith("<30>") and f"app-{name}[" in m and m.endswith("]: hello syslog") for m in got)
            assert any(m.startswith("<27>") and m.endswith(": bad") for m in got)  # daemon.err
            refused = daemon.cli("logs", name, check=False)
            assert refused.returncode != 0 and "does not support reading" in refused.stderr
    finally:
        listener.close()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(20)
    try:
        port = udp.getsockname()[1]
        with container(daemon, "--network", "host", "--log-driver", "syslog", "--log-opt",
                       f"syslog-address=udp://127.0.0.1:{port}", "--log-opt", "syslog-facility=local3",
                       "busybox", "sh", "-c", "echo over udp; sleep 60", name=unique_name("sludp")):
            msg = udp.recv(4096).decode()
            assert msg.startswith(f"<{19 * 8 + 6}>") and msg.endswith(": over udp")
    finally:
        udp.close()


def test_syslog_driver_without_a_listener_fails_the_start(daemon, tmp_path):
    name = unique_name("slnone")
    result = daemon.cli("run", "-d", "--name", name, "--log-driver", "syslog", "--log-opt",
                        f"syslog-address=unix://{tmp_path}/nothing.sock", "busybox", "true", check=False)
    assert result.returncode != 0 and "failed to initialize logging driver" in result.stderr
    info = daemon.inspect(name)
    assert info["State"]["Status"] == "created"
    assert not os.path.exists(os.path.join(daemon.exec_root, "logfifos", info["Id"]))
    assert not _processes_naming(info["Id"])  # no conmon, no writer left


def _processes_naming(text: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


def test_rotation_budget_holds_at_full_speed(daemon):
    name = unique_name("yes")
    budget = 2 * 1024 * 1024  # max-size=1m x max-file=2
    with container(daemon, "--log-opt", "max-size=1m", "--log-opt", "max-file=2", "busybox", "yes", name=name) as cid:
        cdir = _cdir(daemon, cid)
        peak, rotations, last_rotated = 0, 0, None
        begun = time.monotonic()
        while time.monotonic() - begun < 3 or rotations < 3:  # at least 3 s and 3 rotations, at any speed
            assert time.monotonic() - begun < 90, f"only {rotations} rotations in 90 s"
            sizes = {}
            for p in glob.glob(os.path.join(cdir, f"{cid}-json.log*")):
                try:
                    sizes[p] = os.stat(p)
                except FileNotFoundError:
                    continue
            peak = max(peak, sum(st.st_size for st in sizes.values()))
            rotated = sizes.get(os.path.join(cdir, f"{cid}-json.log.1"))
            if rotated is not None and rotated.st_ino != last_rotated:
                rotations, last_rotated = rotations + 1, rotated.st_ino
            time.sleep(0.02)
        assert peak <= budget + 64 * 1024
        started = time.monotonic()
        tail = daemon.cli("logs", "--tail", "2", name).stdout
        assert tail == "y\ny\n" and time.monotonic() - started < 5
        daemon.cli("kill", name)
        wait_until(lambda: daemon.inspect(name)["State"]["Status"] == "exited", what="the container exited")
        wait_until(lambda: not _processes_naming(cid), what="the writer drained the FIFO and exited")
        after = sum(os.path.getsize(p) for p in glob.glob(os.path.join(cdir, f"{cid}-json.log*")))
        assert after <= budget + 64 * 1024
        daemon.cli("rm", "-f", name)
        assert not os.path.exists(cdir)


def test_daemon_default_driver(tmp_path, busybox_tar):
    from tests.integration.conftest import running_daemon  # noqa: PLC0415 - this test's own daemon

    with running_daemon(str(tmp_path), busybox_tar, ("--log-driver", "local", "--log-opt", "max-size=1m")) as d:
        d.cli("run", "--name", "dflt", "busybox", "echo", "hi")
        assert d.inspect("dflt")["HostConfig"]["LogConfig"] == {"Type": "local", "Config": {"max-size": "1m"}}
        assert d.cli("logs", "dflt").stdout == "hi\n"
        d.cli("rm", "dflt")


@needs_docker
def test_docker_cli_log_options(daemon):
    name = unique_name("dk")
    daemon.docker("run", "--name", name, "--log-driver", "json-file", "--log-opt", "max-size=10m",
                  "--log-opt", "max-file=2", "busybox", "echo", "from docker")
    info = json.loads(daemon.docker("inspect", name).stdout)[0]
    assert info["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "2", "max-size": "10m"}}
    assert daemon.docker("logs", name).stdout == "from docker\n"
    bad = daemon.docker("run", "--log-driver", "fluentd", "busybox", "true", check=False)
    assert bad.returncode != 0 and "no log driver named 'fluentd'" in bad.stderr
    daemon.docker("rm", name)


COMPOSE_LOGGING = """\
version: "2.4"
services:
  talk:
    image: busybox:latest
    command: sh -c "echo composed; exec sleep 1000"
    logging:
      driver: json-file
      options:
        max-size: "1m"
        max-file: "3"
"""


COMPOSE_V2 = os.path.join(os.path.dirname(POUCH), "docker-compose-v2")


@pytest.mark.parametrize(("tool", "sep"), [
    pytest.param("docker-compose", "_", id="v1", marks=pytest.mark.skipif(
        not shutil.which("docker-compose"), reason="docker-compose is not installed")),
    pytest.param(COMPOSE_V2, "-", id="v2", marks=pytest.mark.skipif(
        not os.access(COMPOSE_V2, os.X_OK), reason="Compose v2 is not installed")),
])
def test_compose_logging_options(daemon, tmp_path, tool, sep):
    (tmp_path / "docker-compose.yml").write_text(COMPOSE_LOGGING)
    project = unique_name("cl")
    env = dict(os.environ, DOCKER_HOST=daemon.host, COMPOSE_PROJECT_NAME=project,
               DOCKER_CONFIG=str(tmp_path / ".docker"), DOCKER_BUILDKIT="0")

    def compose(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([tool, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    try:
        up = compose("up", "-d")
        assert up.returncode == 0, up.stderr
        info = daemon.inspect(f"{project}{sep}talk{sep}1")
        assert info["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "3"}}
        wait_until(lambda: "composed" in compose("logs", "--no-color", "talk").stdout, what="the service's log")
    finally:
        compose("down", "-t", "1")


def test_docker_py_reads_json_file_logs(daemon):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=daemon.host, version="1.41")
    try:
        c = client.containers.run("busybox", ["sh", "-c", "echo py-one; echo py-two"], detach=True,
                                  log_config=docker.types.LogConfig(type="json-file", config={"max-size": "1m"}),
                                  name=unique_name("py"))
        c.wait(timeout=30)
        assert c.logs() == b"py-one\npy-two\n"
        assert c.logs(tail=1, timestamps=True).endswith(b"Z py-two\n")
        assert c.attrs["HostConfig"]["LogConfig"]["Config"] == {"max-size": "1m"}
        c.remove()
        with pytest.raises(docker.errors.APIError, match="no log driver named 'splunk'"):
            client.containers.create("busybox", log_config=docker.types.LogConfig(type="splunk"))
    finally:
        client.close()


@pytest.mark.parametrize("driver", ["json-file", "local"])
def test_follow_since_and_until_across_rotations(daemon, driver):
    name = unique_name("follow")
    script = "i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo line-$i; [ $((i % 50)) = 0 ] && sleep 0.2; done"
    started = time.time()
    daemon.cli("run", "-d", "--name", name, "--log-driver", driver, "--log-opt", "max-size=2k", "--log-opt",
               "max-file=3", "busybox", "sh", "-c", script)
    followed = daemon.cli("logs", "-f", name, timeout=60).stdout.splitlines()
    numbers = [int(x.split("-")[1]) for x in followed]
    assert numbers[-1] == 400 and numbers == list(range(numbers[0], 401))  # nothing lost while following
    assert daemon.cli("logs", "--since", str(int(started) + 3600), name).stdout == ""
    assert daemon.cli("logs", "--until", str(int(started) - 3600), name).stdout == ""


def test_logs_keep_flowing_across_a_pouchd_crash(fresh_daemon):
    d = fresh_daemon
    d.cli("run", "-d", "--name", "ticker", "busybox", "sh", "-c", "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.1; done")
    wait_until(lambda: "tick-3" in d.cli("logs", "ticker").stdout, what="first ticks")
    d.kill9()
    time.sleep(1.0)  # the behaviour under test: the container keeps logging while pouchd is gone
    d.start()
    ticks = [int(x.split("-")[1]) for x in d.cli("logs", "ticker").stdout.split()]
    assert ticks == list(range(1, len(ticks) + 1)) and len(ticks) >= 8  # nothing lost while pouchd was down
    d.cli("rm", "-f", "ticker")


def test_syslog_over_tcp_in_rfc5424(daemon):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(20)
    try:
        port = server.getsockname()[1]
        name = unique_name("sltcp")
        with container(daemon, "--log-driver", "syslog", "--log-opt", f"syslog-address=tcp://127.0.0.1:{port}",
                       "--log-opt", "syslog-format=rfc5424", "--log-opt", "tag=web", "busybox", "sh", "-c",
                       "echo one; echo two; sleep 60", name=name):
            conn, _ = server.accept()
            conn.settimeout(20)
            data = b""
            while data.count(b"\n") < 2:
                data += conn.recv(4096)
            conn.close()
        first, second = data.decode().splitlines()[:2]
        assert first.startswith("<30>1 ") and " web " in first and first.endswith(" web - one")
        assert second.endswith(" web - two")
    finally:
        server.close()


@pytest.mark.parametrize("driver", ["json-file", "local"])
def test_log_survives_restarts_of_the_container(daemon, driver):
    name = unique_name("rs")
    daemon.cli("run", "--name", name, "--log-driver", driver, "busybox", "sh", "-c", "echo run-$(date +%s%N)")
    daemon.cli("start", "-a", name)
    daemon.cli("restart", "-t", "1", name)
    wait_until(lambda: len(daemon.cli("logs", name).stdout.splitlines()) == 3, what="three runs' lines")
    assert all(line.startswith("run-") for line in daemon.cli("logs", name).stdout.splitlines())
