"""A pod's containers through ``pouchd --cri``: critest's Container, SecurityContext and
multi-container scenarios replayed (cri-tools pkg/validate/container.go, security_context_linux.go,
multi_container_linux.go) with a gRPC client made from the same stubs. Outputs are read from the
CRI log files (exec is another module's)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid

import grpc
import pytest

from pouch.cri import api_pb2 as pb
from tests.integration.cri_pods_support import PodCri, pod_cri
from tests.waiting import wait_until

CRI_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) (stdout|stderr) (F|P) (.*)$")


@pytest.fixture(scope="module")
def cri(tmp_path_factory, busybox_tar):
    with pod_cri(str(tmp_path_factory.mktemp("pouchd-cri-ctrs")), busybox_tar) as client:
        yield client


@pytest.fixture
def pod(cri: PodCri):
    with cri.pod() as (pod_id, config):
        yield pod_id, config


def _code(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


def test_container_lifecycle(cri: PodCri, pod):
    pod_id, pod_config = pod
    config = cri.container_config("life", "sleep", "600", labels={"tier": "a"}, annotations={"note": "n"})
    container_id = cri.create(pod_id, pod_config, config)
    status = cri.status(container_id)
    assert status.state == pb.CONTAINER_CREATED and status.created_at > 0 and status.started_at == 0
    assert status.metadata.name == "life" and dict(status.labels) == {"tier": "a"}
    assert dict(status.annotations) == {"note": "n"}
    assert status.log_path == os.path.join(pod_config.log_directory, "life/0.log")
    cri.start(container_id)
    status = cri.status(container_id)
    assert status.state == pb.CONTAINER_RUNNING and status.started_at >= status.created_at
    cri.stop(container_id, timeout=0)
    status = cri.status(container_id)
    assert status.state == pb.CONTAINER_EXITED and status.finished_at >= status.started_at
    assert status.exit_code == 137 and status.reason == "Error"
    cri.stop(container_id)  # stopped already: no error
    cri.remove(container_id)
    assert cri.list_containers(id=container_id) == []
    cri.remove(container_id)  # removed already: no error
    code, _ = _code(lambda: cri.status(container_id))
    assert code == grpc.StatusCode.NOT_FOUND


def test_exit_code_and_reason(cri: PodCri, pod):
    pod_id, pod_config = pod
    ok = cri.run(pod_id, pod_config, cri.container_config("ok", "true"))
    bad = cri.run(pod_id, pod_config, cri.container_config("bad", "sh", "-c", "exit 3"))
    assert (cri.wait_exited(ok).reason, cri.wait_exited(ok).exit_code) == ("Completed", 0)
    assert (cri.wait_exited(bad).reason, cri.wait_exited(bad).exit_code) == ("Error", 3)


def test_stop_with_timeout_kills_a_process_ignoring_sigterm(cri: PodCri, pod):
    pod_id, pod_config = pod
    script = "trap 'echo term' TERM; echo ready; while true; do sleep 1; done"
    config = cri.container_config("stubborn", "sh", "-c", script)
    container_id = cri.run(pod_id, pod_config, config)
    wait_until(lambda: "ready" in cri.log_of(pod_config, config), timeout=10)
    began = time.monotonic()
    cri.stop(container_id, timeout=2)
    took = time.monotonic() - began
    assert 1.5 <= took < 15
    assert cri.status(container_id).exit_code == 137


def test_list_containers_filters(cri: PodCri, pod):
    pod_id, pod_config = pod
    running = cri.run(pod_id, pod_config, cri.container_config("run", "sleep", "600", labels={"k": "v"}))
    created = cri.create(pod_id, pod_config, cri.container_config("made", "sleep", "600", labels={"k": "v"}))
    assert {c.id for c in cri.list_containers(pod_sandbox_id=pod_id)} == {running, created}
    state = pb.ContainerStateValue(state=pb.CONTAINER_RUNNING)
    assert [c.id for c in cri.list_containers(pod_sandbox_id=pod_id, state=state)] == [running]
    state = pb.ContainerStateValue(state=pb.CONTAINER_CREATED)
    assert [c.id for c in cri.list_containers(pod_sandbox_id=pod_id, state=state)] == [created]
    assert [c.id for c in cri.list_containers(id=created[:12])] == [created]
    assert {c.id for c in cri.list_containers(label_selector={"k": "v"})} == {running, created}
    listed = cri.list_containers(id=running)[0]
    assert listed.pod_sandbox_id == pod_id and listed.metadata.name == "run" and listed.image.image == "busybox:latest"
    assert cri.list_containers(pod_sandbox_id="0" * 64) == []


def test_log_in_the_cri_format_and_pouch_logs(cri: PodCri, pod):
    pod_id, pod_config = pod
    config = cri.container_config("logger", "sh", "-c", "echo hello; echo oops >&2")
    container_id = cri.run(pod_id, pod_config, config)
    cri.wait_exited(container_id)
    lines = cri.log_of(pod_config, config).splitlines()
    parsed = [CRI_LOG_LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert sorted((m.group(2), m.group(3), m.group(4)) for m in parsed if m) == [
        ("stderr", "F", "oops"), ("stdout", "F", "hello")]
    logs = cri.daemon.cli("logs", container_id)
    assert logs.stdout == "hello\n" and logs.stderr == "oops\n"


def test_pouch_ps_lists_pod_containers_the_docker_api_cannot_remove(cri: PodCri, pod):
    pod_id, pod_config = pod
    container_id = cri.run(pod_id, pod_config, cri.container_config("listed", "sleep", "600"))
    ids = cri.daemon.cli("ps", "-q", "--no-trunc", "--filter", f"label=io.kubernetes.sandbox.id={pod_id}").stdout
    assert ids.split() == [container_id]
    labels = json.loads(cri.daemon.cli("inspect", container_id).stdout)[0]["Config"]["Labels"]
    assert labels["io.kubernetes.docker.type"] == "container"
    rm = cri.daemon.cli("rm", "-f", container_id, check=False)
    assert rm.returncode != 0 and "managed by the CRI" in rm.stderr
    assert cri.status(container_id).state == pb.CONTAINER_RUNNING
    cri.stop(container_id)
    prune = cri.daemon.cli("container", "prune", "-f")  # a stopped one is not pruned behind the CRI's back
    assert prune.returncode == 0
    assert cri.status(container_id).state == pb.CONTAINER_EXITED


def test_containers_share_the_pods_network_ipc_uts_and_pid(cri: PodCri, pod):
    pod_id, pod_config = pod
    server = cri.container_config("server", "sh", "-c", "echo shared > /tmp/index.html; httpd -f -p 8080 -h /tmp")
    cri.run(pod_id, pod_config, server)
    out = cri.output(pod_id, pod_config, "client",
                     "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://127.0.0.1:8080/ && break; sleep 0.2; done;"
                     " hostname; ps -o comm; readlink /proc/self/ns/ipc; readlink /proc/1/ns/ipc")
    lines = out.splitlines()
    assert lines[0] == "shared"
    assert lines[1] == pod_config.hostname
    assert "catatonit" in out and "httpd" in out  # one PID namespace: the infra process is PID 1
    ipc_self, ipc_one = lines[-2:]
    assert ipc_self == ipc_one


def test_a_container_pid_namespace_of_its_own(cri: PodCri, pod):
    pod_id, pod_config = pod
    ns = pb.NamespaceOption(pid=pb.CONTAINER)
    linux = pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(namespace_options=ns))
    out = cri.output(pod_id, pod_config, "ownpid", "cat /proc/1/cmdline | tr '\\0' ' '", linux=linux)
    assert "catatonit" not in out and out.startswith("sh -c")


def test_host_path_mounts_readonly_and_writable(cri: PodCri, pod, tmp_path):
    pod_id, pod_config = pod
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "data").write_text("from the host\n")
    (tmp_path / "rw").mkdir()
    mounts = [pb.Mount(container_path="/ro", host_path=str(tmp_path / "ro"), readonly=True),
              pb.Mount(container_path="/rw", host_path=str(tmp_path / "rw"))]
    out = cri.output(pod_id, pod_config, "mounts",
                     "cat /ro/data; touch /ro/x 2>/dev/null || echo ro-refused; echo written > /rw/out", mounts=mounts)
    assert out.splitlines() == ["from the host", "ro-refused"]
    assert (tmp_path / "rw" / "out").read_text() == "written\n"
    assert not (tmp_path / "ro" / "x").exists()
    # rslave needs a shared or slave mount under the host path (containerd and Docker refuse it too)
    slave = [pb.Mount(container_path="/rw", host_path=str(tmp_path / "rw"), propagation=pb.PROPAGATION_HOST_TO_CONTAINER)]
    config = cri.container_config("slave", "true", mounts=slave)
    container_id = cri.create(pod_id, pod_config, config)
    code, message = _code(lambda: cri.start(container_id))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "not a shared or slave mount" in message


def security(**fields) -> pb.LinuxContainerConfig:
    return pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(**fields))


def test_run_as_user_group_and_supplemental_groups(cri: PodCri, pod):
    pod_id, pod_config = pod
    linux = security(run_as_user=pb.Int64Value(value=1001), run_as_group=pb.Int64Value(value=2002),
                     supplemental_groups=[3003])
    out = cri.output(pod_id, pod_config, "user", "id -u; id -g; id -G", linux=linux)
    uid, gid, groups = out.splitlines()
    assert (uid, gid) == ("1001", "2002") and "3003" in groups.split()
    out = cri.output(pod_id, pod_config, "username", "id -un", linux=security(run_as_username="nobody"))
    assert out == "nobody"


def test_readonly_rootfs(cri: PodCri, pod):
    pod_id, pod_config = pod
    out = cri.output(pod_id, pod_config, "rofs", "touch /file 2>/dev/null && echo wrote || echo refused; "
                     "touch /tmp/file 2>/dev/null && echo tmp-wrote || echo tmp-refused",
                     linux=security(readonly_rootfs=True))
    assert out.splitlines()[0] == "refused"


def _status_field(out: str, name: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith(name + ":"))


def test_capabilities_privileges_and_seccomp(cri: PodCri, pod):
    pod_id, pod_config = pod
    script = "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status"
    plain = cri.output(pod_id, pod_config, "caps-default", script)
    assert _status_field(plain, "Seccomp") == "2" and _status_field(plain, "NoNewPrivs") == "0"
    dropped = cri.output(pod_id, pod_config, "caps-none", script,
                         linux=security(capabilities=pb.Capability(drop_capabilities=["ALL"]), no_new_privs=True))
    assert int(_status_field(dropped, "CapEff"), 16) == 0 and _status_field(dropped, "NoNewPrivs") == "1"
    added = cri.output(pod_id, pod_config, "caps-admin", script,
                       linux=security(capabilities=pb.Capability(add_capabilities=["NET_ADMIN"])))
    assert int(_status_field(added, "CapEff"), 16) & (1 << 12)  # CAP_NET_ADMIN
    unconfined = pb.SecurityProfile(profile_type=pb.SecurityProfile.Unconfined)
    free = cri.output(pod_id, pod_config, "seccomp-off", script, linux=security(seccomp=unconfined))
    assert _status_field(free, "Seccomp") == "0"
    privileged = cri.output(pod_id, pod_config, "privileged", script + "; ls /dev | wc -l",
                            linux=security(privileged=True))
    assert int(_status_field(privileged, "CapEff"), 16) > int(_status_field(plain, "CapEff"), 16)


def test_masked_paths(cri: PodCri, pod):
    pod_id, pod_config = pod
    out = cri.output(pod_id, pod_config, "masked", "cat /etc/hostname >/dev/null; wc -c < /etc/hostname; "
                     "wc -c < /proc/version", linux=security(masked_paths=["/proc/version"]))
    assert out.splitlines()[-1].strip() == "0"


def test_linux_resources_reach_the_cgroup(cri: PodCri, pod):
    pod_id, pod_config = pod
    resources = pb.LinuxContainerResources(cpu_shares=512, cpu_period=100000, cpu_quota=20000,
                                           memory_limit_in_bytes=64 << 20)
    out = cri.output(pod_id, pod_config, "res",
                     "cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
                     "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                     linux=pb.LinuxContainerConfig(resources=resources))
    assert out.splitlines() == ["512", "20000", str(64 << 20)]


def test_create_in_a_stopped_pod_is_refused(cri: PodCri):
    with cri.pod() as (pod_id, pod_config):
        cri.stop_pod(pod_id)
        code, _ = _code(lambda: cri.create(pod_id, pod_config, cri.container_config("late", "true")))
        assert code == grpc.StatusCode.FAILED_PRECONDITION
    code, _ = _code(lambda: cri.create("f" * 64, pod_config, cri.container_config("orphan", "true")))
    assert code == grpc.StatusCode.NOT_FOUND


def test_stopping_a_pod_stops_its_containers(cri: PodCri, pod):
    pod_id, pod_config = pod
    container_id = cri.run(pod_id, pod_config, cri.container_config("member", "sleep", "600"))
    cri.stop_pod(pod_id)
    assert cri.status(container_id).state == pb.CONTAINER_EXITED
    assert cri.pod_status(pod_id).state == pb.SANDBOX_NOTREADY


def test_a_systemd_rich_container_in_a_pod(cri: PodCri, debian_systemd_tar):
    """``io.pouch.rich-mode: systemd`` on the pod: systemd is the container's PID 1 and runs its
    services, the app is its unit, as with ``pouch run --rich --rich-mode systemd``."""
    if "debian-systemd" not in cri.daemon.cli("images").stdout:
        cri.daemon.cli("import", debian_systemd_tar, "debian-systemd:bookworm")
    pod_config = cri.pod_config(annotations={"io.pouch.rich-mode": "systemd"})
    with cri.pod(pod_config) as (pod_id, _):
        config = cri.container_config("sysd", "sh", "-c", "echo app-is-up; exec sleep 1000",
                                      image="debian-systemd:bookworm")
        container_id = cri.run(pod_id, pod_config, config)

        def system_state() -> str:
            out = cri.daemon.cli("exec", container_id, "systemctl", "is-system-running", check=False).stdout.strip()
            return out if out in ("running", "degraded") else ""

        assert wait_until(system_state, timeout=60) == "running"
        wait_until(lambda: "app-is-up" in cri.log_of(pod_config, config), timeout=15)
        comm = cri.daemon.cli("exec", container_id, "cat", "/proc/1/comm").stdout.strip()
        assert comm == "systemd"
        assert cri.status(container_id).state == pb.CONTAINER_RUNNING
        cri.stop(container_id, timeout=10)
        assert cri.status(container_id).state == pb.CONTAINER_EXITED


def test_update_container_resources(cri: PodCri, pod):
    pod_id, pod_config = pod
    config = cri.container_config("updated", "sleep", "600")
    container_id = cri.run(pod_id, pod_config, config)
    resources = pb.LinuxContainerResources(cpu_shares=256, memory_limit_in_bytes=96 << 20)
    cri.runtime.UpdateContainerResources(pb.UpdateContainerResourcesRequest(container_id=container_id,
                                                                            linux=resources), timeout=30)
    shown = json.loads(cri.daemon.cli("inspect", container_id).stdout)[0]["HostConfig"]
    assert (shown["CpuShares"], shown["Memory"]) == (256, 96 << 20)
    cgroup = cri.daemon.cli("exec", container_id, "cat", "/sys/fs/cgroup/cpu/cpu.shares",
                            "/sys/fs/cgroup/memory/memory.limit_in_bytes").stdout.split()
    assert cgroup == ["256", str(96 << 20)]


def test_container_and_pod_stats(cri: PodCri, pod):
    pod_id, pod_config = pod
    busy = cri.run(pod_id, pod_config, cri.container_config(
        "busy", "sh", "-c", "dd if=/dev/zero of=/written bs=1k count=512; while true; do :; done"))
    idle = cri.create(pod_id, pod_config, cri.container_config("idle", "sleep", "600"))

    def stats() -> pb.ContainerStats:
        return cri.runtime.ContainerStats(pb.ContainerStatsRequest(container_id=busy), timeout=30).stats

    first = stats()
    assert first.attributes.id == busy and first.attributes.metadata.name == "busy"
    assert first.memory.working_set_bytes.value > 0
    second = wait_until(lambda: (s := stats()).cpu.usage_core_nano_seconds.value
                        > first.cpu.usage_core_nano_seconds.value and s, timeout=10)
    assert second.cpu.usage_nano_cores.value > 0
    assert wait_until(lambda: stats().writable_layer.used_bytes.value >= 512 * 1024, timeout=10)
    listed = cri.runtime.ListContainerStats(pb.ListContainerStatsRequest(
        filter=pb.ContainerStatsFilter(pod_sandbox_id=pod_id)), timeout=30).stats
    assert [s.attributes.id for s in listed] == [busy]  # the created one does not run
    assert idle
    pod_stats = cri.runtime.PodSandboxStats(pb.PodSandboxStatsRequest(pod_sandbox_id=pod_id), timeout=30).stats
    assert pod_stats.attributes.id == pod_id
    assert [c.attributes.id for c in pod_stats.linux.containers] == [busy]
    assert pod_stats.linux.network.default_interface.name == "eth0"
    assert pod_stats.linux.process.process_count.value >= 2  # the infra process and the busy shell
    assert pod_stats.linux.cpu.usage_core_nano_seconds.value > 0
    listed_pods = cri.runtime.ListPodSandboxStats(pb.ListPodSandboxStatsRequest(
        filter=pb.PodSandboxStatsFilter(id=pod_id)), timeout=30).stats
    assert [p.attributes.id for p in listed_pods] == [pod_id]


def test_reopen_container_log_after_the_kubelet_moved_it(cri: PodCri, pod):
    pod_id, pod_config = pod
    config = cri.container_config("chatty", "sh", "-c", "while true; do echo line; sleep 0.1; done")
    container_id = cri.run(pod_id, pod_config, config)
    path = os.path.join(pod_config.log_directory, config.log_path)
    wait_until(lambda: os.path.exists(path) and os.path.getsize(path) > 0, timeout=10)
    os.rename(path, path + ".1")
    cri.runtime.ReopenContainerLog(pb.ReopenContainerLogRequest(container_id=container_id), timeout=10)
    assert os.path.exists(path)
    wait_until(lambda: os.path.getsize(path) > 0, timeout=10)
    moved = os.path.getsize(path + ".1")
    wait_until(lambda: os.path.getsize(path) > 100, timeout=10)
    assert os.path.getsize(path + ".1") == moved  # the old file is no longer written
    assert "line" in cri.daemon.cli("logs", "--tail", "1", container_id).stdout
    cri.stop(container_id)
    code, _ = _code(lambda: cri.runtime.ReopenContainerLog(pb.ReopenContainerLogRequest(container_id=container_id),
                                                           timeout=10))
    assert code == grpc.StatusCode.FAILED_PRECONDITION


def test_volume_whose_host_path_is_a_symlink(cri: PodCri, pod, tmp_path):
    pod_id, pod_config = pod
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "flag").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    mounts = [pb.Mount(container_path="/vol", host_path=str(tmp_path / "link"), selinux_relabel=True)]
    assert cri.output(pod_id, pod_config, "symvol", "ls /vol", mounts=mounts) == "flag"


def test_seccomp_localhost_profile(cri: PodCri, pod, tmp_path):
    pod_id, pod_config = pod
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    local = pb.SecurityProfile(profile_type=pb.SecurityProfile.Localhost, localhost_ref=str(profile))
    out = cri.output(pod_id, pod_config, "seccomp-local", "mkdir /made 2>&1 || echo refused",
                     linux=security(seccomp=local))
    assert out.splitlines()[-1] == "refused"
    missing = pb.SecurityProfile(profile_type=pb.SecurityProfile.Localhost, localhost_ref=str(tmp_path / "none.json"))
    config = cri.container_config("seccomp-missing", "true", linux=security(seccomp=missing))

    def create_and_start() -> None:
        cri.start(cri.create(pod_id, pod_config, config))

    code, message = _code(create_and_start)
    assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INTERNAL)
    assert "none.json" in message


def test_host_pid_and_host_ipc_pods(cri: PodCri):
    ns = pb.NamespaceOption(pid=pb.NODE, ipc=pb.NODE)
    config = cri.pod_config(linux=pb.LinuxPodSandboxConfig(
        security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
    with cri.pod(config) as (pod_id, _):
        linux = security(namespace_options=pb.NamespaceOption(pid=pb.NODE, ipc=pb.NODE))
        out = cri.output(pod_id, config, "hostns", "readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc",
                         linux=linux)
    assert out.splitlines() == [os.readlink("/proc/self/ns/pid"), os.readlink("/proc/self/ns/ipc")]


def test_pod_sysctls(cri: PodCri):
    sysctls = {"kernel.shm_rmid_forced": "1", "net.ipv4.ip_unprivileged_port_start": "42"}
    config = cri.pod_config(linux=pb.LinuxPodSandboxConfig(sysctls=sysctls))
    with cri.pod(config) as (pod_id, _):
        out = cri.output(pod_id, config, "sysctl", "cat /proc/sys/kernel/shm_rmid_forced "
                         "/proc/sys/net/ipv4/ip_unprivileged_port_start")
    assert out.splitlines() == ["1", "42"]


def test_oom_killed_reason(cri: PodCri, pod):
    pod_id, pod_config = pod
    resources = pb.LinuxContainerResources(memory_limit_in_bytes=15 << 20, memory_swap_limit_in_bytes=15 << 20)
    config = cri.container_config("oom", "sh", "-c", "dd if=/dev/zero of=/dev/null bs=20M",
                                  linux=pb.LinuxContainerConfig(resources=resources))
    status = cri.wait_exited(cri.run(pod_id, pod_config, config))
    assert (status.exit_code, status.reason) == (137, "OOMKilled")


@pytest.fixture
def propagation_dirs(tmp_path):
    """critest's layout: ``mnt`` (a bind mount of itself, made shared or private by the test),
    ``mnt/propagationMnt`` where the host mounts ``src`` later; every mount undone after."""
    source, src = tmp_path / "mnt", tmp_path / "src"
    (source / "propagationMnt").mkdir(parents=True)
    src.mkdir()
    (src / "flagFile").write_text("")
    subprocess.run(["mount", "--bind", str(source), str(source)], check=True)
    try:
        yield source, src
    finally:
        for target in (source / "containerMntPoint", source / "propagationMnt", source):
            subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)


@pytest.mark.parametrize("propagation, host_to_container, container_to_host", [
    (pb.PROPAGATION_PRIVATE, False, False),
    (pb.PROPAGATION_HOST_TO_CONTAINER, True, False),
    (pb.PROPAGATION_BIDIRECTIONAL, True, True),
])
def test_mount_propagation(cri: PodCri, pod, propagation_dirs, propagation, host_to_container, container_to_host):
    pod_id, pod_config = pod
    source, src = propagation_dirs
    shared = propagation != pb.PROPAGATION_PRIVATE
    subprocess.run(["mount", "--make-rshared" if shared else "--make-rprivate", str(source)], check=True)
    mounts = [pb.Mount(host_path=str(source), container_path=str(source), propagation=propagation)]
    container_id = cri.run(pod_id, pod_config, cri.container_config(
        "propagation", "sleep", "600", mounts=mounts, linux=security(privileged=True)))
    assert cri.status(container_id).mounts[0].propagation == propagation
    subprocess.run(["mount", "--bind", str(src), str(source / "propagationMnt")], check=True)
    seen = cri.daemon.cli("exec", container_id, "ls", "-A", str(source / "propagationMnt")).stdout.split()
    assert seen == (["flagFile"] if host_to_container else [])
    inner = source / "containerMntPoint"
    cri.daemon.cli("exec", container_id, "sh", "-c", f"mkdir -p {inner} && mount --bind /etc {inner}")
    assert bool(os.listdir(inner)) is container_to_host


def test_restart_attempts_are_separate_containers(cri: PodCri, pod):
    """The kubelet restarts a container by creating it again with attempt + 1 (its restart count):
    both exist until it removes the old one; the same name and attempt twice is refused."""
    pod_id, pod_config = pod
    first = cri.run(pod_id, pod_config, cri.container_config("app", "true"))
    assert cri.wait_exited(first).exit_code == 0
    again = cri.container_config("app", "sleep", "600")
    again.metadata.attempt, again.log_path = 1, "app/1.log"
    second = cri.run(pod_id, pod_config, again)
    listed = {c.id: c.metadata.attempt for c in cri.list_containers(pod_sandbox_id=pod_id)}
    assert listed == {first: 0, second: 1}
    assert cri.status(second).metadata.attempt == 1 and cri.status(second).state == pb.CONTAINER_RUNNING
    code, details = _code(lambda: cri.create(pod_id, pod_config, again))
    assert code in (grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.FAILED_PRECONDITION), (code, details)


def test_list_containers_filter_combinations(cri: PodCri, pod):
    """critest/kubelet: id, state, pod and labels are ANDed; any one wrong empties the answer."""
    pod_id, pod_config = pod
    running = cri.run(pod_id, pod_config, cri.container_config("a", "sleep", "600", labels={"app": "x", "tier": "1"}))
    other = cri.run(pod_id, pod_config, cri.container_config("b", "sleep", "600", labels={"app": "x", "tier": "2"}))
    is_running = pb.ContainerStateValue(state=pb.CONTAINER_RUNNING)
    exited = pb.ContainerStateValue(state=pb.CONTAINER_EXITED)
    assert {c.id for c in cri.list_containers(pod_sandbox_id=pod_id, label_selector={"app": "x"})} == {running, other}
    assert [c.id for c in cri.list_containers(label_selector={"app": "x", "tier": "2"})] == [other]
    assert [c.id for c in cri.list_containers(id=running, pod_sandbox_id=pod_id, state=is_running,
                                              label_selector={"tier": "1"})] == [running]
    assert cri.list_containers(id=running, label_selector={"tier": "2"}) == []
    assert cri.list_containers(id=running, state=exited) == []
    assert cri.list_containers(id=running, pod_sandbox_id="f" * 64) == []
    cri.stop(other)
    assert [c.id for c in cri.list_containers(pod_sandbox_id=pod_id, state=exited)] == [other]


def test_pod_sandbox_status_carries_its_containers_statuses(cri: PodCri, pod):
    """PodSandboxStatusResponse.containers_statuses and timestamp (the kubelet's evented PLEG reads them)."""
    pod_id, pod_config = pod
    running = cri.run(pod_id, pod_config, cri.container_config("up", "sleep", "600"))
    created = cri.create(pod_id, pod_config, cri.container_config("made", "sleep", "600"))
    before = time.time_ns()
    answer = cri.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=pod_id), timeout=10)
    states = {s.id: (s.metadata.name, s.state) for s in answer.containers_statuses}
    assert states == {running: ("up", pb.CONTAINER_RUNNING), created: ("made", pb.CONTAINER_CREATED)}
    assert answer.timestamp >= before
    assert answer.containers_statuses[0] == cri.status(answer.containers_statuses[0].id)


def test_idempotence_of_stop_and_remove(cri: PodCri, pod):
    """critest idempotence.go: stopping or removing what is not there, or is already stopped or
    removed, is no error (the CRI's rule: the kubelet retries these)."""
    unknown = str(uuid.uuid4())
    cri.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=unknown), timeout=30)
    cri.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=unknown), timeout=30)
    cri.runtime.StopContainer(pb.StopContainerRequest(container_id=unknown), timeout=30)
    cri.runtime.RemoveContainer(pb.RemoveContainerRequest(container_id=unknown), timeout=30)
    pod_id, pod_config = pod
    container_id = cri.run(pod_id, pod_config, cri.container_config("idem", "sleep", "600"))
    cri.stop(container_id)
    cri.stop(container_id)
    cri.remove(container_id)
    cri.remove(container_id)
    cri.stop(container_id)  # stopped and gone: still no error
    assert cri.list_containers(id=container_id) == []


def test_streaming_lists_answer_what_the_lists_do(cri: PodCri, pod):
    """critest streaming_list.go: StreamPodSandboxes, StreamContainers, StreamContainerStats and
    StreamPodSandboxStats, with their filters, as ListPodSandbox & co answer them."""
    pod_id, pod_config = pod
    labels = {"stream-test": "yes"}
    running = cri.run(pod_id, pod_config, cri.container_config("s1", "sleep", "600", labels=labels))
    created = cri.create(pod_id, pod_config, cri.container_config("s2", "sleep", "600"))

    def items(call, request, field):
        return [item for response in call(request, timeout=30) for item in getattr(response, field)]

    rt = cri.runtime
    pods = items(rt.StreamPodSandboxes, pb.StreamPodSandboxesRequest(filter=pb.PodSandboxFilter(id=pod_id)),
                 "pod_sandboxes")
    assert pods == cri.list_pods(id=pod_id) and [p.id for p in pods] == [pod_id]
    assert items(rt.StreamPodSandboxes, pb.StreamPodSandboxesRequest(
        filter=pb.PodSandboxFilter(id="non-existent-id")), "pod_sandboxes") == []
    in_pod = items(rt.StreamContainers, pb.StreamContainersRequest(
        filter=pb.ContainerFilter(pod_sandbox_id=pod_id)), "containers")
    assert {c.id for c in in_pod} == {running, created}
    is_running = pb.ContainerFilter(state=pb.ContainerStateValue(state=pb.CONTAINER_RUNNING), pod_sandbox_id=pod_id)
    assert [c.id for c in items(rt.StreamContainers, pb.StreamContainersRequest(filter=is_running),
                                "containers")] == [running]
    stats = items(rt.StreamContainerStats, pb.StreamContainerStatsRequest(
        filter=pb.ContainerStatsFilter(label_selector=labels)), "container_stats")
    assert [s.attributes.id for s in stats] == [running]
    assert items(rt.StreamContainerStats, pb.StreamContainerStatsRequest(
        filter=pb.ContainerStatsFilter(label_selector={"stream-test": "no"})), "container_stats") == []
    pod_stats = items(rt.StreamPodSandboxStats, pb.StreamPodSandboxStatsRequest(
        filter=pb.PodSandboxStatsFilter(id=pod_id)), "pod_sandbox_stats")
    assert [s.attributes.id for s in pod_stats] == [pod_id]


def test_image_identifier_is_the_same_across_the_apis(cri: PodCri, pod):
    """critest image_id_consistency.go: Image.id, ContainerStatus.image_id and Container.image_id agree
    (PullImageResponse.image_ref is Image.id: test_cri.py's pull tests)."""
    pod_id, pod_config = pod
    image_id = cri.images.ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image="busybox:latest")),
                                      timeout=10).image.id
    config = cri.container_config("ids", "sleep", "600", image=image_id)
    config.image.user_specified_image = "busybox:latest"
    container_id = cri.run(pod_id, pod_config, config)
    assert cri.status(container_id).image_id == image_id
    assert cri.list_containers(id=container_id)[0].image_id == image_id
