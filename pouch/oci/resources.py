"""The resource and isolation parts of a container's runtime spec.

From ``CreateOptions.resources`` and ``.isolation`` (``pouch.models``) to
``linux.resources`` (memory, cpu, pids, blockIO, device rules), ``linux.devices``,
``process.rlimits`` (``--ulimit``), ``linux.namespaces`` (``--ipc/--pid/--uts`` host or
another container's), ``linux.sysctl``, ``process.oomScoreAdj`` and
``process.user.additionalGids`` (``--group-add``), and ``linux.cgroupsPath``
(``--cgroup-parent``).

Everything here is pure. What needs the host (device numbers of ``--device`` and the
throttled block devices, the namespaces of another container, the gids of group names in
the image) is resolved by the daemon into a :class:`ResourceInput` first:
:func:`resolve_devices` and :func:`resolve_group_add` take injected ``stat`` and file
contents so they are tested without root.
"""

from __future__ import annotations

import os
import posixpath
import stat as stat_module
from collections.abc import Callable, Iterable, Mapping

from pouch.cgroups.limits import DEFAULT_CPU_PERIOD, RLIM_INFINITY, ULIMIT_NAMES, clamp_rlimits
from pouch.errors import InvalidArgument
from pouch.models import DeviceMapping, Isolation, NetworkKind, NetworkMode, Resources, ThrottleDevice
from pouch.oci.specinput import DeviceNode, ResourceInput, SpecInput
from pouch.oci.user import parse_group

#: ``--sysctl`` names Docker accepts (opts.ValidateSysctl) and the namespace each needs.
IPC_SYSCTLS = frozenset({"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                         "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"})
IPC_MODES = ("", "private", "shareable", "none", "host")
PID_MODES = ("", "host")
UTS_MODES = ("", "host")
_DEFAULT_NETWORK = NetworkMode(NetworkKind.BRIDGE)


# --- validation (create time) ------------------------------------------------------------


def validate_isolation(iso: Isolation, *, network: NetworkMode = _DEFAULT_NETWORK, hostname: str = "") -> None:
    """moby's checks of ``--ipc/--pid/--uts/--sysctl/--oom-score-adj``; 400 naming the flag."""
    if iso.ipc_mode not in IPC_MODES and not _container_ref(iso.ipc_mode):
        raise InvalidArgument(f"--ipc: invalid IPC mode {iso.ipc_mode!r} "
                              "(private, shareable, none, host or container:NAME)")
    if iso.pid_mode not in PID_MODES and not _container_ref(iso.pid_mode):
        raise InvalidArgument(f"--pid: invalid PID mode {iso.pid_mode!r} (host or container:NAME)")
    if iso.uts_mode not in UTS_MODES and not _container_ref(iso.uts_mode):
        raise InvalidArgument(f"--uts: invalid UTS mode {iso.uts_mode!r} (host)")
    if iso.uts_mode == "host" and hostname:
        raise InvalidArgument("--uts: Conflicting options: hostname and the UTS mode")
    if not -1000 <= iso.oom_score_adj <= 1000:
        raise InvalidArgument(f"--oom-score-adj: Invalid value {iso.oom_score_adj}, range for oom score adj is [-1000, 1000]")
    for name in iso.sysctls:
        validate_sysctl(name, iso, network)
    for group in iso.group_add:
        if not group or ":" in group:
            raise InvalidArgument(f"--group-add: invalid group {group!r}")


def validate_sysctl(name: str, iso: Isolation, network: NetworkMode) -> None:
    """Docker's whitelist: the IPC sysctls and ``fs.mqueue.*`` (need a private IPC
    namespace), ``net.*`` (need a network namespace of the container's own)."""
    if name in IPC_SYSCTLS or name.startswith("fs.mqueue."):
        if iso.ipc_mode == "host":
            raise InvalidArgument(f"--sysctl: sysctl {name!r} is not allowed with --ipc host")
        if _container_ref(iso.ipc_mode):
            raise InvalidArgument(f"--sysctl: sysctl {name!r} is not allowed with --ipc {iso.ipc_mode}: "
                                  "it would change the other container's IPC namespace")
        return
    if name.startswith("net."):
        if network.is_host:
            raise InvalidArgument(f"--sysctl: sysctl {name!r} is not allowed in the host network namespace")
        if network.joins_container:
            raise InvalidArgument(f"--sysctl: sysctl {name!r} is not allowed with --network container:{network.target}")
        return
    raise InvalidArgument(f"--sysctl: sysctl {name!r} is not whitelisted: only kernel.msg*, kernel.sem, "
                          "kernel.shm*, fs.mqueue.* and net.* are namespaced")


def _container_ref(mode: str) -> str:
    return mode.removeprefix("container:") if mode.startswith("container:") else ""


def joined_container(mode: str) -> str:
    """``container:NAME`` -> NAME; anything else -> ``""``."""
    return _container_ref(mode)


def validate_device_mapping(d: DeviceMapping) -> None:
    if not d.path_on_host.startswith("/"):
        raise InvalidArgument(f"--device: {d.path_on_host!r} must be an absolute path")
    if not d.path_in_container.startswith("/"):
        raise InvalidArgument(f"--device: {d.path_in_container!r}: the path in the container must be absolute")
    if not d.permissions or any(c not in "rwm" for c in d.permissions) or len(set(d.permissions)) != len(d.permissions):
        raise InvalidArgument(f"--device: invalid device mode {d.permissions!r} (a combination of r, w and m)")


# --- host resolution (stat injected) -------------------------------------------------------

StatFn = Callable[[str], os.stat_result]
ListFn = Callable[[str], Iterable[str]]


def _node(stat_result: os.stat_result) -> tuple[str, int, int] | None:
    mode = stat_result.st_mode
    if stat_module.S_ISCHR(mode):
        kind = "c"
    elif stat_module.S_ISBLK(mode):
        kind = "b"
    else:
        return None
    return kind, os.major(stat_result.st_rdev), os.minor(stat_result.st_rdev)


def resolve_devices(mappings: Iterable[DeviceMapping], stat: StatFn = os.stat,
                    listdir: ListFn = os.listdir) -> tuple[DeviceNode, ...]:
    """``--device`` -> device nodes, as Docker's ``DevicesFromPath``: a device node maps to
    one node; a directory maps every device below it (others skipped)."""
    out: list[DeviceNode] = []
    for m in mappings:
        validate_device_mapping(m)
        try:
            st = stat(m.path_on_host)
        except OSError as e:
            raise InvalidArgument(f"--device: error gathering device information while adding custom device "
                                  f"{m.path_on_host!r}: {e.strerror or e}") from None
        node = _node(st)
        if node is not None:
            out.append(_device(m.path_in_container, node, st, m.permissions))
            continue
        if not stat_module.S_ISDIR(st.st_mode):
            raise InvalidArgument(f"--device: error gathering device information while adding custom device "
                                  f"{m.path_on_host!r}: not a device node")
        for host_path, sub_st, sub_node in _walk_devices(m.path_on_host, stat, listdir):
            rel = posixpath.relpath(host_path, m.path_on_host)
            out.append(_device(posixpath.join(m.path_in_container, rel), sub_node, sub_st, m.permissions))
    return tuple(out)


def _device(path: str, node: tuple[str, int, int], st: os.stat_result, permissions: str) -> DeviceNode:
    kind, major, minor = node
    return DeviceNode(posixpath.normpath(path), kind, major, minor, stat_module.S_IMODE(st.st_mode),
                      st.st_uid, st.st_gid, permissions)


def _walk_devices(top: str, stat: StatFn, listdir: ListFn):  # type: ignore[no-untyped-def]
    for name in sorted(listdir(top)):
        path = posixpath.join(top, name)
        try:
            st = stat(path)
        except OSError:
            continue
        node = _node(st)
        if node is not None:
            yield path, st, node
        elif stat_module.S_ISDIR(st.st_mode) and not name.startswith("."):
            yield from _walk_devices(path, stat, listdir)


def resolve_block_devices(res: Resources, stat: StatFn = os.stat) -> dict[str, tuple[int, int]]:
    """The (major, minor) of each block device a ``--device-*-bps/iops`` names."""
    out: dict[str, tuple[int, int]] = {}
    for flag, devices in _throttles(res):
        for d in devices:
            if d.path in out:
                continue
            try:
                node = _node(stat(d.path))
            except OSError as e:
                raise InvalidArgument(f"{flag}: {d.path}: {e.strerror or e}") from None
            if node is None or node[0] != "b":
                raise InvalidArgument(f"{flag}: {d.path} is not a block device")
            out[d.path] = (node[1], node[2])
    return out


def _throttles(res: Resources) -> list[tuple[str, tuple[ThrottleDevice, ...]]]:
    return [("--device-read-bps", res.device_read_bps), ("--device-write-bps", res.device_write_bps),
            ("--device-read-iops", res.device_read_iops), ("--device-write-iops", res.device_write_iops)]


def resolve_group_add(groups: Iterable[str], group_file: str) -> tuple[int, ...]:
    """``--group-add``: numbers as they are, names looked up in the image's /etc/group."""
    entries = parse_group(group_file)
    out: list[int] = []
    for g in groups:
        if g.isdigit():
            gid = int(g)
        else:
            found = next((e for e in entries if e.name == g), None)
            if found is None:
                raise InvalidArgument(f"--group-add: unable to find group {g}: no matching entries in group file")
            gid = found.gid
        if gid not in out:
            out.append(gid)
    return tuple(out)


# --- pure: Resources -> linux.resources -----------------------------------------------------


def cpu_quota_period(res: Resources) -> tuple[int, int]:
    """(quota, period) in microseconds: ``--cpus`` is quota/period with a 100 ms period."""
    if res.nano_cpus:
        return res.nano_cpus * DEFAULT_CPU_PERIOD // 10**9, DEFAULT_CPU_PERIOD
    return res.cpu_quota, res.cpu_period


def linux_resources(res: Resources, block_devices: Mapping[str, tuple[int, int]] | None = None) -> dict:
    """``linux.resources`` without the device rules (config-linux.md); only what is set.
    Also the body of ``runc update --resources`` (which takes the same shape)."""
    out: dict = {}
    memory: dict = {}
    if res.memory:
        memory["limit"] = res.memory
    if res.memory_reservation:
        memory["reservation"] = res.memory_reservation
    if res.memory_swap:
        memory["swap"] = -1 if res.memory_swap < 0 else res.memory_swap
    if res.memory_swappiness is not None and res.memory_swappiness >= 0:
        memory["swappiness"] = res.memory_swappiness
    if res.oom_kill_disable:
        memory["disableOOMKiller"] = True
    if memory:
        out["memory"] = memory
    cpu: dict = {}
    if res.cpu_shares:
        cpu["shares"] = res.cpu_shares
    quota, period = cpu_quota_period(res)
    if quota:
        cpu["quota"] = quota
    if period:
        cpu["period"] = period
    if res.cpuset_cpus:
        cpu["cpus"] = res.cpuset_cpus
    if res.cpuset_mems:
        cpu["mems"] = res.cpuset_mems
    if cpu:
        out["cpu"] = cpu
    if res.pids_limit is not None:
        out["pids"] = {"limit": res.pids_limit if res.pids_limit > 0 else -1}
    block = _block_io(res, block_devices or {})
    if block:
        out["blockIO"] = block
    return out


def _block_io(res: Resources, numbers: Mapping[str, tuple[int, int]]) -> dict:
    out: dict = {}
    if res.blkio_weight:
        out["weight"] = res.blkio_weight
    for key, devices in (("throttleReadBpsDevice", res.device_read_bps),
                         ("throttleWriteBpsDevice", res.device_write_bps),
                         ("throttleReadIOPSDevice", res.device_read_iops),
                         ("throttleWriteIOPSDevice", res.device_write_iops)):
        if devices:
            entries = []
            for d in devices:
                if d.path not in numbers:
                    raise InvalidArgument(f"block device {d.path} was not resolved")
                major, minor = numbers[d.path]
                entries.append({"major": major, "minor": minor, "rate": d.rate})
            out[key] = entries
    return out


def rlimits_for(ulimits: Iterable) -> dict[str, tuple[int, int]]:
    """``--ulimit`` as ``RLIMIT_*`` -> (soft, hard) in the spec's uint64 terms."""
    out: dict[str, tuple[int, int]] = {}
    for u in ulimits:
        soft = RLIM_INFINITY if u.soft < 0 else u.soft
        hard = RLIM_INFINITY if u.hard < 0 else u.hard
        out[ULIMIT_NAMES[u.name]] = (soft, hard)
    return out


# --- spec options (applied after pouch.oci.spec's own) ------------------------------------


def with_resources(spec: dict, inp: SpecInput) -> None:
    """``linux.resources`` limits, ``linux.devices`` and their allow rules."""
    extra = inp.resources or ResourceInput()
    res = inp.options.resources
    resources = spec["linux"].setdefault("resources", {})
    resources.update(linux_resources(res, extra.block_devices))
    if extra.devices:
        spec["linux"]["devices"] = [d.to_oci() for d in extra.devices]
        resources.setdefault("devices", []).extend(d.rule() for d in extra.devices)


def with_ulimits(spec: dict, inp: SpecInput) -> None:
    """``--ulimit`` replaces or adds to ``process.rlimits`` (refused at create when above
    the daemon's hard limit; clamped here too, so a later lower limit can't break start)."""
    wanted = rlimits_for(inp.options.resources.ulimits)
    if not wanted:
        return
    rlimits = {r["type"]: r for r in spec["process"].get("rlimits", [])}
    clamped = {r["type"]: r for r in clamp_rlimits(wanted, inp.host_rlimits)}
    for kind, (soft, hard) in wanted.items():  # a kind the host did not report: as asked
        rlimits[kind] = clamped.get(kind) or {"type": kind, "hard": hard, "soft": soft}
    spec["process"]["rlimits"] = list(rlimits.values())


def with_isolation(spec: dict, inp: SpecInput) -> None:
    """Namespaces shared with the host or another container, user sysctls, OOM score,
    supplementary groups."""
    iso = inp.options.isolation
    extra = inp.resources or ResourceInput()
    namespaces = spec["linux"].setdefault("namespaces", [])

    def share(kind: str, path: str | None) -> None:  # None: the host's (no namespace entry)
        namespaces[:] = [ns for ns in namespaces if ns["type"] != kind]
        if path is not None:
            namespaces.append({"type": kind, "path": path})

    if iso.ipc_mode == "host":
        share("ipc", None)
        _replace_mount(spec, "/dev/shm", {"destination": "/dev/shm", "type": "bind", "source": "/dev/shm",
                                          "options": ["rbind", "rprivate"]})
    elif joined_container(iso.ipc_mode):
        share("ipc", extra.ipc_namespace)
    elif iso.ipc_mode == "none":
        spec["mounts"] = [m for m in spec["mounts"] if m["destination"] != "/dev/shm"]
    if iso.pid_mode == "host":
        share("pid", None)
    elif joined_container(iso.pid_mode):
        share("pid", extra.pid_namespace)
    if iso.uts_mode == "host":
        share("uts", None)
        spec.pop("hostname", None)
    elif joined_container(iso.uts_mode):  # the hostname is the joined namespace's
        share("uts", extra.uts_namespace)
        spec.pop("hostname", None)
    if iso.sysctls:
        spec["linux"].setdefault("sysctl", {}).update(iso.sysctls)
    if iso.oom_score_adj:
        spec["process"]["oomScoreAdj"] = iso.oom_score_adj
    if extra.extra_gids:
        user = spec["process"].setdefault("user", {"uid": 0, "gid": 0})
        gids = list(user.get("additionalGids") or [])
        user["additionalGids"] = gids + [g for g in extra.extra_gids if g not in gids]


def _replace_mount(spec: dict, destination: str, mount: dict) -> None:
    mounts = spec.get("mounts", [])
    for i, m in enumerate(mounts):
        if m["destination"] == destination:
            mounts[i] = mount
            return


#: Applied by ``pouch.oci.spec.generate_spec`` after the base options.
RESOURCE_OPTIONS = (with_resources, with_ulimits, with_isolation)

__all__ = [
    "DeviceNode",
    "RESOURCE_OPTIONS",
    "ResourceInput",
    "cpu_quota_period",
    "joined_container",
    "linux_resources",
    "resolve_block_devices",
    "resolve_devices",
    "resolve_group_add",
    "validate_isolation",
    "validate_sysctl",
    "with_isolation",
    "with_resources",
    "with_ulimits",
]
