from types import SimpleNamespace

from pouch.daemon import parse_args
from pouch.models import Status
from pouch.rich.lxcfs import (
    BIND_OPTIONS,
    LXCFS_FSTYPE,
    PROC_FILES,
    lxcfs_argv,
    lxcfs_mounts,
    lxcfs_pids,
    mount_fstype,
    stale_files,
    with_lxcfs,
)

# the /proc files runc lets a bind mount cover (libcontainer/rootfs_linux.go checkProcMount)
RUNC_PROC_ALLOWED = {"cpuinfo", "diskstats", "meminfo", "stat", "swaps", "uptime", "loadavg", "slabinfo"}


def test_lxcfs_mounts_bind_each_file_over_proc():
    mounts = lxcfs_mounts("/var/lib/lxcfs")
    assert [m["destination"] for m in mounts] == [f"/proc/{name}" for name in PROC_FILES]
    meminfo = next(m for m in mounts if m["destination"] == "/proc/meminfo")
    assert meminfo == {"destination": "/proc/meminfo", "type": "bind", "source": "/var/lib/lxcfs/proc/meminfo",
                       "options": list(BIND_OPTIONS)}
    assert set(PROC_FILES) <= RUNC_PROC_ALLOWED
    assert {"meminfo", "cpuinfo", "stat", "uptime", "diskstats", "swaps", "loadavg"} == set(PROC_FILES)


def test_with_lxcfs_appends_after_proc_and_leaves_a_users_mount_alone():
    user = {"destination": "/proc/uptime", "type": "bind", "source": "/srv/uptime", "options": ["rbind"]}
    spec = {"mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}, user]}
    out = with_lxcfs(spec, "/l")
    destinations = [m["destination"] for m in out["mounts"]]
    assert destinations[0] == "/proc" and destinations.count("/proc/uptime") == 1
    assert out["mounts"][1] is user
    assert set(destinations) == {"/proc"} | {f"/proc/{name}" for name in PROC_FILES}


def test_lxcfs_argv_runs_in_the_foreground_with_its_pidfile():
    assert lxcfs_argv("/usr/bin/lxcfs", "/var/lib/lxcfs", "/run/pouch/lxcfs.pid") == [
        "/usr/bin/lxcfs", "--enable-loadavg", "--enable-cfs", "--pidfile", "/run/pouch/lxcfs.pid", "/var/lib/lxcfs"]


MOUNTINFO = """\
22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw
37 22 0:33 / /var/lib/lxcfs rw,nosuid,nodev,relatime - fuse.lxcfs lxcfs rw,user_id=0,group_id=0,allow_other
38 22 0:34 / /var/lib/my\\040dir rw,relatime shared:9 master:3 - tmpfs tmpfs rw
"""


def test_mount_fstype_reads_the_top_most_mount():
    assert mount_fstype(MOUNTINFO, "/var/lib/lxcfs") == LXCFS_FSTYPE
    assert mount_fstype(MOUNTINFO, "/var/lib/my dir") == "tmpfs"  # optional fields and escapes
    assert mount_fstype(MOUNTINFO, "/var/lib") == ""
    stacked = MOUNTINFO + "39 37 0:35 / /var/lib/lxcfs rw - tmpfs tmpfs rw\n"
    assert mount_fstype(stacked, "/var/lib/lxcfs") == "tmpfs"


def test_stale_files_are_the_unreadable_and_the_foreign_ones():
    host = {name: 50 for name in PROC_FILES}
    assert stale_files(host, {name: 50 for name in PROC_FILES}) == []
    container = {name: 50 for name in PROC_FILES} | {"meminfo": None, "uptime": 22}
    assert stale_files(host, container) == ["meminfo", "uptime"]
    assert stale_files(host, {}) == list(PROC_FILES)
    assert stale_files({}, {}) == []  # nothing to bind from


def _container(pid, status, lxcfs):
    return SimpleNamespace(options=SimpleNamespace(enable_lxcfs=lxcfs), state=SimpleNamespace(pid=pid, status=status))


def test_lxcfs_pids_are_the_live_lxcfs_containers():
    cs = [_container(10, Status.RUNNING, True), _container(11, Status.RUNNING, False),
          _container(12, Status.PAUSED, True), _container(0, Status.EXITED, True)]
    assert lxcfs_pids(cs) == [10, 12]


def test_pouchd_flag():
    assert parse_args([]).enable_lxcfs is False
    assert parse_args(["--enable-lxcfs"]).enable_lxcfs is True
    config = parse_args(["--enableLxcfs", "--lxcfs", "/opt/lxcfs"])
    assert config.enable_lxcfs and config.lxcfs_path == "/opt/lxcfs"
