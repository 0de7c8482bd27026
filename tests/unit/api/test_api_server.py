"""The API server over a real unix socket: routing, versions, errors, bodies, streams, hijack."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import stat
import threading
import time

import pytest

from pouch import API_VERSION, __version__
from pouch.api.server import (
    Hijack,
    Request,
    Response,
    Router,
    Server,
    empty_response,
    json_response,
    stream_response,
)
from pouch.errors import Conflict, InvalidArgument, PouchError

# --- helpers -------------------------------------------------------------------------------


def read_head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case) and whatever followed the head."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(4096)
        assert data, f"connection closed before the end of the head: {buf!r}"
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


def read_exactly(sock: socket.socket, n: int, buf: bytes = b"") -> bytes:
    while len(buf) < n:
        data = sock.recv(n - len(buf))
        assert data, "connection closed early"
        buf += data
    return buf


def read_chunk(sock: socket.socket, buf: bytes) -> tuple[bytes, bytes]:
    """One chunk of a chunked body: (payload, rest). b"" payload is the last chunk."""
    while b"\r\n" not in buf:
        data = sock.recv(4096)
        assert data, "connection closed inside a chunk header"
        buf += data
    size_line, _, buf = buf.partition(b"\r\n")
    size = int(size_line, 16)
    buf = read_exactly(sock, size + 2, buf)
    return buf[:size], buf[size + 2 :]


def request_bytes(method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: docker"]
    hdrs = dict(headers or {})
    if body and "Transfer-Encoding" not in hdrs:
        hdrs["Content-Length"] = str(len(body))
    lines += [f"{k}: {v}" for k, v in hdrs.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def get_json(running, method: str, target: str, body: bytes | None = None, headers: dict | None = None):
    conn = running.http()
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), data
    finally:
        conn.close()


def basic_router() -> Router:
    router = Router()
    router.add("GET", "/_ping", lambda req: Response(200, [("Content-Type", "text/plain")], b"OK"))
    router.add("HEAD", "/_ping", lambda req: Response(200, [("Content-Type", "text/plain")], b"OK"))
    router.add("GET", "/echo/{id}/json", lambda req: json_response({"params": req.params, "path": req.path,
                                                                     "version": req.api_version}))
    router.add("GET", "/images/{name:path}/json", lambda req: json_response({"image": req.params["name"], "op": "json"}))
    router.add("DELETE", "/images/{name:path}", lambda req: json_response({"image": req.params["name"], "op": "rm"}))
    router.add("GET", "/images/{name:path}", lambda req: json_response({"image": req.params["name"], "op": "get"}))
    router.add("POST", "/containers/{id}/stop", lambda req: empty_response())
    return router


# --- versions, routing, errors --------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "/v1.24", "/v1.41", "/v1.30", "/v1.45"])
def test_version_prefixes_are_stripped(serve, prefix):
    running = serve(basic_router())
    status, headers, body = get_json(running, "GET", f"{prefix}/echo/abc/json")
    assert status == 200
    data = json.loads(body)
    assert data["path"] == "/echo/abc/json"
    assert data["params"] == {"id": "abc"}
    assert data["version"] == (prefix[2:] if prefix else API_VERSION)


def test_every_response_carries_docker_headers(serve):
    running = serve(basic_router())
    for target in ("/_ping", "/nope"):
        _, headers, _ = get_json(running, "GET", target)
        assert headers["api-version"] == API_VERSION
        assert headers["docker-experimental"] == "false"
        assert headers["ostype"] == "linux"
        assert headers["server"] == f"Pouch/{__version__}"


def test_too_new_and_too_old_versions_are_rejected(serve):
    running = serve(basic_router())
    status, headers, body = get_json(running, "GET", "/v1.99/_ping")
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": "client version 1.99 is too new. Maximum supported API version is 1.45"}
    status, _, body = get_json(running, "GET", "/v1.12/_ping")
    assert status == 400
    assert json.loads(body)["message"].startswith("client version 1.12 is too old. Minimum supported API version is 1.24")


def test_unknown_route_is_404_and_wrong_method_405(serve):
    running = serve(basic_router())
    status, _, body = get_json(running, "GET", "/v1.41/containers/abc/nothing")
    assert (status, json.loads(body)) == (404, {"message": "page not found"})
    status, headers, body = get_json(running, "GET", "/containers/abc/stop")
    assert status == 405
    assert headers["allow"] == "POST"
    assert "message" in json.loads(body)


def test_path_params_with_slashes_and_specificity(serve):
    running = serve(basic_router())
    _, _, body = get_json(running, "GET", "/images/localhost:5000/a/b:tag/json")
    assert json.loads(body) == {"image": "localhost:5000/a/b:tag", "op": "json"}
    _, _, body = get_json(running, "DELETE", "/v1.41/images/localhost:5000/a/b:tag")
    assert json.loads(body) == {"image": "localhost:5000/a/b:tag", "op": "rm"}
    _, _, body = get_json(running, "GET", "/images/a%2Fb%3Atag")  # docker-py style quoting
    assert json.loads(body) == {"image": "a/b:tag", "op": "get"}
    # {id} does not match across slashes
    status, _, _ = get_json(running, "GET", "/echo/a/b/json")
    assert status == 404


def test_pouch_error_and_unexpected_error(serve, caplog):
    router = Router()

    def conflict(req):
        raise Conflict("container abc is running")

    def boom(req):
        raise RuntimeError("disk on fire")

    class Teapot(PouchError):
        status = 418

    def teapot(req):
        raise Teapot("short and stout")

    router.add("POST", "/conflict", conflict)
    router.add("POST", "/boom", boom)
    router.add("POST", "/teapot", teapot)
    running = serve(router)
    status, headers, body = get_json(running, "POST", "/conflict")
    assert (status, json.loads(body)) == (409, {"message": "container abc is running"})
    assert headers["content-type"] == "application/json"
    status, _, body = get_json(running, "POST", "/teapot")
    assert (status, json.loads(body)) == (418, {"message": "short and stout"})
    with caplog.at_level(logging.ERROR, logger="pouch.api.server"):
        status, _, body = get_json(running, "POST", "/boom")
    assert (status, json.loads(body)) == (500, {"message": "disk on fire"})
    assert any(r.exc_info and "disk on fire" in str(r.exc_info[1]) for r in caplog.records)


def test_head_has_headers_but_no_body(serve):
    running = serve(basic_router())
    sock = running.raw()
    try:
        sock.sendall(request_bytes("HEAD", "/_ping") + request_bytes("GET", "/_ping"))
        data = b""
        while not data.endswith(b"OK"):
            chunk = sock.recv(4096)
            assert chunk
            data += chunk
    finally:
        sock.close()
    head_response, _, get_response = data.partition(b"\r\n\r\n")
    assert head_response.startswith(b"HTTP/1.1 200")
    assert b"Content-Length: 2" in head_response
    assert f"Api-Version: {API_VERSION}".encode() in head_response
    # Right after the HEAD's head comes the GET's response: the HEAD had no body.
    assert get_response.startswith(b"HTTP/1.1 200")
    assert get_response.endswith(b"\r\n\r\nOK")


def test_head_falls_back_to_get_handler(serve):
    router = Router()
    router.add("GET", "/version", lambda req: json_response({"ApiVersion": "1.41"}))
    running = serve(router)
    conn = running.http()
    try:
        conn.request("HEAD", "/version")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.read() == b""
        assert int(resp.getheader("Content-Length")) > 0
    finally:
        conn.close()


def test_query_helpers(serve):
    seen = {}

    def handler(req: Request) -> Response:
        seen["all"] = req.query_bool("all")
        seen["size"] = req.query_bool("size", default=True)
        seen["limit"] = req.query_int("limit")
        seen["filters"] = req.query_json("filters", {})
        seen["name"] = req.query_str("name", "x")
        return json_response({})

    router = Router()
    router.add("GET", "/containers/json", handler)
    router.add("GET", "/bad", lambda req: json_response(req.query_int("n")))
    running = serve(router)
    filters = "%7B%22status%22%3A%5B%22running%22%5D%7D"
    status, _, _ = get_json(running, "GET", f"/containers/json?all=1&limit=3&filters={filters}&name=")
    assert status == 200
    assert seen == {"all": True, "size": True, "limit": 3, "filters": {"status": ["running"]}, "name": ""}
    status, _, body = get_json(running, "GET", "/bad?n=x")
    assert status == 400 and "'n'" in json.loads(body)["message"]
    for value, expected in (("True", True), ("true", True), ("1", True), ("yes", True),
                            ("0", False), ("False", False), ("false", False), ("", False), ("no", False)):
        seen.clear()
        get_json(running, "GET", f"/containers/json?all={value}")
        assert seen["all"] is expected


def test_json_body_empty_and_invalid(serve):
    router = Router()
    router.add("POST", "/create", lambda req: json_response({"got": req.json()}))
    running = serve(router)
    status, _, body = get_json(running, "POST", "/create", body=b"")
    assert (status, json.loads(body)) == (200, {"got": {}})
    status, _, body = get_json(running, "POST", "/create", body=b'{"Image": "busybox"}',
                               headers={"Content-Type": "application/json"})
    assert json.loads(body) == {"got": {"Image": "busybox"}}
    status, _, body = get_json(running, "POST", "/create", body=b"{nope")
    assert status == 400
    assert "invalid JSON" in json.loads(body)["message"]


# --- request bodies -----------------------------------------------------------------------


def test_chunked_request_body_is_streamed(serve):
    """The handler sees the first chunk before the client has sent the rest."""
    first_read = threading.Event()
    result = {}

    def load(req: Request) -> Response:
        stream = req.stream()
        digest = hashlib.sha256()
        total = 0
        sizes = []
        while chunk := stream.read(10_000):
            if not first_read.is_set():
                first_read.set()
            sizes.append(len(chunk))
            digest.update(chunk)
            total += len(chunk)
        result["max_read"] = max(sizes)
        return json_response({"total": total, "sha256": digest.hexdigest()})

    router = Router()
    router.add("POST", "/images/load", load)
    running = serve(router)
    payload = os.urandom(300_000)
    sock = running.raw()
    try:
        sock.sendall(request_bytes("POST", "/v1.41/images/load",
                                   {"Transfer-Encoding": "chunked", "Content-Type": "application/x-tar"}))
        first, rest = payload[:50_000], payload[50_000:]
        sock.sendall(b"%x\r\n" % len(first) + first + b"\r\n")
        assert first_read.wait(5), "handler did not get the first chunk before the body ended"
        for i in range(0, len(rest), 65_536):
            piece = rest[i : i + 65_536]
            sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        status, headers, rest_bytes = read_head(sock)
        body = read_exactly(sock, int(headers["content-length"]), rest_bytes)
    finally:
        sock.close()
    assert status == 200
    assert json.loads(body) == {"total": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    assert result["max_read"] <= 10_000


def test_content_length_body_and_expect_100_continue(serve):
    router = Router()
    router.add("POST", "/upload", lambda req: json_response({"n": len(req.body())}))
    running = serve(router)
    sock = running.raw()
    try:
        sock.sendall(request_bytes("POST", "/upload", {"Content-Length": "5", "Expect": "100-continue"}))
        status, _, rest = read_head(sock)
        assert status == 100
        sock.sendall(b"hello")
        status, headers, rest = read_head(sock) if not rest else read_head_from(sock, rest)
        assert status == 200
        assert json.loads(read_exactly(sock, int(headers["content-length"]), rest)) == {"n": 5}
    finally:
        sock.close()


def read_head_from(sock, buf):
    class Prefixed:
        def __init__(self):
            self.buf = buf

        def recv(self, n):
            if self.buf:
                out, self.buf = self.buf, b""
                return out
            return sock.recv(n)

    return read_head(Prefixed())


def test_unread_body_is_skipped_and_connection_reused(serve):
    router = basic_router()
    running = serve(router)
    conn = running.http()
    try:
        conn.request("POST", "/containers/abc/stop", body=b"x" * 1000)
        resp = conn.getresponse()
        assert resp.status == 204
        resp.read()
        conn.request("GET", "/_ping")
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"OK")
    finally:
        conn.close()


def test_keep_alive_two_requests_one_connection(serve):
    accepted = []
    router = Router()
    router.add("GET", "/who", lambda req: json_response({"n": len(accepted)}))
    running = serve(router)
    conn = running.http()
    try:
        conn.request("GET", "/who")
        r1 = conn.getresponse()
        r1.read()
        sock1 = conn.sock
        conn.request("GET", "/v1.41/who")
        r2 = conn.getresponse()
        r2.read()
        assert conn.sock is sock1  # http.client did not need to reconnect
        assert r1.status == r2.status == 200
    finally:
        conn.close()


def test_pipelined_requests_on_one_connection(serve):
    running = serve(basic_router())
    sock = running.raw()
    try:
        sock.sendall(request_bytes("GET", "/_ping") + request_bytes("GET", "/v1.40/_ping"))
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"OK") < 2 and time.monotonic() < deadline:
            data += sock.recv(4096)
        assert data.count(b"HTTP/1.1 200") == 2
    finally:
        sock.close()


def test_half_closed_client_still_gets_its_response(serve):
    running = serve(basic_router())
    sock = running.raw()
    try:
        sock.sendall(request_bytes("GET", "/_ping"))
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        assert data.startswith(b"HTTP/1.1 200")
        assert data.endswith(b"OK")
    finally:
        sock.close()


# --- streamed responses -------------------------------------------------------------------


class BlockingChunks:
    """An iterable that records when it is first advanced and waits for permission."""

    def __init__(self) -> None:
        self.advanced = threading.Event()
        self.go = threading.Event()
        self.closed = threading.Event()
        self.sent = 0

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        self.advanced.set()
        if not self.go.wait(5):
            raise StopIteration
        self.sent += 1
        if self.sent > 2:
            raise StopIteration
        return b'{"StatusCode":0}\n'

    def close(self) -> None:
        self.closed.set()


def test_stream_response_head_is_flushed_before_the_first_chunk(serve):
    chunks = BlockingChunks()
    router = Router()
    router.add("POST", "/containers/{id}/wait", lambda req: stream_response(chunks))
    running = serve(router)
    sock = running.raw()
    try:
        sock.sendall(request_bytes("POST", "/v1.41/containers/abc/wait"))
        status, headers, rest = read_head(sock)  # arrives while the iterable is blocked
        assert status == 200
        assert headers["transfer-encoding"] == "chunked"
        assert headers["content-type"] == "application/json"
        assert not chunks.go.is_set()
        chunks.go.set()
        payload, rest = read_chunk(sock, rest)
        assert payload == b'{"StatusCode":0}\n'
        payload, rest = read_chunk(sock, rest)
        assert payload == b'{"StatusCode":0}\n'
        payload, rest = read_chunk(sock, rest)
        assert payload == b""
        assert chunks.closed.wait(5)
    finally:
        sock.close()


def test_stream_generator_is_closed_when_client_disconnects(serve):
    closed = threading.Event()
    started = threading.Event()

    def endless():
        try:
            started.set()
            while True:
                yield b"x" * 1024
                time.sleep(0.01)
        finally:
            closed.set()

    router = Router()
    router.add("GET", "/logs", lambda req: stream_response(endless(), "application/octet-stream"))
    running = serve(router)
    sock = running.raw()
    sock.sendall(request_bytes("GET", "/logs?follow=1"))
    status, _, _ = read_head(sock)
    assert status == 200
    assert started.wait(5)
    sock.close()
    assert closed.wait(5), "generator was not closed after the client went away"


def test_request_disconnected_sees_full_close(serve):
    seen = threading.Event()
    result = {}

    def wait(req: Request):
        def gen():
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if req.disconnected():
                    result["gone"] = True
                    seen.set()
                    return
                time.sleep(0.01)
            yield b"{}"

        return stream_response(_lazy(gen))

    router = Router()
    router.add("POST", "/wait", wait)
    running = serve(router)
    sock = running.raw()
    sock.sendall(request_bytes("POST", "/wait"))
    read_head(sock)
    sock.close()
    assert seen.wait(5)
    assert result == {"gone": True}


def _lazy(gen_fn):
    """A generator that yields nothing until ``gen_fn``'s generator does (starts on first next)."""
    yield from gen_fn()


# --- hijack ---------------------------------------------------------------------------------


def echo_hijack(req: Request) -> Response:
    def handler(sock: socket.socket, leftover: bytes) -> None:
        if leftover:
            sock.sendall(b"leftover:" + leftover)
        while data := sock.recv(4096):
            sock.sendall(data)

    tty = req.query_bool("tty")
    ctype = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
    return Hijack(handler=handler, content_type=ctype)


def test_hijack_upgrade_101_and_echo(serve):
    router = Router()
    router.add("POST", "/containers/{id}/attach", echo_hijack)
    running = serve(router)
    sock = running.raw()
    try:
        sock.sendall(
            request_bytes("POST", "/v1.41/containers/abc/attach?stream=1&stdin=1&tty=1",
                          {"Connection": "Upgrade", "Upgrade": "tcp", "Content-Length": "0"})
            + b"early"
        )
        status, headers, rest = read_head(sock)
        assert status == 101
        assert headers["content-type"] == "application/vnd.docker.raw-stream"
        assert headers["connection"].lower() == "upgrade"
        assert headers["upgrade"] == "tcp"
        assert headers["api-version"] == API_VERSION
        assert read_exactly(sock, len(b"leftover:early"), rest) == b"leftover:early"
        sock.sendall(b"ping\n")
        assert read_exactly(sock, 5) == b"ping\n"
        sock.shutdown(socket.SHUT_WR)  # stdin closed: the handler returns, the server closes
        assert sock.recv(10) == b""
    finally:
        sock.close()


def test_hijack_without_upgrade_answers_200_raw(serve):
    router = Router()
    router.add("POST", "/exec/{id}/start", echo_hijack)
    running = serve(router)
    sock = running.raw()
    try:
        body = b'{"Detach": false, "Tty": false}'
        sock.sendall(request_bytes("POST", "/exec/e1/start", {"Content-Type": "application/json"}, body))
        status, headers, rest = read_head(sock)
        assert status == 200
        assert headers["content-type"] == "application/vnd.docker.multiplexed-stream"
        assert "content-length" not in headers and "transfer-encoding" not in headers
        assert rest == b""
        sock.sendall(b"abc")
        assert read_exactly(sock, 3) == b"abc"
    finally:
        sock.close()


def test_hijack_handler_may_fail_before_hijacking(serve):
    router = Router()

    def attach(req):
        raise InvalidArgument("container abc is not running")

    router.add("POST", "/containers/{id}/attach", attach)
    running = serve(router)
    status, _, body = get_json(running, "POST", "/containers/abc/attach",
                               headers={"Connection": "Upgrade", "Upgrade": "tcp"})
    assert (status, json.loads(body)) == (400, {"message": "container abc is not running"})


# --- the socket file ------------------------------------------------------------------------


def test_socket_mode_and_parent_untouched(serve, tmp_path):
    os.chmod(tmp_path, 0o755)
    running = serve(basic_router())
    st = os.stat(running.path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) == 0o755
    assert sorted(os.listdir(tmp_path)) == ["d.sock"]  # no temporary leftovers
    running.stop()
    assert not os.path.exists(running.path)


def test_stale_socket_is_replaced_but_live_one_is_not(tmp_path):
    path = str(tmp_path / "d.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens
    server = Server(path, basic_router())
    try:
        with pytest.raises(PouchError, match="listening"):
            Server(path, basic_router())
    finally:
        server.shutdown()
    assert not os.path.exists(path)
    (tmp_path / "d.sock").write_text("not a socket")
    with pytest.raises(PouchError, match="not a socket"):
        Server(path, basic_router())


def test_long_socket_path(tmp_path):
    deep = tmp_path / ("x" * 60) / ("y" * 60)
    deep.mkdir(parents=True)
    path = str(deep / "d.sock")
    assert len(path) > 108
    server = Server(path, basic_router())
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        fd = os.open(str(deep), os.O_PATH)
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(5)
            sock.connect(f"/proc/self/fd/{fd}/d.sock")
        finally:
            os.close(fd)
        sock.sendall(request_bytes("GET", "/_ping"))
        status, _, _ = read_head(sock)
        sock.close()
        assert status == 200
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
    finally:
        server.shutdown()
        thread.join(5)
    assert not thread.is_alive()


def test_shutdown_closes_idle_keepalive_connections(serve):
    running = serve(basic_router())
    sock = running.raw()
    sock.sendall(request_bytes("GET", "/_ping"))
    read_head(sock)
    running.stop()
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    sock.close()
    assert data in (b"", b"OK")


def test_docker_py_can_talk_to_it(serve):
    docker = pytest.importorskip("docker")
    router = basic_router()
    router.add("GET", "/version", lambda req: json_response({"ApiVersion": "1.41", "Version": "0.1.0"}))
    running = serve(router)
    client = docker.APIClient(base_url=f"unix://{running.path}", version="1.41", timeout=5)
    try:
        assert client.ping() is True
        assert client.version()["ApiVersion"] == "1.41"
    finally:
        client.close()
