"""``linux.resources`` as cgroup v2 interface files, the conversion runc's ``fs2`` driver
(and ``libcontainer/cgroups.Convert*``) applies on a unified host. Pure; this host is v1
hybrid, so these values are what a v2 host's ``memory.max``, ``cpu.max``, ``pids.max``...
would read after ``pouch run``.
"""

from __future__ import annotations


def cpu_weight(shares: int) -> int:
    """runc ``ConvertCPUSharesToCgroupV2Value``: shares [2, 262144] -> weight [1, 10000]."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def io_weight(blkio_weight: int) -> int:
    """runc ``ConvertBlkIOToIOWeightValue``: [10, 1000] -> [1, 10000]."""
    if blkio_weight == 0:
        return 0
    return 1 + (blkio_weight - 10) * 9999 // 990


def swap_max(memory: int, swap: int) -> str:
    """runc ``ConvertMemorySwapToCgroupV2Value``: OCI swap is memory+swap; v2 wants swap alone."""
    if swap == -1:
        return "max"
    if swap == 0 or memory <= 0:
        return ""
    if swap < memory:
        raise ValueError("memory+swap limit should be >= memory limit")
    return str(swap - memory)


def v2_files(resources: dict) -> dict[str, str]:
    """``linux.resources`` -> {interface file: value} (only what is set)."""
    out: dict[str, str] = {}
    memory = resources.get("memory") or {}
    limit = memory.get("limit", 0)
    if limit:
        out["memory.max"] = "max" if limit < 0 else str(limit)
    if memory.get("reservation"):
        out["memory.low"] = str(memory["reservation"])
    swap = swap_max(limit, memory.get("swap", 0))
    if swap:
        out["memory.swap.max"] = swap
    cpu = resources.get("cpu") or {}
    if cpu.get("shares"):
        out["cpu.weight"] = str(cpu_weight(cpu["shares"]))
    quota, period = cpu.get("quota", 0), cpu.get("period", 0)
    if quota or period:
        out["cpu.max"] = f"{quota if quota > 0 else 'max'} {period or 100000}"
    if cpu.get("cpus"):
        out["cpuset.cpus"] = cpu["cpus"]
    if cpu.get("mems"):
        out["cpuset.mems"] = cpu["mems"]
    pids = resources.get("pids")
    if pids is not None:
        out["pids.max"] = "max" if pids.get("limit", 0) <= 0 else str(pids["limit"])
    block = resources.get("blockIO") or {}
    if block.get("weight"):
        out["io.weight"] = f"default {io_weight(block['weight'])}"
    limits: dict[tuple[int, int], list[str]] = {}
    for key, name in (("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps"),
                      ("throttleReadIOPSDevice", "riops"), ("throttleWriteIOPSDevice", "wiops")):
        for d in block.get(key) or ():
            limits.setdefault((d["major"], d["minor"]), []).append(f"{name}={d['rate']}")
    if limits:
        out["io.max"] = "\n".join(f"{ma}:{mi} {' '.join(v)}" for (ma, mi), v in sorted(limits.items()))
    return out


__all__ = ["cpu_weight", "io_weight", "swap_max", "v2_files"]
