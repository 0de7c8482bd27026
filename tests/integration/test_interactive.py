"""Interactive sessions and small everyday behaviours (issue 13), with the real clients:
kill/stop answer once stopped, diff without Pouch's own mount points, detach keys,
window size of a tty exec, raw tty streams, the attach WebSocket."""

from __future__ import annotations

import http.client
import json
import socket
import time

from tests.integration.conftest import container, needs_docker, unique_name, wait_until


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
