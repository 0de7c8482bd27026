"""Pod sandboxes through ``pouchd --cri``: critest's PodSandbox and networking scenarios replayed
(cri-tools pkg/validate/pod.go, networking.go) with a gRPC client made from the same stubs."""

from __future__ import annotations

import glob
import ipaddress
import json
import os
import urllib.request

import grpc
import pytest

from pouch.cri import api_pb2 as pb
from tests.integration.conftest import free_port, needs_registry
from tests.integration.cri_pods_support import PodCri, pod_cri
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def cri(tmp_path_factory, busybox_tar):
    with pod_cri(str(tmp_path_factory.mktemp("pouchd-cri-pods")), busybox_tar) as client:
        yield client


def _code(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


def test_run_pod_is_ready_and_listed_by_id(cri: PodCri):
    with cri.pod() as (pod_id, _config):
        assert cri.pod_status(pod_id).state == pb.SANDBOX_READY
        assert [p.id for p in cri.list_pods(id=pod_id)] == [pod_id]


def test_stop_pod_is_not_ready_and_idempotent(cri: PodCri):
    pod_id = cri.run_pod()
    try:
        cri.stop_pod(pod_id)
        status = cri.pod_status(pod_id)
        assert status.state == pb.SANDBOX_NOTREADY
        assert status.network.ip == ""
        cri.stop_pod(pod_id)  # again: no error
    finally:
        cri.remove_pod(pod_id)
    assert cri.list_pods(id=pod_id) == []
    cri.remove_pod(pod_id)  # removed already: no error
    cri.stop_pod(pod_id)
    code, _ = _code(lambda: cri.pod_status(pod_id))
    assert code == grpc.StatusCode.NOT_FOUND


def test_pod_attributes_are_preserved(cri: PodCri):
    config = cri.pod_config(labels={"foo": "bar", "io.kubernetes.pod.name": "x"}, annotations={"abc": "def"})
    config.metadata.attempt = 2
    with cri.pod(config) as (pod_id, _):
        for pod in (cri.pod_status(pod_id), cri.list_pods(id=pod_id)[0]):
            assert pod.metadata == config.metadata
            assert dict(pod.labels) == {"foo": "bar", "io.kubernetes.pod.name": "x"}
            assert dict(pod.annotations) == {"abc": "def"}
            assert pod.created_at > 0


def test_list_pods_filters_by_state_and_labels(cri: PodCri):
    ready = cri.pod_config(labels={"group": "a"})
    stopped = cri.pod_config(labels={"group": "a"})
    with cri.pod(ready) as (ready_id, _), cri.pod(stopped) as (stopped_id, _):
        cri.stop_pod(stopped_id)
        by_label = {p.id for p in cri.list_pods(label_selector={"group": "a"})}
        assert by_label == {ready_id, stopped_id}
        not_ready = pb.PodSandboxStateValue(state=pb.SANDBOX_NOTREADY)
        assert {p.id for p in cri.list_pods(state=not_ready, label_selector={"group": "a"})} == {stopped_id}
        is_ready = pb.PodSandboxStateValue(state=pb.SANDBOX_READY)
        assert {p.id for p in cri.list_pods(state=is_ready, label_selector={"group": "a"})} == {ready_id}
        assert cri.list_pods(label_selector={"group": "b"}) == []
        assert [p.id for p in cri.list_pods(id=ready_id[:13])] == [ready_id]


def test_pod_ip_is_in_the_cni_subnet(cri: PodCri):
    with cri.pod() as (pod_id, _):
        ip = cri.pod_status(pod_id).network.ip
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(cri.subnet)


def test_pod_is_a_pouch_container_the_docker_api_cannot_remove(cri: PodCri):
    with cri.pod() as (pod_id, config):
        shown = json.loads(cri.daemon.cli("inspect", pod_id).stdout)[0]
        assert shown["Config"]["Labels"]["io.kubernetes.docker.type"] == "podsandbox"
        assert shown["State"]["Running"] is True
        rm = cri.daemon.cli("rm", "-f", pod_id, check=False)
        assert rm.returncode != 0
        assert "managed by the CRI" in rm.stderr
        with pytest.raises(AssertionError, match=r"DELETE .*: 409 .*managed by the CRI"):
            cri.daemon.api("DELETE", f"/containers/{pod_id}?force=1")
        assert cri.pod_status(pod_id).state == pb.SANDBOX_READY


def test_unknown_runtime_handler_is_refused(cri: PodCri):
    code, message = _code(lambda: cri.run_pod(handler="no-such-runtime"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "no-such-runtime" in message
    assert cri.list_pods() == []


def test_runtime_handler_runc_is_reported(cri: PodCri):
    with cri.pod(handler="runc") as (pod_id, _):
        assert cri.pod_status(pod_id).runtime_handler == "runc"


def test_dns_config_and_hostname_reach_the_containers(cri: PodCri):
    dns = pb.DNSConfig(servers=["8.8.8.8"], searches=["cri.test.local"], options=["ndots:5"])
    config = cri.pod_config(name="dnspod", dns_config=dns)
    with cri.pod(config) as (pod_id, _):
        out = cri.output(pod_id, config, "dns", "cat /etc/resolv.conf; hostname")
    assert "nameserver 8.8.8.8" in out
    assert "search cri.test.local" in out
    assert "options ndots:5" in out
    assert out.splitlines()[-1] == "dnspod"


def test_removing_a_running_pod_removes_its_containers(cri: PodCri):
    config = cri.pod_config()
    pod_id = cri.run_pod(config)
    container_id = cri.run(pod_id, config, cri.container_config("sleeper", "sleep", "600"))
    cri.remove_pod(pod_id)
    assert cri.list_pods(id=pod_id) == []
    assert cri.list_containers(id=container_id) == []
    assert cri.daemon.cli("ps", "-aq", "--no-trunc").stdout.split() == []


def _http_get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
        return answer.read().decode()


def test_port_mapping_with_host_port(cri: PodCri):
    host_port = free_port()
    mapping = pb.PortMapping(protocol=pb.TCP, container_port=8080, host_port=host_port)
    config = cri.pod_config(port_mappings=[mapping])
    with cri.pod(config) as (pod_id, _):
        server = cri.container_config("web", "sh", "-c", "echo mapped > /tmp/index.html; httpd -f -p 8080 -h /tmp")
        cri.run(pod_id, config, server)
        assert wait_until(lambda: _try(lambda: _http_get(host_port)), timeout=15) == "mapped\n"
        pod_ip = cri.pod_status(pod_id).network.ip  # the container port on the pod's address
        with urllib.request.urlopen(f"http://{pod_ip}:8080/", timeout=5) as answer:
            assert answer.read() == b"mapped\n"
    assert _try(lambda: _http_get(host_port)) is None  # the mapping went with the pod


def _try(call):
    try:
        return call()
    except OSError:
        return None


def test_host_network_pod(cri: PodCri):
    ns = pb.NamespaceOption(network=pb.NODE)
    config = cri.pod_config(linux=pb.LinuxPodSandboxConfig(
        security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
    with cri.pod(config) as (pod_id, _):
        status = cri.pod_status(pod_id)
        assert status.linux.namespaces.options.network == pb.NODE
        out = cri.output(pod_id, config, "hostnet", "hostname; readlink /proc/self/ns/net")
    assert out.splitlines()[0] == os.uname().nodename
    assert out.splitlines()[1] == os.readlink("/proc/self/ns/net")


def test_pods_and_containers_survive_a_kill_9_of_pouchd(tmp_path, busybox_tar):
    with pod_cri(str(tmp_path), busybox_tar) as cri:
        config = cri.pod_config(labels={"keep": "me"})
        pod_id = cri.run_pod(config)
        container_id = cri.run(pod_id, config, cri.container_config("survivor", "sleep", "600"))
        exited_id = cri.run(pod_id, config, cri.container_config("done", "sh", "-c", "exit 4"))
        cri.wait_exited(exited_id)
        before = cri.pod_status(pod_id)
        cri.daemon.kill9()
        cri.daemon.start()
        wait_until(lambda: _try_rpc(lambda: cri.pod_status(pod_id)), timeout=20)
        after = cri.pod_status(pod_id)
        assert after == before
        assert cri.status(container_id).state == pb.CONTAINER_RUNNING
        assert (cri.status(exited_id).exit_code, cri.status(exited_id).reason) == (4, "Error")
        assert {c.id for c in cri.list_containers(pod_sandbox_id=pod_id)} == {container_id, exited_id}
        cri.stop_pod(pod_id)
        cri.remove_pod(pod_id)
        assert cri.list_pods() == []


def _try_rpc(call):
    try:
        return call()
    except grpc.RpcError:
        return None


def test_cgroup_parent_holds_the_pods_containers(cri: PodCri):
    parent = f"/pouch-cri-test-{os.urandom(4).hex()}"
    config = cri.pod_config(linux=pb.LinuxPodSandboxConfig(cgroup_parent=parent))
    try:
        with cri.pod(config) as (pod_id, _):
            out = cri.output(pod_id, config, "cg", "grep -E ':memory:' /proc/self/cgroup")
            with open(f"/proc/{_infra_pid(cri, pod_id)}/cgroup") as f:
                infra = f.read()
    finally:  # the parent stays (runc makes it, kubelet owns it): the test removes it
        for directory in glob.glob(f"/sys/fs/cgroup/*{parent}"):
            os.rmdir(directory)
    assert f"{parent}/" in out
    assert f"{parent}/{pod_id}" in infra


def _infra_pid(cri: PodCri, pod_id: str) -> int:
    return int(cri.daemon.cli("inspect", "--format", "{{.State.Pid}}", pod_id).stdout)


def test_a_pod_that_cannot_start_leaves_nothing_behind(cri: PodCri):
    config = cri.pod_config(linux=pb.LinuxPodSandboxConfig(sysctls={"net.ipv4.no_such_sysctl": "1"}))
    with pytest.raises(grpc.RpcError) as info:
        cri.run_pod(config)
    assert "no_such_sysctl" in info.value.details()
    assert cri.list_pods() == []
    assert cri.daemon.cli("ps", "-aq").stdout.split() == []
    again = pb.PodSandboxConfig()
    again.CopyFrom(config)
    again.linux.sysctls.clear()
    with cri.pod(again) as (pod_id, _):  # the same metadata: its name is free again
        assert cri.pod_status(pod_id).state == pb.SANDBOX_READY


@pytest.mark.skipif(not os.access("/usr/bin/runsc", os.X_OK), reason="runsc (Debian package runsc) is not installed")
def test_a_gvisor_pod(tmp_path, busybox_tar):
    """RuntimeClass handler ``runsc``: the infra and the containers run under gVisor, on the pod's network."""
    extra = ("--add-runtime", "runsc=/usr/bin/runsc", "--runtime-args", "runsc=--network=host")
    with pod_cri(str(tmp_path), busybox_tar, *extra) as cri:
        config = cri.pod_config(name="gvisor-pod")
        with cri.pod(config, handler="runsc") as (pod_id, _):
            status = cri.pod_status(pod_id)
            assert status.runtime_handler == "runsc"
            out = cri.output(pod_id, config, "inside", "uname -r; hostname; ip -4 addr show eth0")
    release, hostname, *addresses = out.splitlines()
    assert release != os.uname().release  # gVisor's kernel, not the host's
    assert hostname == "gvisor-pod"
    assert f"inet {status.network.ip}/" in "\n".join(addresses)


@needs_registry
def test_pod_infra_image_is_pulled_when_given(cri: PodCri, registry, tmp_path, busybox_tar):
    """``--pod-infra-image``: pulled like any image at the first pod (here pouchd's own pause image,
    pushed to a loopback registry by the module's daemon)."""
    with cri.pod():  # the module's daemon has made its pause image
        pass
    name = f"{registry.host}/k8s/pause:test"
    cri.daemon.cli("tag", "localhost/pouch-pause:catatonit", name)
    cri.daemon.cli("push", name)
    cri.daemon.cli("rmi", name)
    with pod_cri(str(tmp_path / "d"), busybox_tar, "--pod-infra-image", name) as other:
        with other.pod() as (pod_id, _):
            assert other.pod_status(pod_id).state == pb.SANDBOX_READY
            image = other.daemon.cli("inspect", "--format", "{{.Config.Image}}", pod_id).stdout.strip()
            assert image == name
        assert "pouch-pause" not in other.daemon.cli("images").stdout  # none made: the given one is used


def test_verbose_status_of_a_pod_and_a_container(cri: PodCri):
    with cri.pod() as (pod_id, config):
        answer = cri.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=pod_id, verbose=True),
                                              timeout=10)
        info = json.loads(answer.info["info"])
        assert info["pid"] == _infra_pid(cri, pod_id)
        assert os.path.exists(info["netNamespacePath"])
        container_id = cri.run(pod_id, config, cri.container_config("v", "sleep", "600"))
        answer = cri.runtime.ContainerStatus(pb.ContainerStatusRequest(container_id=container_id, verbose=True),
                                             timeout=10)
        info = json.loads(answer.info["info"])
        assert info["sandboxID"] == pod_id and info["pid"] > 0
        assert not cri.runtime.ContainerStatus(pb.ContainerStatusRequest(container_id=container_id),
                                               timeout=10).info
