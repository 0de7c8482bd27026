"""critest's streaming scenarios (cri-tools pkg/validate/streaming.go) with real pod sandboxes.

Pods and their containers come from RunPodSandbox/CreateContainer (the pods slice of issue 10,
``cri_pods_support``); the sessions go through tests/streaming_client.py over SPDY/3.1, as
client-go's executor and port forwarder do for critest. Skipped until the pods slice is there.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import grpc
import pytest

from pouch.cri import api_pb2 as pb
from pouch.cri.streaming.protocol import Channel
from tests.streaming_client import PortForwardClient, SpdySession
from tests.waiting import wait_until

pods_support = pytest.importorskip("tests.integration.cri_pods_support", reason="needs the CRI pods slice")

HTTPD = "mkdir -p /www && echo pod-page > /www/index.html && exec httpd -f -p {address}:{port} -h /www"


@pytest.fixture(scope="module")
def cri(tmp_path_factory, busybox_tar) -> Iterator:
    with pods_support.pod_cri(str(tmp_path_factory.mktemp("pouchd-cri-pod-stream")), busybox_tar) as client:
        yield client


def _listening(cri, container_id: str, port: int) -> bool:
    tcp = cri.runtime.ExecSync(pb.ExecSyncRequest(container_id=container_id, cmd=["cat", "/proc/net/tcp"],
                                                  timeout=10), timeout=30).stdout
    return f":{port:04X} 00000000:0000 0A".encode() in tcp


def test_exec_in_a_pods_container(cri):
    # "runtime should support exec with tty=false and stdin=false" and "... tty=true and stdin=true"
    with cri.pod() as (pod_id, pod_config):
        cid = cri.run(pod_id, pod_config, cri.container_config("exec", "sleep", "3600"))
        request = pb.ExecRequest(container_id=cid, cmd=["echo", "hello"], stdout=True, stderr=True)
        session = SpdySession(cri.runtime.Exec(request, timeout=10).url, stdin=False)
        assert session.status() == (0, "")
        assert (session.output(Channel.STDOUT), session.output(Channel.STDERR)) == (b"hello\n", b"")
        session.close()
        request = pb.ExecRequest(container_id=cid, cmd=["echo", "hello"], stdout=True, tty=True, stdin=True)
        session = SpdySession(cri.runtime.Exec(request, timeout=10).url, stdin=True, tty=True)
        assert session.wait_output(Channel.STDOUT, b"hello\r\n") == b"hello\r\n"
        session.close_stdin()
        assert session.status() == (0, "")
        session.close()


def test_exec_sync_timeout_in_a_pod(cri):
    # container.go: "runtime should support execSync with timeout"
    with cri.pod() as (pod_id, pod_config):
        cid = cri.run(pod_id, pod_config, cri.container_config("exec-sync", "sleep", "3600"))
        with pytest.raises(grpc.RpcError) as info:
            cri.runtime.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=["sleep", "4321"], timeout=1), timeout=30)
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        check = ["sh", "-c", "ps | grep 'sleep 4321' | grep -v grep"]
        left = cri.runtime.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=check, timeout=10), timeout=30)
        assert (left.stdout.strip(), left.stderr) == (b"", b"")


def test_attach_to_a_pods_shell(cri):
    # "runtime should support attach": a shell container with stdin, no terminal
    with cri.pod() as (pod_id, pod_config):
        cid = cri.run(pod_id, pod_config, cri.container_config("attach", "sh", stdin=True))
        request = pb.AttachRequest(container_id=cid, stdin=True, stdout=True, stderr=True, tty=False)
        session = SpdySession(cri.runtime.Attach(request, timeout=10).url, stdin=True)
        session.send_stdin(b"echo hello\n")
        assert session.wait_output(Channel.STDOUT, b"hello\n") == b"hello\n"
        session.close_stdin()
        assert session.status() == (0, "")
        assert (session.output(Channel.STDOUT), session.output(Channel.STDERR)) == (b"hello\n", b"")
        session.close()


def _forward(cri, pod_id: str, port: int) -> bytes:
    url = cri.runtime.PortForward(pb.PortForwardRequest(pod_sandbox_id=pod_id, port=[port]), timeout=10).url
    client = PortForwardClient(url)
    answer, error = client.request(port, b"GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n")
    client.close()
    assert error == b""
    return answer


def test_port_forward_to_a_pod(cri):
    # "runtime should support portforward": the pod's port mapping, a web server in its container
    port = 8080
    config = cri.pod_config(port_mappings=[pb.PortMapping(container_port=port)])
    with cri.pod(config) as (pod_id, pod_config):
        script = HTTPD.format(address="127.0.0.1", port=port)  # the pod's loopback only
        cid = cri.run(pod_id, pod_config, cri.container_config("web", "sh", "-c", script))
        wait_until(lambda: _listening(cri, cid, port), timeout=20)
        assert _forward(cri, pod_id, port).endswith(b"pod-page\n")


def test_port_forward_in_host_network(cri):
    # "runtime should support portforward in host network"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    host = pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
        namespace_options=pb.NamespaceOption(network=pb.NODE)))
    with cri.pod(cri.pod_config(linux=host)) as (pod_id, pod_config):
        script = HTTPD.format(address="127.0.0.1", port=port)
        cid = cri.run(pod_id, pod_config, cri.container_config("web", "sh", "-c", script))
        wait_until(lambda: _listening(cri, cid, port), timeout=20)
        assert _forward(cri, pod_id, port).endswith(b"pod-page\n")
