"""ExecSync, Exec, Attach and PortForward of ``pouchd --cri``, with its streaming server on loopback.

A real pouchd; the sessions are opened with tests/streaming_client.py over SPDY/3.1 (as
client-go's SPDY executor and port forwarder, which critest uses) and over WebSocket (client-go's
WebSocket executor). Containers are made through the Pouch CLI: a CRI container is a Pouch
container, and a pod sandbox id is its infra container's id, so any running container stands in
for a pod here. The scenarios replay cri-tools' pkg/validate/streaming.go and the ExecSync ones
of container.go.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import grpc
import pytest

from pouch.cri import api_pb2 as pb
from pouch.cri import api_pb2_grpc as pb_grpc
from pouch.cri.streaming import protocol
from pouch.cri.streaming.protocol import Channel, TermSize
from tests.integration.conftest import Daemon, container, running_daemon, unique_name
from tests.streaming_client import PortForwardClient, SpdySession, UpgradeRefused, WebSocketSession
from tests.waiting import wait_until


class Cri:
    def __init__(self, daemon: Daemon, socket_path: str) -> None:
        self.daemon = daemon
        self.channel = grpc.insecure_channel("unix://" + socket_path)
        self.runtime = pb_grpc.RuntimeServiceStub(self.channel)

    def exec_url(self, cid: str, cmd: list[str], *, tty: bool = False, stdin: bool = False) -> str:
        request = pb.ExecRequest(container_id=cid, cmd=cmd, tty=tty, stdin=stdin, stdout=True, stderr=not tty)
        return self.runtime.Exec(request, timeout=10).url

    def exec_sync(self, cid: str, cmd: list[str], timeout: int = 10) -> pb.ExecSyncResponse:
        return self.runtime.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=cmd, timeout=timeout), timeout=60)


@pytest.fixture(scope="module")
def cri(tmp_path_factory, busybox_tar) -> Iterator[Cri]:
    base = str(tmp_path_factory.mktemp("pouchd-cri-stream"))
    sock = os.path.join(base, "cri.sock")
    args = ("--cri", "--cri-listen", "unix://" + sock, "--cri-stream-address", "127.0.0.1")
    with running_daemon(base, busybox_tar, args) as d:
        client = Cri(d, sock)
        try:
            yield client
        finally:
            client.channel.close()


@pytest.fixture
def sleeper(cri) -> Iterator[str]:
    with container(cri.daemon, "busybox", "sleep", "3600", name=unique_name("cri-exec")) as cid:
        yield cid


def _code(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code()


# --- ExecSync (critest container.go) ---------------------------------------------------------------


def test_exec_sync_output_and_exit_code(cri, sleeper):
    response = cri.exec_sync(sleeper, ["sh", "-c", "echo hello; echo oops >&2; exit 3"])
    assert (response.stdout, response.stderr, response.exit_code) == (b"hello\n", b"oops\n", 3)


def test_exec_sync_timeout_kills_the_process(cri, sleeper):
    # critest: "runtime should support execSync with timeout", then "timeout exec process should be gone"
    with pytest.raises(grpc.RpcError) as info:
        cri.exec_sync(sleeper, ["sleep", "4321"], timeout=1)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    left = cri.exec_sync(sleeper, ["sh", "-c", "ps | grep 'sleep 4321' | grep -v grep"])
    assert left.stdout.strip() == b"" and left.stderr == b""


def test_exec_sync_in_unknown_or_stopped_container(cri):
    assert _code(lambda: cri.exec_sync("0" * 64, ["true"])) == grpc.StatusCode.NOT_FOUND
    name = unique_name("cri-stopped")
    with container(cri.daemon, "busybox", "true", name=name) as cid:
        wait_until(lambda: cri.daemon.inspect(name)["State"]["Status"] == "exited")
        assert _code(lambda: cri.exec_sync(cid, ["true"])) == grpc.StatusCode.FAILED_PRECONDITION
        assert _code(lambda: cri.exec_url(cid, ["true"])) == grpc.StatusCode.FAILED_PRECONDITION


# --- Exec (critest streaming.go) -------------------------------------------------------------------


def test_exec_url_is_on_the_loopback_streaming_server(cri, sleeper):
    assert cri.exec_url(sleeper, ["true"]).startswith("http://127.0.0.1:")


def test_exec_rejects_bad_stream_choices(cri, sleeper):
    no_streams = pb.ExecRequest(container_id=sleeper, cmd=["true"])
    assert _code(lambda: cri.runtime.Exec(no_streams, timeout=10)) == grpc.StatusCode.INVALID_ARGUMENT
    tty_stderr = pb.ExecRequest(container_id=sleeper, cmd=["true"], tty=True, stdout=True, stderr=True)
    assert _code(lambda: cri.runtime.Exec(tty_stderr, timeout=10)) == grpc.StatusCode.INVALID_ARGUMENT


def test_exec_tty_false_stdin_false(cri, sleeper):
    # critest: "runtime should support exec with tty=false and stdin=false"
    session = SpdySession(cri.exec_url(sleeper, ["echo", "hello"]), stdin=False)
    assert session.status() == (0, "")
    assert session.output(Channel.STDOUT) == b"hello\n"
    assert session.output(Channel.STDERR) == b""
    session.close()


def test_exec_tty_true_stdin_true(cri, sleeper):
    # critest: "runtime should support exec with tty=true and stdin=true": the terminal's CRLF
    session = SpdySession(cri.exec_url(sleeper, ["echo", "hello"], tty=True, stdin=True), stdin=True, tty=True)
    assert session.wait_output(Channel.STDOUT, b"hello\r\n") == b"hello\r\n"
    session.close_stdin()
    assert session.status() == (0, "")
    session.close()


def test_exec_exit_code_in_the_v4_status(cri, sleeper):
    session = SpdySession(cri.exec_url(sleeper, ["sh", "-c", "echo err >&2; exit 7"]), stdin=False)
    code, message = session.status()
    assert code == 7 and "exit code 7" in message
    assert session.output(Channel.STDERR) == b"err\n"
    session.close()


def test_exec_exit_code_as_text_before_v4(cri, sleeper):
    url = cri.exec_url(sleeper, ["sh", "-c", "exit 2"])
    session = SpdySession(url, stdin=False, protocols=(protocol.V2,))
    assert session.protocol == protocol.V2
    code, message = session.status()
    assert code == -1 and "exit code 2" in message
    session.close()


def test_exec_stdin_without_tty_reaches_eof(cri, sleeper):
    session = SpdySession(cri.exec_url(sleeper, ["cat"], stdin=True), stdin=True)
    session.send_stdin(b"line one\n")
    assert session.wait_output(Channel.STDOUT, b"line one\n") == b"line one\n"
    session.send_stdin(b"line two\n")
    session.close_stdin()  # cat sees EOF and exits 0
    assert session.status() == (0, "")
    assert session.output(Channel.STDOUT) == b"line one\nline two\n"
    session.close()


def test_exec_tty_resize(cri, sleeper):
    url = cri.exec_url(sleeper, ["sh", "-c", "while read line; do stty size; done"], tty=True, stdin=True)
    session = SpdySession(url, stdin=True, tty=True)
    session.resize(TermSize(width=100, height=40))

    def resized() -> bool:
        session.send_stdin(b"\n")
        return b"40 100" in session.wait_output(Channel.STDOUT, b"40 100", timeout=0.5)

    wait_until(resized, timeout=20)
    session.close()


def test_exec_unknown_command_fails_in_the_status(cri, sleeper):
    session = SpdySession(cri.exec_url(sleeper, ["/no/such/binary"]), stdin=False)
    code, message = session.status()
    assert code != 0 and message
    session.close()


def test_exec_over_websocket(cri, sleeper):
    session = WebSocketSession(cri.exec_url(sleeper, ["sh", "-c", "cat; echo done >&2; exit 4"], stdin=True))
    assert session.protocol == protocol.V5
    session.send_stdin(b"via websocket\n")
    assert session.wait_output(Channel.STDOUT, b"via websocket\n") == b"via websocket\n"
    session.close_stdin()
    assert session.status()[0] == 4
    assert session.output(Channel.STDERR) == b"done\n"
    session.close()


def test_exec_token_is_single_use(cri, sleeper):
    url = cri.exec_url(sleeper, ["true"])
    SpdySession(url, stdin=False).status()
    with pytest.raises(UpgradeRefused) as info:
        SpdySession(url, stdin=False)
    assert info.value.status == 404


# --- Attach (critest streaming.go) -----------------------------------------------------------------


def test_attach_with_stdin(cri):
    # critest: "runtime should support attach": a shell with stdin, "echo hello", then stdin closes
    with container(cri.daemon, "-i", "busybox", "sh", name=unique_name("cri-attach")) as cid:
        request = pb.AttachRequest(container_id=cid, stdin=True, stdout=True, stderr=True, tty=False)
        url = cri.runtime.Attach(request, timeout=10).url
        session = SpdySession(url, stdin=True)
        session.send_stdin(b"echo hello\n")
        assert session.wait_output(Channel.STDOUT, b"hello\n") == b"hello\n"
        session.close_stdin()
        assert session.status() == (0, "")
        assert session.output(Channel.STDOUT) == b"hello\n" and session.output(Channel.STDERR) == b""
        session.close()
        # the container keeps running after the client went (attach without StdinOnce)
        assert cri.daemon.inspect(cid)["State"]["Running"]


def test_attach_over_websocket(cri):
    with container(cri.daemon, "-i", "busybox", "sh", name=unique_name("cri-attach-ws")) as cid:
        request = pb.AttachRequest(container_id=cid, stdin=True, stdout=True, stderr=True)
        session = WebSocketSession(cri.runtime.Attach(request, timeout=10).url)
        session.send_stdin(b"echo from ws\n")
        assert session.wait_output(Channel.STDOUT, b"from ws\n") == b"from ws\n"
        session.close_stdin()
        assert session.status() == (0, "")
        session.close()


def test_attach_tty_with_resize(cri):
    with container(cri.daemon, "-it", "busybox", "sh", name=unique_name("cri-attach-tty")) as cid:
        request = pb.AttachRequest(container_id=cid, stdin=True, stdout=True, tty=True)
        session = SpdySession(cri.runtime.Attach(request, timeout=10).url, stdin=True, tty=True)
        session.resize(TermSize(width=90, height=30))

        def resized() -> bool:
            session.send_stdin(b"stty size\r")
            return b"30 90" in session.wait_output(Channel.STDOUT, b"30 90", timeout=0.5)

        wait_until(resized, timeout=20)
        session.close()


# --- PortForward (critest streaming.go) ------------------------------------------------------------


def test_port_forward_to_the_pods_loopback(cri):
    # critest: "runtime should support portforward": here busybox httpd listens on 127.0.0.1 only,
    # so only a connection made inside the pod's network namespace reaches it
    script = "mkdir -p /www && echo pod-page > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www"
    with container(cri.daemon, "busybox", "sh", "-c", script, name=unique_name("cri-pf")) as pod:
        wait_until(lambda: b":1F90" in cri.exec_sync(pod, ["cat", "/proc/net/tcp"]).stdout)  # 8080 listening
        url = cri.runtime.PortForward(pb.PortForwardRequest(pod_sandbox_id=pod, port=[8080]), timeout=10).url
        client = PortForwardClient(url)
        request = b"GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n"
        answer, error = client.request(8080, request)
        assert error == b""
        assert answer.startswith(b"HTTP/1.") and answer.endswith(b"pod-page\n")
        answer, error = client.request(8080, request)  # another connection on the same session
        assert answer.endswith(b"pod-page\n")
        refused, error = client.request(9, b"x")
        assert refused == b"" and b"localhost:9" in error
        client.close()
        # the same over WebSocket (kubelet's v4 port forward channels)
        url = cri.runtime.PortForward(pb.PortForwardRequest(pod_sandbox_id=pod, port=[8080]), timeout=10).url
        session = WebSocketSession(url, protocols=(protocol.V4,))
        session.send(0, request)
        assert session.wait_output(0, b"pod-page\n").endswith(b"pod-page\n")
        session.close()


def test_port_forward_of_an_unknown_sandbox(cri):
    request = pb.PortForwardRequest(pod_sandbox_id="f" * 64, port=[80])
    assert _code(lambda: cri.runtime.PortForward(request, timeout=10)) == grpc.StatusCode.NOT_FOUND
