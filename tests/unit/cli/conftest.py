"""A tiny fake Docker API daemon on a unix socket under tmp_path.

Real sockets, canned answers: each route is ``(method, path-regex) -> handler``;
a handler gets the parsed request and the connection and either returns the
raw response bytes or writes to the connection itself (upgrades, slow bodies).
Every connection is served in its own thread, like a real daemon.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from urllib.parse import parse_qs, urlsplit

import pytest


class FakeRequest:
    def __init__(self, method, target, headers, body):
        self.method = method
        self.target = target
        parts = urlsplit(target)
        self.path = parts.path
        self.query = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body) if self.body else None


def read_request(conn):
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            return None, b""
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()

    def more():
        data = conn.recv(65536)
        if not data:
            raise EOFError
        return data

    body = b""
    if "chunked" in headers.get("transfer-encoding", ""):
        while True:
            while b"\r\n" not in rest:
                rest += more()
            size_line, rest = rest.split(b"\r\n", 1)
            size = int(size_line, 16)
            while len(rest) < size + 2:
                rest += more()
            body += rest[:size]
            rest = rest[size + 2:]
            if size == 0:
                break
    elif "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            rest += more()
        body, rest = rest[:n], rest[n:]
    return FakeRequest(method, target, headers, body), rest


def response(status=200, body=b"", headers=None, reason="OK"):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    head = [f"HTTP/1.1 {status} {reason}"]
    for k, v in (headers or {}).items():
        head.append(f"{k}: {v}")
    if status not in (101, 204, 304):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def chunked(status, pieces, headers=None):
    head = [f"HTTP/1.1 {status} OK", "Transfer-Encoding: chunked"]
    for k, v in (headers or {}).items():
        head.append(f"{k}: {v}")
    out = ("\r\n".join(head) + "\r\n\r\n").encode()
    for piece in pieces:
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    return out + b"0\r\n\r\n"


def error(status, message):
    return response(status, {"message": message}, reason="Error")


class FakeDaemon:
    def __init__(self, path):
        self.path = path
        self.host = f"unix://{path}"
        self.routes = []
        self.requests = []
        self.errors = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(path))
        self._sock.listen(16)
        self._conns = []
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def route(self, method, pattern, handler):
        """``handler``: bytes, a (req, conn) -> bytes|None callable, or a dict/list (JSON 200)."""
        self.routes.insert(0, (method, re.compile(pattern + r"$"), handler))

    def find(self, method, path_suffix):
        return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            seq = len(self._conns)
            threading.Thread(target=self._handle, args=(conn, seq), daemon=True).start()

    def _handle(self, conn, seq):
        try:
            req, rest = read_request(conn)
            if req is None:
                return
            req.leftover = rest
            req.seq = seq  # connection order: what the client sent first comes first
            with self._lock:
                self.requests.append(req)
                self.requests.sort(key=lambda r: r.seq)
            for method, pattern, handler in self.routes:  # noqa: B007 - the route found is used after the loop
                if method == req.method and pattern.match(req.path):
                    break
            else:
                conn.sendall(error(404, f"page not found: {req.method} {req.path}"))
                return
            if isinstance(handler, (dict, list)):
                out = response(200, handler)
            elif isinstance(handler, bytes):
                out = handler
            else:
                out = handler(req, conn)
            if out:
                conn.sendall(out)
        except Exception as e:  # surfaced by the fixture
            self.errors.append(e)
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        self._stop = True
        self._sock.close()
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass


@pytest.fixture
def daemon(tmp_path):
    d = FakeDaemon(tmp_path / "pouchd.sock")
    yield d
    d.close()
    assert not d.errors, d.errors


@pytest.fixture
def helpers():
    class H:
        pass

    h = H()
    h.response = response
    h.chunked = chunked
    h.error = error
    return h
