"""Create-body fields pouchd does not implement are 400s naming the option (api/unsupported.py)."""

from __future__ import annotations

import pytest

from pouch import errors
from pouch.api.unsupported import check_create_body, check_platform

DOCKER_CLI_28_DEFAULTS = {  # what `docker run busybox` sends for the fields in question
    "Image": "busybox", "NetworkDisabled": False,
    "HostConfig": {"Links": None, "DeviceRequests": None, "UsernsMode": "", "Cgroup": "", "Isolation": "",
                   "CgroupnsMode": "", "MaskedPaths": None, "ReadonlyPaths": None, "CpuCount": 0,
                   "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "KernelMemoryTCP": 0,
                   "Annotations": None, "ConsoleSize": [40, 120], "ContainerIDFile": ""},
}


def test_defaults_pass():
    check_create_body(DOCKER_CLI_28_DEFAULTS)
    check_create_body({"Image": "x"})


@pytest.mark.parametrize(("host", "named"), [
    ({"DeviceRequests": [{"Count": -1, "Capabilities": [["gpu"]]}]}, "--gpus (HostConfig.DeviceRequests)"),
    ({"CgroupnsMode": "private"}, "--cgroupns"),
    ({"Isolation": "process"}, "--isolation"),
    ({"Annotations": {"a": "b"}}, "--annotation"),
    ({"MaskedPaths": []}, "HostConfig.MaskedPaths"),
    ({"CpuPercent": 50}, "--cpu-percent"),
])
def test_refused_fields_are_named(host, named):
    with pytest.raises(errors.InvalidArgument, match=named.replace("(", r"\(").replace(")", r"\)")):
        check_create_body({**DOCKER_CLI_28_DEFAULTS, "HostConfig": {**DOCKER_CLI_28_DEFAULTS["HostConfig"], **host}})


def test_network_disabled_is_refused():
    with pytest.raises(errors.InvalidArgument, match="NetworkDisabled"):
        check_create_body({"Image": "x", "NetworkDisabled": True})


@pytest.mark.parametrize("ok", ["", "linux/amd64", "amd64", "linux/x86_64", "LINUX/AMD64"])
def test_host_platform_is_accepted(ok):
    check_platform(ok, "linux/amd64")


@pytest.mark.parametrize("bad", ["linux/arm64", "windows/amd64", "arm64", "linux/arm/v7"])
def test_other_platforms_are_refused(bad):
    with pytest.raises(errors.InvalidArgument, match=f"--platform {bad} is not supported"):
        check_platform(bad, "linux/amd64")
