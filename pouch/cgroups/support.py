"""What ``GET /info`` says the host supports (dockerd's ``pkg/sysinfo``): limits the kernel's
cgroups offer, forwarding and bridge netfilter, with Docker's warnings for what is missing.

On cgroup v1 a feature is there when its controller is mounted and its file exists in the
controller's root (``memory.memsw.limit_in_bytes`` -> ``SwapLimit``); on cgroup v2 when the
root's ``cgroup.controllers`` lists the controller (v2 has no kernel-memory limit and no
OOM-killer switch). :func:`v1_support` and :func:`v2_support` are pure (``exists`` and the
controller list are given); :func:`host_info` is the IO edge.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pouch.cgroups.paths import CgroupLayout, host_layout


@dataclass(frozen=True)
class CgroupSupport:
    memory_limit: bool = False
    swap_limit: bool = False
    kernel_memory: bool = False
    kernel_memory_tcp: bool = False
    oom_kill_disable: bool = False
    cpu_cfs: bool = False  # CpuCfsPeriod and CpuCfsQuota
    cpu_shares: bool = False
    cpuset: bool = False
    pids_limit: bool = False
    blkio_weight: bool = False
    blkio_weight_device: bool = False
    blkio_throttle: tuple[str, ...] = ()  # the throttle files present: read_bps_device...


THROTTLES = ("read_bps_device", "write_bps_device", "read_iops_device", "write_iops_device")


def v1_support(layout: CgroupLayout, exists: Callable[[str], bool]) -> CgroupSupport:
    """From the v1 controllers' mount points and the files in their roots."""
    def has(controller: str, name: str = "") -> bool:
        root = layout.v1.get(controller, "")
        return bool(root) and (not name or exists(posixpath.join(root, name)))

    return CgroupSupport(
        memory_limit=has("memory"),
        swap_limit=has("memory", "memory.memsw.limit_in_bytes"),
        kernel_memory=has("memory", "memory.kmem.limit_in_bytes"),
        kernel_memory_tcp=has("memory", "memory.kmem.tcp.limit_in_bytes"),
        oom_kill_disable=has("memory", "memory.oom_control"),
        cpu_cfs=has("cpu", "cpu.cfs_quota_us"),
        cpu_shares=has("cpu", "cpu.shares"),
        cpuset=has("cpuset"),
        pids_limit=has("pids"),
        blkio_weight=has("blkio", "blkio.weight") or has("blkio", "blkio.bfq.weight"),
        blkio_weight_device=has("blkio", "blkio.weight_device") or has("blkio", "blkio.bfq.weight_device"),
        blkio_throttle=tuple(t for t in THROTTLES if has("blkio", f"blkio.throttle.{t}")),
    )


def v2_support(controllers: Iterable[str]) -> CgroupSupport:
    """From the root's ``cgroup.controllers`` (as dockerd's ``cgroup2_linux.go``)."""
    have = set(controllers)
    return CgroupSupport(
        memory_limit="memory" in have, swap_limit="memory" in have,
        cpu_cfs="cpu" in have, cpu_shares="cpu" in have, cpuset="cpuset" in have, pids_limit="pids" in have,
        blkio_weight="io" in have, blkio_weight_device="io" in have,
        blkio_throttle=THROTTLES if "io" in have else (),
    )


def info_fields(support: CgroupSupport, cgroup_version: int, sysctls: dict[str, bool]) -> tuple[dict, list[str]]:
    """The ``/info`` fields and Docker's warnings, in dockerd's order. ``sysctls``: ``ip_forward``,
    ``bridge-nf-call-iptables``, ``bridge-nf-call-ip6tables`` -> enabled."""
    s = support
    fields = {
        "MemoryLimit": s.memory_limit, "SwapLimit": s.swap_limit, "KernelMemory": s.kernel_memory,
        "KernelMemoryTCP": s.kernel_memory_tcp, "OomKillDisable": s.oom_kill_disable,
        "CpuCfsPeriod": s.cpu_cfs, "CpuCfsQuota": s.cpu_cfs, "CPUShares": s.cpu_shares, "CPUSet": s.cpuset,
        "PidsLimit": s.pids_limit,
        "IPv4Forwarding": sysctls.get("ip_forward", False),
        "BridgeNfIptables": sysctls.get("bridge-nf-call-iptables", False),
        "BridgeNfIp6tables": sysctls.get("bridge-nf-call-ip6tables", False),
    }
    checks = [(s.memory_limit, "No memory limit support"), (s.swap_limit, "No swap limit support")]
    if cgroup_version == 1:
        checks += [(s.kernel_memory, "No kernel memory limit support"),
                   (s.kernel_memory_tcp, "No kernel memory TCP limit support"),
                   (s.oom_kill_disable, "No oom kill disable support")]
    checks += [(s.cpu_cfs, "No cpu cfs quota support"), (s.cpu_cfs, "No cpu cfs period support"),
               (s.cpu_shares, "No cpu shares support"), (s.cpuset, "No cpuset support"),
               (s.blkio_weight, "No blkio weight support"), (s.blkio_weight_device, "No blkio weight_device support")]
    checks += [(t in s.blkio_throttle, f"No blkio throttle.{t} support") for t in THROTTLES]
    checks += [(fields["IPv4Forwarding"], "IPv4 forwarding is disabled"),
               (fields["BridgeNfIptables"], "bridge-nf-call-iptables is disabled"),
               (fields["BridgeNfIp6tables"], "bridge-nf-call-ip6tables is disabled")]
    return fields, [f"WARNING: {text}" for ok, text in checks if not ok]


# --- IO edge --------------------------------------------------------------------------------

SYSCTLS = {
    "ip_forward": "/proc/sys/net/ipv4/ip_forward",
    "bridge-nf-call-iptables": "/proc/sys/net/bridge/bridge-nf-call-iptables",
    "bridge-nf-call-ip6tables": "/proc/sys/net/bridge/bridge-nf-call-ip6tables",
}


def _enabled(path: str) -> bool:
    try:
        with open(path) as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def host_info() -> tuple[dict, list[str]]:
    """:func:`info_fields` for this host (read at each call: cheap, and modules can be loaded)."""
    layout = host_layout()
    if layout.version == 2:
        try:
            with open(posixpath.join(layout.unified, "cgroup.controllers")) as f:
                support = v2_support(f.read().split())
        except OSError:
            support = CgroupSupport()
    else:
        support = v1_support(layout, os.path.exists)
    return info_fields(support, layout.version, {name: _enabled(path) for name, path in SYSCTLS.items()})
