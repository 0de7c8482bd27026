"""pouchd can die: containers keep running under conmon and the state survives."""

from __future__ import annotations

import json

from tests.integration.conftest import process_gone, wait_until


def state(d, name):
    return json.loads(d.cli("inspect", name).stdout)[0]["State"]


def test_kill9_daemon_and_recover(fresh_daemon):
    d = fresh_daemon
    d.cli("run", "-d", "--name", "survivor", "busybox", "sh", "-c", "echo alive; sleep 1000")
    d.cli("run", "-d", "--name", "quitter", "busybox", "sh", "-c", "sleep 1; exit 17")
    d.cli("create", "--name", "idle", "busybox", "true")
    pid = state(d, "survivor")["Pid"]
    quitter_pid = state(d, "quitter")["Pid"]
    d.kill9()
    wait_until(lambda: process_gone(quitter_pid), what="quitter to exit while the daemon is down")
    d.start()
    listing = d.cli("ps", "-a").stdout
    for name in ("survivor", "quitter", "idle"):
        assert name in listing
    survivor = state(d, "survivor")
    assert survivor["Status"] == "running" and survivor["Pid"] == pid
    # its conmon may still be writing the exit code when pouchd comes back: then it is watched, and settled soon
    quitter = wait_until(lambda: (s := state(d, "quitter"))["Status"] == "exited" and s, what="quitter recorded exited")
    assert quitter["Status"] == "exited" and quitter["ExitCode"] == 17
    assert state(d, "idle")["Status"] == "created"
    assert d.cli("exec", "survivor", "echo", "still here").stdout == "still here\n"
    assert d.cli("logs", "survivor").stdout == "alive\n"
    d.cli("stop", "-t", "1", "survivor")
    assert state(d, "survivor")["Status"] == "exited"
