"""pouchd killed at a chosen step of create, start, stop, rm and network connect (issue 12 §1).

The daemon runs with ``--debug-faults`` and ``POUCH_FAULT=<point>`` (pouch/faults.py): it
SIGKILLs itself when the operation reaches that point. The test checks that it died there
(exit by SIGKILL), starts it again on the same root and asserts what a user relies on: every
record agrees with runc and the kernel, every container can be started and removed, and
nothing is left behind once they are gone (tests/integration/leaks.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable

import pytest

from pouch import faults
from tests.integration.conftest import Daemon, running_daemon, unique_name, wait_until
from tests.integration.leaks import RUNC, find_leaks, ids_on_disk, inconsistencies

LOOP = ["sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.1; done"]  # stops on SIGTERM, as PID 1
IMAGE_AND_LOOP = ["-p", "127.0.0.1::80", "busybox", *LOOP]  # a published port: iptables rules to leak


@pytest.fixture
def faulty(tmp_path, busybox_tar):
    """A daemon of the test's own that honours $POUCH_FAULT."""
    with running_daemon(str(tmp_path), busybox_tar, ("--debug-faults",)) as d:
        yield d


def crash_at(d: Daemon, point: str, operation: Callable[[], object], monkeypatch) -> set[str]:
    """Restart ``d`` armed at ``point``, run ``operation`` (which the daemon dies in), check it
    died of the fault, start it again unarmed; the ids it had on disk when it died."""
    d.stop()
    monkeypatch.setenv(faults.ENV, point)
    d.start()
    monkeypatch.delenv(faults.ENV)
    proc = d.proc
    assert proc is not None
    operation()
    assert proc.wait(60) == -signal.SIGKILL, f"pouchd did not die at {point}:\n{d.read_log()}"
    d.proc = None
    known = ids_on_disk(d)
    d.start()
    return known


def assert_all_startable_and_removable(d: Daemon, known: set[str]) -> None:
    """Consistent now; each container starts (if stopped) and is removed; nothing is left."""
    assert inconsistencies(d) == []
    for cid in d.cli("ps", "-aq", "--no-trunc").stdout.split():
        if d.inspect(cid)["State"]["Status"] not in ("running", "paused"):
            d.cli("start", cid)
        known.add(cid)
    assert inconsistencies(d) == []
    ids = d.cli("ps", "-aq").stdout.split()
    if ids:
        d.cli("rm", "-f", *ids)
    assert d.cli("ps", "-aq").stdout.split() == []
    assert find_leaks(d, known) == []


def start_burst(d: Daemon, count: int) -> list[threading.Thread]:
    threads = [threading.Thread(target=d.cli, args=("run", "-d", "--name", unique_name("burst"), *IMAGE_AND_LOOP),
                                kwargs={"check": False}) for _ in range(count)]
    for t in threads:
        t.start()
    return threads


def run_failing(d: Daemon, *args: str) -> None:
    """A CLI call the daemon dies in: it must not report success."""
    assert d.cli(*args, check=False).returncode != 0


def test_killed_before_a_create_is_recorded(faulty, monkeypatch):
    """A create is all or nothing: cut short, it leaves no container, dir, layer or anonymous volume."""
    d = faulty
    name = unique_name("c")
    known = crash_at(d, "create.before-insert",
                     lambda: run_failing(d, "create", "--name", name, "-v", "/data", "busybox"), monkeypatch)
    assert known, "the create got as far as its container dir and writable layer"
    assert d.cli("ps", "-aq").stdout.split() == []
    assert d.cli("volume", "ls", "-q").stdout.split() == []
    assert find_leaks(d, known) == []
    d.cli("create", "--name", name, *IMAGE_AND_LOOP)  # the name is free
    assert_all_startable_and_removable(d, known)


def test_killed_once_a_create_is_recorded(faulty, monkeypatch):
    """Recorded: the create is done (the client may not have heard), its volume is its own."""
    d = faulty
    name = unique_name("c")
    known = crash_at(d, "create.after-insert",
                     lambda: run_failing(d, "create", "--name", name, "-v", "/data", *IMAGE_AND_LOOP), monkeypatch)
    assert d.inspect(name)["State"]["Status"] == "created"
    volume = d.inspect(name)["Mounts"][0]["Name"]
    assert d.cli("volume", "ls", "-q").stdout.split() == [volume]
    assert not os.listdir(os.path.join(d.root, "pending-removal"))
    d.cli("start", name)
    d.cli("rm", "-f", "-v", name)
    assert d.cli("volume", "ls", "-q").stdout.split() == []
    assert_all_startable_and_removable(d, known)


@pytest.mark.parametrize("point", ["start.after-mount", "start.after-runtime-create"])
def test_killed_before_the_process_runs(faulty, monkeypatch, point):
    """Mounted, or created in runc with its network: undone, the record stays Created, and
    ``start`` works (it said "already exists in the runtime")."""
    d = faulty
    name = unique_name("c")
    d.cli("create", "--name", name, *IMAGE_AND_LOOP)
    known = crash_at(d, point, lambda: run_failing(d, "start", name), monkeypatch)
    assert d.inspect(name)["State"]["Status"] == "created"
    assert inconsistencies(d) == []
    d.cli("start", name)
    assert d.inspect(name)["State"]["Status"] == "running"
    assert_all_startable_and_removable(d, known)


def reboot_while_down(d: Daemon, container_id: str) -> None:
    """What a host reboot does to a container pouchd was starting: its processes die, its
    mounts go, the volatile --exec-root is empty; --root (CNI results, IP leases) stays."""
    with open(os.path.join(d.exec_root, "bundles", container_id, "conmon.pid")) as f:
        conmon = int(f.read())
    subprocess.run([RUNC, "--root", os.path.join(d.exec_root, "runtime", "runc"), "delete", "--force", container_id],
                   check=True)
    wait_until(lambda: not os.path.exists(f"/proc/{conmon}"), timeout=30, what="conmon to exit")
    for mount in (os.path.join(d.exec_root, "netns", container_id), os.path.join(d.root, "containers", container_id,
                                                                                   "rootfs")):
        subprocess.run(["umount", mount], check=True)
    for name in ("bundles", "netns", "exits", "sockets"):
        for entry in os.listdir(os.path.join(d.exec_root, name)):
            path = os.path.join(d.exec_root, name, entry)
            shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)


def test_a_start_cut_short_by_a_reboot_leaves_no_lease(faulty, monkeypatch):
    """Killed once CNI gave the container an address, then the host rebooted: the address and
    the cached CNI result are given back at pouchd's start, before any start or rm."""
    d = faulty
    name = unique_name("c")
    cid = d.cli("create", "--name", name, *IMAGE_AND_LOOP).stdout.strip()
    d.stop()
    monkeypatch.setenv(faults.ENV, "start.after-runtime-create")
    d.start()
    monkeypatch.delenv(faults.ENV)
    proc = d.proc
    assert proc is not None
    run_failing(d, "start", name)
    assert proc.wait(60) == -signal.SIGKILL
    d.proc = None
    reboot_while_down(d, cid)
    d.start()
    assert d.inspect(name)["State"]["Status"] == "created"
    assert find_leaks(d, {cid}) == []
    assert_all_startable_and_removable(d, {cid})


def test_killed_after_the_process_started_is_adopted(faulty, monkeypatch):
    """runc started it, the record still said Created: after the restart it is Running, with
    its pid and address, and stop, start and rm work on it."""
    d = faulty
    name = unique_name("c")
    d.cli("create", "--name", name, *IMAGE_AND_LOOP)
    known = crash_at(d, "start.after-runtime-start", lambda: run_failing(d, "start", name), monkeypatch)
    state = d.inspect(name)["State"]
    assert state["Status"] == "running" and state["Pid"] > 0 and os.path.exists(f"/proc/{state['Pid']}")
    assert d.inspect(name)["NetworkSettings"]["IPAddress"]
    assert d.cli("port", name).stdout.startswith("80/tcp -> 127.0.0.1:")  # its published port too
    assert inconsistencies(d) == []
    d.cli("stop", "-t", "5", name)
    assert d.inspect(name)["State"]["ExitCode"] == 3
    d.cli("start", name)
    assert_all_startable_and_removable(d, known)


def test_a_rich_container_killed_before_its_prestart_hooks_is_undone(faulty, monkeypatch):
    """Its app waits for the hooks: running but never hooked it would hang, so the start is
    undone (not adopted), and the next start runs the hooks before the app."""
    d = faulty
    name = unique_name("c")
    d.cli("create", "--name", name, "--rich", "--prestart-hook", "touch /tmp/hooked", *IMAGE_AND_LOOP)
    known = crash_at(d, "start.after-runtime-start", lambda: run_failing(d, "start", name), monkeypatch)
    assert d.inspect(name)["State"]["Status"] == "created"
    assert inconsistencies(d) == []
    d.cli("start", name)
    assert d.cli("exec", name, "ls", "/tmp/hooked").stdout == "/tmp/hooked\n"
    assert_all_startable_and_removable(d, known)


def test_killed_in_a_burst_of_runs(faulty, monkeypatch):
    """Several ``run -d`` at once, pouchd killed at the third start: each one ends up
    running or created, and each can be started and removed."""
    d = faulty

    def burst() -> None:
        for t in start_burst(d, 5):
            t.join()

    known = crash_at(d, "start.after-runtime-start@3", burst, monkeypatch)
    assert inconsistencies(d) == []
    assert_all_startable_and_removable(d, known)


@pytest.mark.parametrize("started", [1, 3, 5])
def test_killed_from_outside_during_a_burst(faulty, started):
    """``kill -9`` by PID, not at a fault point: once ``started`` of six ``run -d`` have a
    container dir (creates, mounts, CNI, conmon in flight in the others)."""
    d = faulty
    threads = start_burst(d, 6)
    containers = os.path.join(d.root, "containers")
    wait_until(lambda: os.path.isdir(containers) and len(os.listdir(containers)) >= started, timeout=60, interval=0.002,
               what=f"{started} container dirs")
    known = ids_on_disk(d)
    d.kill9()
    for t in threads:
        t.join()
    known |= ids_on_disk(d)
    d.start()
    assert_all_startable_and_removable(d, known)


def test_killed_during_stop(faulty, monkeypatch):
    """The stop signal was sent, the container exits while pouchd is down: recorded exited."""
    d = faulty
    name = unique_name("c")
    d.cli("run", "-d", "--name", name, *IMAGE_AND_LOOP)
    known = crash_at(d, "stop.after-signal", lambda: run_failing(d, "stop", name), monkeypatch)
    state = d.inspect(name)["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 3)
    assert_all_startable_and_removable(d, known)


def test_killed_between_runc_pause_and_the_record(faulty, monkeypatch):
    """runc froze it, the record still said running: recorded paused, and unpause works."""
    d = faulty
    name = unique_name("c")
    d.cli("run", "-d", "--name", name, *IMAGE_AND_LOOP)
    known = crash_at(d, "pause.after-runtime", lambda: run_failing(d, "pause", name), monkeypatch)
    state = d.inspect(name)["State"]
    assert (state["Status"], state["Paused"]) == ("paused", True)
    assert inconsistencies(d) == []
    d.cli("unpause", name)
    assert d.cli("exec", name, "echo", "thawed").stdout == "thawed\n"
    assert_all_startable_and_removable(d, known)


@pytest.mark.parametrize("point", ["rm.after-kill", "rm.after-delete"])
def test_killed_during_rm_f(faulty, monkeypatch, point):
    """``rm -f`` is journaled: the restart finishes it (no record, no container dir, no layer)."""
    d = faulty
    name = unique_name("c")
    d.cli("run", "-d", "--name", name, *IMAGE_AND_LOOP)
    known = crash_at(d, point, lambda: run_failing(d, "rm", "-f", name), monkeypatch)
    assert d.cli("ps", "-aq").stdout.split() == []
    assert find_leaks(d, known) == []
    d.cli("run", "-d", "--name", name, *IMAGE_AND_LOOP)  # the name is free again
    assert_all_startable_and_removable(d, known)


def test_killed_during_network_connect(faulty, monkeypatch):
    """The interface was added, the record not written: removing the container removes it."""
    d = faulty
    name, net = unique_name("c"), unique_name("n")
    d.cli("network", "create", net)
    d.cli("run", "-d", "--name", name, *IMAGE_AND_LOOP)
    known = crash_at(d, "network.connect", lambda: run_failing(d, "network", "connect", net, name), monkeypatch)
    assert inconsistencies(d) == []
    assert_all_startable_and_removable(d, known)
    d.cli("network", "rm", net)


def test_without_the_flag_the_fault_is_ignored(tmp_path, busybox_tar, monkeypatch):
    monkeypatch.setenv(faults.ENV, "create.before-insert")
    with running_daemon(str(tmp_path), busybox_tar) as d:
        d.cli("create", "--name", "kept", "busybox")
        assert d.proc is not None and d.proc.poll() is None


def test_the_leak_check_sees_what_a_running_container_holds(faulty):
    """The checks can fail: a running container judged as if it were gone is all leaks."""
    d = faulty
    cid = d.cli("run", "-d", "--name", unique_name("c"), *IMAGE_AND_LOOP).stdout.strip()
    assert find_leaks(d, {cid}) == []
    leaks = find_leaks(d, {cid}, view=(set(), set()))
    for kind in ("container dir", "writable layer", "bundle", "netns", "runtime state", "mount", "veths on",
                 "cgroup", "process", "iptables rule", "CNI result", "IP lease"):
        assert any(line.startswith(kind) for line in leaks), (kind, leaks)
