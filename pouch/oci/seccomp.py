"""Seccomp profiles: Docker's profile format in, the OCI ``linux.seccomp`` section out.

Glossary:

- *source profile*: Docker's file format (moby ``profiles/seccomp/default.json``): syscall
  groups that may carry ``includes``/``excludes`` conditions on the container's
  capabilities (``caps``), the CPU architecture (``arches``) or the kernel (``minKernel``),
  and an ``archMap`` from a native architecture to its sub-architectures. Pouch's own
  default is such a file, ``seccomp_default.json`` next to this module.
- *rendered profile*: the ``linux.seccomp`` object of the OCI runtime spec
  (config-linux.md#seccomp): ``defaultAction``, ``architectures``, ``syscalls`` with
  ``names``/``action``/``args``/``errnoRet``, conditions already decided for one container.

The default blocks what Docker's default blocks: everything not allowed fails with EPERM
(``SCMP_ACT_ERRNO``, ``defaultErrnoRet`` 1); the allow list is what dockerd 20.10
renders on this platform; ``personality`` and ``clone`` are allowed only for harmless
arguments; ``clone3`` answers ENOSYS so libc falls back to ``clone``; administration
syscalls (mount, umount, unshare, setns, ...) need CAP_SYS_ADMIN, ptrace-family calls
beyond plain ``ptrace`` need CAP_SYS_PTRACE, and so on for each capability.

``minKernel`` conditions are treated as met: Pouch assumes a kernel newer than any the
profile mentions (4.8).

Sub-architectures the kernel cannot run are left out of ``architectures``: most x86_64
kernels are built or booted without the x32 ABI (a call with the x32 bit answers ENOSYS
before seccomp matters), and every architecture in the list makes libseccomp compile
the whole filter once more inside ``runc create`` (x32: about 6 ms of a 35 ms create).
Leaving it out changes nothing a container can do; an x32 call is then refused by the
filter (the "bad architecture" action) instead of by the kernel.
"""

from __future__ import annotations

import ctypes
import json
import platform
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from importlib import resources
from typing import Any

from pouch.errors import InvalidArgument
from pouch.models import CreateOptions, SeccompMode, SecurityOptions
from pouch.oci.caps import DEFAULT_CAPABILITIES, normalize_capability, resolve_capabilities

#: ``uname -m`` -> the architecture names used by ``includes.arches`` (Go's GOARCH names).
_GO_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "i386": "x86",
    "i686": "x86",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}

#: GOARCH -> libseccomp's name for the native architecture (the ``archMap`` key).
_SCMP_ARCH = {
    "amd64": "SCMP_ARCH_X86_64",
    "x86": "SCMP_ARCH_X86",
    "arm64": "SCMP_ARCH_AARCH64",
    "arm": "SCMP_ARCH_ARM",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64",
}

ReadFile = Callable[[str], str]


def host_arch() -> str:
    """This machine's architecture as a GOARCH name (``amd64``...)."""
    machine = platform.machine()
    return _GO_ARCH.get(machine, machine)


@cache
def _default_source_text() -> str:
    return resources.files("pouch.oci").joinpath("seccomp_default.json").read_text(encoding="utf-8")


def default_source() -> dict:
    """Pouch's default profile in source form (a fresh copy each call)."""
    return json.loads(_default_source_text())


_X32_SYSCALL_BIT = 0x40000000
_SYS_GETPID_X86_64 = 39


@cache
def host_unsupported_subarches() -> frozenset[str]:
    """Sub-architectures of the archMap this kernel refuses to run (probed once).

    x32: ``getpid`` with the x32 bit set answers ENOSYS unless the kernel runs x32."""
    if host_arch() != "amd64":
        return frozenset()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    if libc.syscall(ctypes.c_long(_X32_SYSCALL_BIT | _SYS_GETPID_X86_64)) == -1 and ctypes.get_errno() == 38:
        return frozenset({"SCMP_ARCH_X32"})
    return frozenset()


def _architectures(source: dict, arch: str, unsupported: frozenset[str]) -> list[str]:
    """``architectures`` as the profile lists them, or the native arch and those of its
    archMap sub-architectures the kernel runs."""
    if source.get("architectures") and source.get("archMap"):
        raise InvalidArgument("seccomp profile: use either 'architectures' or 'archMap', not both")
    if source.get("architectures"):
        return list(source["architectures"])
    native = _SCMP_ARCH.get(arch, "")
    for entry in source.get("archMap") or ():
        if entry.get("architecture") == native:
            return [native, *(a for a in entry.get("subArchitectures") or () if a not in unsupported)]
    return []


def _applies(group: dict, caps: frozenset[str], arch: str) -> bool:
    """moby's rule: excluded if the arch or any capability in ``excludes`` matches;
    included only if the arch is listed and every capability in ``includes`` is held."""
    excludes = group.get("excludes") or {}
    includes = group.get("includes") or {}
    if arch in (excludes.get("arches") or ()):
        return False
    if any(_cap(c) in caps for c in excludes.get("caps") or ()):
        return False
    if includes.get("arches") and arch not in includes["arches"]:
        return False
    return all(_cap(c) in caps for c in includes.get("caps") or ())


def _cap(name: str) -> str:
    try:
        return normalize_capability(name)
    except InvalidArgument:
        return name.upper()


def _render_arg(arg: dict) -> dict:
    try:
        out: dict[str, Any] = {"index": int(arg["index"]), "value": int(arg.get("value", 0))}
        if int(arg.get("valueTwo", 0)):
            out["valueTwo"] = int(arg["valueTwo"])
        out["op"] = str(arg["op"])
    except (KeyError, TypeError, ValueError) as e:
        raise InvalidArgument(f"seccomp profile: bad syscall argument filter {arg!r}") from e
    return out


def _render_group(group: dict) -> dict:
    if group.get("name") and group.get("names"):
        raise InvalidArgument("seccomp profile: use either 'name' or 'names', not both")
    names = group.get("names") or ([group["name"]] if group.get("name") else [])
    if not names or not group.get("action"):
        raise InvalidArgument(f"seccomp profile: a syscall rule needs names and an action: {group!r}")
    out: dict[str, Any] = {"names": list(names), "action": group["action"]}
    if group.get("errnoRet") is not None:
        out["errnoRet"] = int(group["errnoRet"])
    if group.get("args"):
        out["args"] = [_render_arg(a) for a in group["args"]]
    return out


def render_profile(source: dict, capabilities: Iterable[str], arch: str | None = None,
                   unsupported_subarches: frozenset[str] | None = None) -> dict:
    """The OCI ``linux.seccomp`` section of ``source`` for a container holding
    ``capabilities`` on architecture ``arch`` (GOARCH name; default: this host's), without
    the archMap sub-architectures in ``unsupported_subarches`` (default: those this
    host's kernel cannot run; only when ``arch`` is the host's)."""
    if not isinstance(source, dict) or not isinstance(source.get("defaultAction"), str):
        raise InvalidArgument("seccomp profile: 'defaultAction' is required")
    if unsupported_subarches is None:
        unsupported_subarches = host_unsupported_subarches() if arch in (None, host_arch()) else frozenset()
    arch = arch or host_arch()
    caps = frozenset(_cap(c) for c in capabilities)
    out: dict[str, Any] = {"defaultAction": source["defaultAction"]}
    if source.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = int(source["defaultErrnoRet"])
    out["architectures"] = _architectures(source, arch, unsupported_subarches)
    out["syscalls"] = [_render_group(g) for g in source.get("syscalls") or () if _applies(g, caps, arch)]
    return out


def default_profile(capabilities: Sequence[str] = DEFAULT_CAPABILITIES, arch: str | None = None,
                    unsupported_subarches: frozenset[str] | None = None) -> dict:
    """Pouch's default profile rendered for a container's final capability set."""
    return render_profile(default_source(), capabilities, arch, unsupported_subarches)


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_profile(value: str, read_file: ReadFile = _read_text) -> dict:
    """A source profile from a ``seccomp=`` value: inline JSON (what the docker CLI sends
    after reading the file itself) or a path the daemon reads."""
    if value.lstrip().startswith("{"):
        what, text = "the inline seccomp profile", value
    else:
        what = f"seccomp profile {value}"
        try:
            text = read_file(value)
        except OSError as e:
            raise InvalidArgument(f"opening {what} failed: {e.strerror or e}") from e
    try:
        source = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidArgument(f"decoding {what} failed: {e}") from e
    if not isinstance(source, dict):
        raise InvalidArgument(f"decoding {what} failed: not a JSON object")
    return source


def chosen_profile(
    security: SecurityOptions,
    read_file: ReadFile = _read_text,
    capabilities: Sequence[str] = DEFAULT_CAPABILITIES,
    arch: str | None = None,
) -> dict | None:
    """The ``linux.seccomp`` section ``--security-opt seccomp=...`` asks for: Pouch's
    default (no option, or ``seccomp=builtin``), None for ``seccomp=unconfined``, or the
    user's profile (file or inline JSON, Docker's format), each rendered to OCI form for
    ``capabilities``."""
    if security.seccomp == SeccompMode.UNCONFINED:
        return None
    if security.seccomp == SeccompMode.DEFAULT:
        return default_profile(capabilities, arch)
    value = security.seccomp_profile
    source = load_profile(value, read_file)
    try:
        return render_profile(source, capabilities, arch)
    except InvalidArgument as e:
        where = "the inline profile" if value.lstrip().startswith("{") else value
        raise InvalidArgument(f"{e.message} (in {where})") from e


def resolve_seccomp(
    options: CreateOptions,
    capabilities: Sequence[str] | None = None,
    read_file: ReadFile = _read_text,
    arch: str | None = None,
    host_capabilities: Iterable[str] | None = None,
) -> dict | None:
    """The ``linux.seccomp`` section for a container, as ``SpecInput.seccomp`` wants it:
    None when privileged (Docker never confines privileged containers) or with
    ``seccomp=unconfined``; else the chosen profile rendered for the container's
    capabilities (by default computed from ``options``, clamped to ``host_capabilities``
    exactly as ``generate_spec`` does when given the same host set)."""
    options.security.check()  # an old record's bad option is reported even for --privileged
    if options.privileged:
        return None
    if capabilities is None:
        capabilities = resolve_capabilities(options, host_capabilities)
    return chosen_profile(options.security, read_file, capabilities, arch)
