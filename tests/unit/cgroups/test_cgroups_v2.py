"""pouch.cgroups.v2: the values a cgroup v2 host's interface files get (runc's conversion)."""

from __future__ import annotations

import pytest

from pouch.cgroups.v2 import cpu_weight, io_weight, swap_max, v2_files
from pouch.models import Resources, ThrottleDevice
from pouch.oci.resources import linux_resources

MiB = 1024 * 1024


def test_memory_cpu_pids_files():
    res = Resources(memory=32 * MiB, memory_swap=64 * MiB, memory_reservation=16 * MiB, nano_cpus=1_500_000_000,
                    cpu_shares=1024, cpuset_cpus="0-1", pids_limit=10)
    assert v2_files(linux_resources(res)) == {
        "memory.max": str(32 * MiB),
        "memory.low": str(16 * MiB),
        "memory.swap.max": str(32 * MiB),  # v2 counts swap alone: (memory+swap) - memory
        "cpu.weight": "39",
        "cpu.max": "150000 100000",
        "cpuset.cpus": "0-1",
        "pids.max": "10",
    }


def test_unlimited_values():
    files = v2_files(linux_resources(Resources(memory=8 * MiB, memory_swap=-1, pids_limit=-1, cpu_period=50000)))
    assert files == {"memory.max": str(8 * MiB), "memory.swap.max": "max", "pids.max": "max", "cpu.max": "max 50000"}


def test_io_files():
    res = Resources(blkio_weight=500, device_read_bps=(ThrottleDevice("/dev/vda", 1000),),
                    device_write_iops=(ThrottleDevice("/dev/vda", 10),))
    files = v2_files(linux_resources(res, {"/dev/vda": (254, 0)}))
    assert files == {"io.weight": "default 4950", "io.max": "254:0 rbps=1000 wiops=10"}


def test_conversions():
    assert cpu_weight(2) == 1 and cpu_weight(262144) == 10000 and cpu_weight(0) == 0
    assert io_weight(10) == 1 and io_weight(1000) == 10000
    assert swap_max(10, 0) == "" and swap_max(10, -1) == "max" and swap_max(10, 30) == "20"
    with pytest.raises(ValueError):
        swap_max(10, 5)
