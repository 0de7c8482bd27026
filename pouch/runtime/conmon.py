"""conmon (2.1.x): its command line, its sync-pipe protocol and the files it leaves.

conmon is the per-container monitor every OCI runtime handler drives (handler.py):
pouchd starts it, it double-forks away (so it is reparented to init and outlives
pouchd), runs ``<runtime> create``, holds the container's stdio, writes the
k8s-file log, serves the attach socket and finally writes the exit code to
``<exits_dir>/<id>``. This module knows nothing of which runtime that is.

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
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pouch.config import DaemonConfig
from pouch.fds import wait_readable
from pouch.runtime import _proc
from pouch.runtime.attach import AttachConnection, reopen_log, resize
from pouch.runtime.runc import OCIRuntimeError

log = logging.getLogger(__name__)

PIDFILE = "pidfile"
CONMON_PIDFILE = "conmon.pid"
ATTACH_SOCKET = "attach"
CTL_FIFO = "ctl"
WINSZ_FIFO = "winsz"
OOM_FILE = "oom"
RUNTIME_FILE = "runtime.json"  # which OCI runtime handler (name, path, state root) created the container
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
            if not wait_readable([self.fd], remaining):
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


# --------------------------------------------------------------------------- files


@dataclass(frozen=True)
class ConmonFiles:
    """What conmon leaves for a container, whichever OCI runtime it drives: pidfiles, the
    attach socket and fifos in the bundle, the exit file, the ``oom`` marker."""

    config: DaemonConfig

    def bundle_dir(self, container_id: str) -> str:
        return self.config.bundle_dir(container_id)

    def exit_file(self, container_id: str) -> str:
        return os.path.join(self.config.exits_dir, container_id)

    def attach_socket_path(self, container_id: str) -> str:
        return os.path.join(self.bundle_dir(container_id), ATTACH_SOCKET)

    def conmon_pid(self, container_id: str) -> int | None:
        return _proc.read_int_file(os.path.join(self.bundle_dir(container_id), CONMON_PIDFILE))

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

    def remove(self, container_id: str) -> None:
        """conmon's files of a container (not its bundle's config.json)."""
        bundle = self.bundle_dir(container_id)
        for name in CONMON_ARTEFACTS:
            _remove(os.path.join(bundle, name))
        _remove(self.exit_file(container_id))
        # without --full-attach conmon would leave a <socket-dir>/<cuuid> symlink
        _remove(os.path.join(self.config.sockets_dir, container_id))

    def wait_gone(self, container_id: str, timeout: float) -> None:
        """Let the container's conmon finish (it writes the exit file last); SIGKILL it after ``timeout``."""
        conmon_pid = self.conmon_pid(container_id)
        if conmon_pid is not None and conmon_alive(conmon_pid, container_id):
            if not _proc.wait_pid_exit(conmon_pid, timeout):
                kill_conmon(conmon_pid, container_id)

    # -- stdio
    def attach(self, container_id: str) -> AttachConnection:
        """Connect to the container's attach socket (works from create on)."""
        return AttachConnection.connect(self.bundle_dir(container_id))

    def resize(self, container_id: str, height: int, width: int) -> None:
        resize(self.bundle_dir(container_id), height, width)

    def reopen_log(self, container_id: str) -> None:
        reopen_log(self.bundle_dir(container_id))


def conmon_alive(conmon_pid: int, container_id: str) -> bool:
    """True if ``conmon_pid`` is alive and really is conmon for this container."""
    return is_conmon_for(_proc.read_cmdline(conmon_pid), container_id)


def wait_conmon(conmon_pid: int, timeout: float | None) -> bool:
    """Block until conmon exits (True) or ``timeout`` passes (False)."""
    return _proc.wait_pid_exit(conmon_pid, timeout)
