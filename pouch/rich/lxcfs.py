"""lxcfs for containers: /proc files that show the container's own limits. Pure.

lxcfs (https://linuxcontainers.org/lxcfs/) is a FUSE filesystem, mounted at
/var/lib/lxcfs, whose ``proc/meminfo``, ``proc/cpuinfo``... answer each reader
with the numbers of the reader's cgroups (a container whose memory limit is
256 MiB reads ``MemTotal: 262144 kB``). A container with ``--enable-lxcfs`` gets
each of those files bind-mounted over its /proc file, as LXC and PouchContainer
do; runc allows exactly these /proc destinations for that purpose.

Glossary:
- *lxcfs root*: where the lxcfs filesystem is mounted on the host.
- *stale*: a container's /proc file still bound to the FUSE connection of an lxcfs
  that died ("Transport endpoint is not connected"); ``pouch.rich.lxcfs_rebind``
  replaces it with the file of the running lxcfs (``pouch.rich.lxcfsd`` decides when).
"""

from __future__ import annotations

import os

LXCFS_ROOT = "/var/lib/lxcfs"
LXCFS_FSTYPE = "fuse.lxcfs"

# the /proc files lxcfs virtualises and runc lets a container bind over its /proc
PROC_FILES = ("cpuinfo", "diskstats", "loadavg", "meminfo", "stat", "swaps", "uptime")

# the options of each bind; the same flags are set again when a stale file is rebound
BIND_OPTIONS = ("rbind", "ro", "nosuid", "nodev", "noexec")


def proc_targets() -> list[str]:
    return [f"/proc/{name}" for name in PROC_FILES]


def lxcfs_mounts(lxcfs_root: str = LXCFS_ROOT) -> list[dict]:
    """OCI spec mounts: ``<root>/proc/<file>`` over ``/proc/<file>`` for each file lxcfs serves."""
    return [{"destination": f"/proc/{name}", "type": "bind", "source": os.path.join(lxcfs_root, "proc", name),
             "options": list(BIND_OPTIONS)} for name in PROC_FILES]


def with_lxcfs(spec: dict, lxcfs_root: str = LXCFS_ROOT) -> dict:
    """Add the lxcfs binds (after /proc, which the default spec mounts first); a user's
    own mount on one of those files wins."""
    mounts = list(spec.get("mounts", []))
    taken = {m["destination"] for m in mounts}
    spec["mounts"] = mounts + [m for m in lxcfs_mounts(lxcfs_root) if m["destination"] not in taken]
    return spec


def lxcfs_argv(binary: str, lxcfs_root: str, pidfile: str) -> list[str]:
    """lxcfs in the foreground (the caller detaches it), with load averages and CPU
    quotas virtualised as well."""
    return [binary, "--enable-loadavg", "--enable-cfs", "--pidfile", pidfile, lxcfs_root]


def mount_fstype(mountinfo: str, path: str) -> str:
    """The filesystem type of the top-most mount on ``path`` in a mountinfo text, "" if none."""
    fstype = ""
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) < 10 or "-" not in fields:
            continue
        if _unescape(fields[4]) == path:
            fstype = fields[fields.index("-", 6) + 1]
    return fstype


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as ``\\ooo``."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def lxcfs_pids(containers) -> list[int]:
    """The pids of the running (or paused) containers that have ``--enable-lxcfs``."""
    return [c.state.pid for c in containers
            if c.options.enable_lxcfs and c.state.status.is_active() and c.state.pid]


def stale_files(host_devs: dict[str, int], container_devs: dict[str, int | None]) -> list[str]:
    """The /proc files to rebind in a container: those it cannot stat (None) or that come
    from another filesystem than the running lxcfs's (``st_dev`` by file name)."""
    return [name for name in PROC_FILES
            if name in host_devs and container_devs.get(name) != host_devs[name]]
