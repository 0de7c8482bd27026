"""The API's listeners: several at once, TCP with (mutual) TLS through the relay, socket group and mode."""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
from dataclasses import replace

import pytest

from pouch.api.listeners import open_listeners, server_tls_context, socket_group, tcp_listener, unix_listener
from pouch.api.server import Server
from pouch.config import DaemonConfig
from pouch.errors import InvalidArgument
from pouch.listen import parse_host
from tests.tls_certs import make_certs
from tests.unit.api.test_api_server import basic_router, echo_hijack, read_exactly, read_head, request_bytes
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(str(tmp_path_factory.mktemp("tls")))


@pytest.fixture(scope="module")
def other_certs(tmp_path_factory):
    return make_certs(str(tmp_path_factory.mktemp("tls-other")), ca_name="otherca")


def _tls_config(certs, verify=True) -> DaemonConfig:
    return DaemonConfig(tls=True, tls_verify=verify, tls_cacert=certs.ca, tls_cert=certs.server_cert,
                        tls_key=certs.server_key)


@pytest.fixture
def served():
    """``served(listeners)``: a Server on them, stopped (and checked gone) after the test."""
    running: list[tuple[Server, threading.Thread]] = []

    def start(listeners):
        router = basic_router()
        router.add("POST", "/containers/{id}/attach", echo_hijack)
        server = Server(None, router, listeners=listeners)
        thread = threading.Thread(target=server.serve_forever, name="test-api-server")
        thread.start()
        running.append((server, thread))
        return server

    yield start
    for server, thread in running:
        server.shutdown()
        thread.join(5)
        assert not thread.is_alive()
    # every TLS relay ended with its connection (none left spinning on a closed socket)
    wait_until(lambda: not [t for t in threading.enumerate() if t.name == "pouch-tls"], what="the TLS relays to end")


def _client_context(certs, with_cert=True) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certs.ca)
    if with_cert:
        context.load_cert_chain(certs.client_cert, certs.client_key)
    return context


def _connect(port: int, context: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def _ping(sock: socket.socket) -> int:
    sock.sendall(request_bytes("GET", "/_ping"))
    status, _, _ = read_head(sock)
    return status


def test_one_server_answers_on_a_unix_socket_and_on_tls(served, tmp_path, certs):
    tls = tcp_listener(parse_host("tcp://127.0.0.1:0"), server_tls_context(_tls_config(certs)))
    served([unix_listener(str(tmp_path / "a.sock")), tls])
    with socket.socket(socket.AF_UNIX) as plain:
        plain.settimeout(5)
        plain.connect(str(tmp_path / "a.sock"))
        assert _ping(plain) == 200
    with _connect(tls.sock.getsockname()[1], _client_context(certs)) as secure:
        assert _ping(secure) == 200
        secure.sendall(request_bytes("GET", "/v1.41/echo/x/json"))  # keep-alive: a second request
        status, headers, rest = read_head(secure)
        body = read_exactly(secure, int(headers["content-length"]), rest)
        assert status == 200 and json.loads(body)["params"] == {"id": "x"}


def test_tlsverify_refuses_a_client_without_a_certificate_or_with_another_cas(served, certs, other_certs):
    tls = tcp_listener(parse_host("tcp://127.0.0.1:0"), server_tls_context(_tls_config(certs)))
    served([tls])
    port = tls.sock.getsockname()[1]
    for context in (_client_context(certs, with_cert=False), _foreign_client(certs, other_certs)):
        with pytest.raises((ssl.SSLError, ConnectionError)):
            with _connect(port, context) as secure:  # TLS 1.3: the refusal comes with the first read
                assert _ping(secure) != 200


def _foreign_client(certs, other_certs) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certs.ca)
    context.load_cert_chain(other_certs.client_cert, other_certs.client_key)
    return context


def test_tls_without_verify_takes_any_client(served, certs):
    tls = tcp_listener(parse_host("tcp://127.0.0.1:0"), server_tls_context(_tls_config(certs, verify=False)))
    served([tls])
    with _connect(tls.sock.getsockname()[1], _client_context(certs, with_cert=False)) as secure:
        assert _ping(secure) == 200


def test_a_hijacked_stream_over_tls_echoes_and_passes_half_closes_on(served, certs):
    tls = tcp_listener(parse_host("tcp://127.0.0.1:0"), server_tls_context(_tls_config(certs)))
    served([tls])
    with _connect(tls.sock.getsockname()[1], _client_context(certs)) as secure:
        secure.sendall(request_bytes("POST", "/v1.41/containers/abc/attach?stream=1&stdin=1&tty=1",
                                     {"Connection": "Upgrade", "Upgrade": "tcp", "Content-Length": "0"}) + b"early")
        status, _, rest = read_head(secure)
        assert status == 101
        assert read_exactly(secure, len(b"leftover:early"), rest) == b"leftover:early"
        for _ in range(4):  # more than one TLS record and one relay read each time
            chunk = os.urandom(100_000)
            secure.sendall(chunk)
            assert read_exactly(secure, len(chunk)) == chunk
        socket.socket.shutdown(secure, socket.SHUT_WR)  # the client's end of input, as docker's CloseWrite
        assert secure.recv(10) == b""  # the handler saw it, returned, and the server closed


def test_unix_socket_mode_0660_and_its_group(tmp_path):
    listener = unix_listener(str(tmp_path / "g.sock"), 0o660, gid=4242)
    try:
        st = os.stat(tmp_path / "g.sock")
        assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o660, os.geteuid(), 4242)
    finally:
        listener.close()
    assert not os.path.exists(tmp_path / "g.sock")


def test_the_socket_group_is_roots_when_the_default_group_is_missing_and_an_error_for_another():
    assert socket_group("4242") == 4242
    assert socket_group("root") == 0
    if not _group_exists("pouch"):
        assert socket_group("pouch") == 0
    with pytest.raises(InvalidArgument, match="--group nosuchgroup-x: no such group"):
        socket_group("nosuchgroup-x")


def _group_exists(name: str) -> bool:
    import grp

    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def test_open_listeners_opens_each_host_and_nothing_when_one_fails(tmp_path):
    config = replace(DaemonConfig(), hosts=(f"unix://{tmp_path}/one.sock", "tcp://127.0.0.1:0"), group="0")
    listeners = open_listeners(config)
    try:
        assert [type(listener.sock.family) for listener in listeners] and len(listeners) == 2
        assert os.path.exists(tmp_path / "one.sock")
    finally:
        for listener in listeners:
            listener.close()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        port = busy.getsockname()[1]
        with pytest.raises(Exception, match=f"cannot listen on tcp://127.0.0.1:{port}"):
            open_listeners(replace(config, hosts=(f"unix://{tmp_path}/two.sock", f"tcp://127.0.0.1:{port}")))
        assert not os.path.exists(tmp_path / "two.sock")  # the one opened before is closed again
    finally:
        busy.close()


def test_fd_hosts_need_systemds_sockets(monkeypatch):
    monkeypatch.delenv("LISTEN_FDS", raising=False)
    with pytest.raises(InvalidArgument, match="no sockets found via socket activation"):
        open_listeners(replace(DaemonConfig(), hosts=("fd://",)))


def test_bad_tls_files_are_named(tmp_path):
    config = replace(DaemonConfig(), tls=True, tls_cert=str(tmp_path / "nope.pem"), tls_key=str(tmp_path / "k.pem"))
    with pytest.raises(InvalidArgument, match="nope.pem"):
        server_tls_context(config)


def test_a_client_that_vanishes_ends_its_relay(served, certs):
    tls = tcp_listener(parse_host("tcp://127.0.0.1:0"), server_tls_context(_tls_config(certs)))
    served([tls])
    secure = _connect(tls.sock.getsockname()[1], _client_context(certs))
    assert _ping(secure) == 200
    secure.sendall(request_bytes("POST", "/v1.41/containers/abc/attach?stream=1&stdin=1",
                                 {"Connection": "Upgrade", "Upgrade": "tcp", "Content-Length": "0"}))
    assert read_head(secure)[0] == 101
    secure.close()  # gone mid-stream, without a word
    wait_until(lambda: not [t for t in threading.enumerate() if t.name == "pouch-tls"], what="the relay to end")
