"""pouch.cri.stats_messages and container_options.resource_changes: stats samples as CRI messages,
UpdateContainerResources as engine changes."""

from __future__ import annotations

import pytest

from pouch.cgroups.stats import CpuUsage, MemoryUsage, NetworkUsage, PidsUsage
from pouch.cri import api_pb2 as pb
from pouch.cri import labels as crilabels
from pouch.cri.container_options import resource_changes
from pouch.cri.labels import Metadata, PodFacts
from pouch.cri.stats_messages import CpuPoint, container_stats, pod_stats
from pouch.errors import InvalidArgument
from pouch.services.stats import CpuStats, StatsSample


def sample(cpu: int, usage: int = 100 << 20, inactive: int = 30 << 20, limit: int = 0) -> StatsSample:
    return StatsSample(id="c", name="c", cpu=CpuStats(usage=CpuUsage(total=cpu)),
                       memory=MemoryUsage(usage=usage, limit=limit, stats={"total_inactive_file": inactive,
                                                                           "total_rss": 50 << 20}),
                       pids=PidsUsage(current=3),
                       networks={"lo": NetworkUsage(1, 1, 0, 0, 1, 1, 0, 0),
                                 "eth0": NetworkUsage(100, 2, 1, 0, 200, 3, 2, 0)})


OBJ = crilabels.read(crilabels.container_labels(Metadata("app", 1), {"a": "b"}, {}, "p" * 64, ""))
POD = crilabels.read(crilabels.pod_labels(Metadata("pod", 0, "u", "ns"), {}, {}, PodFacts()))


def test_container_stats_cpu_rate_from_the_previous_point():
    assert OBJ is not None
    first = container_stats(OBJ, "c" * 64, sample(cpu=1_000_000_000), 10_000_000_000, None, None)
    assert first.cpu.usage_core_nano_seconds.value == 1_000_000_000
    assert not first.cpu.HasField("usage_nano_cores")
    second = container_stats(OBJ, "c" * 64, sample(cpu=1_500_000_000), 11_000_000_000,
                             CpuPoint(10_000_000_000, 1_000_000_000), None)
    assert second.cpu.usage_nano_cores.value == 500_000_000  # half a core
    assert second.memory.working_set_bytes.value == 70 << 20
    assert second.memory.rss_bytes.value == 50 << 20
    assert second.attributes.metadata.name == "app" and dict(second.attributes.labels) == {"a": "b"}


def test_available_bytes_only_with_a_limit():
    limited = container_stats(OBJ, "c", sample(cpu=0, limit=200 << 20), 1, None, None)  # type: ignore[arg-type]
    assert limited.memory.available_bytes.value == 130 << 20
    assert not container_stats(OBJ, "c", sample(cpu=0), 1, None, None).memory.HasField("available_bytes")  # type: ignore[arg-type]


def test_pod_stats_sum_the_containers_and_the_infra():
    assert OBJ is not None and POD is not None
    members = [container_stats(OBJ, "c1", sample(cpu=10), 5, CpuPoint(4, 5), None),
               container_stats(OBJ, "c2", sample(cpu=20), 5, CpuPoint(4, 10), None)]
    stats = pod_stats("p" * 64, POD, sample(cpu=1), members, processes=7, now_ns=5)
    linux = stats.linux
    assert linux.cpu.usage_core_nano_seconds.value == 31
    assert linux.memory.working_set_bytes.value == 3 * (70 << 20)
    assert linux.process.process_count.value == 7
    assert linux.network.default_interface.name == "eth0" and linux.network.default_interface.tx_bytes.value == 200
    assert list(linux.network.interfaces) == []  # lo is not counted
    assert stats.attributes.metadata.name == "pod" and len(linux.containers) == 2


def test_resource_changes():
    linux = pb.LinuxContainerResources(cpu_shares=256, memory_limit_in_bytes=1 << 30, cpuset_cpus="0-1")
    assert resource_changes(linux) == {"cpu_shares": 256, "memory": 1 << 30, "cpuset_cpus": "0-1"}
    assert resource_changes(pb.LinuxContainerResources()) == {}
    with pytest.raises(InvalidArgument):
        resource_changes(pb.LinuxContainerResources(hugepage_limits=[pb.HugepageLimit(page_size="2MB", limit=2)]))
