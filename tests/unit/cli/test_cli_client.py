"""pouch.cli.client against a real unix-socket server with canned answers."""

from __future__ import annotations

import io
import socket

import pytest

from pouch.cli.client import APIError, Client, DaemonUnavailable, ProtocolError, build_path, parse_host, quote_name
from pouch.cli.stream import FrameDecoder, encode_frame


def test_build_path_versions_and_encodes():
    assert build_path("/containers/json") == "/v1.41/containers/json"
    url = build_path("/x", {"all": True, "q": False, "n": None, "limit": 3,
                            "filters": {"status": ["running"]}, "changes": ["CMD [\"sh\"]", "ENV A=b c"]})
    assert url == ("/v1.41/x?all=1&q=0&limit=3&filters=%7B%22status%22%3A%5B%22running%22%5D%7D"
                   "&changes=CMD%20%5B%22sh%22%5D&changes=ENV%20A%3Db%20c")
    assert quote_name("busybox:latest") == "busybox:latest"
    assert quote_name("my/app:1 x") == "my%2Fapp:1%20x"


def test_parse_host():
    assert parse_host("unix:///var/run/pouchd.sock") == (socket.AF_UNIX, "/var/run/pouchd.sock")
    assert parse_host("/tmp/s.sock") == (socket.AF_UNIX, "/tmp/s.sock")
    assert parse_host("tcp://127.0.0.1:2375") == (socket.AF_INET, ("127.0.0.1", 2375))
    with pytest.raises(Exception):  # noqa: B017 - any refusal will do, the kind is the CLI's business
        parse_host("ssh://x")


def test_default_host_matches_shared_config():
    from pouch.cli import client, main
    from pouch.config import DEFAULT_HOST

    assert client.DEFAULT_HOST == DEFAULT_HOST == main.DEFAULT_HOST


def test_json_get_with_content_length(daemon):
    daemon.route("GET", "/v1.41/version", {"Version": "0.1.0", "ApiVersion": "1.41"})
    assert Client(daemon.host).get("/version")["ApiVersion"] == "1.41"
    req = daemon.requests[0]
    assert req.target == "/v1.41/version"
    assert req.headers["host"] and req.headers["user-agent"].startswith("pouch-cli/")


def test_post_json_body(daemon, helpers):
    daemon.route("POST", "/v1.41/containers/create", helpers.response(201, {"Id": "abc", "Warnings": []},
                                                                      reason="Created"))
    out = Client(daemon.host).post("/containers/create", {"name": "web"}, {"Image": "busybox"})
    assert out["Id"] == "abc"
    req = daemon.requests[0]
    assert req.query == {"name": "web"}
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {"Image": "busybox"}


def test_chunked_response_and_lines(daemon, helpers):
    daemon.route("POST", "/v1.41/images/load",
                 helpers.chunked(200, [b'{"stream":"Loaded ', b'image: busybox:latest\\n"}\n{"stre',
                                       b'am":"done\\n"}\n'], {"Content-Type": "application/json"}))
    resp = Client(daemon.host).request("POST", "/images/load", body=b"")
    assert resp.chunked
    assert list(resp.iter_json()) == [{"stream": "Loaded image: busybox:latest\n"}, {"stream": "done\n"}]


def test_body_until_close_without_length(daemon):
    daemon.route("GET", "/v1.41/containers/c/logs", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello world")
    assert Client(daemon.host).request("GET", "/containers/c/logs").read() == b"hello world"


def test_204_has_no_body(daemon, helpers):
    daemon.route("POST", "/v1.41/containers/c/start", helpers.response(204, reason="No Content"))
    resp = Client(daemon.host).request("POST", "/containers/c/start")
    assert resp.status == 204 and resp.read() == b""


def test_error_message_is_the_daemons(daemon, helpers):
    daemon.route("GET", "/v1.41/containers/nope/json", helpers.error(404, "No such container: nope"))
    with pytest.raises(APIError) as info:
        Client(daemon.host).get("/containers/nope/json")
    assert info.value.status == 404
    assert info.value.message == "Error response from daemon: No such container: nope"


def test_error_with_plain_text_body(daemon, helpers):
    daemon.route("GET", "/v1.41/info", helpers.response(500, b"boom\n", reason="Internal Server Error"))
    with pytest.raises(APIError, match="boom"):
        Client(daemon.host).get("/info")


def test_chunked_upload_from_file(daemon, helpers):
    daemon.route("POST", "/v1.41/images/create", helpers.response(200, {"status": "sha256:abc"}))
    payload = bytes(range(256)) * 1000
    resp = Client(daemon.host).request("POST", "/images/create", params={"fromSrc": "-"}, body=io.BytesIO(payload))
    assert resp.json() == {"status": "sha256:abc"}
    req = daemon.requests[0]
    assert req.headers["transfer-encoding"] == "chunked"
    assert req.body == payload


def test_chunked_upload_from_iterable(daemon, helpers):
    daemon.route("POST", "/v1.41/images/load", helpers.response(200, {}))
    Client(daemon.host).request("POST", "/images/load", body=iter([b"ab", b"", b"cd"])).read()
    assert daemon.requests[0].body == b"abcd"


def test_daemon_unavailable(tmp_path):
    host = f"unix://{tmp_path}/missing.sock"
    with pytest.raises(DaemonUnavailable) as info:
        Client(host).get("/version")
    assert info.value.message == f"Cannot connect to the Pouch daemon at {host}. Is the pouch daemon running?"


def test_malformed_status_line(daemon):
    daemon.route("GET", "/v1.41/version", b"garbage\r\n\r\n")
    with pytest.raises(ProtocolError):
        Client(daemon.host).get("/version")


def test_send_now_read_later(daemon, helpers):
    """wait is sent before start and read after: the request must be on the wire at send()."""
    import threading

    started = threading.Event()

    def wait_handler(req, conn):
        assert started.wait(5)
        return helpers.response(200, {"StatusCode": 3})

    daemon.route("POST", "/v1.41/containers/c/wait", wait_handler)
    daemon.route("POST", "/v1.41/containers/c/start", lambda req, conn: (started.set(), helpers.response(204))[1])
    client = Client(daemon.host)
    pending = client.send("POST", "/containers/c/wait", params={"condition": "next-exit"})
    client.request("POST", "/containers/c/start").read()
    assert pending.response().json() == {"StatusCode": 3}
    assert daemon.requests[0].query == {"condition": "next-exit"}


def test_hijack_upgrade_bidirectional(daemon):
    def attach(req, conn):
        assert req.headers["connection"].lower() == "upgrade" and req.headers["upgrade"] == "tcp"
        # the first frame rides in the same packet as the 101 headers
        conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                     b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + encode_frame(1, b"hello\n"))
        received = b""
        while True:
            data = conn.recv(1024)
            if not data:
                break  # the client half-closed
            received += data
        conn.sendall(encode_frame(2, b"got:" + received))
        return None

    daemon.route("POST", "/v1.41/containers/c/attach", attach)
    sock, leftover = Client(daemon.host).hijack("/containers/c/attach", params={"stream": True, "stdin": True})
    sock.sendall(b"ping")
    sock.shutdown(socket.SHUT_WR)
    data = leftover
    while chunk := sock.recv(1024):
        data += chunk
    sock.close()
    assert FrameDecoder().feed(data) == [(1, b"hello\n"), (2, b"got:ping")]
    assert daemon.requests[0].query == {"stream": "1", "stdin": "1"}


def test_hijack_refused(daemon, helpers):
    daemon.route("POST", "/v1.41/containers/c/attach", helpers.error(409, "container c is not running"))
    with pytest.raises(APIError, match="is not running"):
        Client(daemon.host).hijack("/containers/c/attach")
