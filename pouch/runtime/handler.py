"""One OCI runtime handler: runc, crun, runsc or any ``pouchd --add-runtime NAME=PATH``.

A handler is a runtime binary speaking runc's command line plus this daemon's state
root for it (``<exec_root>/runtime/<name>``), driven through conmon: ``create`` starts
conmon, which runs ``<runtime> create``; the short synchronous commands (start, kill,
pause, resume, update, delete, state, ps) run the binary directly; ``exec`` goes through
conmon again (exec.py). Which handler created a container is recorded in its bundle
(``runtime.json``) so every later operation goes to that same handler, even after a
daemon restart.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass

from pouch import errors
from pouch.config import DaemonConfig
from pouch.runtime.conmon import (
    CONMON_PIDFILE,
    PIDFILE,
    RUNTIME_FILE,
    ConmonArgs,
    ConmonFiles,
    CreatedContainer,
    conmon_argv,
    kill_conmon,
    spawn_conmon,
)
from pouch.runtime.exec import ExecHandle, exec_process
from pouch.runtime.runc import OCIRuntimeError, Runc, parse_runtime_error

log = logging.getLogger(__name__)

CREATE_TIMEOUT = 60.0


def state_root(config: DaemonConfig, name: str) -> str:
    """This daemon's state root for runtime ``name`` (the runtime's ``--root``)."""
    return os.path.join(config.exec_root, "runtime", name)


@dataclass(frozen=True)
class RuntimeRecord:
    """What ``<bundle>/runtime.json`` says about the handler that created a container."""

    name: str
    path: str
    root: str
    args: tuple[str, ...] = ()  # the handler's global options (``--runtime-args``)

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "path": self.path, "root": self.root, "args": list(self.args)})


def parse_runtime_record(text: str) -> RuntimeRecord | None:
    """``runtime.json``; records written before handlers had names carry only path and root
    (the name is then the root's last component), before runtime args none. None if unreadable."""
    try:
        obj = json.loads(text)
        path, root = str(obj["path"]), str(obj["root"])
        args = tuple(str(a) for a in obj.get("args") or ())
    except (ValueError, KeyError, TypeError):
        return None
    return RuntimeRecord(str(obj.get("name") or os.path.basename(root)), path, root, args)


@dataclass(frozen=True)
class CreateRequest:
    """How conmon should hold a new container's stdio and log."""

    log_path: str
    log_driver: str = "k8s-file"  # conmon's: k8s-file (a file, or a log writer's FIFO) or none
    tty: bool = False
    stdin: bool = False
    leave_stdin_open: bool = False
    log_max_size: int | None = None  # None: config.log_max_size; 0 or negative: unlimited
    exit_command: tuple[str, ...] = ()
    timeout: float = CREATE_TIMEOUT


@dataclass(frozen=True)
class OCIRuntime:
    """A named OCI runtime with this daemon's state root, driven through conmon."""

    name: str
    runc: Runc  # the binary and its --root
    config: DaemonConfig

    @classmethod
    def named(cls, config: DaemonConfig, name: str, path: str) -> OCIRuntime:
        """The handler ``name`` with its ``--runtime-args`` (none by default)."""
        return cls(name, Runc(path, state_root(config, name), args=config.runtime_args.get(name, ())), config)

    @property
    def path(self) -> str:
        return self.runc.path

    @property
    def record(self) -> RuntimeRecord:
        return RuntimeRecord(self.name, self.runc.path, self.runc.root, self.runc.args)

    @property
    def files(self) -> ConmonFiles:
        return ConmonFiles(self.config)

    # -- create
    def create(self, container_id: str, request: CreateRequest) -> CreatedContainer:
        """conmon + ``<runtime> create`` for the bundle at config.bundle_dir(id).

        On return the container is in state "created", its attach socket is listening
        and conmon is logging to ``request.log_path`` (k8s-file). On failure nothing is
        left: no runtime state, no conmon, no sockets or fifos.
        """
        bundle = self.config.bundle_dir(container_id)
        self._check_create_inputs(container_id, bundle)
        for d in (self.config.exits_dir, self.config.sockets_dir, self.runc.root,
                  *((os.path.dirname(request.log_path),) if request.log_path else ())):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self.files.remove(container_id)  # stale files of a previous run (restart)
        with open(os.path.join(bundle, RUNTIME_FILE), "w") as f:
            f.write(self.record.to_json())
        started = time.monotonic()
        with contextlib.ExitStack() as rollback:
            rollback.callback(self._rollback_create, container_id)
            created = self._run_conmon_create(container_id, self._conmon_args(container_id, request), request.timeout)
            rollback.pop_all()
        log.debug("created %s with %s pid=%d conmon=%d in %.3fs", container_id, self.name, created.pid,
                  created.conmon_pid, time.monotonic() - started)
        return created

    def _conmon_args(self, container_id: str, request: CreateRequest) -> ConmonArgs:
        bundle = self.config.bundle_dir(container_id)
        max_size = self.config.log_max_size if request.log_max_size is None else request.log_max_size
        return ConmonArgs(
            conmon_path=self.config.conmon_path,
            container_id=container_id,
            cuuid=container_id,
            runtime_path=self.runc.path,
            runtime_root=self.runc.root,
            bundle_dir=bundle,
            pidfile=os.path.join(bundle, PIDFILE),
            conmon_pidfile=os.path.join(bundle, CONMON_PIDFILE),
            exit_dir=self.config.exits_dir,
            socket_dir=self.config.sockets_dir,
            log_driver_path=f"{request.log_driver}:{request.log_path}",
            log_size_max=max_size if max_size > 0 else None,
            tty=request.tty,
            stdin=request.stdin,
            leave_stdin_open=request.leave_stdin_open,
            log_level="warning",
            extra_runtime_args=self.runc.args,
            exit_command=request.exit_command,
        )

    @staticmethod
    def _run_conmon_create(container_id: str, args: ConmonArgs, timeout: float) -> CreatedContainer:
        cp = spawn_conmon(conmon_argv(args), cwd=args.bundle_dir)
        if cp.stderr:
            log.debug("conmon for %s: %s", container_id, cp.stderr.decode("utf-8", "replace").strip())
        try:
            msg = cp.sync.read_message(timeout)
        except TimeoutError:
            raise OCIRuntimeError(f"OCI runtime create for {container_id} timed out after {timeout}s") from None
        finally:
            cp.close()
        if msg is None:
            raise OCIRuntimeError(
                f"conmon for {container_id} exited without reporting: {cp.stderr.decode('utf-8', 'replace').strip()}"
            )
        if msg.failed:
            text = parse_runtime_error(msg.message or "")
            raise OCIRuntimeError(f"OCI runtime create failed for {container_id}: {text}", text)
        return CreatedContainer(pid=msg.value, conmon_pid=cp.conmon_pid)

    def _check_create_inputs(self, container_id: str, bundle: str) -> None:
        if not os.path.isfile(os.path.join(bundle, "config.json")):
            raise errors.InvalidArgument(f"no OCI bundle for {container_id}: {bundle}/config.json is missing")
        for what, path in (("conmon", self.config.conmon_path), ("OCI runtime", self.runc.path)):
            if not os.access(path, os.X_OK):
                raise OCIRuntimeError(f"{what} not found or not executable: {path}")
        if os.path.exists(os.path.join(self.runc.root, container_id, "state.json")):  # runc's own state file
            raise errors.Conflict(f"container {container_id} already exists in the runtime")

    def _rollback_create(self, container_id: str) -> None:
        conmon_pid = self.files.conmon_pid(container_id)
        if conmon_pid is not None:
            kill_conmon(conmon_pid, container_id)
        with contextlib.suppress(errors.PouchError):
            self.runc.delete(container_id, force=True)
        self.files.remove(container_id)

    # -- lifecycle
    def start(self, container_id: str) -> None:
        self.runc.start(container_id)

    def kill(self, container_id: str, sig: int | str = "SIGTERM", all_processes: bool = False) -> None:
        self.runc.kill(container_id, sig, all_processes=all_processes)

    def pause(self, container_id: str) -> None:
        self.runc.pause(container_id)

    def resume(self, container_id: str) -> None:
        self.runc.resume(container_id)

    def update(self, container_id: str, resources: dict) -> None:
        """New limits (an OCI ``linux.resources`` object) for a running or paused container."""
        self.runc.update(container_id, resources)

    def delete(self, container_id: str, force: bool = False, timeout: float = 10.0) -> None:
        """Remove runtime state and conmon's files; no-op for an unknown container.

        With force a running container is killed first. Waits for conmon to finish (so
        it has written the exit file) and then removes the exit file too: read
        exit_status() before delete.
        """
        self.runc.delete(container_id, force=force)
        self.files.wait_gone(container_id, timeout)
        self.files.remove(container_id)

    # -- queries
    def state(self, container_id: str) -> dict | None:
        return self.runc.state(container_id)

    def processes(self, container_id: str) -> list[int]:
        return self.runc.ps(container_id)

    def list(self) -> list[dict]:
        return self.runc.list() if os.path.isdir(self.runc.root) else []

    # -- exec
    def exec_process(self, container_id: str, process_spec: dict, *, tty: bool = False, stdin: bool = False,
                     detach: bool = False, exec_id: str | None = None) -> ExecHandle:
        return exec_process(self.config, self.runc, container_id, process_spec, tty=tty, stdin=stdin, detach=detach,
                            exec_id=exec_id)

