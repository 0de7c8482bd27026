"""Container lifecycle through conmon (2.1.x) and runc.

conmon is the per-container monitor: pouchd starts it, it double-forks away
(so it is reparented to init and outlives pouchd), runs ``runc create``, holds
the container's stdio, writes the k8s-file log, serves the attach socket and
finally writes the exit code to ``<exits_dir>/<id>``.

Glossary / on-disk layout for container ``<id>`` (bundle = config.bundle_dir(id)):

- ``<bundle>/config.json``  the OCI spec, written by the caller before create.
- ``<bundle>/pidfile``      container init pid (runc ``--pid-file``, conmon ``-p``).
- ``<bundle>/conmon.pid``   conmon's own pid (``--conmon-pidfile``).
- ``<bundle>/attach``       conmon's SOCK_SEQPACKET attach socket (``--full-attach``:
  bound in the bundle itself; clients connect through ``/proc/self/fd/<dirfd>/attach``
  so the 108-byte sun_path limit never matters, see attach.py).
- ``<bundle>/ctl``, ``<bundle>/winsz``  conmon's control fifos ("1 H W\\n" resizes).
- ``<bundle>/oom``          created by conmon (relative to its cwd, which we set to
  the bundle) when the memory cgroup reports an OOM kill.
- ``<exits_dir>/<id>``      the exit code as decimal text; its mtime is when the
  container finished.
- ``<exec_root>/runtime/<runtime name>``  runc's ``--root`` for this daemon.

The sync-pipe protocol (``--api-version 1``): conmon writes JSON lines
``{"data": N}`` or ``{"data": -1, "message": "<runtime stderr>"}`` to the fd
named by ``_OCI_SYNCPIPE``. For create, N is the container pid once ``runc
create`` succeeded. For exec, the first line is the exec'd pid and a second one
its exit code. ``_OCI_STARTPIPE`` blocks conmon until we write to it (we write
at once; it exists so a caller could move conmon into a cgroup first), and for
``--exec-attach`` conmon reads it a second time before running ``runc exec``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pouch import errors
from pouch.config import DaemonConfig
from pouch.runtime import _proc
from pouch.runtime.runc import OCIRuntimeError, Runc, parse_runtime_error

if TYPE_CHECKING:
    from pouch.runtime.attach import AttachConnection
    from pouch.runtime.exec import ExecHandle

log = logging.getLogger(__name__)

PIDFILE = "pidfile"
CONMON_PIDFILE = "conmon.pid"
ATTACH_SOCKET = "attach"
CTL_FIFO = "ctl"
WINSZ_FIFO = "winsz"
OOM_FILE = "oom"
RUNTIME_FILE = "runtime.json"  # which OCI runtime (path, state root) created the container
CONMON_ARTEFACTS = (PIDFILE, CONMON_PIDFILE, ATTACH_SOCKET, CTL_FIFO, WINSZ_FIFO, OOM_FILE, RUNTIME_FILE)

CREATE_TIMEOUT = 60.0


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class CreatedContainer:
    pid: int
    conmon_pid: int


@dataclass(frozen=True)
class ExitStatus:
    code: int
    finished_at: float  # epoch seconds (exit file mtime)

    @property
    def signal(self) -> int | None:
        """conmon reports death by signal N as 128+N."""
        return self.code - 128 if 128 < self.code < 128 + 65 else None


@dataclass(frozen=True)
class ConmonArgs:
    """Everything one conmon invocation needs; turned into argv by conmon_argv()."""

    conmon_path: str
    container_id: str
    cuuid: str
    runtime_path: str
    runtime_root: str
    bundle_dir: str
    pidfile: str
    conmon_pidfile: str
    exit_dir: str
    socket_dir: str
    log_driver_path: str  # "k8s-file:/path" or "none:"
    log_size_max: int | None = None
    tty: bool = False
    stdin: bool = False
    leave_stdin_open: bool = False
    exec_spec: str | None = None  # --exec --exec-process-spec <file>
    exec_attach: bool = False
    log_level: str = "warning"
    extra_runtime_args: tuple[str, ...] = ()
    exit_command: tuple[str, ...] = ()  # program + args run by conmon after exit


def conmon_argv(a: ConmonArgs) -> list[str]:
    """The conmon command line (modelled on podman 4.3's, see docs/reference)."""
    argv = [
        a.conmon_path,
        "--api-version", "1",
        "-c", a.container_id,
        "-u", a.cuuid,
        "-r", a.runtime_path,
        "-b", a.bundle_dir,
        "-p", a.pidfile,
        "-n", a.container_id,
        "--exit-dir", a.exit_dir,
        "--socket-dir-path", a.socket_dir,
        "--full-attach",
        "-l", a.log_driver_path,
        "--log-level", a.log_level,
        "--conmon-pidfile", a.conmon_pidfile,
        "--runtime-arg", f"--root={a.runtime_root}",
    ]  # fmt: skip
    for extra in a.extra_runtime_args:
        argv += ["--runtime-arg", extra]
    if a.log_size_max is not None and a.log_size_max > 0:
        argv += ["--log-size-max", str(a.log_size_max)]
    if a.tty:
        argv.append("-t")
    if a.stdin:
        argv.append("-i")
    if a.leave_stdin_open:
        argv.append("--leave-stdin-open")
    if a.exec_spec is not None:
        argv += ["-e", "--exec-process-spec", a.exec_spec]
        if a.exec_attach:
            argv.append("--exec-attach")
    if a.exit_command:
        argv += ["--exit-command", a.exit_command[0]]
        for arg in a.exit_command[1:]:
            argv += ["--exit-command-arg", arg]
    return argv


@dataclass(frozen=True)
class SyncMessage:
    value: int
    message: str | None = None

    @property
    def failed(self) -> bool:
        return self.value < 0


def parse_sync_message(line: bytes | str) -> SyncMessage:
    """One JSON line from conmon's sync pipe. Accepts the v1 key ``data`` and the
    legacy ``pid``/``exit_code`` keys."""
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise OCIRuntimeError(f"conmon sent an unreadable sync message: {line!r}") from e
    for key in ("data", "pid", "exit_code"):
        if key in obj:
            return SyncMessage(int(obj[key]), obj.get("message"))
    raise OCIRuntimeError(f"conmon sent an unexpected sync message: {line!r}")


def is_conmon_for(argv: Sequence[str] | None, cuuid: str) -> bool:
    """Whether a process argv is conmon monitoring ``cuuid`` (its ``-u`` value)."""
    if not argv or os.path.basename(argv[0]) != "conmon":
        return False
    for i, arg in enumerate(argv):
        if arg in ("-u", "--cuuid") and i + 1 < len(argv) and argv[i + 1] == cuuid:
            return True
        if arg == f"--cuuid={cuuid}":
            return True
    return False


# --------------------------------------------------------------------------- pipes


class SyncReader:
    """Line reader over the sync (or attach) pipe with a deadline."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buf = b""
        self._eof = False

    def read_message(self, timeout: float | None) -> SyncMessage | None:
        """The next message, or None at EOF. Raises TimeoutError."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buf and not self._eof:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError("timed out waiting for conmon")
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.fd, 65536)
            if not chunk:
                self._eof = True
            self._buf += chunk
        if not self._buf.strip():
            return None
        line, _, self._buf = self._buf.partition(b"\n")
        return parse_sync_message(line)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


@dataclass
class ConmonProcess:
    """A conmon that has been spawned and has forked away."""

    conmon_pid: int
    sync: SyncReader
    start_w: int
    attach: SyncReader | None = None
    stderr: bytes = b""  # what conmon said before detaching its stdio (warnings)

    def close(self) -> None:
        self.sync.close()
        if self.attach is not None:
            self.attach.close()
        if self.start_w >= 0:
            with contextlib.suppress(OSError):
                os.close(self.start_w)
            self.start_w = -1

    def signal_start(self) -> None:
        os.write(self.start_w, b"0")


def spawn_conmon(argv: list[str], cwd: str, *, want_attach_pipe: bool = False) -> ConmonProcess:
    """Start conmon with its sync/start (and attach) pipes, let it pass the start
    pipe once, and wait for the intermediate process to exit (double fork).

    The returned ConmonProcess owns the parent ends of the pipes.
    """
    fds: list[int] = []
    try:
        sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
        start_r, start_w = os.pipe2(os.O_CLOEXEC)
        fds += [sync_r, sync_w, start_r, start_w]
        env = {"_OCI_SYNCPIPE": str(sync_w), "_OCI_STARTPIPE": str(start_r)}
        child_fds = [sync_w, start_r]
        if want_attach_pipe:
            att_r, att_w = os.pipe2(os.O_CLOEXEC)
            fds += [att_r, att_w]
            env["_OCI_ATTACHPIPE"] = str(att_w)
            child_fds.append(att_w)
        log.debug("exec %s", argv)
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=_proc.scrubbed_env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=child_fds,
            start_new_session=True,
        )
        for fd in child_fds:
            os.close(fd)
            fds.remove(fd)
        os.write(start_w, b"0")  # first start-pipe read: conmon goes on to fork
        # (a pidfd, not Popen.wait(timeout=): that one polls with sleeps and wakes up late)
        if not _proc.wait_pid_exit(proc.pid, 30):
            proc.kill()
            proc.wait()
            raise OCIRuntimeError("conmon did not fork away within 30s")
        rc = proc.wait()
        stderr = _drain_nonblocking(proc.stderr)
        if rc != 0:
            raise OCIRuntimeError(f"conmon failed (exit {rc}): {stderr.decode('utf-8', 'replace').strip()}")
        pidfile = argv[argv.index("--conmon-pidfile") + 1]
        conmon_pid = _proc.read_int_file(pidfile)
        if conmon_pid is None:
            raise OCIRuntimeError(f"conmon did not write its pidfile {pidfile}")
        cp = ConmonProcess(conmon_pid, SyncReader(sync_r), start_w, stderr=stderr)
        fds.remove(sync_r)
        fds.remove(start_w)
        if want_attach_pipe:
            cp.attach = SyncReader(att_r)
            fds.remove(att_r)
        return cp
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)


def _drain_nonblocking(stream) -> bytes:  # type: ignore[no-untyped-def]
    if stream is None:
        return b""
    fd = stream.fileno()
    os.set_blocking(fd, False)
    chunks = []
    with contextlib.suppress(BlockingIOError, OSError):
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    stream.close()
    return b"".join(chunks)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def kill_conmon(conmon_pid: int, cuuid: str, timeout: float = 5.0) -> None:
    """SIGKILL a conmon we own (after checking it really is ours) and wait for it."""
    if is_conmon_for(_proc.read_cmdline(conmon_pid), cuuid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(conmon_pid, signal.SIGKILL)
        _proc.wait_pid_exit(conmon_pid, timeout)


# --------------------------------------------------------------------------- driver


class ConmonRuntime:
    """The container driver the daemon's container service calls.

    One instance per configured OCI runtime (``config.runtimes[name]``); runc's
    state lives under ``<exec_root>/runtime/<name>``.
    """

    def __init__(self, config: DaemonConfig, runtime: str | None = None) -> None:
        self.config = config
        self.runtime_name = runtime or config.default_runtime
        try:
            self.runtime_path = config.runtimes[self.runtime_name]
        except KeyError:
            raise errors.InvalidArgument(f"unknown runtime: {self.runtime_name}") from None
        self.state_root = self.state_root_for(self.runtime_name)
        self.runc = Runc(self.runtime_path, self.state_root)

    def state_root_for(self, runtime_name: str) -> str:
        return os.path.join(self.config.exec_root, "runtime", runtime_name)

    def _runtime_for_path(self, runtime_path: str | None) -> Runc:
        if not runtime_path or runtime_path == self.runtime_path:
            return self.runc
        names = [n for n, p in self.config.runtimes.items() if p == runtime_path]
        name = names[0] if names else os.path.basename(runtime_path)
        return Runc(runtime_path, self.state_root_for(name))

    def runc_for(self, container_id: str) -> Runc:
        """The runtime a container was created with (recorded in its bundle)."""
        try:
            with open(os.path.join(self.bundle_dir(container_id), RUNTIME_FILE)) as f:
                recorded = json.load(f)
        except (FileNotFoundError, ValueError):
            return self.runc
        if (recorded.get("path"), recorded.get("root")) == (self.runc.path, self.runc.root):
            return self.runc
        return Runc(recorded["path"], recorded["root"])

    # -- paths
    def bundle_dir(self, container_id: str) -> str:
        return self.config.bundle_dir(container_id)

    def exit_file(self, container_id: str) -> str:
        return os.path.join(self.config.exits_dir, container_id)

    def attach_socket_path(self, container_id: str) -> str:
        return os.path.join(self.bundle_dir(container_id), ATTACH_SOCKET)

    # -- lifecycle
    def create(
        self,
        container_id: str,
        log_path: str,
        *,
        bundle_dir: str | None = None,
        runtime_path: str | None = None,
        tty: bool = False,
        stdin: bool = False,
        leave_stdin_open: bool = False,
        log_max_size: int | None = None,
        exit_command: Sequence[str] = (),
        timeout: float = CREATE_TIMEOUT,
    ) -> CreatedContainer:
        """conmon + ``runc create`` for the bundle at config.bundle_dir(id).

        On return the container is in state "created", its attach socket is
        listening and conmon is logging to ``log_path`` (k8s-file). On failure
        nothing is left: no runtime state, no conmon, no sockets or fifos.
        ``log_max_size``: None → config.log_max_size; 0 or negative → unlimited.
        ``bundle_dir`` may be given but must be config.bundle_dir(id) (conmon's
        files are found there later); ``runtime_path`` selects another
        configured runtime (its state root is <exec_root>/runtime/<name>).
        """
        bundle = self.bundle_dir(container_id)
        if bundle_dir is not None and os.path.realpath(bundle_dir) != os.path.realpath(bundle):
            raise errors.InvalidArgument(f"bundle for {container_id} must be {bundle}, not {bundle_dir}")
        runc = self._runtime_for_path(runtime_path)
        self._check_create_inputs(container_id, bundle, runc)
        for d in (self.config.exits_dir, self.config.sockets_dir, runc.root, os.path.dirname(log_path)):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self._remove_conmon_files(container_id)  # stale files of a previous run (restart)
        with open(os.path.join(bundle, RUNTIME_FILE), "w") as f:
            json.dump({"path": runc.path, "root": runc.root}, f)
        max_size = self.config.log_max_size if log_max_size is None else log_max_size
        args = ConmonArgs(
            conmon_path=self.config.conmon_path,
            container_id=container_id,
            cuuid=container_id,
            runtime_path=runc.path,
            runtime_root=runc.root,
            bundle_dir=bundle,
            pidfile=os.path.join(bundle, PIDFILE),
            conmon_pidfile=os.path.join(bundle, CONMON_PIDFILE),
            exit_dir=self.config.exits_dir,
            socket_dir=self.config.sockets_dir,
            log_driver_path=f"k8s-file:{log_path}",
            log_size_max=max_size if max_size > 0 else None,
            tty=tty,
            stdin=stdin,
            leave_stdin_open=leave_stdin_open,
            log_level="warning",
            exit_command=tuple(exit_command),
        )
        started = time.monotonic()
        with contextlib.ExitStack() as rollback:
            rollback.callback(self._rollback_create, container_id)
            cp = spawn_conmon(conmon_argv(args), cwd=bundle)
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
            rollback.pop_all()
        log.debug("created %s pid=%d conmon=%d in %.3fs", container_id, msg.value, cp.conmon_pid,
                  time.monotonic() - started)
        return CreatedContainer(pid=msg.value, conmon_pid=cp.conmon_pid)

    def _check_create_inputs(self, container_id: str, bundle: str, runc: Runc) -> None:
        if not os.path.isfile(os.path.join(bundle, "config.json")):
            raise errors.InvalidArgument(f"no OCI bundle for {container_id}: {bundle}/config.json is missing")
        for what, path in (("conmon", self.config.conmon_path), ("OCI runtime", runc.path)):
            if not os.access(path, os.X_OK):
                raise OCIRuntimeError(f"{what} not found or not executable: {path}")
        if os.path.exists(os.path.join(runc.root, container_id, "state.json")):  # runc's own state file
            raise errors.Conflict(f"container {container_id} already exists in the runtime")

    def _rollback_create(self, container_id: str) -> None:
        conmon_pid = self.conmon_pid(container_id)
        if conmon_pid is not None:
            kill_conmon(conmon_pid, container_id)
        with contextlib.suppress(errors.PouchError):
            self.runc_for(container_id).delete(container_id, force=True)
        self._remove_conmon_files(container_id)

    def _remove_conmon_files(self, container_id: str) -> None:
        bundle = self.bundle_dir(container_id)
        for name in CONMON_ARTEFACTS:
            _remove(os.path.join(bundle, name))
        _remove(self.exit_file(container_id))
        # without --full-attach conmon would leave a <socket-dir>/<cuuid> symlink
        _remove(os.path.join(self.config.sockets_dir, container_id))

    def start(self, container_id: str) -> None:
        self.runc_for(container_id).start(container_id)

    def kill(self, container_id: str, sig: int | str = "SIGTERM", all: bool = False) -> None:  # noqa: A002
        self.runc_for(container_id).kill(container_id, sig, all_processes=all)

    def pause(self, container_id: str) -> None:
        self.runc_for(container_id).pause(container_id)

    def resume(self, container_id: str) -> None:
        self.runc_for(container_id).resume(container_id)

    def delete(self, container_id: str, force: bool = False, timeout: float = 10.0) -> None:
        """Remove runtime state and conmon's files; no-op for an unknown container.

        With force a running container is killed first. Waits for conmon to
        finish (so it has written the exit file) and then removes the exit file
        too: read exit_status() before delete.
        """
        runc = self.runc_for(container_id)
        runc.delete(container_id, force=force)
        conmon_pid = self.conmon_pid(container_id)
        if conmon_pid is not None and self.conmon_alive(conmon_pid, container_id):
            if not _proc.wait_pid_exit(conmon_pid, timeout):
                kill_conmon(conmon_pid, container_id)
        self._remove_conmon_files(container_id)

    # -- queries
    def state(self, container_id: str) -> dict | None:
        return self.runc_for(container_id).state(container_id)

    def processes(self, container_id: str) -> list[int]:
        return self.runc_for(container_id).ps(container_id)

    def list(self) -> list[dict]:
        """runc's list for every runtime state root of this daemon."""
        out = self.runc.list() if os.path.isdir(self.state_root) else []
        root = os.path.dirname(self.state_root)
        for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
            if name != self.runtime_name:
                path = self.config.runtimes.get(name)
                if path and os.access(path, os.X_OK):
                    out += Runc(path, os.path.join(root, name)).list()
        return out

    def exit_status(self, container_id: str) -> ExitStatus | None:
        path = self.exit_file(container_id)
        try:
            with open(path) as f:
                text = f.read().strip()
            mtime = os.stat(path).st_mtime
        except FileNotFoundError:
            return None
        try:
            return ExitStatus(int(text), mtime)
        except ValueError:
            return None

    def oom_killed(self, container_id: str) -> bool:
        return os.path.exists(os.path.join(self.bundle_dir(container_id), OOM_FILE))

    def conmon_pid(self, container_id: str) -> int | None:
        return _proc.read_int_file(os.path.join(self.bundle_dir(container_id), CONMON_PIDFILE))

    @staticmethod
    def conmon_alive(conmon_pid: int, container_id: str) -> bool:
        """True if ``conmon_pid`` is alive and really is conmon for this container."""
        return is_conmon_for(_proc.read_cmdline(conmon_pid), container_id)

    @staticmethod
    def wait_conmon(conmon_pid: int, timeout: float | None) -> bool:
        """Block until conmon exits (True) or ``timeout`` passes (False)."""
        return _proc.wait_pid_exit(conmon_pid, timeout)

    # -- stdio
    def attach(self, container_id: str) -> AttachConnection:
        """Connect to the container's attach socket (works from create on)."""
        from pouch.runtime.attach import AttachConnection

        return AttachConnection.connect(self.bundle_dir(container_id))

    def resize(self, container_id: str, height: int, width: int) -> None:
        from pouch.runtime.attach import resize

        resize(self.bundle_dir(container_id), height, width)

    def reopen_log(self, container_id: str) -> None:
        from pouch.runtime.attach import reopen_log

        reopen_log(self.bundle_dir(container_id))

    # -- exec
    def exec_process(self, container_id: str, process_spec: dict, *, tty: bool = False, stdin: bool = False,
                     detach: bool = False, exec_id: str | None = None) -> ExecHandle:
        from pouch.runtime.exec import exec_process

        return exec_process(self, container_id, process_spec, tty=tty, stdin=stdin, detach=detach, exec_id=exec_id)

