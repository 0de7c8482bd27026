"""A container's usage counters as typed values (``CgroupStats``: CPU, memory, pids, block IO;
``NetworkUsage`` per interface). Docker's stats JSON is made of them in ``pouch.api.stats_json``.

Parsers are pure (file text in, values out); :func:`read_cgroup_stats` is the one reader.
Sources: cgroup v1 (``cpuacct.usage``, ``cpuacct.usage_percpu``, ``cpuacct.stat``,
``cpu.stat``, ``memory.usage_in_bytes``, ``memory.max_usage_in_bytes``,
``memory.limit_in_bytes``, ``memory.stat``, ``pids.current``, ``pids.max``,
``blkio.throttle.io_service*_recursive``) and v2 (``cpu.stat``, ``memory.current``,
``memory.max``, ``memory.stat``, ``pids.*``, ``io.stat``), converted as moby's
``statsV1``/``statsV2`` do; ``/proc/stat`` for the system CPU time and
``/proc/<pid>/net/dev`` (read from the host, it shows the container's namespace) for
the networks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from pouch.cgroups.paths import CgroupLayout, read_or_empty

NANOS = 10**9
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
UNLIMITED_V1 = 0x7FFFFFFFFFFFF000  # memory.limit_in_bytes of an unlimited cgroup (page aligned)


@dataclass(frozen=True)
class CpuUsage:
    """CPU time used, in nanoseconds (``per_cpu``: None when not read, a stopped container)."""

    total: int = 0
    kernel_mode: int = 0
    user_mode: int = 0
    per_cpu: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Throttling:
    """CFS bandwidth control: periods, the throttled ones, and the time throttled (ns)."""

    periods: int = 0
    throttled_periods: int = 0
    throttled_time: int = 0


@dataclass(frozen=True)
class MemoryUsage:
    """``limit`` 0: none; ``max_usage``/``failcnt`` only on cgroup v1 (None on v2)."""

    usage: int
    limit: int
    stats: Mapping[str, int] = field(default_factory=dict)  # memory.stat
    max_usage: int | None = None
    failcnt: int | None = None

    def capped(self, host_memory: int) -> MemoryUsage:
        """As dockerd: an unlimited (or larger than the host) limit reads as the host's memory."""
        if host_memory and (not self.limit or self.limit > host_memory):
            return replace(self, limit=host_memory)
        return self


@dataclass(frozen=True)
class PidsUsage:
    current: int
    limit: int | None = None  # None: no pids limit


@dataclass(frozen=True)
class BlkioEntry:
    """One device's counter: ``op`` is v1's ``Read``/``Write``/... or v2's ``read``/``write``."""

    major: int
    minor: int
    op: str
    value: int


@dataclass(frozen=True)
class BlkioUsage:
    service_bytes: tuple[BlkioEntry, ...] = ()
    serviced: tuple[BlkioEntry, ...] = ()


@dataclass(frozen=True)
class NetworkUsage:
    """One interface's counters (/proc/net/dev)."""

    rx_bytes: int
    rx_packets: int
    rx_errors: int
    rx_dropped: int
    tx_bytes: int
    tx_packets: int
    tx_errors: int
    tx_dropped: int


@dataclass(frozen=True)
class CgroupStats:
    """The cgroup part of one stats sample."""

    cpu: CpuUsage
    throttling: Throttling
    memory: MemoryUsage
    pids: PidsUsage
    blkio: BlkioUsage


def parse_flat_keyed(text: str) -> dict[str, int]:
    """``key value`` lines (memory.stat, cpu.stat, memory.oom_control) -> dict."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def parse_int(text: str, default: int = 0) -> int:
    """One number (``max`` is the default)."""
    text = text.strip()
    if not text or text == "max":
        return default
    try:
        return int(text)
    except ValueError:
        return default


def parse_percpu(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split() if v.isdigit())


def parse_blkio_v1(text: str) -> tuple[BlkioEntry, ...]:
    """``blkio.throttle.io_service_bytes_recursive``: ``8:0 Read 4096`` lines (the device-less
    ``Total`` line skipped)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3 or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        try:
            out.append(BlkioEntry(int(major), int(minor), parts[1], int(parts[2])))
        except ValueError:
            continue
    return tuple(out)


def parse_io_stat_v2(text: str) -> tuple[tuple[BlkioEntry, ...], tuple[BlkioEntry, ...]]:
    """v2 ``io.stat`` (``8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...``) -> (bytes, ios) entries
    with moby's ops ``read``/``write``."""
    service_bytes: list[BlkioEntry] = []
    serviced: list[BlkioEntry] = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        values = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        for key, target, op in (("rbytes", service_bytes, "read"), ("wbytes", service_bytes, "write"),
                                ("rios", serviced, "read"), ("wios", serviced, "write")):
            if key in values and values[key].isdigit():
                target.append(BlkioEntry(int(major), int(minor), op, int(values[key])))
    return tuple(service_bytes), tuple(serviced)


def parse_proc_stat_cpu(text: str, ticks: int = CLOCK_TICKS) -> int:
    """The host's CPU time: the first line of /proc/stat (user..steal) in nanoseconds."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            fields = [int(v) for v in line.split()[1:8]]
            return sum(fields) * NANOS // ticks
    return 0


def parse_net_dev(text: str) -> dict[str, NetworkUsage]:
    """/proc/net/dev -> counters by interface (loopback left out)."""
    out: dict[str, NetworkUsage] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        name = name.strip()
        if not sep or name == "lo":
            continue
        v = [int(x) for x in rest.split()]
        if len(v) < 16:
            continue
        out[name] = NetworkUsage(rx_bytes=v[0], rx_packets=v[1], rx_errors=v[2], rx_dropped=v[3],
                                 tx_bytes=v[8], tx_packets=v[9], tx_errors=v[10], tx_dropped=v[11])
    return out


def _pids(files: Mapping[str, str]) -> PidsUsage:
    return PidsUsage(parse_int(files.get("pids.current", "")), parse_int(files.get("pids.max", ""), 0) or None)


def stats_v1(files: Mapping[str, str], ticks: int = CLOCK_TICKS) -> CgroupStats:
    """From v1 file contents keyed by file name (a missing file: ``""``)."""
    get = files.get
    acct = parse_flat_keyed(get("cpuacct.stat", ""))
    cpu_stat = parse_flat_keyed(get("cpu.stat", ""))
    cpu = CpuUsage(total=parse_int(get("cpuacct.usage", "")),
                   kernel_mode=acct.get("system", 0) * NANOS // ticks,
                   user_mode=acct.get("user", 0) * NANOS // ticks,
                   per_cpu=parse_percpu(get("cpuacct.usage_percpu", "")))
    throttling = Throttling(cpu_stat.get("nr_periods", 0), cpu_stat.get("nr_throttled", 0),
                            cpu_stat.get("throttled_time", 0))
    memory = MemoryUsage(usage=parse_int(get("memory.usage_in_bytes", "")),
                         limit=parse_int(get("memory.limit_in_bytes", "")),
                         stats=parse_flat_keyed(get("memory.stat", "")),
                         max_usage=parse_int(get("memory.max_usage_in_bytes", "")),
                         failcnt=parse_int(get("memory.failcnt", "")))
    blkio = BlkioUsage(parse_blkio_v1(get("blkio.throttle.io_service_bytes_recursive", "")),
                       parse_blkio_v1(get("blkio.throttle.io_serviced_recursive", "")))
    return CgroupStats(cpu, throttling, memory, _pids(files), blkio)


def stats_v2(files: Mapping[str, str]) -> CgroupStats:
    """From v2 file contents (moby ``statsV2``: microseconds become nanoseconds)."""
    get = files.get
    cpu_stat = parse_flat_keyed(get("cpu.stat", ""))
    cpu = CpuUsage(total=cpu_stat.get("usage_usec", 0) * 1000, kernel_mode=cpu_stat.get("system_usec", 0) * 1000,
                   user_mode=cpu_stat.get("user_usec", 0) * 1000, per_cpu=())
    throttling = Throttling(cpu_stat.get("nr_periods", 0), cpu_stat.get("nr_throttled", 0),
                            cpu_stat.get("throttled_usec", 0) * 1000)
    memory = MemoryUsage(usage=parse_int(get("memory.current", "")), limit=parse_int(get("memory.max", "")),
                         stats=parse_flat_keyed(get("memory.stat", "")))
    blkio = BlkioUsage(*parse_io_stat_v2(get("io.stat", "")))
    return CgroupStats(cpu, throttling, memory, _pids(files), blkio)


V1_FILES = {
    "cpuacct": ("cpuacct.usage", "cpuacct.usage_percpu", "cpuacct.stat"),
    "cpu": ("cpu.stat",),
    "memory": ("memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.limit_in_bytes", "memory.stat",
               "memory.failcnt"),
    "pids": ("pids.current", "pids.max"),
    "blkio": ("blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_serviced_recursive"),
}
V2_FILES = ("cpu.stat", "memory.current", "memory.max", "memory.stat", "pids.current", "pids.max", "io.stat")


def read_cgroup_stats(layout: CgroupLayout, cgroups_path: str) -> CgroupStats:
    """Read a container's counters."""
    if layout.version == 2:
        base = layout.dir("memory", cgroups_path)
        return stats_v2({name: read_or_empty(os.path.join(base, name)) for name in V2_FILES})
    files: dict[str, str] = {}
    for controller, names in V1_FILES.items():
        base = layout.dir(controller, cgroups_path)
        for name in names:
            files[name] = read_or_empty(os.path.join(base, name)) if base else ""
    return stats_v1(files)


def read_system_cpu() -> int:
    """The host's CPU time in nanoseconds (``system_cpu_usage``: clients compute a percentage
    from two samples)."""
    return parse_proc_stat_cpu(read_or_empty("/proc/stat"))


def read_host_memory() -> int:
    """The host's memory in bytes (``MemTotal`` of /proc/meminfo), 0 if unknown."""
    for line in read_or_empty("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def read_networks(pid: int) -> dict[str, NetworkUsage]:
    return parse_net_dev(read_or_empty(f"/proc/{pid}/net/dev")) if pid else {}
