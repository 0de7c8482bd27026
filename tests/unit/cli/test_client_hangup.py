"""A daemon that hangs up mid-request is an error, never a success (issue 12).

A tiny unix-socket server plays a pouchd that dies: it accepts, reads the request head
and part (or all) of the body, and closes. Every verb that streams a body (``import``,
``load``, ``build``, ``cp`` into a container) must exit 1 with one readable line, not 0
(a ``BrokenPipeError`` used to reach ``main``'s stdout handler and become success).
Deterministic: the bodies are far larger than a unix socket's buffers, so the client is
still sending when the server closes.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from pouch.cli.main import main

BEFORE = "pouch: the daemon closed the connection before answering (is pouchd running? see its log)"
DURING = "pouch: the daemon closed the connection before the end of its answer (is pouchd running? see its log)"
BIG = 4 << 20  # far more than a unix socket buffers


def _read_head(conn: socket.socket) -> tuple[str, bytes]:
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            return "", b""
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.split(b" ", 1)[0].decode(), rest


def _read_some(conn: socket.socket, rest: bytes, limit: int) -> None:
    got = len(rest)
    while got < limit and (data := conn.recv(65536)):
        got += len(data)


def _read_all(conn: socket.socket, rest: bytes) -> None:
    """The whole chunked body (up to its ``0`` chunk)."""
    tail = rest[-16:]
    while not (rest + tail).endswith(b"0\r\n\r\n"):
        data = conn.recv(65536)
        if not data:
            return
        tail = (tail + data)[-16:]
        rest = b""


Behaviour = Callable[[socket.socket, bytes], None]


def cut_mid_body(conn: socket.socket, rest: bytes) -> None:
    _read_some(conn, rest, 128 * 1024)


def silent_after_body(conn: socket.socket, rest: bytes) -> None:
    _read_all(conn, rest)


def cut_mid_answer(conn: socket.socket, rest: bytes) -> None:
    _read_all(conn, rest)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b'20\r\n{"status":"Loading layer"}\n     \r\n')


def early_error(conn: socket.socket, rest: bytes) -> None:
    body = b'{"message":"invalid tar header"}'
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                 % (len(body), body))


class HangingDaemon:
    """Answers ``HEAD`` (cp's stat of the destination) with a directory; does ``behaviour`` on the rest."""

    def __init__(self, path: str, behaviour: Behaviour) -> None:
        self.host = f"unix://{path}"
        self.behaviour = behaviour
        self.methods: list[str] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        self._sock.listen(8)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                try:
                    method, rest = _read_head(conn)
                    self.methods.append(method)
                    if method == "HEAD":
                        stat = base64.b64encode(json.dumps({"name": "tmp", "mode": 1 << 31}).encode()).decode()
                        conn.sendall(f"HTTP/1.1 200 OK\r\nX-Docker-Container-Path-Stat: {stat}\r\n"
                                     "Content-Length: 0\r\n\r\n".encode())
                    elif method:
                        self.behaviour(conn, rest)
                except OSError:
                    pass

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def hangup(tmp_path) -> Iterator[Callable[[Behaviour], HangingDaemon]]:
    made: list[HangingDaemon] = []

    def make(behaviour: Behaviour) -> HangingDaemon:
        made.append(HangingDaemon(str(tmp_path / "pouchd.sock"), behaviour))
        return made[-1]

    yield make
    for d in made:
        d.close()


@pytest.fixture
def payload(tmp_path) -> dict[str, str]:
    """A big file (import, load), a build context and a directory to cp, each holding BIG bytes."""
    big = tmp_path / "big.tar"
    big.write_bytes(os.urandom(BIG))
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nCOPY data /data\n")
    (context / "data").write_bytes(os.urandom(BIG))
    return {"file": str(big), "context": str(context), "dir": str(context)}


def verbs(p: dict[str, str]) -> dict[str, list[str]]:
    return {
        "import": ["import", p["file"], "hung:up"],
        "load": ["load", "-i", p["file"]],
        "build": ["build", "-q", "-t", "hung:up", p["context"]],
        "cp": ["cp", p["dir"], "ctr:/tmp"],
    }


def run(host: str, argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(["-H", host, *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("verb", ["import", "load", "build", "cp"])
def test_hangup_mid_upload_is_exit_1_with_a_message(hangup, payload, capsys, verb):
    d = hangup(cut_mid_body)
    code, _, err = run(d.host, verbs(payload)[verb], capsys)
    assert (code, err.strip()) == (1, BEFORE)


@pytest.mark.parametrize("verb", ["import", "load", "build"])
def test_hangup_after_the_body_without_an_answer(hangup, payload, capsys, verb):
    d = hangup(silent_after_body)
    code, _, err = run(d.host, verbs(payload)[verb], capsys)
    assert (code, err.strip()) == (1, BEFORE)


@pytest.mark.parametrize("verb", ["import", "load", "build"])
def test_hangup_in_the_middle_of_the_answer(hangup, payload, capsys, verb):
    d = hangup(cut_mid_answer)
    code, _, err = run(d.host, verbs(payload)[verb], capsys)
    assert code == 1
    assert err.strip().splitlines()[-1] == DURING


@pytest.mark.parametrize("verb", ["import", "load", "build", "cp"])
def test_an_answer_sent_before_the_body_was_read_is_shown(hangup, payload, capsys, verb):
    """A daemon that refuses early and closes: its message, not a broken pipe."""
    d = hangup(early_error)
    code, _, err = run(d.host, verbs(payload)[verb], capsys)
    assert (code, err.strip()) == (1, "Error response from daemon: invalid tar header")
