"""Resource limits and isolation options, enforced by the kernel: the tests read the
container's cgroup files (cgroup v1 hybrid here) and provoke the limits."""

from __future__ import annotations

import contextlib
import os

import pytest

from tests.integration.conftest import container, needs_docker, unique_name, wait_for

MiB = 1024 * 1024


def cgroup_file(controller: str, cid: str, name: str, parent: str = "pouch") -> str:
    with open(f"/sys/fs/cgroup/{controller}/{parent}/{cid}/{name}") as f:
        return f.read().strip()


def test_limits_are_in_the_cgroup_files_and_inspect(daemon):
    with container(daemon, "-m", "32m", "--memory-reservation", "16m", "--cpus", "0.5", "--cpu-shares", "512",
                   "--cpuset-cpus", "0", "--pids-limit", "10", "--oom-kill-disable", "busybox", "sleep", "1000",
                   name="res-files") as cid:
        assert cgroup_file("memory", cid, "memory.limit_in_bytes") == str(32 * MiB)
        assert cgroup_file("memory", cid, "memory.memsw.limit_in_bytes") == str(64 * MiB)  # Docker: swap = memory
        assert cgroup_file("memory", cid, "memory.soft_limit_in_bytes") == str(16 * MiB)
        assert "oom_kill_disable 1" in cgroup_file("memory", cid, "memory.oom_control")
        assert cgroup_file("cpu", cid, "cpu.cfs_quota_us") == "50000"
        assert cgroup_file("cpu", cid, "cpu.cfs_period_us") == "100000"
        assert cgroup_file("cpu", cid, "cpu.shares") == "512"
        assert cgroup_file("cpuset", cid, "cpuset.cpus") == "0"
        assert cgroup_file("pids", cid, "pids.max") == "10"
        host = daemon.inspect("res-files")["HostConfig"]
        assert (host["Memory"], host["MemorySwap"], host["MemoryReservation"]) == (32 * MiB, 64 * MiB, 16 * MiB)
        assert (host["NanoCpus"], host["CpuShares"], host["CpusetCpus"], host["PidsLimit"]) == (5 * 10**8, 512, "0", 10)
        assert host["OomKillDisable"] is True


def test_memory_past_the_limit_is_oom_killed(daemon):
    res_oom = unique_name("res-oom")
    result = daemon.cli("run", "--name", res_oom, "-m", "16m", "busybox", "tail", "/dev/zero", check=False)
    try:
        assert result.returncode == 137
        state = daemon.inspect(res_oom)["State"]
        assert state["OOMKilled"] is True
        assert state["ExitCode"] == 137
    finally:
        daemon.cli("rm", "-f", res_oom, check=False)


def test_pids_limit_makes_fork_fail(daemon):
    result = daemon.cli("run", "--rm", "--pids-limit", "5", "busybox", "sh", "-c",
                        "for i in 1 2 3 4 5 6 7 8; do sleep 30 & done; echo all-forked", check=False)
    assert "can't fork" in result.stderr
    assert "all-forked" not in result.stdout


def test_ulimits_and_the_daemons_hard_limit(daemon):
    out = daemon.cli("run", "--rm", "--ulimit", "nofile=100:200", "--ulimit", "nproc=50",
                     "busybox", "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u").stdout.split()
    assert out == ["100", "200", "50"]
    result = daemon.cli("run", "--rm", "--ulimit", "nofile=10:999999999", "busybox", "true", check=False)
    assert result.returncode == 125
    assert "--ulimit nofile" in result.stderr and "CAP_SYS_RESOURCE" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["-m", "4m"], "Minimum memory limit allowed is 6MB"),
    (["-m", "32m", "--memory-swap", "16m"], "Minimum memoryswap limit should be larger than memory limit"),
    (["--cpus", "0.5", "--cpu-period", "50000"], "Conflicting options: Nano CPUs and CPU Period"),
    (["--cpus", "64"], "Range of CPUs is from 0.01 to"),
    (["--cpuset-cpus", "0-63"], "Requested CPUs are not available"),
    (["--sysctl", "vm.swappiness=1"], "sysctl 'vm.swappiness' is not whitelisted"),
    (["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"], "not allowed in the host network namespace"),
    (["--ipc", "bogus"], "--ipc: invalid IPC mode"),
    (["--ipc", "container:no-such-container"], "--ipc: no such container"),
    (["--device", "/etc/passwd"], "not a device node"),
    (["--oom-score-adj", "2000"], "range for oom score adj is [-1000, 1000]"),
    (["--cgroup-parent", "../x"], "--cgroup-parent"),
])
def test_refusals_name_the_flag_and_leave_nothing(daemon, args, message):
    before = daemon.cli("ps", "-aq").stdout
    result = daemon.cli("create", *args, "busybox", "true", check=False)
    assert result.returncode == 125, result.stderr
    assert message in result.stderr
    assert daemon.cli("ps", "-aq").stdout == before


def test_api_refusal_is_a_400(daemon):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=daemon.host)
    with pytest.raises(docker.errors.APIError) as err:
        client.containers.create("busybox", "true", mem_limit="1m")
    assert err.value.status_code == 400
    assert "Minimum memory limit allowed is 6MB" in str(err.value)


def test_devices_groups_sysctls_oom_score(daemon):
    out = daemon.cli("run", "--rm", "--device", "/dev/null:/dev/mynull:rw", "--group-add", "wheel",
                     "--group-add", "4242", "--sysctl", "kernel.shmmax=123456", "--oom-score-adj", "300",
                     "-u", "1000", "busybox", "sh", "-c",
                     "ls -l /dev/mynull; echo x > /dev/mynull && echo wrote; id -G; cat /proc/sys/kernel/shmmax;"
                     " cat /proc/1/oom_score_adj").stdout.splitlines()
    assert out[0].startswith("crw") and "1,   3" in out[0]
    assert out[1] == "wrote"
    assert out[2].split() == ["1000", "10", "4242"]
    assert out[3:] == ["123456", "300"]


def test_device_permissions_are_enforced(daemon):
    """/dev/kmsg is not in the default device rules: ``:r`` lets the container open it for reading only."""
    result = daemon.cli("run", "--rm", "--device", "/dev/kmsg:/dev/k:r", "busybox", "sh", "-c",
                        "ls -l /dev/k; echo x > /dev/k", check=False)
    assert result.stdout.startswith("crw")
    assert result.returncode != 0
    assert "Operation not permitted" in result.stderr


def _ns(pid: int | str, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def test_host_namespaces(daemon):
    out = daemon.cli("run", "--rm", "--pid", "host", "--ipc", "host", "--uts", "host", "busybox", "sh", "-c",
                     "readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc; hostname").stdout.split()
    assert out == [_ns("self", "pid"), _ns("self", "ipc"), os.uname().nodename]


def test_joining_another_containers_ipc_and_pid_namespaces(daemon):
    with container(daemon, "busybox", "sleep", "1000", name="res-ns-a"):
        pid = daemon.inspect("res-ns-a")["State"]["Pid"]
        out = daemon.cli("run", "--rm", "--ipc", "container:res-ns-a", "--pid", "container:res-ns-a", "busybox",
                         "sh", "-c", "readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid; ps -o comm | grep -c sleep").stdout
        assert out.split() == [_ns(pid, "ipc"), _ns(pid, "pid"), "1"]


def test_cgroup_parent(daemon):
    parent = f"pouch-test-parent-{os.getpid()}"
    try:
        with container(daemon, "--cgroup-parent", parent, "-m", "64m", "busybox", "sleep", "1000",
                       name="res-parent") as cid:
            assert cgroup_file("memory", cid, "memory.limit_in_bytes", parent=parent) == str(64 * MiB)
            assert daemon.inspect("res-parent")["HostConfig"]["CgroupParent"] == parent
    finally:
        for controller in os.listdir("/sys/fs/cgroup"):
            with contextlib.suppress(OSError):
                os.rmdir(f"/sys/fs/cgroup/{controller}/{parent}")


def _whole_disk() -> str:
    for name in sorted(os.listdir("/sys/block")):
        if not name.startswith(("loop", "ram", "zram", "nbd", "dm-")):
            return name
    return ""


def test_block_io_throttle(daemon):
    disk = _whole_disk()
    if not disk:
        pytest.skip("no whole disk to throttle")
    with open(f"/sys/block/{disk}/dev") as f:
        numbers = f.read().strip()
    with container(daemon, "--device-read-bps", f"/dev/{disk}:1mb", "--device-write-iops", f"/dev/{disk}:100",
                   "busybox", "sleep", "1000", name="res-blkio") as cid:
        assert cgroup_file("blkio", cid, "blkio.throttle.read_bps_device") == f"{numbers} {MiB}"
        assert cgroup_file("blkio", cid, "blkio.throttle.write_iops_device") == f"{numbers} 100"
        host = daemon.inspect("res-blkio")["HostConfig"]
        assert host["BlkioDeviceReadBps"] == [{"Path": f"/dev/{disk}", "Rate": MiB}]


def test_update_a_running_container(daemon):
    with container(daemon, "-m", "32m", "busybox", "sleep", "1000", name="res-upd") as cid:
        daemon.cli("update", "-m", "64m", "--memory-swap", "128m", "--cpus", "0.5", "--pids-limit", "20",
                   "--restart", "on-failure:2", "res-upd")
        assert cgroup_file("memory", cid, "memory.limit_in_bytes") == str(64 * MiB)
        assert cgroup_file("memory", cid, "memory.memsw.limit_in_bytes") == str(128 * MiB)
        assert cgroup_file("cpu", cid, "cpu.cfs_quota_us") == "50000"
        assert cgroup_file("pids", cid, "pids.max") == "20"
        host = daemon.inspect("res-upd")["HostConfig"]
        assert (host["Memory"], host["NanoCpus"], host["PidsLimit"]) == (64 * MiB, 5 * 10**8, 20)
        assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
        daemon.cli("update", "--pids-limit", "-1", "res-upd")
        assert cgroup_file("pids", cid, "pids.max") == "max"
        # refusals: Docker's wording, nothing changed
        result = daemon.cli("update", "-m", "256m", "res-upd", check=False)
        assert result.returncode != 0 and "update the memoryswap at the same time" in result.stderr
        result = daemon.cli("update", "--cpu-quota", "20000", "res-upd", check=False)
        assert "CPU Quota cannot be updated as NanoCPUs has already been set" in result.stderr
        result = daemon.cli("update", "-m", "1m", "res-upd", check=False)
        assert "Minimum memory limit allowed is 6MB" in result.stderr
        assert cgroup_file("memory", cid, "memory.limit_in_bytes") == str(64 * MiB)
        # --env still works beside the resources; the new limits outlive a restart (the spec is
        # regenerated from the options); the policy goes back to "no" so only `restart` restarts it
        daemon.cli("update", "--env", "LEVEL=debug", "--restart", "no", "res-upd")
        daemon.cli("restart", "-t", "0", "res-upd")
        assert cgroup_file("memory", cid, "memory.limit_in_bytes") == str(64 * MiB)
        assert "LEVEL=debug" in daemon.cli("exec", "res-upd", "env").stdout


def test_update_a_stopped_container_applies_at_start(daemon):
    res_upd_stopped = unique_name("res-upd-stopped")
    daemon.cli("create", "--name", res_upd_stopped, "busybox", "sleep", "1000")
    try:
        daemon.cli("update", "-m", "48m", res_upd_stopped)
        daemon.cli("start", res_upd_stopped)
        cid = daemon.inspect(res_upd_stopped)["Id"]
        assert cgroup_file("memory", cid, "memory.limit_in_bytes") == str(48 * MiB)
    finally:
        daemon.cli("rm", "-f", res_upd_stopped, check=False)


@needs_docker
def test_docker_cli_run_and_update(daemon):
    res_dk = unique_name("res-dk")
    cid = daemon.docker("run", "-d", "--name", res_dk, "-m", "32m", "--pids-limit", "7", "--cpus", "1",
                        "busybox", "sleep", "1000").stdout.strip()
    try:
        assert cgroup_file("memory", cid, "memory.limit_in_bytes") == str(32 * MiB)
        assert cgroup_file("pids", cid, "pids.max") == "7"
        daemon.docker("update", "--memory", "50m", "--memory-swap", "100m", "--restart", "always", res_dk)
        assert cgroup_file("memory", cid, "memory.limit_in_bytes") == str(50 * MiB)
        inspected = daemon.docker("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}",
                                  res_dk).stdout.split()
        assert inspected == [str(50 * MiB), "always"]
    finally:
        daemon.docker("rm", "-f", res_dk, check=False)


def test_docker_py_run_and_update(daemon):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=daemon.host)
    c = client.containers.run("busybox", "sleep 1000", detach=True, name="res-py", mem_limit="40m", pids_limit=9,
                              ulimits=[docker.types.Ulimit(name="nofile", soft=64, hard=128)])
    try:
        assert cgroup_file("memory", c.id, "memory.limit_in_bytes") == str(40 * MiB)
        # pid 1's limits (an exec'd process gets soft = hard from runc 1.1.5: Go 1.19 raises RLIMIT_NOFILE)
        limits = c.exec_run("cat /proc/1/limits").output.decode()
        assert next(line for line in limits.splitlines() if line.startswith("Max open files")).split()[3:5] == ["64", "128"]
        c.update(mem_limit="60m", memswap_limit="120m", cpu_shares=256)
        assert cgroup_file("memory", c.id, "memory.limit_in_bytes") == str(60 * MiB)
        assert cgroup_file("cpu", c.id, "cpu.shares") == "256"
        c.reload()
        assert c.attrs["HostConfig"]["CpuShares"] == 256
    finally:
        c.remove(force=True)
        wait_for(lambda: "res-py" not in daemon.cli("ps", "-a").stdout)
