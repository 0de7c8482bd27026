"""Container stats (``GET /containers/{id}/stats``, ``pouch stats``, ``docker stats``).

One sample is Docker's stats JSON (API v1.41): the cgroup counters
(``pouch.cgroups.stats``), the host's CPU time (``system_cpu_usage``, for the CPU
percentage clients compute from two samples), and the container's network interfaces
from ``/proc/<pid>/net/dev``. As dockerd: the memory limit of an unlimited container is
the host's memory, the API reports the raw usage (clients subtract the page cache), and
``precpu_stats`` is the previous sample's ``cpu_stats`` (zeros for the first one).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from pouch.cgroups.paths import host_layout
from pouch.cgroups.stats import read_cgroup_stats, read_host_memory, read_networks, read_system_cpu
from pouch.models import Container, Status
from pouch.timestamps import now_rfc3339

ZERO_TIME = "0001-01-01T00:00:00Z"
INTERVAL = 1.0  # seconds between streamed samples, as dockerd


def empty_cpu_stats() -> dict:
    return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def empty_sample(c: Container) -> dict:
    """What dockerd answers for a container that is not running: zeros."""
    return {"read": ZERO_TIME, "preread": ZERO_TIME, "pids_stats": {}, "blkio_stats": {
        "io_service_bytes_recursive": None, "io_serviced_recursive": None, "io_queue_recursive": None,
        "io_service_time_recursive": None, "io_wait_time_recursive": None, "io_merged_recursive": None,
        "io_time_recursive": None, "sectors_recursive": None}, "num_procs": 0, "storage_stats": {},
        "cpu_stats": empty_cpu_stats(), "precpu_stats": empty_cpu_stats(), "memory_stats": {},
        "name": "/" + c.name, "id": c.id}


def build_sample(c: Container, cgroups_path: str, previous: dict | None, layout=None) -> dict:  # type: ignore[no-untyped-def]
    """One stats sample of a running container."""
    cg = read_cgroup_stats(layout or host_layout(), cgroups_path)
    memory = dict(cg.memory_stats)
    host_memory = read_host_memory()
    if host_memory and (not memory.get("limit") or memory["limit"] > host_memory):
        memory["limit"] = host_memory
    cpu_stats = {"cpu_usage": cg.cpu_usage, "system_cpu_usage": read_system_cpu(),
                 "online_cpus": os.cpu_count() or 1, "throttling_data": cg.throttling_data}
    sample = {
        "read": now_rfc3339(),
        "preread": previous["read"] if previous else ZERO_TIME,
        "pids_stats": cg.pids_stats,
        "blkio_stats": cg.blkio_stats,
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu_stats,
        "precpu_stats": previous["cpu_stats"] if previous else empty_cpu_stats(),
        "memory_stats": memory,
        "name": "/" + c.name,
        "id": c.id,
    }
    if c.options.network_mode != "host":
        sample["networks"] = read_networks(c.state.pid)
    return sample


class StatsService:
    """Samples for one container: streamed each second, or one."""

    def __init__(self, containers) -> None:  # type: ignore[no-untyped-def]
        self.containers = containers

    def _running(self, ref: str) -> Container | None:
        c = self.containers.get(ref)
        return c if c.state.status in (Status.RUNNING, Status.PAUSED) and c.state.pid else None

    def samples(self, ref: str, *, stream: bool = True, one_shot: bool = False,
                sleep=time.sleep) -> Iterator[dict]:  # type: ignore[no-untyped-def]
        """``stream``: a sample each second until the container stops; else one sample,
        taken a second after a first one (so the CPU delta is real) unless ``one_shot``."""
        from pouch.services.resources import cgroups_path

        c = self.containers.get(ref)
        running = self._running(c.id)
        if running is None:
            yield empty_sample(c)
            return
        previous = build_sample(running, cgroups_path(running), None)
        if not stream and one_shot:
            yield previous
            return
        if stream:
            yield previous
        while True:
            sleep(INTERVAL)
            try:
                running = self._running(c.id)
            except Exception:  # removed meanwhile
                return
            if running is None:
                return
            sample = build_sample(running, cgroups_path(running), previous)
            yield sample
            if not stream:
                return
            previous = sample


__all__ = ["StatsService", "build_sample", "empty_sample"]
