"""pouchd past 1024 file descriptors (issue 12 §2).

With ``select()`` anywhere on a request's path, an fd numbered 1024 or more broke ``run``
("filedescriptor out of range in select()") and made ``exec`` return 0 with no output. The
daemon is started with a soft RLIMIT_NOFILE of 1024 (the usual default) and must raise it to
the hard limit itself; 1100 idle client connections then push its fd numbers past 1023.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
from collections.abc import Iterator

import pytest

from tests.integration.conftest import running_daemon, unique_name, wait_until

IDLE_CONNECTIONS = 1100


@contextlib.contextmanager
def soft_nofile(limit: int) -> Iterator[None]:
    """Children started inside inherit a soft RLIMIT_NOFILE of ``limit``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def nofile_limits(pid: int) -> tuple[str, str]:
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return soft, hard
    raise AssertionError("no 'Max open files' line")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.fixture
def low_limit_daemon(tmp_path, busybox_tar):
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < IDLE_CONNECTIONS + 200:
        pytest.skip(f"hard RLIMIT_NOFILE {hard} is too low for this test")
    with contextlib.ExitStack() as stack:
        with soft_nofile(1024):  # pouchd inherits it; this test's process gets its limit back
            d = stack.enter_context(running_daemon(str(tmp_path), busybox_tar))
        yield d


def test_pouchd_raises_its_soft_fd_limit_to_the_hard_one(low_limit_daemon):
    soft, hard = nofile_limits(low_limit_daemon.proc.pid)
    assert soft == hard


def test_run_and_exec_with_more_than_1024_fds(low_limit_daemon):
    d = low_limit_daemon
    clients: list[socket.socket] = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(d.sock)
            clients.append(s)
        wait_until(lambda: open_fds(d.proc.pid) > IDLE_CONNECTIONS, timeout=60, what="pouchd to accept the clients")
        run = d.cli("run", "--rm", "--network", "none", "busybox", "echo", "hello from run", check=False)
        assert (run.returncode, run.stdout, run.stderr) == (0, "hello from run\n", "")
        name = unique_name("fds")
        d.cli("run", "-d", "--network", "none", "--name", name, "busybox", "sleep", "600")
        ok = d.cli("exec", name, "sh", "-c", "echo out; echo err >&2", check=False)
        assert (ok.returncode, ok.stdout, ok.stderr) == (0, "out\n", "err\n")
        failing = d.cli("exec", name, "sh", "-c", "exit 3", check=False)
        assert failing.returncode == 3
    finally:
        for s in clients:
            s.close()
