"""Requests whose client went away give back what they held (issue 12 §2).

A ``POST /containers/{id}/wait`` or an attached exec whose client hung up used to keep its
thread and its fds until the container (the process) exited; an idle keep-alive connection
was kept forever; a ``cp`` upload cut half-way left the files already received in the
container; a large request body left pouchd's memory grown. The daemon here closes a
connection silent for IDLE seconds (``--api-idle-timeout``).
"""

from __future__ import annotations

import io
import json
import os
import socket
import tarfile

import pytest

from tests.integration.conftest import running_daemon, unique_name, wait_until

IDLE = 2
ABANDONED = 20


@pytest.fixture(scope="module")
def d(tmp_path_factory, busybox_tar):
    with running_daemon(str(tmp_path_factory.mktemp("abandon")), busybox_tar,
                        extra_args=("--api-idle-timeout", str(IDLE))) as daemon:
        yield daemon


@pytest.fixture
def sleeper(d):
    name = unique_name("abandon")
    d.cli("run", "-d", "--network", "none", "--name", name, "busybox", "sleep", "600")
    yield d.inspect(name)["Id"]
    d.cli("rm", "-f", name, check=False)


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def connect(d) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(d.sock)
    return s


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: docker\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return head.encode() + b"\r\n" + body


def read_head(s: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        assert chunk, f"connection closed before a response head: {data!r}"
        data += chunk
    return data


def read_until_closed(s: socket.socket) -> bytes:
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data


def test_a_silent_connection_is_closed(d):
    s = connect(d)
    try:
        assert read_until_closed(s) == b""  # never sent anything
    finally:
        s.close()


def test_an_idle_keep_alive_connection_is_closed(d):
    s = connect(d)
    try:
        s.sendall(request("GET", "/_ping"))
        answer = read_until_closed(s)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"OK")
    finally:
        s.close()


def hold_and_drop(d, open_one, fds_kept_each: int = 0) -> None:
    """Open ABANDONED requests with ``open_one()``, see pouchd's threads grow by as many,
    hang up, and see the threads and fds given back (but ``fds_kept_each`` per request)."""
    pid = d.proc.pid
    before_threads, before_fds = threads(pid), fds(pid)
    clients = []
    try:
        for _ in range(ABANDONED):
            clients.append(open_one())
        assert threads(pid) >= before_threads + ABANDONED
    finally:
        for s in clients:
            s.close()
    wait_until(lambda: threads(pid) <= before_threads + 2, timeout=30, what="the abandoned requests' threads to end")
    kept = ABANDONED * fds_kept_each + 2
    wait_until(lambda: fds(pid) <= before_fds + kept, timeout=30,
               what=f"the abandoned requests' fds to be closed (from {before_fds}, {kept} more allowed)")


def test_an_abandoned_wait_lets_its_thread_go(d, sleeper):
    def open_one() -> socket.socket:
        s = connect(d)
        s.sendall(request("POST", f"/containers/{sleeper}/wait"))
        assert read_head(s).startswith(b"HTTP/1.1 200")
        return s

    hold_and_drop(d, open_one)


def test_an_abandoned_log_follow_lets_its_thread_go(d, sleeper):
    def open_one() -> socket.socket:
        s = connect(d)
        s.sendall(request("GET", f"/containers/{sleeper}/logs?follow=1&stdout=1&stderr=1"))
        assert read_head(s).startswith(b"HTTP/1.1 200")
        return s

    hold_and_drop(d, open_one)


def test_an_abandoned_attach_lets_its_thread_go(d, sleeper):
    def open_one() -> socket.socket:
        s = connect(d)
        s.sendall(request("POST", f"/containers/{sleeper}/attach?stream=1&stdout=1&stderr=1",
                          headers={"Connection": "Upgrade", "Upgrade": "tcp"}))
        assert read_head(s).startswith(b"HTTP/1.1 101")
        return s

    hold_and_drop(d, open_one)


@pytest.mark.parametrize("stdin", [False, True])
def test_an_abandoned_attached_exec_lets_its_thread_go(d, sleeper, stdin):
    def open_one() -> socket.socket:
        config = {"Cmd": ["sleep", "600"], "AttachStdout": True, "AttachStderr": True, "AttachStdin": stdin}
        created = d_api_post(d, f"/containers/{sleeper}/exec", config)
        s = connect(d)
        s.sendall(request("POST", f"/exec/{created['Id']}/start", json.dumps({"Detach": False}).encode(),
                          {"Content-Type": "application/json", "Connection": "Upgrade", "Upgrade": "tcp"}))
        assert read_head(s).startswith(b"HTTP/1.1 101")
        return s

    # the process runs on (as with dockerd); its exit is watched: a pidfd and conmon's sync pipe
    hold_and_drop(d, open_one, fds_kept_each=2)
    assert d.cli("exec", sleeper, "echo", "still fine").stdout == "still fine\n"


def d_api_post(d, path: str, body: dict) -> dict:
    s = connect(d)
    try:
        s.sendall(request("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json",
                                                                    "Connection": "close"}))
        answer = read_until_closed(s)
    finally:
        s.close()
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201"), answer[:500]
    return json.loads(payload)


def two_file_tar(big: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, size in (("first", 10), ("second", big)):
            info = tarfile.TarInfo(name)
            info.size = size
            tf.addfile(info, io.BytesIO(b"x" * size))
    return buf.getvalue()


def test_a_cp_upload_cut_half_way_extracts_nothing(d, sleeper):
    d.cli("exec", sleeper, "mkdir", "/upload")
    data = two_file_tar(4 << 20)
    s = connect(d)
    try:
        s.sendall(request("PUT", f"/containers/{sleeper}/archive?path=/upload", data)[: len(data) // 2])
        s.shutdown(socket.SHUT_WR)  # the client is gone half-way through its body
        read_until_closed(s)  # pouchd closes the connection once it has dealt with it
    finally:
        s.close()
    assert d.cli("exec", sleeper, "ls", "-A", "/upload").stdout == ""
    whole = two_file_tar(10)
    s = connect(d)
    try:
        s.sendall(request("PUT", f"/containers/{sleeper}/archive?path=/upload", whole))
        assert read_head(s).startswith(b"HTTP/1.1 200")
    finally:
        s.close()
    assert d.cli("exec", sleeper, "ls", "-A", "/upload").stdout.split() == ["first", "second"]


BIG_BODY = 200 << 20


def send_big_body(d, method: str, path: str, content_type: str, piece: bytes) -> bytes:
    """BIG_BODY bytes of ``piece`` repeated (chunked when ``path`` ends with ``?chunked``)."""
    chunked = path.endswith("?chunked")
    path = path.removesuffix("?chunked")
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {BIG_BODY}"
    s = connect(d)
    try:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: docker\r\n{framing}\r\n"
                  f"Content-Type: {content_type}\r\n\r\n".encode())
        sent = 0
        try:
            while sent < BIG_BODY:
                n = min(len(piece), BIG_BODY - sent)
                s.sendall(b"%x\r\n%s\r\n" % (n, piece[:n]) if chunked else piece[:n])
                sent += n
            if chunked:
                s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused half-way: the answer says why
        return read_head(s).split(b"\r\n", 1)[0]
    finally:
        s.close()


@pytest.mark.parametrize("method, path, content_type, piece", [
    ("POST", "/containers/create", "application/json", b"[" * (1 << 20)),
    ("POST", "/containers/create?chunked", "application/json", b"[" * (1 << 20)),
    ("POST", "/images/load", "application/x-tar", b"\0" * (1 << 20)),
    ("POST", "/build", "application/x-tar", b"\0" * (1 << 20)),
], ids=["create-json", "create-json-chunked", "load", "build"])
def test_a_large_body_leaves_no_memory_behind(d, method, path, content_type, piece):
    pid = d.proc.pid
    before = rss_kb(pid)
    for _ in range(3):
        status = send_big_body(d, method, path, content_type, piece)
        assert status.split()[1].startswith(b"4"), status
    grown_mb = (rss_kb(pid) - before) / 1024
    assert grown_mb < 25, f"pouchd grew by {grown_mb:.0f} MB after three {BIG_BODY >> 20} MB bodies to {path}"


def exec_state(d, exec_id: str) -> dict:
    return d.api("GET", f"/exec/{exec_id}/json")


@pytest.mark.parametrize("detach", [False, True])
def test_the_exit_code_of_an_exec_nobody_waits_for_is_recorded(d, sleeper, detach):
    """Its client hung up (or it was detached): the exit is still collected when it comes."""
    created = d_api_post(d, f"/containers/{sleeper}/exec", {"Cmd": ["sh", "-c", "sleep 1; exit 5"],
                                                           "AttachStdout": not detach})
    s = connect(d)
    try:
        s.sendall(request("POST", f"/exec/{created['Id']}/start", json.dumps({"Detach": detach}).encode(),
                          {"Content-Type": "application/json", "Connection": "Upgrade", "Upgrade": "tcp"}))
        read_head(s)
    finally:
        s.close()
    state = wait_until(lambda: (st := exec_state(d, created["Id"])) and st["ExitCode"] is not None and st,
                       timeout=30, what="the exec's exit code")
    assert (state["Running"], state["ExitCode"]) == (False, 5)
