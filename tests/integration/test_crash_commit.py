"""pouchd killed while ``commit`` holds a container frozen: the restart thaws it (issue 12).

The container's rw layer holds a large file so the commit's tar takes a while; the test
waits for the container's freezer cgroup to say ``FROZEN`` (no sleep), kills pouchd by PID,
and starts it again on the same root. Before the fix the container stayed frozen with
``Paused=false``: exec, pause and unpause all refused.
"""

from __future__ import annotations

import os
import subprocess

from tests.integration.conftest import POUCH, wait_until

MARKER = "paused-by-commit"


def freezer_state(pid: int) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if "freezer" in controllers.split(","):
                with open(f"/sys/fs/cgroup/freezer{path}/freezer.state") as state:
                    return state.read().strip()
    raise AssertionError(f"no freezer cgroup for {pid}")


def test_kill9_while_commit_holds_the_container_frozen(fresh_daemon):
    d = fresh_daemon
    cid = d.cli("run", "-d", "--name", "frozen", "busybox", "sh", "-c",
                "dd if=/dev/zero of=/big bs=1M count=1024 2>/dev/null && touch /ready; sleep 1000").stdout.strip()
    wait_until(lambda: d.cli("exec", "frozen", "test", "-e", "/ready", check=False).returncode == 0, timeout=120,
               what="the 1 GiB file in the rw layer")
    pid = d.inspect("frozen")["State"]["Pid"]
    assert freezer_state(pid) == "THAWED"
    commit = subprocess.Popen([POUCH, "commit", "frozen", "frozen:img"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=d.env)
    try:
        wait_until(lambda: freezer_state(pid) == "FROZEN", timeout=60, interval=0.005, what="commit to freeze it")
        assert os.path.exists(os.path.join(d.root, "containers", cid, MARKER)), "the pause is recorded on disk"
        d.kill9()
        _, err = commit.communicate(timeout=60)
    finally:
        if commit.poll() is None:
            commit.kill()
            commit.wait()
    assert commit.returncode == 1 and b"closed the connection" in err
    assert freezer_state(pid) == "FROZEN"  # nobody thawed it while pouchd was down
    d.start()
    assert freezer_state(pid) == "THAWED"
    state = d.inspect("frozen")["State"]
    assert (state["Status"], state["Paused"], state["Pid"]) == ("running", False, pid)
    assert not os.path.exists(os.path.join(d.root, "containers", cid, MARKER))
    assert d.cli("exec", "frozen", "echo", "thawed").stdout == "thawed\n"
    d.cli("pause", "frozen")
    assert freezer_state(pid) == "FROZEN"
    d.cli("unpause", "frozen")
    assert freezer_state(pid) == "THAWED"
    d.cli("rm", "-f", "frozen")


def test_commit_leaves_no_pause_record(fresh_daemon):
    """The normal path: paused during the commit, resumed, and the record dropped."""
    d = fresh_daemon
    cid = d.cli("run", "-d", "--name", "committed", "busybox", "sh", "-c", "echo x > /x; sleep 1000").stdout.strip()
    pid = d.inspect("committed")["State"]["Pid"]
    d.cli("commit", "committed", "committed:img")
    assert freezer_state(pid) == "THAWED"
    assert not os.path.exists(os.path.join(d.root, "containers", cid, MARKER))
    assert d.cli("exec", "committed", "cat", "/x").stdout == "x\n"
    d.cli("rm", "-f", "committed")
