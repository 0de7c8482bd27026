"""Hostile and absurd API input is a 400 at create, naming the field (issue 12 §3).

Each case used to pass create and fail at start, or answer 500, or show a host path. The
requests go to the Engine API on the daemon's socket, as a client other than pouch's CLI
(which checks some of these itself) would send them.
"""

from __future__ import annotations

import json
import socket

import pytest

from tests.integration.conftest import unique_name


def exchange(d, raw: bytes) -> tuple[int, bytes]:
    """Send ``raw`` (a whole request, ``Connection: close``); the status and body of the answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(d.sock)
    try:
        s.sendall(raw)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), data[:200]
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    return int(head.split()[1]), body


def dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, body = out + body[:size], body[size + 2:]
    return out


def call(d, method: str, path: str, body: bytes | None = None) -> tuple[int, str]:
    head = f"{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    status, payload = exchange(d, head.encode() + b"\r\n" + (body or b""))
    try:
        return status, json.loads(payload)["message"]
    except (ValueError, KeyError, TypeError):
        return status, payload.decode(errors="replace")


def create(d, config: dict) -> tuple[int, str]:
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "none"}}
    for key, value in config.items():
        if key == "HostConfig":
            body["HostConfig"].update(value)
        else:
            body[key] = value
    return call(d, "POST", f"/containers/create?name={unique_name('hostile')}", json.dumps(body).encode())


@pytest.mark.parametrize("config, field", [
    ({"HostConfig": {"CapAdd": ["CAP_NOT_A_THING"]}}, "CapAdd"),
    ({"HostConfig": {"CapDrop": ["NOPE"]}}, "CapDrop"),
    ({"HostConfig": {"SecurityOpt": ["seccomp=/no/such/profile.json"]}}, "seccomp"),
    ({"Env": ["A=b\0c"]}, "Env"),
    ({"Cmd": ["echo", "a\0b"]}, "Cmd"),
    ({"Entrypoint": ["/bin/\0sh"]}, "Entrypoint"),
    ({"WorkingDir": "/tmp/\0x"}, "WorkingDir"),
    ({"Hostname": "a\0b"}, "Hostname"),
    ({"User": "root\0"}, "User"),
    ({"Labels": {"k": "v\0"}}, "Labels"),
    ({"HostConfig": {"Binds": ["/tmp:/mnt\0x"]}}, "Binds"),
    ({"HostConfig": {"Dns": ["1.1.1.1\0"]}}, "Dns"),
])
def test_create_refuses_with_a_400_naming_the_field(daemon, config, field):
    status, message = create(daemon, config)
    assert status == 400, message
    assert field in message


def test_memory_beyond_int64_is_a_400(daemon):
    body = (b'{"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "none", '
            b'"Memory": 9223372036854775808}}')
    status, message = call(daemon, "POST", f"/containers/create?name={unique_name('hostile')}", body)
    assert status == 400, message
    assert "Memory" in message


def test_a_nul_in_the_name_is_a_400(daemon):
    status, message = call(daemon, "POST", "/containers/create?name=a%00b",
                           json.dumps({"Image": "busybox", "Cmd": ["true"]}).encode())
    assert status == 400, message


@pytest.mark.parametrize("path", [
    "/containers/json", "/images/json", "/networks", "/volumes", "/containers/prune", "/images/prune",
    "/networks/prune", "/volumes/prune", "/events?until=1",
])
def test_an_unknown_filter_key_is_a_400(daemon, path):
    method = "POST" if path.endswith("/prune") else "GET"
    sep = "&" if "?" in path else "?"
    status, message = call(daemon, method, f"{path}{sep}filters=" + '{"nosuchkey":["x"]}'.replace('"', "%22"))
    assert status == 400 and message.startswith("invalid filter 'nosuchkey'"), message


def test_a_deeply_nested_json_body_is_a_400(daemon):
    status, message = call(daemon, "POST", "/containers/create", b"[" * 100_000 + b"]" * 100_000)
    assert status == 400, message


def test_a_malformed_chunked_body_gets_a_400(daemon):
    raw = (b"POST /containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
    status, body = exchange(daemon, raw)
    assert status == 400, body


def test_an_error_never_shows_a_host_path(daemon):
    """It used to say "File name too long: '<--root>/volumes/aaa...'"."""
    status, message = call(daemon, "POST", "/volumes/create", json.dumps({"Name": "a" * 300}).encode())
    assert status >= 400
    assert daemon.root not in message and daemon.base not in message, message
    assert "too long" in message.lower(), message
