"""A real Server on a unix socket under tmp_path, served from a thread, stopped after the test."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator

import pytest

from pouch.api.server import Router, Server


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 5.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


class RunningServer:
    def __init__(self, server: Server, thread: threading.Thread) -> None:
        self.server = server
        self.thread = thread
        self.path = server.socket_path

    def http(self) -> UnixHTTPConnection:
        return UnixHTTPConnection(self.path)

    def raw(self, timeout: float = 5.0) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(self.path)
        return sock

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)
        assert not self.thread.is_alive()


@pytest.fixture
def serve(tmp_path) -> Iterator:
    """``serve(router)`` starts a server; every one started is stopped at teardown."""
    started: list[RunningServer] = []

    def start(router: Router, name: str = "d.sock") -> RunningServer:
        server = Server(str(tmp_path / name), router)
        thread = threading.Thread(target=server.serve_forever, name="test-api-server")
        thread.start()
        running = RunningServer(server, thread)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
    leaked = [t.name for t in threading.enumerate() if t.name in ("pouch-api-conn", "test-api-server")]
    assert not leaked, f"threads left running: {leaked}"
