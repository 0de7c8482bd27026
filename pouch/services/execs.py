"""Exec sessions: a process started in a running container (create, then start).

A session is created with its configuration (``ExecConfig``), started once
(attached, or detached) and inspected for its exit code (``ExecInspect``).
The process runs under its own conmon, so pouchd never parents it. Sessions
live in memory, as in Docker; they are dropped with their container.

An attached session gives the front end a typed stdio connection
(``pouch.stdio.StdioConnection``, in ``AttachedExec``); how its bytes travel to
the client (Docker's stream framing, ...) is the front end's business.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import secrets
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pouch.config import DaemonConfig
from pouch.errors import Conflict, InvalidArgument, NotFound, PouchError
from pouch.oci.env import merge_env
from pouch.oci.user import ResolvedUser, read_user_files, resolve_user
from pouch.runtime.registry import Runtimes
from pouch.services import lifecycle
from pouch.services.lifecycle import Op
from pouch.services.monitor import ExitMonitor
from pouch.stdio import StdioConnection, StdioOptions, input_end

if TYPE_CHECKING:  # containers.py imports health.py, which imports this module
    from pouch.services.containers import ContainerService

log = logging.getLogger(__name__)

START_FAILED = 126  # the exit code of a session whose process could not start (Docker's)


@dataclass(frozen=True)
class ExecConfig:
    """What to run and how: the command, its environment, user and directory, a terminal,
    and which of its streams a client attaches to."""

    cmd: tuple[str, ...]
    env: tuple[str, ...] = ()
    user: str = ""
    workdir: str = ""
    tty: bool = False
    attach_stdin: bool = False
    attach_stdout: bool = True
    attach_stderr: bool = True
    privileged: bool = False
    detach_keys: str = ""  # as the client gave them (pouch.detachkeys), "" for the default


@dataclass(frozen=True)
class ExecInspect:
    """A session as a front end shows it (``exit_code`` None until it ended)."""

    id: str
    container_id: str
    config: ExecConfig
    running: bool
    exit_code: int | None
    pid: int


class ExecProcess(Protocol):
    """The runtime's handle of a started exec (``runtime.exec.ExecHandle``)."""

    pid: int
    conmon_pid: int

    @property
    def connection(self) -> StdioConnection | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def resize(self, height: int, width: int) -> None: ...

    def remove(self) -> None: ...


@dataclass(frozen=True)
class AttachedExec:
    """A session started attached: its stdio, and ``finish`` (wait for the exit code, release)
    or ``finish_later`` (the same once the process exits, with no thread held meanwhile: for a
    client that hung up)."""

    connection: StdioConnection
    finish: Callable[[], None]
    finish_later: Callable[[], None]


@dataclass
class ExecSession:
    id: str
    container_id: str
    config: ExecConfig
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    handle: ExecProcess | None = field(default=None, repr=False)

    def inspect(self) -> ExecInspect:
        return ExecInspect(self.id, self.container_id, self.config, self.running, self.exit_code, self.pid)


def exec_process_spec(container_process: dict, config: ExecConfig, user: ResolvedUser | None,
                      console_size: tuple[int, int] = (0, 0)) -> dict:
    """The OCI process of an exec: the container's process with the exec's command,
    environment, working directory, user and terminal, the terminal's (height, width) at
    start if given (pure)."""
    process = copy.deepcopy(container_process)
    process["args"] = list(config.cmd)
    process["env"] = merge_env(process.get("env", []), config.env)
    if config.workdir:
        process["cwd"] = config.workdir
    if user is not None:
        process["user"] = user.to_oci()
    process["terminal"] = config.tty
    if config.tty and not any(e.startswith("TERM=") for e in process["env"]):
        process["env"].append("TERM=xterm")
    process.pop("consoleSize", None)
    if config.tty and console_size[0] and console_size[1]:
        process["consoleSize"] = {"height": console_size[0], "width": console_size[1]}
    return process


def exec_stdio_options(config: ExecConfig) -> StdioOptions:
    """How an attached session is pumped: stdin closes with the client's input, unless a terminal."""
    return StdioOptions(tty=config.tty, stdin=config.attach_stdin, stdout=config.attach_stdout,
                        stderr=config.attach_stderr, input_end=input_end(config.tty, stdin_once=True, exec_session=True))


def read_container_process(config: DaemonConfig, container_id: str) -> dict:
    """The OCI ``process`` the container runs (the base of an exec's process)."""
    with open(os.path.join(config.bundle_dir(container_id), "config.json")) as f:
        return json.load(f)["process"]


class ExecService:
    def __init__(self, config: DaemonConfig, containers: ContainerService, runtime: Runtimes) -> None:
        self.config = config
        self.containers = containers
        self.runtime = runtime
        self._sessions: dict[str, ExecSession] = {}
        self._lock = threading.Lock()
        # sessions nobody waits for (detached, or their client left): one poll thread for all
        self._exits = ExitMonitor(self._collect_exit)
        self._exits_started = False
        self._unwaited: dict[str, tuple[ExecSession, ExecProcess]] = {}

    def create(self, container_ref: str, config: ExecConfig) -> str:
        c = self.containers.get(container_ref)
        lifecycle.check(Op.EXEC, c)
        if not config.cmd:
            raise InvalidArgument("No exec command specified")
        session = ExecSession(id=secrets.token_hex(32), container_id=c.id, config=config)
        with self._lock:
            self._sessions[session.id] = session
        self.containers.events.emit_container(c, "exec_create: " + " ".join(config.cmd), execID=session.id)
        return session.id

    def _get(self, exec_id: str) -> ExecSession:
        with self._lock:
            session = self._sessions.get(exec_id)
        if session is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return session

    def inspect(self, exec_id: str) -> ExecInspect:
        return self._get(exec_id).inspect()

    def ids_for(self, container_id: str) -> list[str] | None:
        with self._lock:
            ids = [s.id for s in self._sessions.values() if s.container_id == container_id and s.running]
        return ids or None

    def forget_container(self, container_id: str) -> None:
        with self._lock:
            for exec_id in [s.id for s in self._sessions.values() if s.container_id == container_id]:
                del self._sessions[exec_id]

    def _start(self, session: ExecSession, detach: bool, console_size: tuple[int, int] = (0, 0)) -> ExecProcess:
        with self._lock:
            if session.started:
                raise Conflict(f"Error: Exec command {session.id} has already run")
            session.started = True
        c = self.containers.get(session.container_id)
        lifecycle.check(Op.EXEC_START, c)
        config = session.config
        user = None
        if config.user:
            passwd, group = read_user_files(self.containers.rootfs_path(c))
            user = resolve_user(config.user, passwd, group)
        # the container's environment as it is now (``update --env`` included), not as at its start
        container_process = dict(read_container_process(self.config, c.id), env=self.containers.current_env(c))
        spec = exec_process_spec(container_process, config, user, console_size)
        handle: ExecProcess = self.runtime.exec_process(
            c.id, spec, tty=config.tty, stdin=config.attach_stdin and not detach, detach=detach, exec_id=session.id[:32])
        session.handle = handle
        session.pid = handle.pid
        session.running = True
        self.containers.events.emit_container(c, "exec_start: " + " ".join(config.cmd), execID=session.id)
        return handle

    def _finish(self, session: ExecSession, handle: ExecProcess) -> None:
        try:
            code = handle.wait(None)
        except Exception:
            log.exception("waiting for exec %s", session.id[:12])
            code = START_FAILED
        session.exit_code = code
        session.running = False
        c = self.containers.get_or_none(session.container_id)
        if c is not None:
            self.containers.events.emit_container(c, "exec_die", execID=session.id, exitCode=code)
        try:
            handle.remove()
        except Exception:
            log.exception("removing exec %s", session.id[:12])

    def _finish_later(self, session: ExecSession, handle: ExecProcess) -> None:
        """``_finish`` once the session's conmon exits (watched by a pidfd, no thread per session)."""
        with self._lock:
            self._unwaited[session.id] = (session, handle)
            if not self._exits_started:
                self._exits.start()
                self._exits_started = True
        self._exits.watch(session.id, handle.conmon_pid)

    def _collect_exit(self, exec_id: str) -> None:
        with self._lock:
            entry = self._unwaited.pop(exec_id, None)
        if entry is not None:
            self._finish(*entry)

    def start_detached(self, exec_id: str) -> None:
        session = self._get(exec_id)
        handle = self._start(session, detach=True)
        self._finish_later(session, handle)

    def check_attachable(self, exec_id: str) -> ExecInspect:
        """Check now that the session can start attached (so errors answer the request)."""
        session = self._get(exec_id)
        if session.started:
            raise Conflict(f"Error: Exec command {session.id} has already run")
        lifecycle.check(Op.EXEC_START, self.containers.get(session.container_id))
        return session.inspect()

    def start_attached(self, exec_id: str, console_size: tuple[int, int] = (0, 0)) -> AttachedExec:
        """Start the session attached: its stdio, and ``finish()`` to call once it ended.

        A front end calls this once the client is ready to read (after the 101 head went
        out, as dockerd does). A process that cannot start raises, with the session's
        exit code set as Docker's (127 no such executable, 126 otherwise).
        """
        session = self._get(exec_id)
        try:
            handle = self._start(session, detach=False, console_size=console_size)
        except PouchError as err:
            session.exit_code = getattr(err, "exit_code_hint", None) or START_FAILED
            session.running = False
            raise
        connection = handle.connection
        if connection is None:  # the runtime attaches whenever not detached
            self._finish(session, handle)
            raise Conflict(f"exec {exec_id} has no attached stdio")
        return AttachedExec(connection, lambda: self._finish(session, handle),
                            lambda: self._finish_later(session, handle))

    def kill(self, exec_id: str, sig: int = signal.SIGKILL) -> None:
        """Signal a running session's process (the CRI's ExecSync kills one past its timeout)."""
        session = self._get(exec_id)
        if session.running and session.pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(session.pid, sig)

    def resize(self, exec_id: str, height: int, width: int) -> None:
        session = self._get(exec_id)
        if session.handle is None or not session.running:
            return
        if height > 0 and width > 0:
            session.handle.resize(height, width)
