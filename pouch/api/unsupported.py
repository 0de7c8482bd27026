"""Create-body fields that pouchd receives but does not implement: a 400 naming the option, never
a silent no-op (pure).

Each entry: where the field is, the docker flag that sets it, and why pouchd refuses it. A field
is refused only when it asks for something (a non-empty list, a value other than the default), so
clients that send defaults (docker CLI 28, docker-py, compose) keep working. Fields a client fills
in for itself (``ContainerIDFile``) or that change nothing on Linux (``ArgsEscaped``, ``Shell``,
``OnBuild``, ``ConsoleSize``) are not listed.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from typing import Any

from pouch.errors import InvalidArgument

# (HostConfig field, docker flag, reason)
HOST_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("DeviceRequests", "--gpus", "pouchd has no device request driver (GPUs); use --device for device nodes"),
    ("Cgroup", "--cgroup", "joining another container's cgroup is not supported"),
    ("Annotations", "--annotation", "OCI annotations are not supported"),
    ("MaskedPaths", "HostConfig.MaskedPaths", "the masked paths are Docker's defaults (--privileged lifts them)"),
    ("ReadonlyPaths", "HostConfig.ReadonlyPaths", "the read-only paths are Docker's defaults (--privileged lifts them)"),
    ("KernelMemoryTCP", "--kernel-memory-tcp", "kernel TCP memory limits do not exist on cgroup v2"),
    ("CpuCount", "--cpu-count", "Windows only"),
    ("CpuPercent", "--cpu-percent", "Windows only"),
    ("IOMaximumIOps", "--io-maxiops", "Windows only"),
    ("IOMaximumBandwidth", "--io-maxbandwidth", "Windows only"),
)
DEFAULTS: dict[str, tuple[Any, ...]] = {"Cgroup": ("",)}
SET_WHEN_PRESENT = ("MaskedPaths", "ReadonlyPaths")  # an empty list asks for no masking at all


def _asks(key: str, value: Any) -> bool:
    """True when a field's value asks for something (not null, empty, zero or a default)."""
    if key in SET_WHEN_PRESENT:
        return value is not None
    return value not in (None, "", 0, [], {}, False) and value not in DEFAULTS.get(key, ())


def check_create_body(body: Mapping[str, Any]) -> None:
    """A 400 naming the first option the body asks for that pouchd does not implement."""
    host = body.get("HostConfig") or {}
    if not isinstance(host, Mapping):
        return  # the converter names the bad type
    for key, flag, reason in HOST_FIELDS:
        if _asks(key, host.get(key)):
            raise InvalidArgument(f"{flag} (HostConfig.{key}) is not supported: {reason}")
    isolation = host.get("Isolation")
    if isolation not in (None, "", "default"):
        raise InvalidArgument(f"--isolation (HostConfig.Isolation) {isolation!r} is not supported on Linux: "
                              "only \"default\"")
    cgroupns = host.get("CgroupnsMode")
    if cgroupns not in (None, "", "host"):
        raise InvalidArgument(f"--cgroupns (HostConfig.CgroupnsMode) {cgroupns!r} is not supported: "
                              "containers see the host's cgroup namespace (\"host\")")
    if body.get("NetworkDisabled"):
        raise InvalidArgument("Config.NetworkDisabled is not supported: use --network none")


_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
           "i386": "386", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def host_platform() -> str:
    """``linux/amd64``: the only platform pouchd runs."""
    machine = platform.machine()
    return f"linux/{_ARCHES.get(machine, machine)}"


def check_platform(requested: str, host: str | None = None) -> None:
    """``--platform`` (``?platform=`` of create): only the host's own; pouchd emulates nothing."""
    if not requested:
        return
    host = host or host_platform()
    parts = requested.lower().split("/")
    os_name = parts[0] if len(parts) > 1 else "linux"
    arch = _ARCHES.get(parts[-1] if len(parts) <= 2 else parts[1], parts[-1] if len(parts) <= 2 else parts[1])
    if f"{os_name}/{arch}" != host:
        raise InvalidArgument(f"--platform {requested} is not supported: this host runs {host} and pouchd "
                              "does not run other platforms")
