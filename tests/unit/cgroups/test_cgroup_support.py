"""What /info says the host supports (dockerd's pkg/sysinfo): pure, from files and controllers given."""

from __future__ import annotations

from pouch.cgroups.paths import CgroupLayout
from pouch.cgroups.support import CgroupSupport, info_fields, v1_support, v2_support

ALL_ON = {"ip_forward": True, "bridge-nf-call-iptables": True, "bridge-nf-call-ip6tables": True}
HYBRID = CgroupLayout(1, {c: f"/sys/fs/cgroup/{c}" for c in ("memory", "cpu", "cpuset", "pids", "blkio")},
                      "/sys/fs/cgroup/unified")


def test_v1_reads_the_controllers_files():
    files = {"/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", "/sys/fs/cgroup/memory/memory.oom_control",
             "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.shares",
             "/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device"}
    s = v1_support(HYBRID, files.__contains__)
    assert s == CgroupSupport(memory_limit=True, swap_limit=True, oom_kill_disable=True, cpu_cfs=True, cpu_shares=True,
                              cpuset=True, pids_limit=True, blkio_throttle=("read_bps_device",))
    no_swap = v1_support(HYBRID, (files - {"/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"}).__contains__)
    assert not no_swap.swap_limit and no_swap.memory_limit
    bare = v1_support(CgroupLayout(1, {"cpu": "/c"}), lambda path: True)
    assert not bare.memory_limit and not bare.swap_limit and not bare.pids_limit and bare.cpu_shares


def test_fields_and_dockers_warnings():
    fields, warnings = info_fields(v1_support(HYBRID, lambda path: "memsw" not in path and "weight" not in path), 1,
                                   {**ALL_ON, "bridge-nf-call-ip6tables": False})
    assert fields["MemoryLimit"] and not fields["SwapLimit"] and fields["KernelMemory"] and fields["OomKillDisable"]
    assert fields["CpuCfsPeriod"] and fields["CpuCfsQuota"] and fields["CPUShares"] and fields["PidsLimit"]
    assert fields["IPv4Forwarding"] and not fields["BridgeNfIp6tables"]
    assert warnings == ["WARNING: No swap limit support", "WARNING: No blkio weight support",
                        "WARNING: No blkio weight_device support", "WARNING: bridge-nf-call-ip6tables is disabled"]
    _, warnings = info_fields(v1_support(HYBRID, lambda path: True), 1, ALL_ON)
    assert warnings == []


def test_v2_from_the_controllers_list():
    s = v2_support(["cpuset", "cpu", "io", "memory", "pids"])
    fields, warnings = info_fields(s, 2, ALL_ON)
    assert fields["SwapLimit"] and fields["MemoryLimit"] and not fields["KernelMemory"] and not fields["OomKillDisable"]
    assert warnings == []  # v2 has no kernel memory limit or OOM-killer switch to miss
    fields, warnings = info_fields(v2_support(["cpu"]), 2, ALL_ON)
    assert not fields["MemoryLimit"] and "WARNING: No memory limit support" in warnings
