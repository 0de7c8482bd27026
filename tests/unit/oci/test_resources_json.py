"""pouch.api.resources_json and pouch.cli.resource_flags: Docker's HostConfig resource
fields in and out, and the CLI flags that build them."""

from __future__ import annotations

import pytest

from pouch.api.convert import create_options_from_docker
from pouch.api.resources_json import host_config_fields, update_from_docker
from pouch.cli.flags import UsageError, parse
from pouch.cli.options import RUN_FLAGS, build_create_body
from pouch.cli.resource_flags import UPDATE_FLAGS, parse_device, parse_throttle, parse_ulimit, update_body
from pouch.errors import InvalidArgument
from pouch.models import DeviceMapping, Isolation, Resources, ThrottleDevice, Ulimit

MiB = 1024 * 1024


def body_for(argv: list[str]) -> dict:
    opts, args = parse(RUN_FLAGS, argv, interspersed=False)
    return build_create_body(opts, args[0], args[1:], run=True, environ={})


def test_run_flags_to_host_config_and_back():
    body = body_for(["-m", "32m", "--memory-swap", "-1", "--memory-reservation", "16m", "--cpus", "1.5",
                     "--cpu-shares", "512", "--cpuset-cpus", "0", "--pids-limit", "10", "--oom-kill-disable",
                     "--oom-score-adj", "100", "--ulimit", "nofile=100:200", "--device", "/dev/null:/dev/n:rw",
                     "--device-read-bps", "/dev/vda:1mb", "--device-write-iops", "/dev/vda:100",
                     "--sysctl", "kernel.shmmax=1000", "--ipc", "host", "--pid", "host", "--uts", "host",
                     "--cgroup-parent", "/mine", "--group-add", "audio", "busybox", "true"])
    opts = create_options_from_docker(body)
    r, i = opts.resources, opts.isolation
    assert (r.memory, r.memory_swap, r.memory_reservation) == (32 * MiB, -1, 16 * MiB)
    assert (r.nano_cpus, r.cpu_shares, r.cpuset_cpus, r.pids_limit) == (1_500_000_000, 512, "0", 10)
    assert r.oom_kill_disable and r.cgroup_parent == "/mine"
    assert r.ulimits == (Ulimit("nofile", 100, 200),)
    assert r.devices == (DeviceMapping("/dev/null", "/dev/n", "rw"),)
    assert r.device_read_bps == (ThrottleDevice("/dev/vda", MiB),)
    assert r.device_write_iops == (ThrottleDevice("/dev/vda", 100),)
    assert i == Isolation("host", "host", "host", {"kernel.shmmax": "1000"}, ("audio",), 100)
    out = host_config_fields(r, i)
    assert out["Memory"] == 32 * MiB and out["MemorySwap"] == -1 and out["PidsLimit"] == 10
    assert out["Ulimits"] == [{"Name": "nofile", "Soft": 100, "Hard": 200}]
    assert out["IpcMode"] == "host" and out["UTSMode"] == "host" and out["GroupAdd"] == ["audio"]


def test_memory_alone_gets_twice_as_much_swap_like_docker():
    opts = create_options_from_docker({"Image": "busybox", "HostConfig": {"Memory": 64 * MiB}})
    assert opts.resources.memory_swap == 128 * MiB


def test_defaults_read_like_docker_in_inspect():
    out = host_config_fields(Resources(), Isolation())
    assert out["Memory"] == 0 and out["PidsLimit"] is None and out["Ulimits"] is None and out["IpcMode"] == "private"


@pytest.mark.parametrize("host, message", [
    ({"Memory": "lots"}, "HostConfig.Memory: expected an integer"),
    ({"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]}, "invalid ulimit type: bogus"),
    ({"Devices": [{"PathInContainer": "/dev/x"}]}, "Devices[0].PathOnHost"),
    ({"Sysctls": {"a": 1}}, "HostConfig.Sysctls"),
])
def test_bad_wire_values_name_the_field(host, message):
    with pytest.raises(InvalidArgument, match=message.replace("[", r"\[").replace("]", r"\]")):
        create_options_from_docker({"Image": "busybox", "HostConfig": host})


def test_update_body_keeps_only_what_was_set():
    docker_cli_body = {"BlkioWeight": 0, "CpuShares": 0, "Memory": 128 * MiB, "MemorySwap": 0, "NanoCpus": 0,
                       "CpusetCpus": "", "PidsLimit": None, "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}}
    assert update_from_docker(docker_cli_body) == {"memory": 128 * MiB}
    assert update_from_docker({"PidsLimit": 0}) == {"pids_limit": 0}


def test_pouch_update_flags():
    opts, _ = parse(UPDATE_FLAGS, ["-m", "64m", "--cpus", "0.5", "--pids-limit", "-1", "--restart", "always",
                                   "-e", "A=1", "c"])
    assert update_body(opts) == {"Memory": 64 * MiB, "NanoCpus": 500_000_000, "PidsLimit": -1,
                                 "RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}, "Env": ["A=1"]}


def test_cli_parsers():
    assert parse_device("/dev/sda") == {"PathOnHost": "/dev/sda", "PathInContainer": "/dev/sda",
                                        "CgroupPermissions": "rwm"}
    assert parse_device("/dev/sda:r") == {"PathOnHost": "/dev/sda", "PathInContainer": "/dev/sda",
                                          "CgroupPermissions": "r"}
    assert parse_device("/dev/sda:/dev/xvda") == {"PathOnHost": "/dev/sda", "PathInContainer": "/dev/xvda",
                                                  "CgroupPermissions": "rwm"}
    assert parse_ulimit("nproc=5") == {"Name": "nproc", "Soft": 5, "Hard": 5}
    assert parse_throttle("/dev/sda:2kb", "--device-read-bps", False) == {"Path": "/dev/sda", "Rate": 2048}
    for bad in (lambda: parse_ulimit("nofile"), lambda: parse_device("/dev/a:/dev/b:rwx"),
                lambda: parse_throttle("sda:1", "--device-read-bps", False),
                lambda: parse_throttle("/dev/sda:x", "--device-read-iops", True)):
        with pytest.raises(UsageError):
            bad()
