"""The one way Pouch runs a subprocess, and waiting on processes that are not its children.

Rules: argv lists (never a shell), a scrubbed environment (PATH and LANG plus what
the caller names: no NOTIFY_SOCKET, LISTEN_FDS or proxies leak into runc, conmon or
CNI plugins), stdin from /dev/null unless input is given, output captured, and
each argv logged at debug level.
"""

from __future__ import annotations

import logging
import os
import select
import subprocess
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def scrubbed_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every runtime subprocess gets: PATH, LANG=C, plus ``extra``.

    Notably no NOTIFY_SOCKET, LISTEN_PID/LISTEN_FDS or XDG_RUNTIME_DIR leak
    from the daemon into conmon or runc.
    """
    env = {"PATH": SAFE_PATH, "LANG": "C.UTF-8"}
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run(argv: list[str], *, input: bytes | None = None, env: dict[str, str] | None = None,
        timeout: float = 60.0) -> Completed:
    """Run ``argv`` to completion, capturing stdout and stderr.

    ``env``: variables added to the scrubbed environment. ``input``: bytes for stdin.
    """
    log.debug("exec %s", argv)
    proc = subprocess.run(
        argv,
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
        capture_output=True,
        env=scrubbed_env(env),
        timeout=timeout,
        check=False,
    )
    return Completed(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


def read_cmdline(pid: int) -> list[str] | None:
    """argv of a live, non-zombie process, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        # state is the field after the parenthesised comm (which may hold spaces)
        state = stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3]
        if state in (b"Z", b"X"):
            return None
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None
    if not raw:
        return None
    return [a.decode("utf-8", "surrogateescape") for a in raw.rstrip(b"\0").split(b"\0")]


def wait_pid_exit(pid: int, timeout: float | None) -> bool:
    """Wait for a process that is not our child to exit (pidfd + poll).

    True once it is gone (or never existed), False on timeout.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining_ms = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            if poller.poll(remaining_ms):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
    finally:
        os.close(pidfd)


def read_int_file(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except FileNotFoundError:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def spawn_detached(argv: list[str], log_path: str) -> None:
    """Start ``argv`` as a daemon: in its own session, reparented to init at once
    (``setsid --fork``), stdin /dev/null, stdout and stderr appended to ``log_path``.
    pouchd is never its parent, so it outlives pouchd and needs no reaping."""
    log.debug("spawn %s", argv)
    with open(log_path, "ab") as out:
        subprocess.run(["setsid", "--fork", *argv], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                       env=scrubbed_env(), check=True, timeout=30)
