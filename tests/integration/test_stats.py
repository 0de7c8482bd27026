"""`pouch stats`, `GET /containers/{id}/stats`, `docker stats` and docker-py's `stats()`."""

from __future__ import annotations

import os
import select
import subprocess
import time

import pytest

from tests.integration.conftest import POUCH, container, needs_docker, unique_name, wait_until

MiB = 1024 * 1024


def _client(daemon):
    docker = pytest.importorskip("docker")
    return docker.DockerClient(base_url=daemon.host)


def test_one_shot_json_has_dockers_shape(daemon):
    with container(daemon, "-m", "32m", "--pids-limit", "50", "busybox", "sh", "-c",
                   "dd if=/dev/zero of=/dev/shm/fill bs=1M count=8 2>/dev/null; sleep 1000", name="st-json") as cid:
        c = _client(daemon).containers.get("st-json")
        deadline = time.time() + 10
        while True:
            s = c.stats(stream=False)
            if s["memory_stats"]["usage"] >= 8 * MiB or time.time() > deadline:
                break
            time.sleep(0.2)
        assert s["id"] == cid and s["name"] == "/st-json"
        assert s["read"] > s["preread"] > "0001"  # stream=0: two samples a second apart, as dockerd
        assert s["memory_stats"]["limit"] == 32 * MiB
        assert s["memory_stats"]["usage"] >= 8 * MiB  # the tmpfs file is charged to the container
        assert "cache" in s["memory_stats"]["stats"]
        assert s["pids_stats"] == {"current": 1, "limit": 50}  # sh execs its last command
        cpu = s["cpu_stats"]
        assert cpu["online_cpus"] >= 1 and cpu["system_cpu_usage"] > s["precpu_stats"]["system_cpu_usage"] > 0
        assert cpu["cpu_usage"]["total_usage"] > 0 and len(cpu["cpu_usage"]["percpu_usage"]) >= 1
        assert set(cpu["throttling_data"]) == {"periods", "throttled_periods", "throttled_time"}
        assert "io_service_bytes_recursive" in s["blkio_stats"]
        assert set(s["networks"]["eth0"]) >= {"rx_bytes", "tx_bytes", "rx_packets", "tx_dropped"}
        one = c.stats(stream=False, one_shot=True)
        assert one["preread"] == "0001-01-01T00:00:00Z" and one["precpu_stats"]["cpu_usage"]["total_usage"] == 0


def test_streamed_samples_each_second_chain_their_cpu(daemon):
    with container(daemon, "--cpus", "0.5", "busybox", "sh", "-c", "while :; do :; done", name="st-stream"):
        c = _client(daemon).containers.get("st-stream")
        stream = c.stats(stream=True, decode=True)
        try:
            first, second, third = next(stream), next(stream), next(stream)
        finally:
            stream.close()
        assert second["precpu_stats"] == first["cpu_stats"] and second["preread"] == first["read"]
        cpu_delta = third["cpu_stats"]["cpu_usage"]["total_usage"] - third["precpu_stats"]["cpu_usage"]["total_usage"]
        system_delta = third["cpu_stats"]["system_cpu_usage"] - third["precpu_stats"]["system_cpu_usage"]
        percent = cpu_delta / system_delta * third["cpu_stats"]["online_cpus"] * 100
        assert 5 < percent < 60  # a busy loop held at half a CPU by the CFS quota
        assert third["cpu_stats"]["throttling_data"]["throttled_periods"] > 0


def test_pouch_stats_no_stream_table_and_format(daemon):
    with container(daemon, "-m", "64m", "busybox", "sleep", "1000", name="st-cli") as cid:
        out = daemon.cli("stats", "--no-stream", "st-cli").stdout.splitlines()
        assert out[0].split() == ["CONTAINER", "ID", "NAME", "CPU", "%", "MEM", "USAGE", "/", "LIMIT", "MEM", "%",
                                  "NET", "I/O", "BLOCK", "I/O", "PIDS"]
        row = out[1].split()
        assert row[0] == cid[:12] and row[1] == "st-cli" and row[5] == "64MiB" and row[-1] == "1"
        assert daemon.cli("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "st-cli").stdout == "st-cli 1\n"
        # without names: every running container
        assert "st-cli" in daemon.cli("stats", "--no-stream").stdout


def test_stopped_container_reads_zero_and_unknown_is_an_error(daemon):
    st_stopped = unique_name("st-stopped")
    daemon.cli("create", "--name", st_stopped, "busybox", "true")
    try:
        out = daemon.cli("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", st_stopped).stdout
        assert out == f"{st_stopped} 0B / 0B 0\n"
        assert st_stopped in daemon.cli("stats", "--no-stream", "-a").stdout
        assert st_stopped not in daemon.cli("stats", "--no-stream").stdout
    finally:
        daemon.cli("rm", "-f", st_stopped, check=False)
    result = daemon.cli("stats", "--no-stream", "no-such-container", check=False)
    assert result.returncode != 0 and "No such container" in result.stderr


def test_pouch_stats_refreshes_like_docker(daemon):
    with container(daemon, "busybox", "sleep", "1000", name="st-live"):
        proc = subprocess.Popen([POUCH, "stats", "st-live"], stdout=subprocess.PIPE, env=daemon.env)
        clear = b"\033[2J\033[H"
        out = b""

        def three_clears() -> bool:  # two whole screens, the third begun
            nonlocal out
            if select.select([proc.stdout], [], [], 0.1)[0]:
                out += os.read(proc.stdout.fileno(), 65536)
            return out.count(clear) >= 3

        try:
            wait_until(three_clears, timeout=15, what="`pouch stats` to refresh twice")
        finally:
            proc.terminate()
            proc.communicate(timeout=10)
        screens = [s.decode() for s in out.split(clear)[1:-1]]  # the last one may be cut short
        assert len(screens) >= 2
        assert all(s.startswith("CONTAINER ID") for s in screens)
        assert " st-live " in screens[-1] and screens[-1].rstrip().endswith(" 1")


@needs_docker
def test_docker_stats_no_stream(daemon):
    with container(daemon, "-m", "48m", "busybox", "sleep", "1000", name="st-docker"):
        out = daemon.docker("stats", "--no-stream", "st-docker").stdout.splitlines()
        assert out[0].startswith("CONTAINER ID")
        assert "st-docker" in out[1] and "48MiB" in out[1]
        fmt = daemon.docker("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "st-docker").stdout
        assert fmt.strip() == "st-docker 1"
