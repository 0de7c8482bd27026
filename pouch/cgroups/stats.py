"""A container's usage counters, in the shapes of Docker's stats JSON.

Parsers are pure (file text in, numbers out); :func:`read_cgroup_stats` is the one reader.
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
from dataclasses import dataclass

from pouch.cgroups.paths import read_or_empty

NANOS = 10**9
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
UNLIMITED_V1 = 0x7FFFFFFFFFFFF000  # memory.limit_in_bytes of an unlimited cgroup (page aligned)


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


def parse_percpu(text: str) -> list[int]:
    return [int(v) for v in text.split() if v.isdigit()]


def parse_blkio_v1(text: str) -> list[dict]:
    """``blkio.throttle.io_service_bytes_recursive``: ``8:0 Read 4096`` lines (``Total`` skipped)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3 or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        try:
            out.append({"major": int(major), "minor": int(minor), "op": parts[1], "value": int(parts[2])})
        except ValueError:
            continue
    return out


def parse_io_stat_v2(text: str) -> tuple[list[dict], list[dict]]:
    """v2 ``io.stat`` (``8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...``) -> (bytes, ios) entries
    with moby's ops ``read``/``write``."""
    service_bytes: list[dict] = []
    serviced: list[dict] = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        values = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        for key, target, op in (("rbytes", service_bytes, "read"), ("wbytes", service_bytes, "write"),
                                ("rios", serviced, "read"), ("wios", serviced, "write")):
            if key in values and values[key].isdigit():
                target.append({"major": int(major), "minor": int(minor), "op": op, "value": int(values[key])})
    return service_bytes, serviced


def parse_proc_stat_cpu(text: str, ticks: int = CLOCK_TICKS) -> int:
    """``system_cpu_usage``: the first line of /proc/stat (user..steal) in nanoseconds."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            fields = [int(v) for v in line.split()[1:8]]
            return sum(fields) * NANOS // ticks
    return 0


def parse_net_dev(text: str) -> dict[str, dict[str, int]]:
    """/proc/net/dev -> Docker's ``networks`` (loopback left out)."""
    out: dict[str, dict[str, int]] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        name = name.strip()
        if not sep or name == "lo":
            continue
        v = [int(x) for x in rest.split()]
        if len(v) < 16:
            continue
        out[name] = {"rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2], "rx_dropped": v[3],
                     "tx_bytes": v[8], "tx_packets": v[9], "tx_errors": v[10], "tx_dropped": v[11]}
    return out


@dataclass(frozen=True)
class CgroupStats:
    """The cgroup part of one stats sample (Docker's JSON members)."""

    cpu_usage: dict
    throttling_data: dict
    memory_stats: dict
    pids_stats: dict
    blkio_stats: dict


def _blkio(service_bytes: list[dict], serviced: list[dict]) -> dict:
    return {"io_service_bytes_recursive": service_bytes, "io_serviced_recursive": serviced,
            "io_queue_recursive": [], "io_service_time_recursive": [], "io_wait_time_recursive": [],
            "io_merged_recursive": [], "io_time_recursive": [], "sectors_recursive": []}


def stats_v1(files: dict[str, str], ticks: int = CLOCK_TICKS) -> CgroupStats:
    """From v1 file contents keyed by file name (a missing file: ``""``)."""
    get = files.get
    acct = parse_flat_keyed(get("cpuacct.stat", ""))
    cpu_stat = parse_flat_keyed(get("cpu.stat", ""))
    usage = {
        "total_usage": parse_int(get("cpuacct.usage", "")),
        "percpu_usage": parse_percpu(get("cpuacct.usage_percpu", "")),
        "usage_in_kernelmode": acct.get("system", 0) * NANOS // ticks,
        "usage_in_usermode": acct.get("user", 0) * NANOS // ticks,
    }
    throttling = {"periods": cpu_stat.get("nr_periods", 0), "throttled_periods": cpu_stat.get("nr_throttled", 0),
                  "throttled_time": cpu_stat.get("throttled_time", 0)}
    memory = {"usage": parse_int(get("memory.usage_in_bytes", "")),
              "max_usage": parse_int(get("memory.max_usage_in_bytes", "")),
              "failcnt": parse_int(get("memory.failcnt", "")),
              "stats": parse_flat_keyed(get("memory.stat", "")),
              "limit": parse_int(get("memory.limit_in_bytes", ""))}
    pids = {"current": parse_int(get("pids.current", ""))}
    pids_max = parse_int(get("pids.max", ""), 0)
    if pids_max:
        pids["limit"] = pids_max
    blkio = _blkio(parse_blkio_v1(get("blkio.throttle.io_service_bytes_recursive", "")),
                   parse_blkio_v1(get("blkio.throttle.io_serviced_recursive", "")))
    return CgroupStats(usage, throttling, memory, pids, blkio)


def stats_v2(files: dict[str, str]) -> CgroupStats:
    """From v2 file contents (moby ``statsV2``: microseconds become nanoseconds)."""
    get = files.get
    cpu = parse_flat_keyed(get("cpu.stat", ""))
    usage = {"total_usage": cpu.get("usage_usec", 0) * 1000, "percpu_usage": [],
             "usage_in_kernelmode": cpu.get("system_usec", 0) * 1000,
             "usage_in_usermode": cpu.get("user_usec", 0) * 1000}
    throttling = {"periods": cpu.get("nr_periods", 0), "throttled_periods": cpu.get("nr_throttled", 0),
                  "throttled_time": cpu.get("throttled_usec", 0) * 1000}
    memory = {"usage": parse_int(get("memory.current", "")), "stats": parse_flat_keyed(get("memory.stat", "")),
              "limit": parse_int(get("memory.max", ""))}
    pids = {"current": parse_int(get("pids.current", ""))}
    pids_max = parse_int(get("pids.max", ""), 0)
    if pids_max:
        pids["limit"] = pids_max
    service_bytes, serviced = parse_io_stat_v2(get("io.stat", ""))
    return CgroupStats(usage, throttling, memory, pids, _blkio(service_bytes, serviced))


V1_FILES = {
    "cpuacct": ("cpuacct.usage", "cpuacct.usage_percpu", "cpuacct.stat"),
    "cpu": ("cpu.stat",),
    "memory": ("memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.limit_in_bytes", "memory.stat",
               "memory.failcnt"),
    "pids": ("pids.current", "pids.max"),
    "blkio": ("blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_serviced_recursive"),
}
V2_FILES = ("cpu.stat", "memory.current", "memory.max", "memory.stat", "pids.current", "pids.max", "io.stat")


def read_cgroup_stats(layout, cgroups_path: str) -> CgroupStats:  # type: ignore[no-untyped-def]
    """Read a container's counters (``layout``: ``pouch.cgroups.paths.CgroupLayout``)."""
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
    return parse_proc_stat_cpu(read_or_empty("/proc/stat"))


def read_host_memory() -> int:
    """The host's memory in bytes (``MemTotal`` of /proc/meminfo), 0 if unknown."""
    for line in read_or_empty("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def read_networks(pid: int) -> dict[str, dict[str, int]]:
    return parse_net_dev(read_or_empty(f"/proc/{pid}/net/dev")) if pid else {}
