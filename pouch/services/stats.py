"""Container stats (``GET /containers/{id}/stats``, ``pouch stats``, ``docker stats``).

One sample is a typed ``StatsSample``: the cgroup counters (``pouch.cgroups.stats``),
the host's CPU time (for the CPU percentage clients compute from two samples), and the
container's network interfaces from ``/proc/<pid>/net/dev``. As dockerd: the memory limit
of an unlimited container is the host's memory, the usage is the raw one (clients
subtract the page cache), and ``precpu`` is the previous sample's ``cpu`` (zeros for the
first one). ``pouch.api.stats_json`` renders it as Docker's stats JSON.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pouch.cgroups.paths import CgroupLayout, cgroups_path_for, host_layout
from pouch.cgroups.stats import (
    BlkioUsage,
    CpuUsage,
    MemoryUsage,
    NetworkUsage,
    PidsUsage,
    Throttling,
    read_cgroup_stats,
    read_host_memory,
    read_networks,
    read_system_cpu,
)
from pouch.errors import NotFound
from pouch.models import Container, Status
from pouch.services.containers import ContainerService

INTERVAL = 1.0  # seconds between streamed samples, as dockerd


@dataclass(frozen=True)
class CpuStats:
    """The container's CPU time, and the host's (``system_usage``, ns) when it was sampled."""

    usage: CpuUsage = field(default_factory=CpuUsage)
    throttling: Throttling = field(default_factory=Throttling)
    system_usage: int | None = None  # None: not sampled (a stopped container, a first ``precpu``)
    online_cpus: int | None = None


@dataclass(frozen=True)
class StatsSample:
    """One sample of a container's usage. ``read``/``preread``: when this one and the previous
    one were taken (None: never); ``memory``/``pids``/``blkio`` None: not running;
    ``networks`` None: not the container's own (the host's network, or not running)."""

    id: str
    name: str  # without the leading "/"
    read: datetime | None = None
    preread: datetime | None = None
    cpu: CpuStats = field(default_factory=CpuStats)
    precpu: CpuStats = field(default_factory=CpuStats)
    memory: MemoryUsage | None = None
    pids: PidsUsage | None = None
    blkio: BlkioUsage | None = None
    networks: Mapping[str, NetworkUsage] | None = None


def empty_sample(c: Container) -> StatsSample:
    """What dockerd answers for a container that is not running: zeros."""
    return StatsSample(id=c.id, name=c.name)


def build_sample(c: Container, cgroups_path: str, previous: StatsSample | None,
                 layout: CgroupLayout | None = None) -> StatsSample:
    """One stats sample of a running container (``previous``: the one before, if any)."""
    cg = read_cgroup_stats(layout or host_layout(), cgroups_path)
    return StatsSample(
        id=c.id,
        name=c.name,
        read=datetime.now(UTC),
        preread=previous.read if previous else None,
        cpu=CpuStats(cg.cpu, cg.throttling, read_system_cpu(), os.cpu_count() or 1),
        precpu=previous.cpu if previous else CpuStats(),
        memory=cg.memory.capped(read_host_memory()),
        pids=cg.pids,
        blkio=cg.blkio,
        networks=None if c.options.network.is_host else read_networks(c.state.pid),
    )


def _cgroups_path(c: Container) -> str:
    return cgroups_path_for(c.id, c.options.resources.cgroup_parent)


class StatsService:
    """Samples for one container: streamed each second, or one."""

    def __init__(self, containers: ContainerService) -> None:
        self.containers = containers

    def _running(self, ref: str) -> Container | None:
        c = self.containers.get(ref)
        return c if c.state.status in (Status.RUNNING, Status.PAUSED) and c.state.pid else None

    def samples(self, ref: str, *, stream: bool = True, one_shot: bool = False,
                sleep: Callable[[float], None] = time.sleep) -> Iterator[StatsSample]:
        """``stream``: a sample each second until the container stops; else one sample,
        taken a second after a first one (so the CPU delta is real) unless ``one_shot``."""
        c = self.containers.get(ref)
        running = self._running(c.id)
        if running is None:
            yield empty_sample(c)
            return
        previous = build_sample(running, _cgroups_path(running), None)
        if not stream and one_shot:
            yield previous
            return
        if stream:
            yield previous
        while True:
            sleep(INTERVAL)
            try:
                running = self._running(c.id)
            except NotFound:  # removed meanwhile
                return
            if running is None:
                return
            sample = build_sample(running, _cgroups_path(running), previous)
            yield sample
            if not stream:
                return
            previous = sample


__all__ = ["CpuStats", "StatsSample", "StatsService", "build_sample", "empty_sample"]
