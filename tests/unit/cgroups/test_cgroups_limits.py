"""pouch.cgroups.limits: Docker's validation of resource options and update's merge rules."""

from __future__ import annotations

import pytest

from pouch.cgroups.limits import (
    HostFacts,
    apply_update,
    format_cpuset,
    normalize_resources,
    parse_cpuset,
    validate_resources,
)
from pouch.errors import Conflict, InvalidArgument
from pouch.models import Resources, ThrottleDevice, Ulimit

MiB = 1024 * 1024
HOST = HostFacts(ncpu=2, cpus=frozenset({0, 1}), mems=frozenset({0}), blkio_weight=False,
                 rlimits={"RLIMIT_NOFILE": (20000, 20000)}, can_raise_rlimits=False)


@pytest.mark.parametrize("res, message", [
    (Resources(memory=4 * MiB), "--memory: Minimum memory limit allowed is 6MB"),
    (Resources(memory=64 * MiB, memory_swap=32 * MiB), "--memory-swap: Minimum memoryswap limit should be larger"),
    (Resources(memory_swap=64 * MiB), "--memory-swap: You should always set the Memory limit"),
    (Resources(memory_reservation=MiB), "--memory-reservation: Minimum memory reservation allowed is 6MB"),
    (Resources(memory=16 * MiB, memory_reservation=32 * MiB), "--memory-reservation: Minimum memory limit can not"),
    (Resources(memory_swappiness=101), "--memory-swappiness"),
    (Resources(nano_cpus=10**9, cpu_period=100000), "--cpus: Conflicting options: Nano CPUs and CPU Period"),
    (Resources(nano_cpus=10**9, cpu_quota=50000), "--cpus: Conflicting options: Nano CPUs and CPU Quota"),
    (Resources(nano_cpus=3 * 10**9), "--cpus: Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs"),
    (Resources(cpu_period=500), "--cpu-period: CPU cfs period can not be less than 1ms"),
    (Resources(cpu_quota=999), "--cpu-quota: CPU cfs quota can not be less than 1ms"),
    (Resources(cpuset_cpus="0-3"), "--cpuset-cpus: Requested CPUs are not available - requested 0-3, available: 0-1"),
    (Resources(cpuset_cpus="a"), "--cpuset-cpus: invalid value"),
    (Resources(cpuset_mems="1"), "--cpuset-mems: Requested memory nodes are not available"),
    (Resources(blkio_weight=5), "--blkio-weight: Range of blkio weight is from 10 to 1000"),
    (Resources(blkio_weight=500), "--blkio-weight: this kernel has no blkio weight"),
    (Resources(device_read_bps=(ThrottleDevice("/tmp/x", 1),)), "--device-read-bps"),
    (Resources(ulimits=(Ulimit("nofile", 200, 100),)), "ulimit soft limit must be less than or equal"),
    (Resources(ulimits=(Ulimit("bogus", 1, 1),)), "invalid ulimit type: bogus"),
    (Resources(ulimits=(Ulimit("nofile", 1, 30000),)), "above the daemon's own (20000)"),
])
def test_refusals_name_the_flag(res, message):
    with pytest.raises(InvalidArgument) as err:
        validate_resources(res, HOST)
    assert message in err.value.message
    assert err.value.status == 400


def test_accepted_values_and_warnings():
    ok = Resources(memory=6 * MiB, memory_swap=-1, nano_cpus=10**9, cpuset_cpus="0,1", pids_limit=-1,
                   ulimits=(Ulimit("nofile", 100, 20000), Ulimit("core", -1, -1)))
    assert validate_resources(ok, HOST) == []
    warnings = validate_resources(Resources(kernel_memory=8 * MiB, oom_kill_disable=True), HOST)
    assert any("--kernel-memory is ignored" in w for w in warnings)
    assert any("OOM killer is disabled" in w for w in warnings)


def test_ulimits_may_go_up_with_cap_sys_resource():
    host = HostFacts(rlimits={"RLIMIT_NOFILE": (1024, 1024)}, can_raise_rlimits=True)
    assert validate_resources(Resources(ulimits=(Ulimit("nofile", 1, 4096),)), host) == []


def test_oom_kill_disable_is_refused_on_v2():
    with pytest.raises(InvalidArgument, match="--oom-kill-disable"):
        validate_resources(Resources(memory=8 * MiB, oom_kill_disable=True), HostFacts(oom_kill_disable=False))


def test_memory_defaults_to_twice_the_swap():
    assert normalize_resources(Resources(memory=10 * MiB)).memory_swap == 20 * MiB
    assert normalize_resources(Resources(memory=10 * MiB, memory_swap=-1)).memory_swap == -1
    assert normalize_resources(Resources()).memory_swap == 0


def test_cpuset_round_trip():
    assert parse_cpuset("0-2,4") == {0, 1, 2, 4}
    assert format_cpuset({0, 1, 2, 4, 6, 7}) == "0-2,4,6-7"
    with pytest.raises(InvalidArgument):
        parse_cpuset("3-1")


def test_update_merges_and_refuses_like_docker():
    current = Resources(memory=64 * MiB, memory_swap=128 * MiB, nano_cpus=10**9)
    updated = apply_update(current, {"memory": 100 * MiB, "pids_limit": 20})
    assert (updated.memory, updated.memory_swap, updated.pids_limit, updated.nano_cpus) == (100 * MiB, 128 * MiB, 20, 10**9)
    with pytest.raises(Conflict, match="Memory limit should be smaller than already set memoryswap limit"):
        apply_update(current, {"memory": 256 * MiB})
    assert apply_update(current, {"memory": 256 * MiB, "memory_swap": 512 * MiB}).memory_swap == 512 * MiB
    with pytest.raises(Conflict, match="CPU Period cannot be updated as NanoCPUs has already been set"):
        apply_update(current, {"cpu_period": 50000})
    with pytest.raises(Conflict, match="Nano CPUs cannot be updated as CPU Quota"):
        apply_update(Resources(cpu_quota=50000), {"nano_cpus": 10**9})
    with pytest.raises(InvalidArgument, match="ulimits cannot be updated"):
        apply_update(current, {"ulimits": ()})
