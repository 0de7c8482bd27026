"""pouchd killed at a chosen step of create, start, stop, rm and network connect (issue 12 §1).

The daemon runs with ``--debug-faults <point>`` (services/faults.py): it stops for good when
the operation reaches that point, and the test kills it there by its PID (or, for the burst
tests, at an instant of its own), starts it again on the same root and asserts what a user relies on: every
record agrees with runc and the kernel, every container can be started and removed, and
nothing is left behind once they are gone (tests/integration/leaks.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable

import pytest

from tests.integration.conftest import Daemon, running_daemon, unique_name, wait_until
from tests.integration.leaks import RUNC, find_leaks, ids_on_disk, inconsistencies

LOOP = ["sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.1; done"]  # stops on SIGTERM, as PID 1
IMAGE_AND_LOOP = ["-p", "127.0.0.1::80", "busybox", *LOOP]  # a published port: iptables rules to leak


@pytest.fixture
def faulty(tmp_path, busybox_tar):
    """A daemon of the test's own, restarted with a fault point by each crash."""
    with running_daemon(str(tmp_path), busybox_tar) as d:
        yield d


def crash_at(d: Daemon, point: str, operation: Callable[[], object], restart: bool = True) -> set[str]:
    """Restart ``d`` with the fault ``point`` armed, run ``operation`` until pouchd waits there
    (services/faults.py), kill it by its PID, check the operation failed, start it again unarmed
    (unless not ``restart``); the ids it had on disk when it died."""
    d.stop()
    d.extra_args = ("--debug-faults", point)
    d.start()
    d.extra_args = ()
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            operation()
        except BaseException as err:  # noqa: BLE001 - re-raised in the test's thread
            outcome.append(err)

    worker = threading.Thread(target=run)
    worker.start()
    marker = os.path.join(d.root, "debug-faults", point)
    wait_until(lambda: os.path.exists(marker) or not worker.is_alive(), timeout=60, what=f"pouchd at {point}")
    assert os.path.exists(marker), f"pouchd never reached {point}:\n{d.read_log()}"
    d.kill9()
    worker.join(60)
    if outcome:
        raise outcome[0]
    os.unlink(marker)
    known = ids_on_disk(d)
    if restart:
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


def test_killed_before_a_create_is_recorded(faulty):
    """A create is all or nothing: cut short, it leaves no container, dir, layer or anonymous volume."""
    d = faulty
    name = unique_name("c")
    known = crash_at(d, "create.before-insert",
                     lambda: run_failing(d, "create", "--name", name, "-v", "/data", "busybox"))
    assert known, "the create got as far as its container dir and writable layer"
    assert d.cli("ps", "-aq").stdout.split() == []
    assert d.cli("volume", "ls", "-q").stdout.split() == []
    assert find_leaks(d, known) == []
    d.cli("create", "--name", name, *IMAGE_AND_LOOP)  # the name is free
    assert_all_startable_and_removable(d, known)


def test_killed_once_a_create_is_recorded(faulty):
    """Recorded: the create is done (the client may not have heard), its volume is its own."""
    d = faulty
    name = unique_name("c")
    known = crash_at(d, "create.after-insert",
                     lambda: run_failing(d, "create", "--name", name, "-v", "/data", *IMAGE_AND_LOOP))
    assert d.inspect(name)["State"]["Status"] == "created"
    volume = d.inspect(name)["Mounts"][0]["Name"]
    assert d.cli("volume", "ls", "-q").stdout.split() == [volume]
    assert not os.listdir(os.path.join(d.root, "pending-removal"))
    d.cli("start", name)
    d.cli("rm", "-f", "-v", name)
    assert d.cli("volume", "ls", "-q").stdout.split() == []
    assert_all_startable_and_removable(d, known)


@pytest.mark.parametrize("point", ["start.after-mount", "start.after-runtime-create"])
def test_killed_before_the_process_runs(faulty, point):
    """Mounted, or created in runc with its network: undone, the record stays Created, and
    ``start`` works (it said "already exists in the runtime")."""
    d = faulty
    name = unique_name("c")
    d.cli("create", "--name", name, *IMAGE_AND_LOOP)
    known = crash_at(d, point, lambda: run_failing(d, "start", name))
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


def test_a_start_cut_short_by_a_reboot_leaves_no_lease(faulty):
    """Killed once CNI gave the container an address, then the host rebooted: the address and
    the cached CNI result are given back at pouchd's start, before any start or rm."""
    d = faulty
    name = unique_name("c")
    cid = d.cli("create", "--name", name, *IMAGE_AND_LOOP).stdout.strip()
    crash_at(d, "start.after-runtime-create", lambda: run_failing(d, "start", name), restart=False)
    reboot_while_down(d, cid)
    d.start()
    assert d.inspect(name)["State"]["Status"] == "created"
    assert find_leaks(d, {cid}) == []
    assert_all_startable_and_removable(d, {cid})


def test_killed_after_the_process_started_is_adopted(faulty):
    """runc started it, the record still said Created: after the restart it is Running, with
    its pid and address, and stop, start and rm work on it."""
    d = faulty
    name = unique_name("c")
    d.cli("create", "--name", name, *IMAGE_AND_LOOP)
    known = crash_at(d, "start.after-runtime-start", lambda: run_failing(d, "start", name))
    state = d.inspect(name)["State"]
    assert state["Status"] == "running" and state["Pid"] > 0 and os.path.exists(f"/proc/{state['Pid']}")
    assert d.inspect(name)["NetworkSettings"]["IPAddress"]
    assert d.cli("port", name).stdout.startswith("80/tcp -> 127.0.0.1:")  # its published port too
    assert inconsistencies(d) == []
    d.cli("stop", "-t", "5", name)
    assert d.inspect(name)["State"]["ExitCode"] == 3
    d.cli("start", name)
    assert_all_startable_and_removable(d, known)


def test_a_rich_container_killed_before_its_prestart_hooks_is_undone(faulty):
    """Its app waits for the hooks: running but never hooked it would hang, so the start is
    undone (not adopted), and the next start runs the hooks before the app."""
    d = faulty
    name = unique_name("c")
    d.cli("create", "--name", name, "--rich", "--prestart-hook", "touch /tmp/hooked", *IMAGE_AND_LOOP)
    known = crash_at(d, "start.after-runtime-start", lambda: run_failing(d, "start", name))
    assert d.inspect(name)["State"]["Status"] == "created"
    assert inconsistencies(d) == []
    d.cli("start", name)
    assert d.cli("exec", name, "ls", "/tmp/hooked").stdout == "/tmp/hooked\n"
    assert_all_startable_and_removable(d, known)


def test_killed_in_a_burst_of_runs(faulty):
    """Several ``run -d`` at once, pouchd killed once one reached ``runc start`` (the others
    anywhere in create or start): each ends up running or created, and can be started and removed."""
    d = faulty

    def burst() -> None:
        for t in start_burst(d, 5):
            t.join()

    known = crash_at(d, "start.after-runtime-start", burst)
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


def test_killed_during_stop(faulty):
    """The stop signal was sent, the container exits while pouchd is down: recorded exited."""
    d = faulty
    name = unique_name("c")
    d.cli("run", "-d", "--name", name, *IMAGE_AND_LOOP)
    known = crash_at(d, "stop.after-signal", lambda: run_failing(d, "stop", name))
    state = d.inspect(name)["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 3)
    assert_all_startable_and_removable(d, known)


def test_killed_between_runc_pause_and_the_record(faulty):
    """runc froze it, the record still said running: recorded paused, and unpause works."""
    d = faulty
    name = unique_name("c")
    d.cli("run", "-d", "--name", name, *IMAGE_AND_LOOP)
    known = crash_at(d, "pause.after-runtime", lambda: run_failing(d, "pause", name))
    state = d.inspect(name)["State"]
    assert (state["Status"], state["Paused"]) == ("paused", True)
    assert inconsistencies(d) == []
    d.cli("unpause", name)
    assert d.cli("exec", name, "echo", "thawed").stdout == "thawed\n"
    assert_all_startable_and_removable(d, known)


@pytest.mark.parametrize("point", ["rm.after-kill", "rm.after-delete"])
def test_killed_during_rm_f(faulty, point):
    """``rm -f`` is journaled: the restart finishes it (no record, no container dir, no layer)."""
    d = faulty
    name = unique_name("c")
    d.cli("run", "-d", "--name", name, *IMAGE_AND_LOOP)
    known = crash_at(d, point, lambda: run_failing(d, "rm", "-f", name))
    assert d.cli("ps", "-aq").stdout.split() == []
    assert find_leaks(d, known) == []
    d.cli("run", "-d", "--name", name, *IMAGE_AND_LOOP)  # the name is free again
    assert_all_startable_and_removable(d, known)


def test_killed_during_network_connect(faulty):
    """The interface was added, the record not written: removing the container removes it."""
    d = faulty
    name, net = unique_name("c"), unique_name("n")
    d.cli("network", "create", net)
    d.cli("run", "-d", "--name", name, *IMAGE_AND_LOOP)
    known = crash_at(d, "network.connect", lambda: run_failing(d, "network", "connect", net, name))
    assert inconsistencies(d) == []
    assert_all_startable_and_removable(d, known)
    d.cli("network", "rm", net)


def test_the_leak_check_sees_what_a_running_container_holds(faulty):
    """The checks can fail: a running container judged as if it were gone is all leaks."""
    d = faulty
    cid = d.cli("run", "-d", "--name", unique_name("c"), *IMAGE_AND_LOOP).stdout.strip()
    assert find_leaks(d, {cid}) == []
    leaks = find_leaks(d, {cid}, view=(set(), set()))
    for kind in ("container dir", "writable layer", "bundle", "netns", "runtime state", "mount", "veths on",
                 "cgroup", "process", "iptables rule", "CNI result", "IP lease"):
        assert any(line.startswith(kind) for line in leaks), (kind, leaks)
