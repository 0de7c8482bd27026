"""pouch.oci.resources: --memory, --cpus, --ulimit, --device, --ipc/--pid/--uts, --sysctl,
--group-add, --oom-score-adj in the runtime spec (pure; no root needed)."""

from __future__ import annotations

import os
import stat

import pytest

from pouch.errors import InvalidArgument
from pouch.models import (
    CreateOptions,
    DeviceMapping,
    ImageConfig,
    Isolation,
    Resources,
    ThrottleDevice,
    Ulimit,
    parse_network_mode,
)
from pouch.oci.resources import (
    DeviceNode,
    ResourceInput,
    linux_resources,
    resolve_block_devices,
    resolve_devices,
    resolve_group_add,
    validate_isolation,
)
from pouch.oci.spec import SpecInput, generate_spec
from pouch.oci.user import ResolvedUser

MiB = 1024 * 1024


DEFAULT_RESOURCES, DEFAULT_ISOLATION = Resources(), Isolation()  # frozen: safe to share as defaults


def spec_for(resources: Resources = DEFAULT_RESOURCES, isolation: Isolation = DEFAULT_ISOLATION,
             extra: ResourceInput | None = None, **options) -> dict:
    opts = CreateOptions(image="busybox", cmd=("sleep", "1"), resources=resources, isolation=isolation, **options)
    return generate_spec(SpecInput(
        container_id="c" * 64, options=opts, image=ImageConfig(), rootfs="/r", hostname="cccc",
        etc_files={}, netns="/run/netns/x", user=ResolvedUser(0, 0, (10,)), cgroups_path="/pouch/" + "c" * 64,
        host_rlimits={"RLIMIT_NOFILE": (20000, 20000), "RLIMIT_NPROC": (96365, 96365)}, resources=extra,
    ))


def test_no_resources_leaves_only_the_device_rules():
    spec = spec_for()
    assert set(spec["linux"]["resources"]) == {"devices"}
    assert spec["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 20000, "soft": 20000}]


def test_memory_cpu_pids_in_linux_resources():
    res = Resources(memory=32 * MiB, memory_swap=64 * MiB, memory_reservation=16 * MiB, oom_kill_disable=True,
                    nano_cpus=1_500_000_000, cpu_shares=512, cpuset_cpus="0-1", cpuset_mems="0", pids_limit=10,
                    memory_swappiness=10)
    out = spec_for(res)["linux"]["resources"]
    assert out["memory"] == {"limit": 32 * MiB, "reservation": 16 * MiB, "swap": 64 * MiB, "swappiness": 10,
                             "disableOOMKiller": True}
    assert out["cpu"] == {"shares": 512, "quota": 150000, "period": 100000, "cpus": "0-1", "mems": "0"}
    assert out["pids"] == {"limit": 10}
    assert out["devices"][0] == {"allow": False, "access": "rwm"}


def test_cpu_period_quota_and_unlimited_pids_and_swap():
    out = linux_resources(Resources(cpu_period=50000, cpu_quota=25000, pids_limit=0, memory=8 * MiB, memory_swap=-1))
    assert out["cpu"] == {"quota": 25000, "period": 50000}
    assert out["pids"] == {"limit": -1}
    assert out["memory"] == {"limit": 8 * MiB, "swap": -1}


def test_block_io_throttles_need_resolved_numbers():
    res = Resources(blkio_weight=300, device_read_bps=(ThrottleDevice("/dev/vda", 1048576),),
                    device_write_iops=(ThrottleDevice("/dev/vda", 100),))
    out = linux_resources(res, {"/dev/vda": (254, 0)})
    assert out["blockIO"] == {"weight": 300,
                              "throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}],
                              "throttleWriteIOPSDevice": [{"major": 254, "minor": 0, "rate": 100}]}
    with pytest.raises(InvalidArgument):
        linux_resources(res, {})


def test_ulimits_replace_the_default_nofile_and_add_others():
    spec = spec_for(Resources(ulimits=(Ulimit("nofile", 100, 200), Ulimit("nproc", 50, 50))))
    assert spec["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 200, "soft": 100},
                                          {"type": "RLIMIT_NPROC", "hard": 50, "soft": 50}]


def test_ulimit_above_the_host_hard_limit_is_clamped_in_the_spec():
    spec = spec_for(Resources(ulimits=(Ulimit("nofile", 50000, 50000),)))
    assert spec["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 20000, "soft": 20000}]


def test_devices_become_nodes_and_allow_rules():
    node = DeviceNode("/dev/mydev", "c", 1, 3, 0o666, 0, 0, "rw")
    spec = spec_for(extra=ResourceInput(devices=(node,)))
    assert spec["linux"]["devices"] == [{"path": "/dev/mydev", "type": "c", "major": 1, "minor": 3,
                                         "fileMode": 0o666, "uid": 0, "gid": 0}]
    assert spec["linux"]["resources"]["devices"][-1] == {"allow": True, "type": "c", "major": 1, "minor": 3,
                                                         "access": "rw"}


def test_host_namespaces_are_left_out():
    spec = spec_for(isolation=Isolation(ipc_mode="host", pid_mode="host", uts_mode="host"))
    kinds = [ns["type"] for ns in spec["linux"]["namespaces"]]
    assert kinds == ["mount", "network"]
    assert "hostname" not in spec
    shm = next(m for m in spec["mounts"] if m["destination"] == "/dev/shm")
    assert shm["source"] == "/dev/shm" and shm["type"] == "bind"


def test_container_namespaces_are_joined_by_path():
    extra = ResourceInput(ipc_namespace="/proc/42/ns/ipc", pid_namespace="/proc/42/ns/pid")
    spec = spec_for(isolation=Isolation(ipc_mode="container:a", pid_mode="container:a"), extra=extra)
    namespaces = {ns["type"]: ns.get("path") for ns in spec["linux"]["namespaces"]}
    assert namespaces["ipc"] == "/proc/42/ns/ipc" and namespaces["pid"] == "/proc/42/ns/pid"
    assert namespaces["uts"] is None


def test_uts_namespace_of_a_container_is_joined_without_a_hostname():
    """A CRI pod's containers share the infra container's UTS namespace: its hostname is theirs."""
    extra = ResourceInput(uts_namespace="/proc/42/ns/uts")
    validate_isolation(Isolation(uts_mode="container:a"), hostname="web")
    spec = spec_for(isolation=Isolation(uts_mode="container:a"), extra=extra)
    namespaces = {ns["type"]: ns.get("path") for ns in spec["linux"]["namespaces"]}
    assert namespaces["uts"] == "/proc/42/ns/uts"
    assert "hostname" not in spec


def test_ipc_none_has_no_dev_shm():
    spec = spec_for(isolation=Isolation(ipc_mode="none"))
    assert "/dev/shm" not in [m["destination"] for m in spec["mounts"]]


def test_sysctls_oom_score_and_groups():
    spec = spec_for(isolation=Isolation(sysctls={"kernel.shmmax": "1000", "net.ipv4.ip_forward": "1"},
                                        oom_score_adj=500), extra=ResourceInput(extra_gids=(10, 20)))
    assert spec["linux"]["sysctl"]["kernel.shmmax"] == "1000"
    assert spec["linux"]["sysctl"]["net.ipv4.ping_group_range"] == "0 2147483647"  # Docker's own kept
    assert spec["process"]["oomScoreAdj"] == 500
    assert spec["process"]["user"]["additionalGids"] == [10, 20]


@pytest.mark.parametrize("iso, network, message", [
    (Isolation(sysctls={"vm.swappiness": "1"}), "bridge", "not whitelisted"),
    (Isolation(sysctls={"net.ipv4.ip_forward": "1"}), "host", "host network namespace"),
    (Isolation(sysctls={"net.ipv4.ip_forward": "1"}), "container:db", "not allowed with --network container:db"),
    (Isolation(sysctls={"kernel.shmmax": "1"}, ipc_mode="host"), "bridge", "--ipc host"),
    (Isolation(ipc_mode="bogus"), "bridge", "--ipc"),
    (Isolation(pid_mode="private-ish"), "bridge", "--pid"),
    (Isolation(uts_mode="private-ish"), "bridge", "--uts"),
    (Isolation(oom_score_adj=1001), "bridge", "--oom-score-adj"),
])
def test_isolation_refusals_name_the_flag(iso, network, message):
    with pytest.raises(InvalidArgument) as err:
        validate_isolation(iso, network=parse_network_mode(network))
    assert message in err.value.message and err.value.status == 400


def test_uts_host_conflicts_with_hostname():
    with pytest.raises(InvalidArgument, match="hostname and the UTS mode"):
        validate_isolation(Isolation(uts_mode="host"), hostname="web")


def _with_rdev(mode: int, rdev: int) -> os.stat_result:
    class St:
        st_mode, st_rdev, st_uid, st_gid = mode, rdev, 0, 5
    return St()  # type: ignore[return-value]


FAKE = {
    "/dev/null": _with_rdev(stat.S_IFCHR | 0o666, os.makedev(1, 3)),
    "/dev/vda": _with_rdev(stat.S_IFBLK | 0o660, os.makedev(254, 0)),
    "/dev/snd": _with_rdev(stat.S_IFDIR | 0o755, 0),
    "/dev/snd/timer": _with_rdev(stat.S_IFCHR | 0o660, os.makedev(116, 33)),
    "/etc/passwd": _with_rdev(stat.S_IFREG | 0o644, 0),
}


def fake_stat(path: str):
    if path not in FAKE:
        raise FileNotFoundError(2, "No such file or directory")
    return FAKE[path]


def fake_listdir(path: str):
    return [p.rsplit("/", 1)[1] for p in FAKE if p.rsplit("/", 1)[0] == path]


def test_resolve_devices_nodes_and_directories():
    nodes = resolve_devices([DeviceMapping("/dev/null", "/dev/mynull", "rw"), DeviceMapping("/dev/snd", "/dev/snd")],
                            stat=fake_stat, listdir=fake_listdir)
    assert nodes == (DeviceNode("/dev/mynull", "c", 1, 3, 0o666, 0, 5, "rw"),
                     DeviceNode("/dev/snd/timer", "c", 116, 33, 0o660, 0, 5, "rwm"))


@pytest.mark.parametrize("mapping, message", [
    (DeviceMapping("/dev/nope", "/dev/nope"), "No such file"),
    (DeviceMapping("/etc/passwd", "/dev/x"), "not a device node"),
    (DeviceMapping("/dev/null", "/dev/null", "rwx"), "invalid device mode"),
    (DeviceMapping("dev/null", "/dev/null"), "absolute"),
])
def test_resolve_devices_refusals(mapping, message):
    with pytest.raises(InvalidArgument, match=message):
        resolve_devices([mapping], stat=fake_stat, listdir=fake_listdir)


def test_resolve_block_devices():
    res = Resources(device_read_bps=(ThrottleDevice("/dev/vda", 1),))
    assert resolve_block_devices(res, stat=fake_stat) == {"/dev/vda": (254, 0)}
    with pytest.raises(InvalidArgument, match="--device-write-iops: /dev/null is not a block device"):
        resolve_block_devices(Resources(device_write_iops=(ThrottleDevice("/dev/null", 1),)), stat=fake_stat)


def test_group_add_resolves_names_in_the_image():
    groups = "root:x:0:\naudio:x:29:\nstaff:x:50:\n"
    assert resolve_group_add(["audio", "1234", "staff", "29"], groups) == (29, 1234, 50)
    with pytest.raises(InvalidArgument, match="--group-add: unable to find group nope"):
        resolve_group_add(["nope"], groups)
