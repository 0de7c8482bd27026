"""Where a container's log goes and how it is read back (the pouchd side of the log drivers).

At each start, for json-file, local and syslog a log writer process (``runtime/logwriter.py``)
is started on a fresh FIFO that conmon then writes its k8s-file records into; ``none`` gives
conmon ``none:``; ``k8s-file`` (records made before log drivers, the CRI) has conmon write
``ctr.log`` itself. ``logs`` reads json-file, local and k8s-file (rotated files first).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence

from pouch import errors
from pouch.config import DaemonConfig
from pouch.models import Container, LogConfig
from pouch.runtime import logconfig, logencode, logformats
from pouch.runtime.logconfig import JSON_FILE, K8S_FILE, LOCAL, NONE, SYSLOG, LogSettings
from pouch.runtime.logs import K8S_FILE as K8S_FORMAT
from pouch.runtime.logs import LogFormat
from pouch.runtime.logwriter import WriterSpec, rotated_names
from pouch.services.logrotate import rotated_paths

WRITER = (sys.executable, "-I", "-m", "pouch.runtime.logwriter")
WRITER_START_TIMEOUT = 30.0


class LogTarget:
    """What conmon is given (``-l DRIVER:PATH``) and, for a driver with a writer, the writer being
    started: pouchd holds the FIFO's read end meanwhile, so conmon never waits for it and the
    writer starts while conmon and runc create the container (:meth:`confirm` after)."""

    def __init__(self, conmon_driver: str, conmon_path: str = "", proc: subprocess.Popen | None = None,
                 hold_fd: int | None = None, driver: str = "") -> None:
        self.conmon_driver = conmon_driver  # "k8s-file" or "none"
        self.conmon_path = conmon_path
        self.writer_pid: int | None = None
        self._proc = proc
        self._hold_fd = hold_fd
        self._driver = driver

    def confirm(self) -> None:
        """Wait for the writer's answer: its pid, or the error that fails the start."""
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        try:
            self.writer_pid = _writer_answer(proc, self._driver)
        finally:
            self._release()

    def _release(self) -> None:
        if self._hold_fd is not None:
            os.close(self._hold_fd)
            self._hold_fd = None

    def stop(self) -> None:
        """Undo: the writer killed (if it is still this FIFO's), the FIFO removed."""
        if self._proc is not None:
            with contextlib.suppress(errors.PouchError):
                self.confirm()
        self._release()
        if self.writer_pid is not None and _is_writer_for(self.writer_pid, self.conmon_path):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.writer_pid, signal.SIGTERM)
        if self._driver:  # a writer's FIFO (not a k8s-file log)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.conmon_path)


def container_settings(config: DaemonConfig, c: Container) -> LogSettings:
    return logconfig.settings(c.options.log_config, default_max_size=config.log_max_size,
                              default_max_files=config.log_max_files)


def resolve_create(config: DaemonConfig, cfg: LogConfig, cri_log_path: str = "") -> LogConfig:
    """A new container's config: the daemon's default driver when none is given; a 400 for an
    unknown driver or option (checked now, not at start). A CRI container's log file
    (``CreateOptions.log_path``) is conmon's k8s-file, which the kubelet reads and rotates."""
    if cri_log_path:
        return LogConfig(K8S_FILE, {"path": cri_log_path})
    resolved = logconfig.resolve(cfg, LogConfig(config.log_driver, dict(config.log_opts)))
    logconfig.settings(resolved)
    return resolved


def log_path(config: DaemonConfig, c: Container) -> str:
    """The current file of a container's log (empty for drivers that keep none)."""
    cdir = config.container_dir(c.id)
    driver = c.options.log_config.type
    if driver == JSON_FILE:
        return os.path.join(cdir, f"{c.id}-json.log")
    if driver == LOCAL:
        return os.path.join(cdir, "local-logs", "container.log")
    if driver == K8S_FILE:
        return c.options.log_config.config.get("path") or os.path.join(cdir, "ctr.log")
    return ""


def rotated_log_paths(config: DaemonConfig, c: Container) -> list[str]:
    """The rotated files of the log, oldest first."""
    path = log_path(config, c)
    if not path:
        return []
    if c.options.log_config.type == K8S_FILE:  # a CRI container's file is rotated by the kubelet
        return [] if c.options.log_config.config.get("path") or c.options.log_path else \
            rotated_paths(path, config.log_max_files)
    s = container_settings(config, c)
    return list(reversed(rotated_names(path, s.max_files, s.compress)))


READABLE = logconfig.READABLE


def check_readable(c: Container) -> None:
    if c.options.log_config.type not in READABLE:
        raise errors.NotImplementedYet("configured logging driver does not support reading")


def read_format(c: Container) -> LogFormat:
    return {JSON_FILE: logformats.JSON_FILE, LOCAL: logformats.LOCAL}.get(c.options.log_config.type, K8S_FORMAT)


def fifo_path(config: DaemonConfig, container_id: str) -> str:
    return os.path.join(config.exec_root, "logfifos", container_id)


def open_target(config: DaemonConfig, c: Container, image_name: str, env: Sequence[str] = ()) -> LogTarget:
    """The log of a container about to start: conmon's target, the writer started if one is needed.
    ``env``: the container's variables (json-file's ``env`` option)."""
    driver = c.options.log_config.type
    if driver == K8S_FILE:
        return LogTarget(K8S_FILE, log_path(config, c))
    if driver == NONE:
        return LogTarget(NONE)
    s = container_settings(config, c)
    fifo = fifo_path(config, c.id)
    os.makedirs(os.path.dirname(fifo), mode=0o700, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(fifo)  # a previous run's (its writer, if still draining, keeps its own open)
    os.mkfifo(fifo, 0o600)
    values = {"ID": c.id[:12], "FullID": c.id, "Name": c.name, "ImageName": image_name,
              "ImageID": c.image_id[7:19], "ImageFullID": c.image_id, "DaemonName": "pouch"}
    tag = logconfig.render_tag(s.tag, values)
    attrs = ""
    if driver == JSON_FILE:
        attrs = logencode.encode_attrs(logconfig.extra_attributes(c.options.log_config.config, c.options.labels,
                                                                  list(env), values))
    spec = WriterSpec(fifo=fifo, driver=driver, path=log_path(config, c), max_size=s.max_size,
                      max_files=s.max_files, compress=s.compress, syslog_address=s.syslog_address,
                      syslog_facility=s.syslog_facility, syslog_format=s.syslog_format, tag=tag,
                      hostname=socket.gethostname(), attrs=attrs)
    hold = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        proc = subprocess.Popen([*WRITER, *spec.to_argv()], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True, cwd="/")
    except BaseException:
        os.close(hold)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(fifo)
        raise
    return LogTarget(K8S_FILE, fifo, proc, hold, driver)


def _writer_answer(proc: subprocess.Popen, driver: str) -> int:
    try:
        out, err = proc.communicate(timeout=WRITER_START_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise errors.Internal("the log writer did not start") from None
    answer = out.decode("utf-8", "replace").strip()
    if answer.startswith("OK "):
        return int(answer.split()[1])
    detail = answer.removeprefix("ERR ") or err.decode("utf-8", "replace").strip()[-300:]
    if driver == SYSLOG:
        raise errors.InvalidArgument(f"failed to initialize logging driver: {detail}")
    raise errors.Internal(f"failed to initialize logging driver: {detail}")


def _is_writer_for(pid: int, fifo: str) -> bool:
    """The process ``pid`` is still the log writer of this FIFO (not a reused pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return False
    return b"pouch.runtime.logwriter" in cmdline and fifo.encode() in cmdline
