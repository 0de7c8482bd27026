"""The streaming server on loopback with both wires, its sessions played by a stand-in command.

The stand-in echoes stdin upper-cased on stdout, reports terminal sizes, says "bye" on stderr
and exits 3; port forward dials a TCP server of the test on loopback. The engine's sessions
are tested against a real pouchd in tests/integration/test_cri_streaming.py.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from pouch.cri.streaming import protocol, spdy
from pouch.cri.streaming.idle import STREAM_IDLE_TIMEOUT
from pouch.cri.streaming.protocol import Channel, TermSize
from pouch.cri.streaming.remotecommand import WAKE, RemoteCommandIO
from pouch.cri.streaming.requests import AttachStream, ExecStream, PortForwardStream, StreamRequest
from pouch.cri.streaming.server import StreamServer
from pouch.cri.streaming.spdy_link import SpdyLink
from tests.streaming_client import Collector, PortForwardClient, SpdySession, UpgradeRefused, WebSocketSession
from tests.waiting import wait_until


def stand_in(request: StreamRequest, io: RemoteCommandIO) -> None:
    def resizes() -> None:
        while (size := io.inbox.next_resize()) is not None:
            io.write(Channel.STDOUT, f"[{size.width}x{size.height}]".encode())

    follower = threading.Thread(target=resizes)
    follower.start()
    if request.stdin:
        while (data := io.inbox.next_stdin()) is not None and data is not WAKE:
            assert isinstance(data, bytes)
            io.write(Channel.STDOUT, data.upper())
    io.write(Channel.STDERR, b"bye")
    io.inbox.close()
    follower.join()
    io.finish(protocol.exit_status(3, ("stand-in",), io.protocol))


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A TCP server on loopback answering each read with its bytes reversed."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                while chunk := conn.recv(65536):
                    conn.sendall(chunk[::-1])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture
def server() -> Iterator[StreamServer]:
    def dialer(sandbox_id: str):
        assert sandbox_id == "pod1"
        return lambda port: socket.create_connection(("127.0.0.1", port), timeout=5)

    s = StreamServer("127.0.0.1", 0, stand_in, dialer)
    s.start()
    yield s
    s.stop()


def exec_url(server: StreamServer, *, stdin: bool = True, tty: bool = False) -> str:
    return server.url_for(ExecStream("c1", ("stand-in",), tty, stdin, True, not tty))


def test_url_on_loopback_with_the_bound_port(server):
    url = exec_url(server)
    assert url.startswith(f"http://127.0.0.1:{server.port}/exec/") and server.port > 0


@pytest.mark.parametrize("protocols", [(protocol.V4,), (protocol.V3,), (protocol.V2,), (protocol.V1,)])
def test_spdy_exec_with_stdin(server, protocols):
    session = SpdySession(exec_url(server), stdin=True, protocols=protocols)
    assert session.protocol == protocols[0]
    session.send_stdin(b"hello\n")
    assert session.wait_output(Channel.STDOUT, b"HELLO\n") == b"HELLO\n"
    session.close_stdin()
    code, message = session.status()
    assert code == (3 if protocols[0] == protocol.V4 else -1) and "exit code 3" in message
    assert session.output(Channel.STDERR) == b"bye"
    session.close()


def test_spdy_tty_resize(server):
    session = SpdySession(exec_url(server, tty=True), stdin=True, tty=True)
    session.resize(TermSize(120, 40))
    assert session.wait_output(Channel.STDOUT, b"[120x40]") == b"[120x40]"
    session.close_stdin()
    session.status()
    session.close()


def test_spdy_large_output_is_not_held_by_flow_control(server):
    session = SpdySession(exec_url(server), stdin=True)
    payload = b"x" * (300 * 1024)
    session.send_stdin(payload)
    assert len(session.wait_output(Channel.STDOUT, payload.upper())) == len(payload)
    session.close_stdin()
    session.status()
    session.close()


@pytest.mark.parametrize("protocols", [(protocol.V5,), (protocol.V4,)])
def test_websocket_exec(server, protocols):
    session = WebSocketSession(exec_url(server, tty=True), protocols=protocols)
    assert session.protocol == protocols[0]
    session.send_stdin(b"abc")
    assert session.wait_output(Channel.STDOUT, b"ABC") == b"ABC"
    session.resize(TermSize(80, 24))
    assert b"[80x24]" in session.wait_output(Channel.STDOUT, b"[80x24]")
    if protocols[0] == protocol.V5:
        session.close_stdin()  # the close signal ends stdin
        assert session.status()[0] == 3
    session.close()


def test_websocket_base64_channels(server):
    session = WebSocketSession(exec_url(server), protocols=(protocol.BASE64_V4,))
    assert session.base64 and session.protocol == protocol.V4
    session.send_stdin(b"\x00binary\xff")
    assert session.wait_output(Channel.STDOUT, b"\x00BINARY\xff") == b"\x00BINARY\xff"
    session.close()
    wait_until(session.done)


def test_token_is_single_use(server):
    url = exec_url(server, stdin=False)
    session = SpdySession(url, stdin=False)
    session.status()
    session.close()
    with pytest.raises(UpgradeRefused) as info:
        SpdySession(url, stdin=False)
    assert info.value.status == 404


def test_unknown_path_and_missing_upgrade(server):
    with pytest.raises(UpgradeRefused) as info:
        SpdySession(f"{server.base_url}/exec/nosuchtoken", stdin=False)
    assert info.value.status == 404
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(f"GET {exec_url(server)[len(server.base_url):]} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 400")


def test_unsupported_spdy_protocol(server):
    with pytest.raises(UpgradeRefused) as info:
        SpdySession(exec_url(server), stdin=True, protocols=("v9.channel.k8s.io",))
    assert info.value.status == 403


def test_attach_url(server):
    url = server.url_for(AttachStream("c1", False, True, True, True))
    assert "/attach/" in url
    session = SpdySession(url, stdin=True)
    session.close_stdin()
    assert session.status()[0] == 3
    session.close()


def test_port_forward(server, echo_port):
    client = PortForwardClient(server.url_for(PortForwardStream("pod1", (echo_port,))))
    assert client.protocol == protocol.PORT_FORWARD
    assert client.request(echo_port, b"ping") == (b"gnip", b"")
    assert client.request(echo_port, b"second") == (b"dnoces", b"")  # two connections on one session
    client.close()


def test_port_forward_connection_refused_says_so(server):
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    client = PortForwardClient(server.url_for(PortForwardStream("pod1", (port,))))
    data, error = client.request(port, b"x")
    assert data == b"" and f"localhost:{port}".encode() in error
    client.close()


def test_port_forward_over_websocket(server, echo_port):
    # kubelet's v4 channels: data on 2i, errors on 2i+1, each opened by the port (little-endian)
    closed = socket.create_server(("127.0.0.1", 0))
    refused_port = closed.getsockname()[1]
    closed.close()
    url = server.url_for(PortForwardStream("pod1", (echo_port, refused_port)))
    session = WebSocketSession(url, protocols=(protocol.V4,))
    prefix = echo_port.to_bytes(2, "little")
    assert session.wait_output(0, prefix) == prefix and session.wait_output(1, prefix) == prefix
    session.send(0, b"ping")
    assert session.wait_output(0, prefix + b"gnip") == prefix + b"gnip"
    refused_prefix = refused_port.to_bytes(2, "little")
    assert f"localhost:{refused_port}".encode() in session.wait_output(3, b"inside the pod")
    assert session.output(3).startswith(refused_prefix)
    session.close()


def test_port_forward_over_websocket_takes_ports_from_the_query(server, echo_port):
    url = server.url_for(PortForwardStream("pod1", ())) + f"?port={echo_port}"
    session = WebSocketSession(url, protocols=(protocol.BASE64_V4,))
    session.send(0, b"abc")
    assert session.wait_output(0, b"cba").endswith(b"cba")
    session.close()


def test_spdy_link_waits_for_the_window_of_a_peer_that_does_flow_control():
    # a peer that sends WINDOW_UPDATEs gets its windows kept: the sender waits for each update

    a, b = socket.socketpair()
    server, client = SpdyLink(a, client=False), SpdyLink(b, client=True)
    opened = threading.Event()
    server_handler = Collector()
    server_handler.on_stream = lambda stream_id, headers: opened.set()  # type: ignore[method-assign]
    client_handler = Collector()
    threads = [threading.Thread(target=server.run, args=(server_handler,)),
               threading.Thread(target=client.run, args=(client_handler,))]
    for t in threads:
        t.start()
    sid = client.open_stream((("streamtype", "stdout"),))
    with client._cond:  # tell the server this side does flow control
        client.conn._send(spdy.WindowUpdate(sid, 0))
        client._flush()
    assert opened.wait(5)
    wait_until(lambda: server.conn.peer_flow_control)
    payload = bytes(range(256)) * 1200  # 300 KiB: several windows' worth
    assert server.send(sid, payload, fin=True)
    inbound = client_handler.inbound
    wait_until(lambda: sid in inbound.ended)
    assert bytes(inbound.data[sid]) == payload
    client.close(1)
    server.close(1)
    for t in threads:
        t.join(5)


@pytest.fixture
def impatient_server() -> Iterator[StreamServer]:
    """A server whose connections close after 1.5 s without traffic (kubelet's: 4 h)."""
    s = StreamServer("127.0.0.1", 0, stand_in, lambda _sandbox: lambda port: socket.create_connection(
        ("127.0.0.1", port), timeout=5), idle_timeout=1.5)
    s.start()
    yield s
    s.stop()


def test_the_idle_timeout_is_kubelets():
    assert STREAM_IDLE_TIMEOUT == 4 * 60 * 60
    assert StreamServer("127.0.0.1", 0, stand_in, lambda _s: None).idle_timeout == STREAM_IDLE_TIMEOUT  # type: ignore[arg-type, return-value]


@pytest.mark.parametrize("wire", ["spdy", "websocket"])
def test_an_idle_connection_is_closed_and_a_busy_one_is_not(impatient_server, wire):
    def session():
        if wire == "spdy":
            return SpdySession(exec_url(impatient_server), stdin=True)
        return WebSocketSession(exec_url(impatient_server))

    busy = session()
    for i in range(8):  # 2.4 s of traffic, a frame every 0.3 s
        busy.send_stdin(b"x")
        assert busy.wait_output(Channel.STDOUT, b"X" * (i + 1)) == b"X" * (i + 1)
        threading.Event().wait(0.3)
    assert not busy.done()
    busy.close()
    idle = session()
    wait_until(idle.done, timeout=10)  # the server hung up: the stand-in saw stdin end
