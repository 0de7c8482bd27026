"""Docker's stats JSON (API v1.41), key for key, from the cgroup files of a fake v1 and v2
hierarchy under tmp_path: what ``GET /containers/{id}/stats`` sends."""

from __future__ import annotations

import os
import re
from pathlib import Path

from pouch.api.stats_json import stats_to_docker
from pouch.cgroups.paths import CgroupLayout
from pouch.cgroups.stats import read_host_memory
from pouch.models import Container, CreateOptions, Status
from pouch.services.stats import build_sample, empty_sample

ZERO = "0001-01-01T00:00:00Z"
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
CG = "pouch/" + "c" * 64
BLKIO_EMPTY = {"io_queue_recursive": [], "io_service_time_recursive": [], "io_wait_time_recursive": [],
               "io_merged_recursive": [], "io_time_recursive": [], "sectors_recursive": []}


def web(network_mode: str = "bridge", pid: int = 0) -> Container:
    c = Container(id="c" * 64, name="web", image_id="sha256:" + "0" * 64, image_ref="busybox",
                  created="2024-01-01T00:00:00Z", options=CreateOptions(image="busybox", network_mode=network_mode))
    c.state.status = Status.RUNNING
    c.state.pid = pid
    return c


def write(base: Path, files: dict[str, str]) -> None:
    base.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (base / name).write_text(text)


def v2_layout(root: Path) -> CgroupLayout:
    write(root / CG, {
        "cpu.stat": "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\nnr_periods 4\nnr_throttled 1\nthrottled_usec 7\n",
        "memory.current": "8192\n", "memory.max": "max\n", "memory.stat": "anon 4096\ninactive_file 4096\n",
        "pids.current": "2\n", "pids.max": "10\n", "io.stat": "254:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0\n"})
    return CgroupLayout(2, unified=str(root))


def v1_layout(root: Path) -> CgroupLayout:
    controllers = {
        "cpuacct": {"cpuacct.usage": "5000000\n", "cpuacct.usage_percpu": "3000000 2000000 \n",
                    "cpuacct.stat": "user 3\nsystem 1\n"},
        "cpu": {"cpu.stat": "nr_periods 10\nnr_throttled 2\nthrottled_time 99\n"},
        "memory": {"memory.usage_in_bytes": "4096000\n", "memory.max_usage_in_bytes": "5000000\n",
                   "memory.limit_in_bytes": "33554432\n", "memory.stat": "cache 4096\n", "memory.failcnt": "0\n"},
        "pids": {"pids.current": "3\n", "pids.max": "max\n"},
        "blkio": {"blkio.throttle.io_service_bytes_recursive": "254:0 Read 4096\n254:0 Write 8192\nTotal 12288\n",
                  "blkio.throttle.io_serviced_recursive": "254:0 Read 1\n"},
    }
    for controller, files in controllers.items():
        write(root / controller / CG, files)
    return CgroupLayout(1, v1={name: str(root / name) for name in controllers})


def docker_samples(c: Container, layout: CgroupLayout) -> tuple[dict, dict]:
    """Two successive samples as the API renders them."""
    first = build_sample(c, CG, None, layout)
    return stats_to_docker(first), stats_to_docker(build_sample(c, CG, first, layout))


def check_host_values(sample: dict) -> None:
    """The values read from the host (times, the host's CPU time): checked, then set aside."""
    assert RFC3339.fullmatch(sample.pop("read"))
    cpu = sample["cpu_stats"]
    assert isinstance(cpu.pop("system_cpu_usage"), int)
    assert cpu.pop("online_cpus") == (os.cpu_count() or 1)


def test_v2_running_sample(tmp_path):
    first, second = docker_samples(web(), v2_layout(tmp_path))
    assert second["preread"] == first["read"] and second["precpu_stats"] == first["cpu_stats"]
    assert first.pop("preread") == ZERO
    check_host_values(first)
    assert first == {
        "pids_stats": {"current": 2, "limit": 10},
        "blkio_stats": {"io_service_bytes_recursive": [{"major": 254, "minor": 0, "op": "read", "value": 100},
                                                       {"major": 254, "minor": 0, "op": "write", "value": 200}],
                        "io_serviced_recursive": [{"major": 254, "minor": 0, "op": "read", "value": 1},
                                                  {"major": 254, "minor": 0, "op": "write", "value": 2}],
                        **BLKIO_EMPTY},
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": {"cpu_usage": {"total_usage": 5_000_000, "percpu_usage": [], "usage_in_kernelmode": 2_000_000,
                                    "usage_in_usermode": 3_000_000},
                      "throttling_data": {"periods": 4, "throttled_periods": 1, "throttled_time": 7000}},
        "precpu_stats": {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                         "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
        "memory_stats": {"usage": 8192, "stats": {"anon": 4096, "inactive_file": 4096}, "limit": read_host_memory()},
        "name": "/web",
        "id": "c" * 64,
        "networks": {},
    }
    assert list(first) == ["pids_stats", "blkio_stats", "num_procs", "storage_stats", "cpu_stats", "precpu_stats",
                           "memory_stats", "name", "id", "networks"]


def test_v1_running_sample_in_the_host_network(tmp_path):
    first, second = docker_samples(web("host"), v1_layout(tmp_path))
    check_host_values(second)
    assert second.pop("preread") == first["read"]
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = {"cpu_usage": {"total_usage": 5000000, "percpu_usage": [3000000, 2000000],
                         "usage_in_kernelmode": 10**9 // ticks, "usage_in_usermode": 3 * 10**9 // ticks},
           "throttling_data": {"periods": 10, "throttled_periods": 2, "throttled_time": 99}}
    assert second == {
        "pids_stats": {"current": 3},
        "blkio_stats": {"io_service_bytes_recursive": [{"major": 254, "minor": 0, "op": "Read", "value": 4096},
                                                       {"major": 254, "minor": 0, "op": "Write", "value": 8192}],
                        "io_serviced_recursive": [{"major": 254, "minor": 0, "op": "Read", "value": 1}],
                        **BLKIO_EMPTY},
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu,
        "precpu_stats": {**cpu, "system_cpu_usage": first["cpu_stats"]["system_cpu_usage"],
                         "online_cpus": os.cpu_count() or 1},
        "memory_stats": {"usage": 4096000, "max_usage": 5000000, "failcnt": 0, "stats": {"cache": 4096},
                         "limit": min(33554432, read_host_memory() or 33554432)},
        "name": "/web",
        "id": "c" * 64,
    }  # no "networks" in the host's network


def test_networks_of_a_running_container(tmp_path):
    sample = stats_to_docker(build_sample(web(pid=os.getpid()), CG, None, v2_layout(tmp_path)))
    assert "lo" not in sample["networks"]
    for counters in sample["networks"].values():
        assert set(counters) == {"rx_bytes", "rx_packets", "rx_errors", "rx_dropped",
                                 "tx_bytes", "tx_packets", "tx_errors", "tx_dropped"}


def test_a_stopped_container_reads_zero():
    c = web()
    c.state.status = Status.EXITED
    sample = stats_to_docker(empty_sample(c))
    assert sample == {
        "read": ZERO, "preread": ZERO, "pids_stats": {},
        "blkio_stats": {"io_service_bytes_recursive": None, "io_serviced_recursive": None,
                        "io_queue_recursive": None, "io_service_time_recursive": None,
                        "io_wait_time_recursive": None, "io_merged_recursive": None, "io_time_recursive": None,
                        "sectors_recursive": None},
        "num_procs": 0, "storage_stats": {},
        "cpu_stats": {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                      "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
        "precpu_stats": {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                         "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
        "memory_stats": {}, "name": "/web", "id": "c" * 64,
    }
    assert list(sample)[:2] == ["read", "preread"]
