"""Resource flags of ``run``/``create`` and ``update`` -> Docker's ``HostConfig`` fields.

Parsing follows the docker CLI (``opts.ValidateThrottleBpsDevice``, ``ParseUlimit``,
``parseDevice``, ``MemSwapBytes``); the daemon validates the values. Pure; imports
nothing of the engine.
"""

from __future__ import annotations

from pouch.cli.flags import BOOL, INT, LIST, STR, F, UsageError
from pouch.cli.values import parse_cpus, parse_ram, parse_restart

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pouch.cli.flags import Flag

#: Added to ``run``/``create`` (those already there: -m, --cpus, --cpu-shares, --ipc, --pid,
#: --sysctl, --group-add, --shm-size).
RESOURCE_FLAGS: list[Flag] = [
    F("--blkio-weight", kind=INT, help="Block IO (relative weight), between 10 and 1000, or 0 to disable"),
    F("--cgroup-parent", kind=STR, help="Optional parent cgroup for the container"),
    F("--cpu-period", kind=INT, help="Limit CPU CFS (Completely Fair Scheduler) period"),
    F("--cpu-quota", kind=INT, help="Limit CPU CFS (Completely Fair Scheduler) quota"),
    F("--cpuset-cpus", kind=STR, help="CPUs in which to allow execution (0-3, 0,1)"),
    F("--cpuset-mems", kind=STR, help="MEMs in which to allow execution (0-3, 0,1)"),
    F("--device", kind=LIST, help="Add a host device to the container"),
    F("--device-read-bps", kind=LIST, help="Limit read rate (bytes per second) from a device"),
    F("--device-read-iops", kind=LIST, help="Limit read rate (IO per second) from a device"),
    F("--device-write-bps", kind=LIST, help="Limit write rate (bytes per second) to a device"),
    F("--device-write-iops", kind=LIST, help="Limit write rate (IO per second) to a device"),
    F("--kernel-memory", kind=STR, help="Kernel memory limit (ignored)", metavar="bytes"),
    F("--memory-reservation", kind=STR, help="Memory soft limit", metavar="bytes"),
    F("--memory-swap", kind=STR, help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
      metavar="bytes"),
    F("--memory-swappiness", kind=INT, help="Tune container memory swappiness (0 to 100)", default=-1),
    F("--oom-kill-disable", kind=BOOL, help="Disable OOM Killer"),
    F("--oom-score-adj", kind=INT, help="Tune host's OOM preferences (-1000 to 1000)"),
    F("--pids-limit", kind=INT, help="Tune container pids limit (set -1 for unlimited)"),
    F("--ulimit", kind=LIST, help="Ulimit options"),
    F("--uts", kind=STR, help="UTS namespace to use"),
]

#: ``pouch update`` (docker's update flags, plus Pouch's --env).
UPDATE_FLAGS: list[Flag] = [
    F("--blkio-weight", kind=INT, help="Block IO (relative weight), between 10 and 1000, or 0 to disable"),
    F("--cpu-period", kind=INT, help="Limit CPU CFS (Completely Fair Scheduler) period"),
    F("--cpu-quota", kind=INT, help="Limit CPU CFS (Completely Fair Scheduler) quota"),
    F("-c", "--cpu-shares", kind=INT, help="CPU shares (relative weight)"),
    F("--cpus", kind=STR, help="Number of CPUs", metavar="decimal"),
    F("--cpuset-cpus", kind=STR, help="CPUs in which to allow execution (0-3, 0,1)"),
    F("--cpuset-mems", kind=STR, help="MEMs in which to allow execution (0-3, 0,1)"),
    F("-e", "--env", kind=LIST, help="Set environment variables (KEY=VALUE)"),
    F("--kernel-memory", kind=STR, help="Kernel memory limit (ignored)", metavar="bytes"),
    F("-m", "--memory", kind=STR, help="Memory limit", metavar="bytes"),
    F("--memory-reservation", kind=STR, help="Memory soft limit", metavar="bytes"),
    F("--memory-swap", kind=STR, help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
      metavar="bytes"),
    F("--pids-limit", kind=INT, help="Tune container pids limit (set -1 for unlimited)"),
    F("--restart", kind=STR, help="Restart policy to apply when a container exits"),
]


def parse_memory_swap(value: str) -> int:
    """``-1`` (unlimited) or a size."""
    return -1 if value.strip() == "-1" else parse_ram(value)


def parse_throttle(spec: str, flag: str, iops: bool) -> dict[str, Any]:
    """``/dev/sda:1mb`` (bps, a size) or ``/dev/sda:100`` (iops, a number)."""
    path, sep, rate = spec.rpartition(":")
    if not sep or not path:
        raise UsageError(f"invalid argument \"{spec}\" for \"{flag}\" flag: bad format: {spec}")
    if not path.startswith("/dev/"):
        raise UsageError(f"invalid argument \"{spec}\" for \"{flag}\" flag: bad format for device path: {path}")
    if iops:
        if not rate.isdigit():
            raise UsageError(f"invalid argument \"{spec}\" for \"{flag}\" flag: invalid rate for device: {spec}. "
                             "The correct format is <device-path>:<number>. Number must be a positive integer")
        return {"Path": path, "Rate": int(rate)}
    try:
        value = parse_ram(rate)
    except UsageError:
        raise UsageError(f"invalid argument \"{spec}\" for \"{flag}\" flag: invalid rate for device: {spec}. "
                         "The correct format is <device-path>:<number>[<unit>]. Number must be a positive "
                         "integer. Unit is optional and can be kb, mb, or gb") from None
    return {"Path": path, "Rate": value}


def parse_ulimit(spec: str) -> dict[str, Any]:
    """go-units ``ParseUlimit``: ``nofile=1024[:2048]`` (hard defaults to soft)."""
    name, eq, limits = spec.partition("=")
    if not eq or not name:
        raise UsageError(f"invalid argument \"{spec}\" for \"--ulimit\" flag: invalid ulimit argument: {spec}")
    soft_s, colon, hard_s = limits.partition(":")
    try:
        soft = int(soft_s)
        hard = int(hard_s) if colon else soft
    except ValueError:
        raise UsageError(f"invalid argument \"{spec}\" for \"--ulimit\" flag: invalid ulimit value: {limits}") from None
    return {"Name": name, "Soft": soft, "Hard": hard}


def _valid_mode(text: str) -> bool:
    return bool(text) and all(c in "rwm" for c in text) and len(set(text)) == len(text)


def parse_device(spec: str) -> dict[str, str]:
    """docker ``parseDevice``: ``/dev/x[:/dev/y][:rwm]``."""
    parts = spec.split(":")
    src, dst, perms = parts[0], "", "rwm"
    if len(parts) == 3:
        dst, perms = parts[1], parts[2]
        if not _valid_mode(perms):
            raise UsageError(f"invalid argument \"{spec}\" for \"--device\" flag: invalid device mode: {perms}")
    elif len(parts) == 2:
        if _valid_mode(parts[1]):
            perms = parts[1]
        else:
            dst = parts[1]
    elif len(parts) != 1:
        raise UsageError(f"invalid argument \"{spec}\" for \"--device\" flag: invalid device specification: {spec}")
    if not src:
        raise UsageError(f"invalid argument \"{spec}\" for \"--device\" flag: invalid device specification: {spec}")
    return {"PathOnHost": src, "PathInContainer": dst or src, "CgroupPermissions": perms}


def resource_host_config(get: Callable[[str], Any]) -> dict[str, Any]:
    """The ``HostConfig`` fields of the flags in :data:`RESOURCE_FLAGS`."""
    host: dict[str, Any] = {}
    if get("memory_swap"):
        host["MemorySwap"] = parse_memory_swap(get("memory_swap"))
    if get("memory_reservation"):
        host["MemoryReservation"] = parse_ram(get("memory_reservation"))
    if get("kernel_memory"):
        host["KernelMemory"] = parse_ram(get("kernel_memory"))
    if get("memory_swappiness") not in (None, -1):
        host["MemorySwappiness"] = get("memory_swappiness")
    if get("oom_kill_disable"):
        host["OomKillDisable"] = True
    if get("oom_score_adj"):
        host["OomScoreAdj"] = get("oom_score_adj")
    for key, dest in (("CpuPeriod", "cpu_period"), ("CpuQuota", "cpu_quota"), ("BlkioWeight", "blkio_weight")):
        if get(dest):
            host[key] = get(dest)
    for key, dest in (("CpusetCpus", "cpuset_cpus"), ("CpusetMems", "cpuset_mems"),
                      ("CgroupParent", "cgroup_parent"), ("UTSMode", "uts")):
        if get(dest):
            host[key] = get(dest)
    if get("pids_limit") is not None:
        host["PidsLimit"] = get("pids_limit")
    for key, dest, flag, iops in (("BlkioDeviceReadBps", "device_read_bps", "--device-read-bps", False),
                                  ("BlkioDeviceWriteBps", "device_write_bps", "--device-write-bps", False),
                                  ("BlkioDeviceReadIOps", "device_read_iops", "--device-read-iops", True),
                                  ("BlkioDeviceWriteIOps", "device_write_iops", "--device-write-iops", True)):
        if get(dest):
            host[key] = [parse_throttle(s, flag, iops) for s in get(dest)]
    if get("ulimit"):
        host["Ulimits"] = [parse_ulimit(s) for s in get("ulimit")]
    if get("device"):
        host["Devices"] = [parse_device(s) for s in get("device")]
    return host


def update_body(opts: dict[str, Any]) -> dict[str, Any]:
    """``pouch update`` flags -> Docker's ``UpdateConfig`` (only what was given) + ``Env``."""
    get: Callable[[str], Any] = opts.get  # flag values are untyped (Any), absent ones None
    body = resource_host_config(get)  # the flags update shares with run (the others read as None)
    if get("memory"):
        body["Memory"] = parse_ram(get("memory"))
    if get("cpus"):
        body["NanoCpus"] = parse_cpus(get("cpus"))
    if get("cpu_shares"):
        body["CpuShares"] = get("cpu_shares")
    if get("restart"):
        body["RestartPolicy"] = parse_restart(get("restart"))
    if get("env"):
        body["Env"] = list(get("env"))
    return body


__all__ = ["RESOURCE_FLAGS", "UPDATE_FLAGS", "parse_device", "parse_throttle", "parse_ulimit",
           "resource_host_config", "update_body"]
