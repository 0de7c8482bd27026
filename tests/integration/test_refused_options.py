"""Options pouchd does not implement are refused with a 400 naming them, never silently ignored
(pouch CLI, docker CLI 28, raw API); nothing is created."""

from __future__ import annotations

import pytest

from tests.integration.conftest import needs_docker

pytestmark = pytest.mark.usefixtures("clean_containers")

REFUSED = [
    (("--gpus", "all"), "--gpus (HostConfig.DeviceRequests) is not supported"),
    (("--userns", "private"), "invalid --userns mode 'private': use \"host\" or \"auto\""),
    (("--cgroupns", "private"), "--cgroupns (HostConfig.CgroupnsMode) 'private' is not supported"),
    (("--isolation", "hyperv"), "--isolation (HostConfig.Isolation) 'hyperv' is not supported"),
    (("--platform", "linux/arm64"), "--platform linux/arm64 is not supported: this host runs linux/amd64"),
]


@pytest.mark.parametrize(("flags", "message"), REFUSED)
def test_pouch_cli_refuses(daemon, flags, message):
    result = daemon.cli("run", *flags, "busybox", "true", check=False)
    assert result.returncode == 125 and message in result.stderr
    assert daemon.cli("ps", "-aq").stdout.strip() == ""


@needs_docker
@pytest.mark.parametrize(("flags", "message"), [r for r in REFUSED if r[0][0] not in ("--userns", "--isolation")])
def test_docker_cli_refuses(daemon, flags, message):
    result = daemon.docker("run", *flags, "busybox", "true", check=False)
    assert result.returncode == 125 and message in result.stderr
    assert daemon.docker("ps", "-aq").stdout.strip() == ""


def test_host_platform_and_defaults_are_accepted(daemon):
    assert daemon.cli("run", "--rm", "--platform", "linux/amd64", "--cgroupns", "host", "--userns", "host",
                      "--isolation", "default", "busybox", "echo", "ok").stdout == "ok\n"
