"""Docker's stats JSON (Engine API v1.41, ``GET /containers/{id}/stats``) of a typed
``pouch.services.stats.StatsSample``, as dockerd writes it (moby ``api/types/stats.go``):
a container that is not running reads zeros with ``null`` block IO lists; on cgroup v2
``percpu_usage`` is empty and ``max_usage``/``failcnt`` are left out; ``networks`` is
absent in the host's network.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pouch.cgroups.stats import BlkioEntry, BlkioUsage, MemoryUsage, NetworkUsage, PidsUsage
from pouch.services.stats import CpuStats, StatsSample

ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time
BLKIO_OTHERS = ("io_queue_recursive", "io_service_time_recursive", "io_wait_time_recursive",
                "io_merged_recursive", "io_time_recursive", "sectors_recursive")  # never read, as dockerd on v2


def time_to_docker(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if when else ZERO_TIME


def cpu_to_docker(cpu: CpuStats) -> dict[str, Any]:
    usage: dict[str, Any] = {"total_usage": cpu.usage.total}
    if cpu.usage.per_cpu is not None:
        usage["percpu_usage"] = list(cpu.usage.per_cpu)
    usage["usage_in_kernelmode"] = cpu.usage.kernel_mode
    usage["usage_in_usermode"] = cpu.usage.user_mode
    out: dict[str, Any] = {"cpu_usage": usage}
    if cpu.system_usage is not None:
        out["system_cpu_usage"] = cpu.system_usage
    if cpu.online_cpus is not None:
        out["online_cpus"] = cpu.online_cpus
    t = cpu.throttling
    out["throttling_data"] = {"periods": t.periods, "throttled_periods": t.throttled_periods,
                              "throttled_time": t.throttled_time}
    return out


def memory_to_docker(memory: MemoryUsage | None) -> dict[str, Any]:
    if memory is None:
        return {}
    out: dict[str, Any] = {"usage": memory.usage}
    if memory.max_usage is not None:
        out["max_usage"] = memory.max_usage
    if memory.failcnt is not None:
        out["failcnt"] = memory.failcnt
    out["stats"] = dict(memory.stats)
    out["limit"] = memory.limit
    return out


def pids_to_docker(pids: PidsUsage | None) -> dict[str, Any]:
    if pids is None:
        return {}
    return {"current": pids.current} if pids.limit is None else {"current": pids.current, "limit": pids.limit}


def _entries(entries: tuple[BlkioEntry, ...]) -> list[dict[str, Any]]:
    return [{"major": e.major, "minor": e.minor, "op": e.op, "value": e.value} for e in entries]


def blkio_to_docker(blkio: BlkioUsage | None) -> dict[str, Any]:
    if blkio is None:
        return {"io_service_bytes_recursive": None, "io_serviced_recursive": None,
                **dict.fromkeys(BLKIO_OTHERS)}
    return {"io_service_bytes_recursive": _entries(blkio.service_bytes), "io_serviced_recursive": _entries(blkio.serviced),
            **{key: [] for key in BLKIO_OTHERS}}


def network_to_docker(n: NetworkUsage) -> dict[str, int]:
    return {"rx_bytes": n.rx_bytes, "rx_packets": n.rx_packets, "rx_errors": n.rx_errors,
            "rx_dropped": n.rx_dropped, "tx_bytes": n.tx_bytes, "tx_packets": n.tx_packets,
            "tx_errors": n.tx_errors, "tx_dropped": n.tx_dropped}


def stats_to_docker(s: StatsSample) -> dict[str, Any]:
    """One sample, the members in dockerd's order."""
    out: dict[str, Any] = {
        "read": time_to_docker(s.read),
        "preread": time_to_docker(s.preread),
        "pids_stats": pids_to_docker(s.pids),
        "blkio_stats": blkio_to_docker(s.blkio),
        "num_procs": 0,  # Windows only
        "storage_stats": {},  # Windows only
        "cpu_stats": cpu_to_docker(s.cpu),
        "precpu_stats": cpu_to_docker(s.precpu),
        "memory_stats": memory_to_docker(s.memory),
        "name": "/" + s.name,
        "id": s.id,
    }
    if s.networks is not None:
        out["networks"] = {name: network_to_docker(n) for name, n in s.networks.items()}
    return out


__all__ = ["stats_to_docker"]
