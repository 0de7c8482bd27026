"""Exec sessions: ``docker exec`` as Docker models it (create, then start).

A session is created with its command and options, started once (attached
through a hijacked connection, or detached) and inspected for its exit code.
The process runs under its own conmon, so pouchd never parents it. Sessions
live in memory, as in Docker; they are dropped with their container.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass, field

from pouch.errors import Conflict, InvalidArgument, NotFound
from pouch.models import Status

log = logging.getLogger(__name__)


@dataclass
class ExecSession:
    id: str
    container_id: str
    cmd: list[str]
    env: list[str]
    user: str
    workdir: str
    tty: bool
    attach_stdin: bool
    attach_stdout: bool
    attach_stderr: bool
    privileged: bool = False
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    handle: object = field(default=None, repr=False)


def _container_or_none(containers, container_id: str):
    from pouch.metadata import containers as store

    return store.get(containers.db, container_id)


def exec_process_spec(container_process: dict, session: ExecSession, user) -> dict:
    """The OCI process of an exec: the container's process with the exec's command,
    environment, working directory, user and terminal (pure)."""
    from pouch.oci.spec import merge_env

    process = json.loads(json.dumps(container_process))
    process["args"] = list(session.cmd)
    process["env"] = merge_env(process.get("env", []), session.env)
    if session.workdir:
        process["cwd"] = session.workdir
    if user is not None:
        process["user"] = user.to_oci()
    process["terminal"] = session.tty
    if session.tty and not any(e.startswith("TERM=") for e in process["env"]):
        process["env"].append("TERM=xterm")
    process.pop("consoleSize", None)
    return process


class ExecService:
    def __init__(self, config, containers, runtime) -> None:
        self.config = config
        self.containers = containers
        self.runtime = runtime
        self._sessions: dict[str, ExecSession] = {}
        self._lock = threading.Lock()

    def create(self, container_ref: str, body: dict) -> str:
        c = self.containers.get(container_ref)
        if c.state.status == Status.PAUSED:
            raise Conflict(f"Container {c.id} is paused, unpause the container before exec")
        if c.state.status != Status.RUNNING:
            raise Conflict(f"Container {c.id} is not running")
        cmd = body.get("Cmd") or []
        if isinstance(cmd, str):
            cmd = [cmd]
        if not cmd:
            raise InvalidArgument("No exec command specified")
        env = body.get("Env") or []
        if not isinstance(env, list) or not all(isinstance(e, str) for e in env):
            raise InvalidArgument("Env must be a list of strings")
        session = ExecSession(
            id=secrets.token_hex(32),
            container_id=c.id,
            cmd=[str(a) for a in cmd],
            env=env,
            user=body.get("User") or "",
            workdir=body.get("WorkingDir") or "",
            tty=bool(body.get("Tty")),
            attach_stdin=bool(body.get("AttachStdin")),
            attach_stdout=bool(body.get("AttachStdout", True)),
            attach_stderr=bool(body.get("AttachStderr", True)),
            privileged=bool(body.get("Privileged")),
        )
        with self._lock:
            self._sessions[session.id] = session
        self.containers.events.emit_container(c, "exec_create: " + " ".join(session.cmd), execID=session.id)
        return session.id

    def get(self, exec_id: str) -> ExecSession:
        with self._lock:
            session = self._sessions.get(exec_id)
        if session is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return session

    def ids_for(self, container_id: str) -> list[str] | None:
        with self._lock:
            ids = [s.id for s in self._sessions.values() if s.container_id == container_id and s.running]
        return ids or None

    def forget_container(self, container_id: str) -> None:
        with self._lock:
            for exec_id in [s.id for s in self._sessions.values() if s.container_id == container_id]:
                del self._sessions[exec_id]

    def _start(self, session: ExecSession, detach: bool):
        from pouch.oci.user import read_user_files, resolve_user

        with self._lock:
            if session.started:
                raise Conflict(f"Error: Exec command {session.id} has already run")
            session.started = True
        c = self.containers.get(session.container_id)
        if c.state.status != Status.RUNNING:
            raise Conflict(f"Container {c.id} is not running")
        with open(os.path.join(self.config.bundle_dir(c.id), "config.json")) as f:
            container_process = json.load(f)["process"]
        user = None
        if session.user:
            passwd, group = read_user_files(self.containers.rootfs_path(c))
            user = resolve_user(session.user, passwd, group)
        spec = exec_process_spec(container_process, session, user)
        handle = self.runtime.exec_process(c.id, spec, tty=session.tty, stdin=session.attach_stdin and not detach,
                                           detach=detach, exec_id=session.id[:32])
        session.handle = handle
        session.pid = handle.pid
        session.running = True
        self.containers.events.emit_container(c, "exec_start: " + " ".join(session.cmd), execID=session.id)
        return handle

    def _finish(self, session: ExecSession, handle) -> None:
        try:
            code = handle.wait(None)
        except Exception:
            log.exception("waiting for exec %s", session.id[:12])
            code = 126
        session.exit_code = code
        session.running = False
        c = _container_or_none(self.containers, session.container_id)
        if c is not None:
            self.containers.events.emit_container(c, "exec_die", execID=session.id, exitCode=code)
        try:
            handle.remove()
        except Exception:
            log.exception("removing exec %s", session.id[:12])

    def start_detached(self, exec_id: str) -> None:
        session = self.get(exec_id)
        handle = self._start(session, detach=True)
        threading.Thread(target=self._finish, args=(session, handle), name=f"exec-{exec_id[:12]}", daemon=True).start()

    def attach_handler(self, exec_id: str):
        """Check the session now (so errors answer the request), run it in the hijack.

        The process starts only after the 101 head went out, as with dockerd:
        clients that read the head with a buffered reader would otherwise lose
        output arriving in the same read. Errors starting the process go to the
        stream, and the exit code says what happened (126, 127 like Docker).
        """
        from pouch.api.framing import encode_frame
        from pouch.errors import PouchError
        from pouch.services.streams import on_input_eof, pump

        session = self.get(exec_id)
        if session.started:
            raise Conflict(f"Error: Exec command {session.id} has already run")
        c = self.containers.get(session.container_id)
        if c.state.status != Status.RUNNING:
            raise Conflict(f"Container {c.id} is not running")

        def handler(client, leftover: bytes) -> None:
            try:
                handle = self._start(session, detach=False)
            except PouchError as err:
                session.exit_code = getattr(err, "exit_code_hint", None) or 126
                session.running = False
                message = (err.message + "\n").encode()
                client.sendall(message if session.tty else encode_frame(2, message))
                return
            try:
                pump(handle.connection, client, leftover, tty=session.tty, stdin=session.attach_stdin,
                     stdout=session.attach_stdout, stderr=session.attach_stderr,
                     on_eof=on_input_eof(session.tty, stdin_once=True, exec_session=True))
            finally:
                self._finish(session, handle)

        return handler

    def resize(self, exec_id: str, height: int, width: int) -> None:
        session = self.get(exec_id)
        if session.handle is None or not session.running:
            return
        if height > 0 and width > 0:
            session.handle.resize(height, width)

    def inspect(self, exec_id: str) -> dict:
        s = self.get(exec_id)
        return {
            "ID": s.id,
            "Running": s.running,
            "ExitCode": s.exit_code,
            "ProcessConfig": {"tty": s.tty, "entrypoint": s.cmd[0], "arguments": s.cmd[1:], "privileged": s.privileged,
                              "user": s.user},
            "OpenStdin": s.attach_stdin,
            "OpenStderr": s.attach_stderr,
            "OpenStdout": s.attach_stdout,
            "CanRemove": False,
            "ContainerID": s.container_id,
            "DetachKeys": "",
            "Pid": s.pid,
        }
