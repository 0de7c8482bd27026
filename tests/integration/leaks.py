"""What a pouchd under test has left on the host that nothing accounts for, and records that
disagree with the runtime: reusable checks for crash and cleanup tests (issue 12).

``find_leaks(d, known)`` lists, as readable lines (empty: clean), everything of the daemon ``d``
(an ``tests.integration.conftest.Daemon``) that belongs to no container record or to a container
that does not run: mounts under --root/--exec-root, network namespaces, veths on its bridge,
CNI results and IP leases, iptables rules, cgroups, conmon/runc processes, bundles, runtime state, conmon's exit files and
sockets, container dirs and writable layers. ``known`` are the ids of every container the test
may have made (some kernel objects can only be found by id: cgroups, iptables comments,
processes); the ids found in --root and --exec-root are added to them.

``inconsistencies(d)`` lists the records whose state runc and the kernel contradict.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from typing import Protocol

RUNC = "/usr/bin/runc"
CGROUP_ROOT = "/sys/fs/cgroup"


class DaemonLike(Protocol):
    root: str
    exec_root: str
    bridge: str

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess: ...


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def _mounts_below(*paths: str) -> list[str]:
    prefixes = tuple(p.rstrip("/") + "/" for p in paths)
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(prefixes)]


def container_ids(d: DaemonLike) -> tuple[set[str], set[str]]:
    """(every record's id, the ids of the running or paused ones)."""
    records = set(d.cli("ps", "-aq", "--no-trunc").stdout.split())
    running = set(d.cli("ps", "-q", "--no-trunc").stdout.split())
    return records, running


def _runtime_roots(d: DaemonLike) -> list[str]:
    base = os.path.join(d.exec_root, "runtime")
    return [os.path.join(base, name) for name in _listdir(base)]


def ids_on_disk(d: DaemonLike) -> set[str]:
    """Every container id --root and --exec-root still hold something of."""
    found = set(_listdir(os.path.join(d.root, "containers")))
    found |= set(_listdir(os.path.join(d.root, "snapshots", "containers")))
    found |= set(_listdir(os.path.join(d.exec_root, "bundles")))
    found |= set(_listdir(os.path.join(d.exec_root, "netns")))
    for root in _runtime_roots(d):
        found |= set(_listdir(root))
    return {i for i in found if len(i) == 64}


def _file_leaks(d: DaemonLike, records: set[str], running: set[str]) -> list[str]:
    leaks = []
    for what, directory, keep in (
        ("container dir", os.path.join(d.root, "containers"), records),
        ("writable layer", os.path.join(d.root, "snapshots", "containers"), records),
        ("bundle", os.path.join(d.exec_root, "bundles"), running),
        ("netns", os.path.join(d.exec_root, "netns"), running),
        *(("runtime state", root, running) for root in _runtime_roots(d)),
    ):
        leaks += [f"{what} {os.path.join(directory, name)}" for name in _listdir(directory) if name not in keep]
    for what, directory in (("exit file", os.path.join(d.exec_root, "exits")),
                            ("attach socket", os.path.join(d.exec_root, "sockets"))):
        leaks += [f"{what} {os.path.join(directory, name)}" for name in _listdir(directory)
                  if name[:64] not in running]
    return leaks


def _cni_leaks(d: DaemonLike, running: set[str]) -> list[str]:
    """CNI results cached for a container that does not run, and host-local leases it holds."""
    results = os.path.join(d.root, "cni", "results")
    leaks = [f"CNI result {os.path.join(results, name)}" for name in _listdir(results) if name[:64] not in running]
    ipam = os.path.join(d.root, "cni", "ipam")
    for network in _listdir(ipam):
        for name in _listdir(os.path.join(ipam, network)):
            if name == "lock" or name.startswith("last_reserved_ip"):
                continue
            with open(os.path.join(ipam, network, name), errors="replace") as f:
                holder = f.read().split()[:1]
            if not holder or holder[0] not in running:
                leaks.append(f"IP lease {network}/{name} of {holder[0][:12] if holder else '?'}")
    return leaks


def _mount_leaks(d: DaemonLike, running: set[str]) -> list[str]:
    netns_dir = os.path.join(d.exec_root, "netns")  # a shared bind mount of itself, by design
    return [f"mount {m}" for m in _mounts_below(d.root, d.exec_root)
            if m != netns_dir and not any(cid in m for cid in running)]


def _veth_leaks(d: DaemonLike, running: set[str]) -> list[str]:
    """At most one veth on the bridge per running container's own network namespace."""
    out = subprocess.run(["ip", "-o", "link", "show", "master", d.bridge], capture_output=True, text=True).stdout
    veths = [line.split(":")[1].strip() for line in out.splitlines() if line.strip()]
    namespaces = len([n for n in _listdir(os.path.join(d.exec_root, "netns")) if n in running])
    return [f"veths on {d.bridge}: {veths} for {namespaces} network namespace(s)"] if len(veths) > namespaces else []


def _iptables_leaks(gone: set[str]) -> list[str]:
    if not gone:
        return []
    out = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    return [f"iptables rule {line}" for line in out.splitlines() if any(cid in line for cid in gone)]


def _cgroup_leaks(gone: set[str]) -> list[str]:
    leaks = []
    for controller in _listdir(CGROUP_ROOT):
        parent = os.path.join(CGROUP_ROOT, controller, "pouch")
        leaks += [f"cgroup {os.path.join(parent, name)}" for name in _listdir(parent) if name in gone]
    return leaks


def _process_leaks(d: DaemonLike, gone: set[str]) -> list[str]:
    """conmon or runc of a container that does not run, or runc on this daemon's state root."""
    leaks = []
    roots = tuple(_runtime_roots(d))
    for pid in filter(str.isdigit, _listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        prog = os.path.basename(argv[0])
        if prog == "conmon" and any(cid in arg for arg in argv for cid in gone):
            leaks.append(f"process {pid}: {' '.join(argv)[:200]}")
        elif prog == "runc" and any(arg.startswith(roots) for arg in argv if roots):
            leaks.append(f"process {pid}: {' '.join(argv)[:200]}")
    return leaks


def find_leaks(d: DaemonLike, known: Iterable[str] = (), *,
               view: tuple[set[str], set[str]] | None = None) -> list[str]:
    """Everything of ``d`` no record accounts for (see the module docstring); [] when clean.
    ``view``: (record ids, running ids) to judge by, instead of what the daemon lists."""
    records, running = view if view is not None else container_ids(d)
    gone = (set(known) | ids_on_disk(d)) - running
    return (_file_leaks(d, records, running) + _cni_leaks(d, running) + _mount_leaks(d, running) + _veth_leaks(d, running)
            + _iptables_leaks(gone) + _cgroup_leaks(gone) + _process_leaks(d, gone))


def runc_status(d: DaemonLike, container_id: str) -> str | None:
    """What ``runc state`` says of the container (on any of the daemon's runtime roots), None if unknown."""
    for root in _runtime_roots(d):
        result = subprocess.run([RUNC, "--root", root, "state", container_id], capture_output=True, text=True)
        if result.returncode == 0:
            return str(json.loads(result.stdout)["status"])
    return None


def inconsistencies(d: DaemonLike) -> list[str]:
    """Records whose state runc and the kernel contradict: a running or paused record whose
    runc state or process disagrees, a stopped one that runc still knows or whose root is mounted."""
    records, _ = container_ids(d)
    found = []
    for cid in sorted(records):
        state = json.loads(d.cli("inspect", cid).stdout)[0]["State"]
        status, runc = state["Status"], runc_status(d, cid)
        if status in ("running", "paused"):
            if runc != status or not os.path.exists(f"/proc/{state['Pid']}"):
                found.append(f"{cid[:12]}: record {status} (pid {state['Pid']}), runc {runc}")
        elif runc is not None:
            found.append(f"{cid[:12]}: record {status}, runc {runc}")
        elif os.path.ismount(os.path.join(d.root, "containers", cid, "rootfs")):
            found.append(f"{cid[:12]}: record {status}, its root still mounted")
    return found
