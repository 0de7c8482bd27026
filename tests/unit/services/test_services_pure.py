import os
import signal
import threading
import time

import pytest

from pouch.errors import InvalidArgument, NotFound
from pouch.services.attachgate import AttachGate
from pouch.services.execs import ExecConfig, exec_process_spec
from pouch.services.monitor import ExitMonitor
from pouch.services.top import TopResult, parse_ps_output
from pouch.signals import parse_signal
from tests.waiting import wait_until


@pytest.mark.parametrize("text,number", [
    ("9", 9), ("KILL", signal.SIGKILL), ("sigterm", signal.SIGTERM), ("SIGINT", signal.SIGINT),
    ("SIGRTMIN+3", signal.SIGRTMIN + 3), ("RTMIN+3", signal.SIGRTMIN + 3), ("", signal.SIGKILL), (None, signal.SIGKILL),
])
def test_parse_signal(text, number):
    assert parse_signal(text) == number


@pytest.mark.parametrize("text", ["SIGNOPE", "0", "999", "-1"])
def test_parse_signal_rejects(text):
    with pytest.raises(InvalidArgument, match="Invalid signal"):
        parse_signal(text)


def test_parse_ps_output_keeps_only_container_pids():
    out = ("UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\n"
           "root 4242 4200 0 10:01 ? 00:00:00 sleep 1000\n")
    top = parse_ps_output(out, {4242})
    assert top.titles == ("UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD")
    assert top.processes == (("root", "4242", "4200", "0", "10:01", "?", "00:00:00", "sleep 1000"),)
    assert parse_ps_output("", {1}) == TopResult()
    with pytest.raises(InvalidArgument, match="Couldn't find PID field"):
        parse_ps_output("USER COMMAND\nroot sh\n", {1})


def test_network_modes():
    from pouch.config import DaemonConfig
    from pouch.models import CreateOptions
    from pouch.network.manager import NetworkManager

    manager = NetworkManager(DaemonConfig(root="/nonexistent/root", exec_root="/nonexistent/run"))
    for mode in ("bridge", "none", "host", "container:web"):
        manager.prepare_create(CreateOptions(image="busybox", network_mode=mode))
    with pytest.raises(NotFound, match="network mynet not found"):
        manager.prepare_create(CreateOptions(image="busybox", network_mode="mynet"))


def test_attach_gate_lets_start_wait_for_attachers():
    gate = AttachGate()
    connected = []

    def attacher():
        assert gate.wait_open("c1", timeout=5)
        time.sleep(0.05)
        connected.append(True)
        gate.connected("c1")

    t = threading.Thread(target=attacher)
    t.start()
    wait_until(lambda: gate._waiting.get("c1"), what="the attacher to wait at the gate")  # no public view of it
    gate.open_and_wait("c1", timeout=5)
    assert connected == [True]  # start went on only after the client connected
    t.join()
    gate.close("c1")
    assert not gate.wait_open("c1", timeout=0.01)


def test_exit_monitor_reports_exited_processes():
    seen = []
    done = threading.Event()
    monitor = ExitMonitor(lambda cid: (seen.append(cid), done.set()))
    monitor.start()
    pid = os.fork()
    if pid == 0:
        time.sleep(0.1)
        os._exit(0)
    try:
        monitor.watch("abc", pid)
        os.waitpid(pid, 0)
        assert done.wait(5)
        assert seen == ["abc"]
    finally:
        monitor.stop()


def test_exec_process_spec_overrides_the_container_process():
    from pouch.oci.user import ResolvedUser

    container = {"args": ["sleep", "1"], "env": ["PATH=/bin", "A=1"], "cwd": "/", "user": {"uid": 0, "gid": 0},
                 "terminal": False, "capabilities": {"bounding": ["CAP_KILL"]}}
    config = ExecConfig(cmd=("sh", "-c", "echo"), env=("A=2", "B=3"), user="1000", workdir="/tmp", tty=True,
                        attach_stdin=True)
    spec = exec_process_spec(container, config, ResolvedUser(1000, 1000, ()))
    assert spec["args"] == ["sh", "-c", "echo"]
    assert spec["env"][:3] == ["PATH=/bin", "A=2", "B=3"] and "TERM=xterm" in spec["env"]
    assert spec["cwd"] == "/tmp" and spec["terminal"] is True
    assert spec["user"]["uid"] == 1000
    assert spec["capabilities"] == {"bounding": ["CAP_KILL"]}
    assert container["args"] == ["sleep", "1"]  # the container's own process is untouched
