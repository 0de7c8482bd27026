"""A container's stdio for front ends: attach, logs, resize (no wire format in here).

``connect_attach`` gives a typed connection to a container's stdio (conmon's
attach socket, ``pouch.stdio.StdioConnection``), waiting for ``start`` when the
client attached before it, as ``docker run`` does. ``attach_options`` says how
a front end pumps it (the streams, a terminal or not, what the end of the
client's input does). ``log_entries`` reads the container's log as typed
entries (stream, bytes, timestamp), or a rich container's init console. Framing these for a client is the front
end's business (``pouch/api/attach_streams.py`` for the Docker API).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pouch.models import Container, Status
from pouch.rich import layout
from pouch.runtime.logs import LogEntry, read_logs, read_plain_log
from pouch.services import lifecycle, logsinks
from pouch.services.containers import ContainerService
from pouch.services.lifecycle import Op
from pouch.stdio import StdioConnection, StdioOptions, StreamKind, input_end

GATE_POLL = 1.0  # seconds between checks that a client waiting for start is still there


def attach_options(c: Container, *, stdin: bool, stdout: bool, stderr: bool) -> StdioOptions:
    """How a client attached to ``c`` is connected: stdin only if the container keeps it open."""
    opts = c.options
    return StdioOptions(tty=opts.tty, stdin=stdin and opts.open_stdin, stdout=stdout, stderr=stderr,
                        input_end=input_end(opts.tty, opts.stdin_once, exec_session=False))


def connect_attach(containers: ContainerService, container_id: str,
                   cancelled: Callable[[], bool] = lambda: False) -> StdioConnection | None:
    """Connect to the container's stdio. A created container is waited for until ``start``
    opens the attach gate (so no output is lost); None if ``cancelled()`` meanwhile."""
    current = containers.get(container_id)
    if current.state.status in (Status.RUNNING, Status.PAUSED):
        return containers.runtime.attach(current.id)
    while not containers.attach_gate.wait_open(current.id, timeout=GATE_POLL):
        if cancelled():
            return None
    try:
        return containers.runtime.attach(current.id)
    finally:
        containers.attach_gate.connected(current.id)


@dataclass(frozen=True)
class LogQuery:
    """Which log entries a client asked for (``since``/``until``: epoch seconds, inclusive)."""

    stdout: bool = True
    stderr: bool = True
    follow: bool = False
    since: float | None = None
    until: float | None = None
    tail: int | None = None  # the last N entries; None: all
    init: bool = False  # a rich container's init console (``pouch logs --init``) instead of its log

    def wants(self, kind: StreamKind) -> bool:
        return self.stderr if kind == StreamKind.STDERR else self.stdout


def logs_readable(c: Container) -> bool:
    return c.options.log_config.type in logsinks.READABLE


def check_logs_readable(c: Container) -> None:
    """Before answering ``logs``: a driver that keeps nothing readable is refused (Docker's 501)."""
    logsinks.check_readable(c)


def log_entries(containers: ContainerService, c: Container, query: LogQuery,
                cancelled: Callable[[], bool] = lambda: False) -> Iterator[LogEntry]:
    """The container's log entries (rotated files first); following ends when the container
    stopped, or once ``cancelled()`` (the client left: a quiet container must not hold it)."""

    def stopped() -> bool:
        return cancelled() or containers.is_stopped(c.id)

    if query.init:  # plain text, one time for all (see read_plain_log); empty but for rich containers
        path = layout.host_init_log(containers.config.container_dir(c.id))
        for entry in read_plain_log(path, tail=query.tail, follow=query.follow, should_stop=stopped):
            if query.stdout and (query.since is None or entry.timestamp >= query.since):
                yield entry
        return
    logsinks.check_readable(c)  # syslog, none: Docker's 501
    for entry in read_logs(containers.log_path(c), since=query.since, until=query.until, tail=query.tail,
                           follow=query.follow, should_stop=stopped, rotated=containers.rotated_log_paths(c),
                           fmt=logsinks.read_format(c)):
        if query.wants(entry.stream):
            yield entry


def resize_container(containers: ContainerService, c: Container, height: int, width: int) -> None:
    lifecycle.check(Op.RESIZE, c)
    if height <= 0 or width <= 0:
        return
    containers.runtime.resize(c.id, height, width)
