"""The daemon's OCI runtime handlers by name, and the driver the container service calls.

Glossary:

- *handler*: one :class:`~pouch.runtime.handler.OCIRuntime` per name in ``config.runtimes``
  (``runc`` always; ``pouchd --add-runtime NAME=PATH`` adds more);
- *default runtime*: ``config.default_runtime`` (``pouchd --default-runtime``), the handler of
  a container created without ``--runtime``;
- *the container's handler*: the one that created it, as recorded in its bundle. Every
  operation on an existing container (start, kill, pause, update, exec, delete…) goes there.

What does not depend on the runtime (exit files, the attach socket, conmon's pid) is
answered from conmon's files (:class:`~pouch.runtime.conmon.ConmonFiles`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from pouch import errors
from pouch.config import DaemonConfig
from pouch.runtime.attach import AttachConnection
from pouch.runtime.conmon import RUNTIME_FILE, ConmonFiles, CreatedContainer, ExitStatus, conmon_alive, wait_conmon
from pouch.runtime.exec import ExecHandle
from pouch.runtime.handler import CREATE_TIMEOUT, CreateRequest, OCIRuntime, parse_runtime_record
from pouch.runtime.runc import Runc


def unknown_runtime(name: str, known: Sequence[str]) -> errors.InvalidArgument:
    return errors.InvalidArgument(f"Unknown runtime specified {name} (known runtimes: {', '.join(sorted(known))})")


def resolve_runtime(name: str, known: Sequence[str], default: str) -> str:
    """The runtime a container is created with: ``name``, or the default when none was asked for."""
    resolved = name or default
    if resolved not in known:
        raise unknown_runtime(resolved, known)
    return resolved


def _handlers(config: DaemonConfig) -> dict[str, OCIRuntime]:
    return {name: OCIRuntime.named(config, name, path) for name, path in config.runtimes.items()}


class Runtimes:
    """Name -> handler, built from the daemon's configuration, and the container-facing driver."""

    def __init__(self, config: DaemonConfig, handlers: Mapping[str, OCIRuntime]) -> None:
        if config.default_runtime not in handlers:
            raise unknown_runtime(config.default_runtime, list(handlers))
        self._table = (config, MappingProxyType(dict(handlers)))  # swapped as one by reload()
        self.files = ConmonFiles(config)

    @classmethod
    def from_config(cls, config: DaemonConfig) -> Runtimes:
        return cls(config, _handlers(config))

    @property
    def config(self) -> DaemonConfig:
        return self._table[0]

    @property
    def handlers(self) -> Mapping[str, OCIRuntime]:
        return self._table[1]

    def reload(self, config: DaemonConfig) -> None:
        """pouchd's SIGHUP: the runtimes and default runtime of ``config`` from now on (a container
        keeps the handler recorded in its bundle, so removing a runtime strands none)."""
        handlers = _handlers(config)
        if config.default_runtime not in handlers:
            raise unknown_runtime(config.default_runtime, list(handlers))
        self._table = (config, MappingProxyType(handlers))

    # -- choosing a handler
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.handlers)

    @property
    def default(self) -> OCIRuntime:
        return self.handlers[self.config.default_runtime]

    def resolve(self, name: str) -> str:
        """``name`` if registered, the default runtime's name if empty; InvalidArgument otherwise."""
        return resolve_runtime(name, self.names, self.config.default_runtime)

    def handler(self, name: str) -> OCIRuntime:
        return self.handlers[self.resolve(name)]

    def handler_for(self, container_id: str) -> OCIRuntime:
        """The handler that created the container (its bundle says); the default one when
        there is no record. A recorded runtime that is no longer registered (the daemon was
        restarted without its --add-runtime) is still driven, with its recorded path and root."""
        try:
            with open(os.path.join(self.files.bundle_dir(container_id), RUNTIME_FILE)) as f:
                record = parse_runtime_record(f.read())
        except FileNotFoundError:
            record = None
        if record is None:
            return self.default
        registered = self.handlers.get(record.name)
        if registered is not None and registered.record == record:
            return registered
        return OCIRuntime(record.name, Runc(record.path, record.root, args=record.args), self.config)

    # -- lifecycle, each on the container's handler
    def create(self, container_id: str, log_path: str, *, runtime: str = "", bundle_dir: str | None = None,
               tty: bool = False, stdin: bool = False, leave_stdin_open: bool = False,
               log_max_size: int | None = None, exit_command: Sequence[str] = (),
               timeout: float = CREATE_TIMEOUT, log_driver: str = "k8s-file") -> CreatedContainer:
        """conmon + ``<runtime> create`` with the handler named ``runtime`` (empty: the default).
        ``bundle_dir`` may be given but must be config.bundle_dir(id) (conmon's files are found
        there later)."""
        bundle = self.files.bundle_dir(container_id)
        if bundle_dir is not None and os.path.realpath(bundle_dir) != os.path.realpath(bundle):
            raise errors.InvalidArgument(f"bundle for {container_id} must be {bundle}, not {bundle_dir}")
        request = CreateRequest(log_path, log_driver, tty=tty, stdin=stdin, leave_stdin_open=leave_stdin_open,
                                log_max_size=log_max_size, exit_command=tuple(exit_command), timeout=timeout)
        return self.handler(runtime).create(container_id, request)

    def start(self, container_id: str) -> None:
        self.handler_for(container_id).start(container_id)

    def kill(self, container_id: str, sig: int | str = "SIGTERM", all: bool = False) -> None:  # noqa: A002
        self.handler_for(container_id).kill(container_id, sig, all_processes=all)

    def pause(self, container_id: str) -> None:
        self.handler_for(container_id).pause(container_id)

    def resume(self, container_id: str) -> None:
        self.handler_for(container_id).resume(container_id)

    def update(self, container_id: str, resources: dict) -> None:
        self.handler_for(container_id).update(container_id, resources)

    def delete(self, container_id: str, force: bool = False, timeout: float = 10.0) -> None:
        self.handler_for(container_id).delete(container_id, force=force, timeout=timeout)

    def exec_process(self, container_id: str, process_spec: dict, *, tty: bool = False, stdin: bool = False,
                     detach: bool = False, exec_id: str | None = None) -> ExecHandle:
        return self.handler_for(container_id).exec_process(container_id, process_spec, tty=tty, stdin=stdin,
                                                           detach=detach, exec_id=exec_id)

    # -- queries
    def state(self, container_id: str) -> dict | None:
        return self.handler_for(container_id).state(container_id)

    def processes(self, container_id: str) -> list[int]:
        return self.handler_for(container_id).processes(container_id)

    def list(self) -> list[dict]:
        """The runtime's list for every registered handler of this daemon."""
        return [c for handler in self.handlers.values() for c in handler.list()]

    # -- conmon's files and stdio (the same whatever the runtime)
    def bundle_dir(self, container_id: str) -> str:
        return self.files.bundle_dir(container_id)

    def exit_file(self, container_id: str) -> str:
        return self.files.exit_file(container_id)

    def attach_socket_path(self, container_id: str) -> str:
        return self.files.attach_socket_path(container_id)

    def exit_status(self, container_id: str) -> ExitStatus | None:
        return self.files.exit_status(container_id)

    def oom_killed(self, container_id: str) -> bool:
        return self.files.oom_killed(container_id)

    def conmon_pid(self, container_id: str) -> int | None:
        return self.files.conmon_pid(container_id)

    @staticmethod
    def conmon_alive(conmon_pid: int, container_id: str) -> bool:
        return conmon_alive(conmon_pid, container_id)

    @staticmethod
    def wait_conmon(conmon_pid: int, timeout: float | None) -> bool:
        return wait_conmon(conmon_pid, timeout)

    def attach(self, container_id: str) -> AttachConnection:
        return self.files.attach(container_id)

    def resize(self, container_id: str, height: int, width: int) -> None:
        self.files.resize(container_id, height, width)

    def reopen_log(self, container_id: str) -> None:
        self.files.reopen_log(container_id)
