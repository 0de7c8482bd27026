"""Linux capabilities of a container: Docker's default set and ``--cap-add``/``--cap-drop``.

Names are the kernel's (capabilities(7)), spelled as the OCI runtime spec wants them in
``process.capabilities`` (``CAP_CHOWN``...). Users may type them in any case, with or
without the ``CAP_`` prefix, and ``ALL`` for every capability, as Docker accepts.

Pure functions; the only IO helper, :func:`read_host_capabilities`, reads
``/proc/self/status`` and is meant for the daemon at startup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pouch.errors import InvalidArgument
from pouch.models import CreateOptions

#: Docker's default capability set (moby ``oci/caps/defaults.go``), in Docker's order:
#: exactly what dockerd 20.10 puts in bounding/effective/permitted for a plain ``docker run``.
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

#: The kernel's capabilities in bit order (include/uapi/linux/capability.h), 0 .. 40
#: (CAP_CHECKPOINT_RESTORE, Linux 5.9). The index in this tuple is the capability number.
ALL_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN",  # 0
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",  # 5
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",  # 10
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",  # 15
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",  # 20
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",  # 25
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",  # 30
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",  # 35
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",  # 40
)

ALL = "ALL"
_KNOWN = frozenset(ALL_CAPABILITIES)


def normalize_capability(name: str) -> str:
    """``sys_admin`` / ``SYS_ADMIN`` / ``cap_sys_admin`` -> ``CAP_SYS_ADMIN``; ``all`` -> ``ALL``.

    Raises InvalidArgument naming the capability when the kernel has no such capability.
    """
    upper = name.strip().upper()
    if upper == ALL:
        return ALL
    if not upper.startswith("CAP_"):
        upper = "CAP_" + upper
    if upper not in _KNOWN:
        raise InvalidArgument(f"unknown capability: \"{upper}\"")
    return upper


def normalize_capabilities(names: Iterable[str]) -> list[str]:
    """:func:`normalize_capability` over a list, duplicates removed, order kept."""
    out: list[str] = []
    for name in names:
        cap = normalize_capability(name)
        if cap not in out:
            out.append(cap)
    return out


def apply_cap_changes(default: Sequence[str], add: Iterable[str], drop: Iterable[str]) -> list[str]:
    """The capability set after ``--cap-add``/``--cap-drop``, with Docker's precedence
    (moby ``oci/caps.TweakCapabilities``):

    - ``--cap-add ALL``: every capability except the ones explicitly dropped
      (``--cap-add ALL`` wins over ``--cap-drop ALL``);
    - ``--cap-drop ALL``: only the added capabilities;
    - otherwise: ``default`` minus ``drop``, then ``add`` appended (no duplicates).
    """
    adds = normalize_capabilities(add)
    drops = normalize_capabilities(drop)
    if ALL in adds:
        return [c for c in ALL_CAPABILITIES if c not in drops]
    if ALL in drops:
        return list(adds)
    caps = [c for c in normalize_capabilities(default) if c not in drops]
    caps.extend(c for c in adds if c not in caps)
    return caps


def resolve_capabilities(options: CreateOptions, host_capabilities: Iterable[str] | None = None) -> list[str]:
    """A container's capability set: every capability when privileged, else Docker's
    defaults tweaked by ``--cap-add``/``--cap-drop``; then clamped to
    ``host_capabilities`` (the daemon's bounding set, see :func:`read_host_capabilities`)
    when given, because runc can't grant a capability the daemon doesn't hold."""
    if options.privileged:
        caps = list(ALL_CAPABILITIES)
    else:
        caps = apply_cap_changes(DEFAULT_CAPABILITIES, options.cap_add, options.cap_drop)
    if host_capabilities is not None:
        allowed = set(host_capabilities)
        caps = [c for c in caps if c in allowed]
    return caps


def capabilities_from_mask(mask: int) -> list[str]:
    """The names of the capabilities whose bits are set in ``mask`` (as in ``CapBnd``)."""
    return [name for bit, name in enumerate(ALL_CAPABILITIES) if mask >> bit & 1]


def parse_proc_status_caps(status_text: str, field: str = "CapBnd") -> list[str]:
    """Capabilities from the text of ``/proc/<pid>/status`` (proc(5)); ``field`` is one of
    CapInh, CapPrm, CapEff, CapBnd, CapAmb. A missing field gives every capability."""
    for line in status_text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == field:
            return capabilities_from_mask(int(value.strip(), 16))
    return list(ALL_CAPABILITIES)


def read_host_capabilities(status_path: str = "/proc/self/status") -> list[str]:
    """IO edge: the daemon's bounding set. runc can't give a container a capability
    outside it (for instance CAP_SYS_RESOURCE where root runs without it), so the spec
    clamps every capability set to this list."""
    with open(status_path, encoding="ascii") as f:
        return parse_proc_status_caps(f.read(), "CapBnd")
