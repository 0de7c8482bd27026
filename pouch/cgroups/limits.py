"""Docker's rules for resource options, as pure functions.

:func:`validate_resources` mirrors moby ``verifyPlatformContainerResources`` (and the
create-time defaults of ``adaptContainerSettings``): every refusal is an
``InvalidArgument`` (HTTP 400) whose message names the flag. :func:`apply_update` is
``pouch update``: moby ``container.UpdateContainer``'s merge of an update into the
container's current resources, zero meaning "unchanged".

The host facts the rules need (CPU count, the CPUs and memory nodes available, whether
the kernel has a blkio weight, the daemon's rlimits) come in a :class:`HostFacts`
gathered by the daemon.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pouch.errors import Conflict, InvalidArgument
from pouch.models import Resources, Ulimit

MIN_MEMORY = 6 * 1024 * 1024  # moby linuxMinMemory
MIN_CPU_PERIOD, MAX_CPU_PERIOD = 1000, 1000000
MIN_CPU_QUOTA = 1000
DEFAULT_CPU_PERIOD = 100000  # what --cpus becomes: quota = cpus * 100000 per 100000 us

#: ``--ulimit`` names (go-units ``ulimitNameMapping``) -> the OCI ``RLIMIT_*`` type.
ULIMIT_NAMES: dict[str, str] = {
    name: "RLIMIT_" + name.upper()
    for name in ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
                 "nproc", "rss", "rtprio", "rttime", "sigpending", "stack")
}
RLIM_INFINITY = 2**64 - 1


@dataclass(frozen=True)
class HostFacts:
    """What the rules need to know about the host (``pouch.cgroups.paths.host_facts``)."""

    ncpu: int = 1
    cpus: frozenset[int] = frozenset({0})  # CPUs a container may be given (cpuset.effective_cpus)
    mems: frozenset[int] = frozenset({0})  # memory nodes (cpuset.effective_mems)
    blkio_weight: bool = True  # the kernel exposes blkio.weight / io.weight
    swap_limit: bool = True  # swap accounting (memory.memsw.* on v1, memory.swap.max on v2)
    oom_kill_disable: bool = True  # v1 only
    rlimits: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # RLIMIT_* -> daemon's (soft, hard)
    can_raise_rlimits: bool = False  # the daemon has CAP_SYS_RESOURCE


def parse_cpuset(text: str, flag: str = "--cpuset-cpus") -> frozenset[int]:
    """``0-2,4`` -> {0, 1, 2, 4} (the kernel's list format)."""
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise InvalidArgument(f"{flag}: invalid value {text!r} (expected a list such as 0-2,4)")
        first, last = int(lo), int(hi) if dash else int(lo)
        if last < first:
            raise InvalidArgument(f"{flag}: invalid range {part!r} in {text!r}")
        out.update(range(first, last + 1))
    return frozenset(out)


def format_cpuset(values: frozenset[int] | set[int]) -> str:
    """{0, 1, 2, 4} -> ``0-2,4``."""
    out: list[str] = []
    ordered = sorted(values)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


def normalize_resources(res: Resources) -> Resources:
    """Create-time defaults (moby ``adaptContainerSettings``): with ``-m`` and no
    ``--memory-swap``, swap is as much again (memory + swap = 2 * memory)."""
    if res.memory > 0 and res.memory_swap == 0:
        res = dataclasses.replace(res, memory_swap=res.memory * 2)
    return res


def validate_resources(res: Resources, host: HostFacts, *, update: bool = False) -> list[str]:
    """Refuse what Docker refuses; return Docker's warnings for what is accepted but ignored."""
    warnings: list[str] = []
    # memory
    if res.memory < 0:
        raise InvalidArgument("--memory: must not be negative")
    if 0 < res.memory < MIN_MEMORY:
        raise InvalidArgument("--memory: Minimum memory limit allowed is 6MB")
    if res.memory == 0 and res.memory_swap > 0 and not update:
        raise InvalidArgument("--memory-swap: You should always set the Memory limit when using Memoryswap limit, see usage")
    if res.memory > 0 and res.memory_swap > 0 and res.memory_swap < res.memory:
        raise InvalidArgument("--memory-swap: Minimum memoryswap limit should be larger than memory limit, see usage")
    if res.memory_swap < -1:
        raise InvalidArgument("--memory-swap: must be -1 (unlimited) or a size")
    if res.memory_swappiness is not None and res.memory_swappiness != -1 and not 0 <= res.memory_swappiness <= 100:
        raise InvalidArgument(
            f"--memory-swappiness: Invalid value: {res.memory_swappiness}, valid memory swappiness range is 0-100")
    if res.memory_reservation < 0:
        raise InvalidArgument("--memory-reservation: must not be negative")
    if 0 < res.memory_reservation < MIN_MEMORY:
        raise InvalidArgument("--memory-reservation: Minimum memory reservation allowed is 6MB")
    if res.memory > 0 and res.memory_reservation > 0 and res.memory < res.memory_reservation:
        raise InvalidArgument(
            "--memory-reservation: Minimum memory limit can not be less than memory reservation limit, see usage")
    if res.kernel_memory:
        warnings.append("--kernel-memory is ignored: kernel memory limits are deprecated in the kernel")
    if res.memory_swap and res.memory_swap != -1 and not host.swap_limit:
        warnings.append("Your kernel does not support swap limit capabilities or the cgroup is not mounted. "
                        "Memory limited without swap.")
    if res.oom_kill_disable and not host.oom_kill_disable:
        raise InvalidArgument("--oom-kill-disable: not supported on cgroup v2 (the kernel has no such switch)")
    if res.oom_kill_disable and res.memory == 0:
        warnings.append("OOM killer is disabled for the container, but no memory limit is set, "
                        "this can result in the system running out of resources.")
    # cpu
    if res.nano_cpus and res.cpu_period:
        raise InvalidArgument("--cpus: Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if res.nano_cpus and res.cpu_quota:
        raise InvalidArgument("--cpus: Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if res.nano_cpus < 0 or res.nano_cpus > host.ncpu * 10**9:
        raise InvalidArgument(
            f"--cpus: Range of CPUs is from 0.01 to {host.ncpu}.00, as there are only {host.ncpu} CPUs available")
    if 0 < res.nano_cpus < 10**7:
        raise InvalidArgument(f"--cpus: Range of CPUs is from 0.01 to {host.ncpu}.00")
    if res.cpu_shares < 0:
        raise InvalidArgument("--cpu-shares: must not be negative")
    if res.cpu_period and not MIN_CPU_PERIOD <= res.cpu_period <= MAX_CPU_PERIOD:
        raise InvalidArgument(
            "--cpu-period: CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    if res.cpu_quota < -1 or 0 < res.cpu_quota < MIN_CPU_QUOTA:
        raise InvalidArgument("--cpu-quota: CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if res.cpuset_cpus:
        wanted = parse_cpuset(res.cpuset_cpus, "--cpuset-cpus")
        if not wanted <= host.cpus:
            raise InvalidArgument(f"--cpuset-cpus: Requested CPUs are not available - requested {res.cpuset_cpus}, "
                                  f"available: {format_cpuset(host.cpus)}")
    if res.cpuset_mems:
        wanted = parse_cpuset(res.cpuset_mems, "--cpuset-mems")
        if not wanted <= host.mems:
            raise InvalidArgument(f"--cpuset-mems: Requested memory nodes are not available - requested "
                                  f"{res.cpuset_mems}, available: {format_cpuset(host.mems)}")
    # block io
    if res.blkio_weight and not 10 <= res.blkio_weight <= 1000:
        raise InvalidArgument("--blkio-weight: Range of blkio weight is from 10 to 1000")
    if res.blkio_weight and not host.blkio_weight:
        raise InvalidArgument("--blkio-weight: this kernel has no blkio weight (blkio.weight needs the BFQ "
                              "I/O scheduler with cgroup weights); leave the flag out")
    for flag, devices in (("--device-read-bps", res.device_read_bps), ("--device-write-bps", res.device_write_bps),
                          ("--device-read-iops", res.device_read_iops), ("--device-write-iops", res.device_write_iops)):
        for d in devices:
            if d.rate < 0:
                raise InvalidArgument(f"{flag}: invalid rate {d.rate} for {d.path}")
            if not d.path.startswith("/dev/"):
                raise InvalidArgument(f"{flag}: {d.path!r} is not a device path under /dev")
    # ulimits
    validate_ulimits(res.ulimits, host)
    return warnings


def validate_ulimits(ulimits: tuple[Ulimit, ...], host: HostFacts) -> None:
    """Known names, soft <= hard, and never above the daemon's own hard limit when the
    daemon could not raise it (no CAP_SYS_RESOURCE): runc would fail at start."""
    seen: set[str] = set()
    for u in ulimits:
        if u.name not in ULIMIT_NAMES:
            raise InvalidArgument(f"--ulimit: invalid ulimit type: {u.name}")
        if u.name in seen:
            raise InvalidArgument(f"--ulimit: {u.name} given twice")
        seen.add(u.name)
        soft, hard = _rlim(u.soft), _rlim(u.hard)
        if soft > hard:
            raise InvalidArgument(
                f"--ulimit {u.name}: ulimit soft limit must be less than or equal to hard limit: {u.soft} > {u.hard}")
        host_limit = host.rlimits.get(ULIMIT_NAMES[u.name])
        if host_limit is not None and not host.can_raise_rlimits and hard > _rlim(host_limit[1]):
            raise InvalidArgument(
                f"--ulimit {u.name}={u.soft}:{u.hard}: the hard limit is above the daemon's own ({host_limit[1]}); "
                "raising it needs CAP_SYS_RESOURCE, which pouchd does not have")


def _rlim(value: int) -> int:
    return RLIM_INFINITY if value < 0 or value >= RLIM_INFINITY else value


def clamp_rlimits(
    wanted: Mapping[str, tuple[int, int]], host: Mapping[str, tuple[int, int]]
) -> list[dict]:
    """``process.rlimits`` for ``wanted`` (soft, hard), never above the host's hard limit:
    without CAP_SYS_RESOURCE a process can't raise a hard limit, so runc would fail.
    A limit the host didn't report is left out (the container inherits the daemon's)."""
    out = []
    for kind, (want_soft, want_hard) in wanted.items():
        if kind not in host:
            continue
        hard = min(_rlim(want_hard), _rlim(host[kind][1]))
        soft = min(_rlim(want_soft), hard)
        out.append({"type": kind, "hard": hard, "soft": soft})
    return out


# --- pouch update ----------------------------------------------------------------------

#: The fields ``pouch update`` / ``POST /containers/{id}/update`` may change.
UPDATABLE = ("memory", "memory_swap", "memory_reservation", "kernel_memory", "nano_cpus", "cpu_shares",
             "cpu_period", "cpu_quota", "cpuset_cpus", "cpuset_mems", "pids_limit", "blkio_weight")


def apply_update(current: Resources, changes: Mapping[str, Any]) -> Resources:
    """moby ``UpdateContainer``: ``changes`` holds the fields the request set (zero values
    already dropped, ``pids_limit`` kept when given); the result is validated by the caller."""
    for key in changes:
        if key not in UPDATABLE:
            raise InvalidArgument(f"{key} cannot be updated")
    get = changes.get
    nano, period, quota = get("nano_cpus", 0), get("cpu_period", 0), get("cpu_quota", 0)
    if nano and current.cpu_period:
        raise Conflict("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set")
    if nano and current.cpu_quota:
        raise Conflict("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set")
    if period and current.nano_cpus:
        raise Conflict("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set")
    if quota and current.nano_cpus:
        raise Conflict("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")
    memory, swap = int(get("memory", 0) or 0), int(get("memory_swap", 0) or 0)
    if memory and current.memory_swap > 0 and memory > current.memory_swap and not swap:
        raise Conflict("Memory limit should be smaller than already set memoryswap limit, "
                       "update the memoryswap at the same time")
    return dataclasses.replace(current, **{k: v for k, v in changes.items()})


__all__ = [
    "HostFacts",
    "ULIMIT_NAMES",
    "UPDATABLE",
    "apply_update",
    "format_cpuset",
    "normalize_resources",
    "parse_cpuset",
    "validate_resources",
    "validate_ulimits",
]
