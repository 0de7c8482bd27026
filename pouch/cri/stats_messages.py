"""The engine's stats samples as the CRI's ContainerStats and PodSandboxStats (pure).

Working set as kubelet and cAdvisor count it: usage less the inactive file cache. CPU
``usage_nano_cores`` needs two samples: the caller keeps the previous (time, usage) of each
container (:class:`CpuPoint`), as containerd does, and it is left unset on a first sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pouch.cri import api_pb2 as pb
from pouch.cri.labels import CriObject
from pouch.cri.pod_messages import container_metadata_message, pod_metadata_message
from pouch.services.stats import StatsSample

DEFAULT_INTERFACE = "eth0"


@dataclass(frozen=True)
class CpuPoint:
    """A container's CPU time (ns) when it was read (ns since the epoch)."""

    timestamp: int
    usage: int


def _u64(value: int) -> pb.UInt64Value:
    return pb.UInt64Value(value=max(value, 0))


def working_set(sample: StatsSample) -> int:
    if sample.memory is None:
        return 0
    stats = sample.memory.stats
    inactive = stats.get("total_inactive_file", stats.get("inactive_file", 0))
    return max(sample.memory.usage - inactive, 0)


def cpu_usage(sample: StatsSample, now_ns: int, previous: CpuPoint | None) -> pb.CpuUsage:
    total = sample.cpu.usage.total
    cpu = pb.CpuUsage(timestamp=now_ns, usage_core_nano_seconds=_u64(total))
    if previous is not None and now_ns > previous.timestamp and total >= previous.usage:
        cpu.usage_nano_cores.value = (total - previous.usage) * 1_000_000_000 // (now_ns - previous.timestamp)
    return cpu


def memory_usage(sample: StatsSample, now_ns: int) -> pb.MemoryUsage:
    memory = pb.MemoryUsage(timestamp=now_ns)
    if sample.memory is None:
        return memory
    stats = sample.memory.stats
    memory.working_set_bytes.value = working_set(sample)
    memory.usage_bytes.value = sample.memory.usage
    memory.rss_bytes.value = stats.get("total_rss", stats.get("rss", stats.get("anon", 0)))
    memory.page_faults.value = stats.get("total_pgfault", stats.get("pgfault", 0))
    memory.major_page_faults.value = stats.get("total_pgmajfault", stats.get("pgmajfault", 0))
    if sample.memory.limit:
        memory.available_bytes.value = max(sample.memory.limit - working_set(sample), 0)
    return memory


def container_stats(obj: CriObject, container_id: str, sample: StatsSample, now_ns: int,
                    previous: CpuPoint | None, writable: pb.FilesystemUsage | None) -> pb.ContainerStats:
    stats = pb.ContainerStats(
        attributes=pb.ContainerAttributes(id=container_id, metadata=container_metadata_message(obj.metadata),
                                          labels=obj.labels, annotations=obj.annotations),
        cpu=cpu_usage(sample, now_ns, previous), memory=memory_usage(sample, now_ns))
    if writable is not None:
        stats.writable_layer.CopyFrom(writable)
    return stats


def network_usage(networks: Mapping[str, object] | None, now_ns: int) -> pb.NetworkUsage:
    usage = pb.NetworkUsage(timestamp=now_ns)
    for name, counters in sorted((networks or {}).items()):
        if name == "lo":
            continue
        interface = pb.NetworkInterfaceUsage(
            name=name, rx_bytes=_u64(getattr(counters, "rx_bytes", 0)), rx_errors=_u64(getattr(counters, "rx_errors", 0)),
            tx_bytes=_u64(getattr(counters, "tx_bytes", 0)), tx_errors=_u64(getattr(counters, "tx_errors", 0)))
        if name == DEFAULT_INTERFACE:
            usage.default_interface.CopyFrom(interface)
        else:
            usage.interfaces.append(interface)
    return usage


def pod_stats(pod_id: str, obj: CriObject, infra: StatsSample, containers: Sequence[pb.ContainerStats],
              processes: int, now_ns: int) -> pb.PodSandboxStats:
    """The pod's usage: its containers' and its infra process's CPU and memory summed, the
    network of its namespace (eth0 the default interface), its process count."""
    cpu_total = infra.cpu.usage.total + sum(c.cpu.usage_core_nano_seconds.value for c in containers)
    memory_ws = working_set(infra) + sum(c.memory.working_set_bytes.value for c in containers)
    memory_usage_bytes = (infra.memory.usage if infra.memory else 0) + sum(c.memory.usage_bytes.value for c in containers)
    cpu = pb.CpuUsage(timestamp=now_ns, usage_core_nano_seconds=_u64(cpu_total))
    if containers and all(c.cpu.HasField("usage_nano_cores") for c in containers):
        cpu.usage_nano_cores.value = sum(c.cpu.usage_nano_cores.value for c in containers)
    linux = pb.LinuxPodSandboxStats(
        cpu=cpu,
        memory=pb.MemoryUsage(timestamp=now_ns, working_set_bytes=_u64(memory_ws), usage_bytes=_u64(memory_usage_bytes)),
        network=network_usage(infra.networks, now_ns),
        process=pb.ProcessUsage(timestamp=now_ns, process_count=_u64(processes)),
        containers=list(containers))
    attributes = pb.PodSandboxAttributes(id=pod_id, metadata=pod_metadata_message(obj.metadata), labels=obj.labels,
                                         annotations=obj.annotations)
    return pb.PodSandboxStats(attributes=attributes, linux=linux)
