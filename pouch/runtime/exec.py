"""Exec sessions through conmon (``conmon --exec --exec-process-spec``).

Like the container itself, an exec'd process is never the daemon's child:
conmon double-forks, runs ``runc exec -d --process <spec>`` and reaps the
process as a subreaper. Each session gets a directory
``<bundle>/exec/<exec_id>/`` holding ``process.json``, ``pidfile``,
``conmon.pid``, the attach socket and ctl/winsz fifos, and ``exit/<container_id>``
(conmon names exit files after ``-c``, so the per-session exit dir keeps
sessions apart).

Interactive/attached sessions (not detach) use ``--exec-attach`` and the
``_OCI_ATTACHPIPE`` handshake: conmon reports ``{"data": 0}`` on the attach
pipe once its attach socket listens, we connect, then write the start pipe a
second time and only then does conmon run ``runc exec`` — so no output is
lost. The sync pipe then carries the exec'd pid and, when it exits, the exit
code (also written to the exit file).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass, field

from pouch import errors
from pouch.config import DaemonConfig
from pouch.runtime import _proc
from pouch.runtime.attach import AttachConnection, resize
from pouch.runtime.conmon import (
    CONMON_PIDFILE,
    PIDFILE,
    ConmonArgs,
    ConmonProcess,
    SyncReader,
    conmon_argv,
    kill_conmon,
    spawn_conmon,
)
from pouch.runtime.runc import OCIRuntimeError, Runc, parse_runtime_error

EXEC_TIMEOUT = 30.0


@dataclass
class ExecHandle:
    exec_id: str
    container_id: str
    pid: int
    conmon_pid: int
    directory: str
    connection: AttachConnection | None = None
    _sync: SyncReader | None = field(default=None, repr=False)
    _exit_code: int | None = None

    @property
    def exit_file(self) -> str:
        return os.path.join(self.directory, "exit", self.container_id)

    def exit_code(self) -> int | None:
        """The exit code if the process has finished (non-blocking)."""
        if self._exit_code is None:
            self._exit_code = _proc.read_int_file(self.exit_file)
        return self._exit_code

    def wait(self, timeout: float | None = None) -> int:
        """Block until the exec'd process exits and return its exit code."""
        if self._exit_code is not None:
            return self._exit_code
        if self._sync is not None:
            msg = self._sync.read_message(timeout)
            self._sync.close()
            self._sync = None
            if msg is not None:
                self._exit_code = msg.value
                return msg.value
        if not _proc.wait_pid_exit(self.conmon_pid, timeout):
            raise TimeoutError(f"exec {self.exec_id} still running")
        code = self.exit_code()
        if code is None:
            raise OCIRuntimeError(f"exec {self.exec_id}: conmon exited without an exit code")
        return code

    def resize(self, height: int, width: int) -> None:
        resize(self.directory, height, width)

    def close(self) -> None:
        """Release our ends (the process keeps running if it still is)."""
        if self.connection is not None:
            self.connection.close()
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    def remove(self) -> None:
        """Close and delete the session directory (after the process exited)."""
        self.close()
        remove_exec_dir(self.directory)


def exec_dir(bundle: str, exec_id: str) -> str:
    return os.path.join(bundle, "exec", exec_id)


def remove_exec_dir(directory: str) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def exec_process(
    config: DaemonConfig,
    runc: Runc,
    container_id: str,
    process_spec: dict,
    *,
    tty: bool = False,
    stdin: bool = False,
    detach: bool = False,
    exec_id: str | None = None,
    timeout: float = EXEC_TIMEOUT,
) -> ExecHandle:
    """Start ``process_spec`` (an OCI ``process`` object) in a running container,
    through conmon driving ``runc`` (the container's own runtime handler, its state root).

    Not detached: the returned handle's ``connection`` is already attached
    (stdout/stderr from the first byte, stdin if ``stdin``).
    """
    state = runc.state(container_id)
    if state is None:
        raise errors.NotFound(f"no such container: {container_id}")
    if state.get("status") != "running":
        raise errors.Conflict(f"container {container_id} is not running (status {state.get('status')})")
    exec_id = exec_id or secrets.token_hex(16)
    directory = exec_dir(config.bundle_dir(container_id), exec_id)
    spec = dict(process_spec)
    spec["terminal"] = tty
    attach = not detach

    with contextlib.ExitStack() as rollback:
        os.makedirs(os.path.join(directory, "exit"), mode=0o700)
        rollback.callback(remove_exec_dir, directory)
        spec_path = os.path.join(directory, "process.json")
        with open(spec_path, "w") as f:
            f.write(json.dumps(spec))  # json.dump encodes in pure Python
        args = _exec_conmon_args(config, runc, container_id, exec_id, directory, spec_path, tty=tty,
                                 stdin=stdin and attach, attach=attach)
        cp = spawn_conmon(conmon_argv(args), cwd=directory, want_attach_pipe=attach)
        rollback.callback(kill_conmon, cp.conmon_pid, exec_id)
        rollback.callback(cp.close)
        conn = None
        if attach:
            conn = _attach_when_ready(cp, exec_id, directory, timeout)
            rollback.callback(conn.close)
            cp.signal_start()  # second start-pipe read: now conmon runs `runc exec`
        msg = cp.sync.read_message(timeout)
        if msg is None or msg.failed:
            text = parse_runtime_error((msg and msg.message) or cp.stderr or b"conmon exited")
            raise OCIRuntimeError(f"OCI runtime exec failed for {container_id}: {text}", text)
        handle = ExecHandle(exec_id, container_id, msg.value, cp.conmon_pid, directory, conn, cp.sync)
        cp.sync = SyncReader(-1)  # ownership moved to the handle
        rollback.pop_all()
    if cp.attach is not None:
        cp.attach.close()
    with contextlib.suppress(OSError):
        os.close(cp.start_w)
    return handle


def _exec_conmon_args(config: DaemonConfig, runc: Runc, container_id: str, exec_id: str, directory: str,
                      spec_path: str, *, tty: bool, stdin: bool, attach: bool) -> ConmonArgs:
    return ConmonArgs(
        conmon_path=config.conmon_path,
        container_id=container_id,
        cuuid=exec_id,
        runtime_path=runc.path,
        runtime_root=runc.root,
        bundle_dir=directory,
        pidfile=os.path.join(directory, PIDFILE),
        conmon_pidfile=os.path.join(directory, CONMON_PIDFILE),
        exit_dir=os.path.join(directory, "exit"),
        socket_dir=config.sockets_dir,
        log_driver_path="none:",
        tty=tty,
        stdin=stdin,
        exec_spec=spec_path,
        exec_attach=attach,
        log_level="warning",
        extra_runtime_args=runc.args,
    )


def _attach_when_ready(cp: ConmonProcess, exec_id: str, directory: str, timeout: float) -> AttachConnection:
    """Wait for conmon's attach socket (``_OCI_ATTACHPIPE`` says it listens), then connect."""
    assert cp.attach is not None
    ready = cp.attach.read_message(timeout)
    if ready is None or ready.failed:
        raise OCIRuntimeError(f"exec {exec_id}: conmon did not open its attach socket: "
                              f"{(ready and ready.message) or cp.stderr.decode('utf-8', 'replace')}")
    return AttachConnection.connect(directory)
