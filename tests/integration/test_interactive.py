"""Interactive sessions and small everyday behaviours (issue 13), with the real clients:
kill/stop answer once stopped, diff without Pouch's own mount points, detach keys,
window size of a tty exec, raw tty streams, the attach WebSocket."""

from __future__ import annotations

import http.client
import json
import os
import select
import socket
import subprocess
import termios
import time

import pytest

from tests.integration.conftest import POUCH, container, needs_docker, unique_name, wait_until


def _api(daemon, method: str, path: str, body: object = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("localhost", timeout=60)
    conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.sock.settimeout(60)
    conn.sock.connect(daemon.sock)
    try:
        payload = json.dumps(body) if body is not None else None
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"} if payload else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# ------------------------------------------------------------------ kill / stop
def _status(daemon, name: str) -> str:
    return daemon.inspect(name)["State"]["Status"]


def test_cli_kill_answers_once_stopped_and_rm_works(daemon):
    name = unique_name("kill")
    with container(daemon, "busybox", "sleep", "1000", name=name):
        daemon.cli("kill", name)
        assert _status(daemon, name) == "exited"
        daemon.cli("rm", name)  # no -f: it is stopped


def test_api_kill_answers_once_stopped(daemon):
    for _ in range(3):  # the race was seen only now and then
        name = unique_name("akill")
        with container(daemon, "busybox", "sleep", "1000", name=name):
            status, body = _api(daemon, "POST", f"/containers/{name}/kill")
            assert status == 204, body
            state = json.loads(_api(daemon, "GET", f"/containers/{name}/json")[1])["State"]
            assert (state["Status"], state["Running"]) == ("exited", False)
            assert _api(daemon, "DELETE", f"/containers/{name}")[0] == 204


def test_kill_of_a_paused_container(daemon):
    name = unique_name("pkill")
    with container(daemon, "busybox", "sleep", "1000", name=name):
        daemon.cli("pause", name)
        daemon.cli("kill", name, timeout=30)
        assert _status(daemon, name) == "exited"


@needs_docker
def test_docker_cli_kill_then_rm(daemon):
    for _ in range(3):
        name = unique_name("dkill")
        with container(daemon, "busybox", "sleep", "1000", name=name):
            daemon.docker("kill", name)
            daemon.docker("rm", name)  # no -f


def test_stop_answers_once_stopped(daemon):
    name = unique_name("stop")
    with container(daemon, "busybox", "sleep", "1000", name=name):
        daemon.cli("stop", "-t", "1", name)
        assert _status(daemon, name) == "exited"
        daemon.cli("rm", name)


def test_kill_with_a_handled_signal_returns_once_delivered(daemon):
    """As dockerd: only SIGKILL waits for the exit; a signal the process handles is delivered and kill returns."""
    name = unique_name("hup")
    script = "trap 'echo got-hup' HUP; echo ready; while true; do sleep 0.1; done"
    with container(daemon, "busybox", "sh", "-c", script, name=name):
        wait_until(lambda: "ready" in daemon.cli("logs", name).stdout, what="the trap is set")
        started = time.monotonic()
        daemon.cli("kill", "-s", "HUP", name, timeout=20)
        assert time.monotonic() - started < 10
        wait_until(lambda: "got-hup" in daemon.cli("logs", name).stdout, what="the trap ran")
        assert _status(daemon, name) == "running"


# ------------------------------------------------------------------ diff
def test_diff_of_a_fresh_container_is_empty(daemon):
    name = unique_name("diff")
    with container(daemon, "busybox", "sleep", "1000", name=name):
        assert daemon.cli("diff", name).stdout == ""
        daemon.cli("exec", name, "touch", "/tmp/made")
        assert daemon.cli("diff", name).stdout.split("\n")[:2] == ["C /tmp", "A /tmp/made"]


@needs_docker
def test_docker_cli_diff_of_a_fresh_container_is_empty(daemon):
    name = unique_name("ddiff")
    with container(daemon, "busybox", "sleep", "1000", name=name):
        assert daemon.docker("diff", name).stdout == ""


# ------------------------------------------------------------------ a client on a terminal
class Terminal:
    """A client process on a pty of a known size: ``expect`` its output, ``send`` keys."""

    def __init__(self, argv: list[str], env: dict[str, str], rows: int = 24, cols: int = 80) -> None:
        self.master, slave = os.openpty()
        termios.tcsetwinsize(slave, (rows, cols))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.seen = b""

    def expect(self, wanted: bytes, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while wanted not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{wanted!r} not in {self.seen!r}"
            if select.select([self.master], [], [], left)[0]:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:  # the client exited and the pty is gone
                    assert wanted in self.seen, f"{wanted!r} not in {self.seen!r}"

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait(self, timeout: float = 20) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def _answer(term: Terminal) -> None:
    """A command whose answer (42) is not in its echo: the shell is there and reads the input."""
    term.send(b"echo $((6*7))\r")
    term.expect(b"42")


def _pouch_on_terminal(daemon, *args: str, env: dict[str, str] | None = None, **size: int) -> Terminal:
    return Terminal([POUCH, *args], dict(daemon.env, **(env or {})), **size)


def test_run_it_detaches_with_ctrl_p_ctrl_q(daemon, tmp_path):
    name = unique_name("detach")
    term = _pouch_on_terminal(daemon, "run", "-it", "--name", name, "busybox", "sh",
                              env={"POUCH_CONFIG": str(tmp_path)})
    try:
        _answer(term)
        term.send(b"\x10\x11")
        assert term.wait() == 0
    finally:
        term.close()
        try:
            assert _status(daemon, name) == "running"
        finally:
            daemon.cli("rm", "-f", name, check=False)


def test_attach_with_detach_keys_flag(daemon):
    name = unique_name("dkeys")
    with container(daemon, "-it", "busybox", "sh", name=name):
        term = _pouch_on_terminal(daemon, "attach", "--detach-keys", "ctrl-x,x", name)
        try:
            _answer(term)
            term.send(b"\x10\x11")  # not this session's keys: they go to the shell
            _answer(term)
            term.send(b"\x18x")
            term.expect(b"read escape sequence")
            assert term.wait() == 1
        finally:
            term.close()
        assert _status(daemon, name) == "running"
        term = _pouch_on_terminal(daemon, "attach", name)  # the shell is still there, and reads its input
        try:
            _answer(term)
            term.send(b"\x10\x11")
            term.expect(b"read escape sequence")
            assert term.wait() == 1
        finally:
            term.close()


def test_exec_it_detach_keys_from_the_client_config(daemon, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"detachKeys": "ctrl-e,e"}))
    name = unique_name("dexec")
    with container(daemon, "busybox", "sleep", "1000", name=name):
        term = _pouch_on_terminal(daemon, "exec", "-it", name, "sh", env={"POUCH_CONFIG": str(tmp_path)})
        try:
            _answer(term)
            term.send(b"\x05e")
            term.expect(b"read escape sequence")
            assert term.wait() == 1
        finally:
            term.close()
        assert _status(daemon, name) == "running"
        assert "sh" in daemon.cli("top", name).stdout  # the exec'd shell runs on


def test_invalid_detach_keys_are_refused(daemon):
    result = daemon.cli("run", "--rm", "--detach-keys", "ctrl-1", "busybox", "true", check=False)
    assert result.returncode != 0 and "Invalid detach keys" in result.stderr


@needs_docker
def test_docker_cli_attach_detaches(daemon):
    name = unique_name("ddet")
    with container(daemon, "-it", "busybox", "sh", name=name):
        env = dict(os.environ, DOCKER_HOST=daemon.host, DOCKER_CONFIG=os.path.join(daemon.base, "docker"))
        term = Terminal(["docker", "attach", name], env)
        try:
            _answer(term)
            term.send(b"\x10\x11")
            term.expect(b"read escape sequence")  # docker's CLI says so, and exits 1
            assert term.wait() == 1
        finally:
            term.close()
        assert _status(daemon, name) == "running"


# ------------------------------------------------------------------ window size, raw tty streams
def test_tty_exec_starts_with_the_client_window_size(daemon):
    name = unique_name("winsz")
    with container(daemon, "busybox", "sleep", "1000", name=name):
        term = _pouch_on_terminal(daemon, "exec", "-it", name, "stty", "size", rows=33, cols=101)
        try:
            term.expect(b"33 101")
            assert term.wait() == 0
        finally:
            term.close()


@needs_docker
def test_docker_cli_tty_exec_starts_with_the_client_window_size(daemon):
    name = unique_name("dwinsz")
    with container(daemon, "busybox", "sleep", "1000", name=name):
        env = dict(os.environ, DOCKER_HOST=daemon.host, DOCKER_CONFIG=os.path.join(daemon.base, "docker"))
        term = Terminal(["docker", "exec", "-it", name, "stty", "size"], env, rows=29, cols=77)
        try:
            term.expect(b"29 77")
            assert term.wait() == 0
        finally:
            term.close()


def _hijack(daemon, path: str, body: object = None) -> tuple[socket.socket, bytes, bytes]:
    """POST ``path`` with an upgrade to tcp; the socket, the answer's head and what came after it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(20)
    sock.connect(daemon.sock)
    payload = json.dumps(body).encode() if body is not None else b""
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return sock, head, rest


def _read_until(sock: socket.socket, data: bytes, wanted: bytes) -> bytes:
    while wanted not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    return data


def test_tty_exec_output_is_raw_for_docker_py(daemon):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=daemon.host, version="1.45")
    name = unique_name("dpytty")
    try:
        with container(daemon, "busybox", "sleep", "1000", name=name):
            code, output = client.containers.get(name).exec_run(["sh", "-c", "printf 'one\\ntwo\\n'"], tty=True)
            assert (code, output) == (0, b"one\r\ntwo\r\n")
            code, output = client.containers.get(name).exec_run(["sh", "-c", "printf 'one\\n'"], tty=False)
            assert (code, output) == (0, b"one\n")
    finally:
        client.close()


def test_tty_attach_and_exec_streams_are_raw(daemon):
    name = unique_name("rawtty")
    with container(daemon, "-it", "busybox", "sh", name=name):
        sock, head, rest = _hijack(daemon, f"/v1.45/containers/{name}/attach?stream=1&stdin=1&stdout=1&stderr=1")
        try:
            assert b"101" in head.split(b"\r\n")[0] and b"raw-stream" in head
            sock.sendall(b"echo $((6*7))\r")
            data = _read_until(sock, rest, b"42\r\n")
            assert data.startswith(b"echo")  # the terminal's echo, no 8-byte frame header in front
        finally:
            sock.close()
        status, body = _api(daemon, "POST", f"/v1.45/containers/{name}/exec",
                            {"Cmd": ["echo", "exec-raw"], "Tty": True, "AttachStdout": True, "AttachStderr": True})
        exec_id = json.loads(body)["Id"]
        sock, head, rest = _hijack(daemon, f"/v1.45/exec/{exec_id}/start", {"Detach": False, "Tty": True})
        try:
            assert b"raw-stream" in head
            assert _read_until(sock, rest, b"exec-raw\r\n") == b"exec-raw\r\n"
        finally:
            sock.close()


# ------------------------------------------------------------------ attach/ws
class WebSocketClient:
    """A wsproto client on the daemon's socket."""

    def __init__(self, daemon, path: str) -> None:
        from wsproto import WSConnection  # noqa: PLC0415 - only these tests use it
        from wsproto.connection import ConnectionType  # noqa: PLC0415 - only these tests use it
        from wsproto.events import Request  # noqa: PLC0415 - only these tests use it

        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(20)
        self.sock.connect(daemon.sock)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(self.ws.send(Request(host="docker", target=path)))
        self.events: list = []
        self.closed = False
        self._read_until(lambda: any(type(e).__name__ in ("AcceptConnection", "RejectConnection") for e in self.events))
        assert type(self.events[0]).__name__ == "AcceptConnection", self.events

    def _read_until(self, done) -> None:
        from wsproto.events import CloseConnection  # noqa: PLC0415 - only these tests use it

        while not done():
            data = self.sock.recv(65536)
            self.ws.receive_data(data or None)
            for event in self.ws.events():
                self.events.append(event)
                if isinstance(event, CloseConnection):
                    self.closed = True
            if not data:
                return

    def output(self) -> bytes:
        return b"".join(bytes(e.data) if not isinstance(e.data, str) else e.data.encode()
                        for e in self.events if type(e).__name__ in ("BytesMessage", "TextMessage"))

    def expect(self, wanted: bytes) -> None:
        self._read_until(lambda: wanted in self.output() or self.closed)
        assert wanted in self.output(), self.output()

    def send_text(self, text: str) -> None:
        from wsproto.events import TextMessage  # noqa: PLC0415 - only these tests use it

        self.sock.sendall(self.ws.send(TextMessage(data=text)))

    def close(self) -> None:
        self.sock.close()


def test_attach_ws_reads_output_and_sends_input(daemon):
    name = unique_name("ws")
    with container(daemon, "-i", "busybox", "sh", "-c", "echo hello-ws; while read line; do echo got-$line; done",
                   name=name):
        ws = WebSocketClient(daemon, f"/v1.45/containers/{name}/attach/ws?logs=1&stream=1&stdin=1&stdout=1&stderr=1")
        try:
            ws.expect(b"hello-ws\n")  # from the log (logs=1), raw: no stdcopy header
            assert ws.output().startswith(b"hello-ws\n")
            ws.send_text("ping\n")
            ws.expect(b"got-ping\n")
        finally:
            ws.close()
        assert _status(daemon, name) == "running"  # the client went away, the container runs on


def test_attach_ws_closes_when_the_container_exits(daemon):
    name = unique_name("wsend")
    with container(daemon, "-i", "busybox", "sh", "-c", "read line; echo bye-$line", name=name):
        ws = WebSocketClient(daemon, f"/containers/{name}/attach/ws?stream=1&stdin=1&stdout=1")
        try:
            ws.send_text("now\n")
            ws.expect(b"bye-now\n")
            ws._read_until(lambda: ws.closed)
            assert ws.closed
        finally:
            ws.close()


# ------------------------------------------------------------------ detach keys, the daemon's side
def _read_to_end(sock: socket.socket, data: bytes) -> bytes:
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_daemon_ends_an_attach_on_the_detach_keys_given(daemon):
    name = unique_name("sdet")
    with container(daemon, "-i", "busybox", "sh", "-c", "while read line; do echo got-$line; done", name=name):
        path = f"/v1.45/containers/{name}/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x,x"
        sock, head, rest = _hijack(daemon, path)
        try:
            sock.sendall(b"one\n")
            rest = _read_until(sock, rest, b"got-one\n")
            sock.sendall(b"two\n\x18x")
            _read_to_end(sock, rest)  # the daemon ends the session (a timeout if it did not)
        finally:
            sock.close()
        assert _status(daemon, name) == "running"  # stdin was not closed: the loop reads on
        sock, head, rest = _hijack(daemon, f"/v1.45/containers/{name}/attach?stream=1&stdin=1&stdout=1")
        try:
            sock.sendall(b"three\n")
            _read_until(sock, rest, b"got-three\n")
        finally:
            sock.close()


def test_daemon_ends_a_tty_exec_on_ctrl_p_ctrl_q(daemon):
    name = unique_name("sdexec")
    with container(daemon, "busybox", "sleep", "1000", name=name):
        status, body = _api(daemon, "POST", f"/v1.45/containers/{name}/exec",
                            {"Cmd": ["sh"], "Tty": True, "AttachStdin": True, "AttachStdout": True})
        exec_id = json.loads(body)["Id"]
        sock, head, rest = _hijack(daemon, f"/v1.45/exec/{exec_id}/start", {"Detach": False, "Tty": True})
        try:
            sock.sendall(b"echo $((6*7))\r")
            rest = _read_until(sock, rest, b"42")
            sock.sendall(b"\x10\x11")
            _read_to_end(sock, rest)
        finally:
            sock.close()
        assert json.loads(_api(daemon, "GET", f"/exec/{exec_id}/json")[1])["Running"] is True


def test_invalid_detach_keys_are_a_400(daemon):
    name = unique_name("badkeys")
    with container(daemon, "busybox", "sleep", "1000", name=name):
        status, body = _api(daemon, "POST", f"/containers/{name}/exec", {"Cmd": ["true"], "DetachKeys": "ctrl-1"})
        assert status == 400 and b"Invalid detach keys" in body
        status, body = _api(daemon, "POST", f"/containers/{name}/attach?stream=1&detachKeys=nope")
        assert status == 400 and b"Invalid detach keys" in body


@needs_docker
def test_docker_cli_run_it_starts_with_the_client_window_size(daemon):
    env = dict(os.environ, DOCKER_HOST=daemon.host, DOCKER_CONFIG=os.path.join(daemon.base, "docker"))
    term = Terminal(["docker", "run", "--rm", "-it", "busybox", "stty", "size"], env, rows=31, cols=89)
    try:
        term.expect(b"31 89")
        assert term.wait() == 0
    finally:
        term.close()
