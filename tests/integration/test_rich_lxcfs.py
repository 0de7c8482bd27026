"""lxcfs: ``pouchd --enable-lxcfs`` keeps lxcfs mounted; ``--enable-lxcfs`` containers see their limits in /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from pouch.process import read_cmdline, read_int_file, wait_pid_exit
from pouch.rich.lxcfsd import is_working, mounted_fstype
from tests.integration.conftest import Daemon, cleanup_daemon_leftovers

LXCFS_ROOT = "/var/lib/lxcfs"
pytestmark = pytest.mark.skipif(not os.access("/usr/bin/lxcfs", os.X_OK), reason="lxcfs is not installed")


def lxcfs_pid(d: Daemon) -> int:
    pid = read_int_file(os.path.join(d.exec_root, "lxcfs.pid")) or 0
    return pid if pid and (read_cmdline(pid) or [""])[0].endswith("lxcfs") else 0


@pytest.fixture
def lxcfs_daemon(tmp_path, busybox_tar):
    """A daemon with --enable-lxcfs; the lxcfs it starts is stopped (by pid) and unmounted afterwards."""
    preexisting = is_working(LXCFS_ROOT)
    d = Daemon(str(tmp_path), extra_args=("--enable-lxcfs",))
    d.start()
    d.preexisting_lxcfs = preexisting
    try:
        d.cli("import", busybox_tar, "busybox:latest")
        yield d
    finally:
        try:
            d.remove_all_containers()
        finally:
            d.stop()
            pid = lxcfs_pid(d)
            if not preexisting:
                if pid:
                    os.kill(pid, signal.SIGTERM)  # lxcfs unmounts itself on SIGTERM
                    wait_pid_exit(pid, 10)
                if mounted_fstype(LXCFS_ROOT) == "fuse.lxcfs":  # a dead one's mount
                    subprocess.run(["umount", "-l", LXCFS_ROOT], check=False, capture_output=True)
            cleanup_daemon_leftovers(d)


def container_id(d: Daemon, name: str) -> str:
    return d.cli("inspect", "-f", "{{.Id}}", name).stdout.strip()


def set_memory_limit(d: Daemon, name: str, limit: int) -> None:
    path = f"/sys/fs/cgroup/memory/pouch/{container_id(d, name)}/memory.limit_in_bytes"
    if not os.path.exists(path):
        pytest.skip("no cgroup v1 memory controller")
    with open(path, "w") as f:
        f.write(str(limit))


def meminfo_total(d: Daemon, name: str) -> str:
    result = d.cli("exec", name, "grep", "MemTotal", "/proc/meminfo", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.split()[1]


def host_memtotal() -> str:
    with open("/proc/meminfo") as f:
        return f.readline().split()[1]


def test_lxcfs_shows_the_containers_limits(lxcfs_daemon):
    d = lxcfs_daemon
    assert is_working(LXCFS_ROOT)
    info = d.cli("info").stdout
    assert "Lxcfs: available at /var/lib/lxcfs" in info
    d.cli("run", "-d", "--name", "lx", "--enable-lxcfs", "busybox", "sleep", "1000")
    set_memory_limit(d, "lx", 256 * 1024 * 1024)
    assert meminfo_total(d, "lx") == "262144"
    uptime = float(d.cli("exec", "lx", "cat", "/proc/uptime").stdout.split()[0])
    with open("/proc/uptime") as f:
        host_uptime = float(f.read().split()[0])
    assert uptime < 60 < host_uptime or uptime < host_uptime / 2
    for name in ("cpuinfo", "stat", "diskstats", "swaps", "loadavg"):
        d.cli("exec", "lx", "cat", f"/proc/{name}")  # each one reads
    # the other spelling, and a rich container
    d.cli("run", "-d", "--name", "lxrich", "--rich", "--enableLxcfs", "busybox", "sleep", "1000")
    set_memory_limit(d, "lxrich", 128 * 1024 * 1024)
    assert meminfo_total(d, "lxrich") == "131072"
    # without --enable-lxcfs: the host's numbers
    d.cli("run", "-d", "--name", "plain", "busybox", "sleep", "1000")
    set_memory_limit(d, "plain", 256 * 1024 * 1024)
    assert meminfo_total(d, "plain") == host_memtotal()


def test_lxcfs_restarted_and_rebound_in_running_containers(lxcfs_daemon):
    d = lxcfs_daemon
    if d.preexisting_lxcfs:
        pytest.skip("lxcfs was already mounted by someone else: not ours to kill")
    d.cli("run", "-d", "--name", "lx", "--enable-lxcfs", "busybox", "sleep", "1000")
    set_memory_limit(d, "lx", 256 * 1024 * 1024)
    assert meminfo_total(d, "lx") == "262144"
    old = lxcfs_pid(d)
    assert old
    os.kill(old, signal.SIGKILL)
    assert wait_pid_exit(old, 10)
    deadline = time.monotonic() + 20
    while True:
        result = d.cli("exec", "lx", "cat", "/proc/meminfo", check=False)
        if result.returncode == 0 and "MemTotal:         262144 kB" in result.stdout:
            break
        assert time.monotonic() < deadline, f"{result.stderr}\n{d.read_log()}"
        time.sleep(0.3)
    assert lxcfs_pid(d) not in (0, old)
    assert d.cli("exec", "lx", "cat", "/proc/uptime").returncode == 0
    assert "rebound" in d.read_log()


def test_lxcfs_refused_without_lxcfs(daemon):
    if is_working(LXCFS_ROOT):
        pytest.skip("lxcfs is mounted on this host")
    result = daemon.cli("create", "--enable-lxcfs", "busybox", "true", check=False)
    assert result.returncode != 0
    assert "--enable-lxcfs" in result.stderr and "lxcfs is not mounted" in result.stderr


def test_lxcfs_outlives_pouchd_and_is_repaired_at_its_restart(lxcfs_daemon):
    d = lxcfs_daemon
    if d.preexisting_lxcfs:
        pytest.skip("lxcfs was already mounted by someone else: not ours to kill")
    d.cli("run", "-d", "--name", "lx", "--enable-lxcfs", "busybox", "sleep", "1000")
    set_memory_limit(d, "lx", 256 * 1024 * 1024)
    old = lxcfs_pid(d)
    d.kill9()
    assert lxcfs_pid(d) == old and is_working(LXCFS_ROOT)  # lxcfs is not pouchd's child
    os.kill(old, signal.SIGKILL)  # and dies while pouchd is down
    assert wait_pid_exit(old, 10)
    d.start()  # restarts lxcfs and repairs the container before it serves
    result = d.cli("exec", "lx", "cat", "/proc/meminfo", check=False)
    assert result.returncode == 0 and "MemTotal:         262144 kB" in result.stdout, result.stderr
    pid = int(d.cli("inspect", "-f", "{{.State.Pid}}", "lx").stdout)
    with open(f"/proc/{pid}/mountinfo") as f:
        binds = [line for line in f if " /proc/meminfo " in line]
    assert binds and " ro," in binds[-1] and "fuse.lxcfs" in binds[-1]


def lxcfs_info(d: Daemon) -> str:
    return next(line.strip() for line in d.cli("info").stdout.splitlines() if line.strip().startswith("Lxcfs:"))


def test_info_reports_a_live_lxcfs_whoever_mounted_it(daemon, tmp_path):
    """pouchd without --enable-lxcfs: an lxcfs mounted by someone else is available (the one
    --enable-lxcfs containers use), another filesystem mounted there is not."""
    d = daemon
    if mounted_fstype(LXCFS_ROOT):
        pytest.skip("something is mounted at /var/lib/lxcfs already: not ours to replace")
    os.makedirs(LXCFS_ROOT, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "not-lxcfs", LXCFS_ROOT], check=True)
    try:
        assert lxcfs_info(d) == "Lxcfs: not available"  # a mount point, but no lxcfs
    finally:
        subprocess.run(["umount", LXCFS_ROOT], check=True)
    pidfile = tmp_path / "lxcfs.pid"
    proc = subprocess.Popen(["/usr/bin/lxcfs", "--pidfile", str(pidfile), LXCFS_ROOT], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not is_working(LXCFS_ROOT):
            assert proc.poll() is None and time.monotonic() < deadline, "lxcfs did not come up"
            time.sleep(0.05)
        assert lxcfs_info(d) == "Lxcfs: available at /var/lib/lxcfs"
        out = d.cli("run", "--rm", "--enable-lxcfs", "busybox", "grep", "lxcfs", "/proc/self/mountinfo").stdout
        assert " /proc/meminfo " in out
    finally:
        proc.send_signal(signal.SIGTERM)  # lxcfs unmounts itself on SIGTERM
        proc.wait(10)
        if mounted_fstype(LXCFS_ROOT) == "fuse.lxcfs":
            subprocess.run(["umount", "-l", LXCFS_ROOT], check=False, capture_output=True)
    assert lxcfs_info(d) == "Lxcfs: not available"
