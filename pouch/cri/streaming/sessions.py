"""Exec and attach sessions: an engine stdio connection pumped to a client's channels.

The engine's rules apply as on the Docker API: an exec session's process runs under its own
conmon (``engine.execs``), an attach connects to the container's stdio through
``services.streams``, and what the end of the client's input does is ``StdioOptions.input_end``.
The session ends with a status on the error channel: the exit code for exec, success for attach.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

from pouch.cri.streaming import protocol
from pouch.cri.streaming.protocol import Channel, TermSize
from pouch.cri.streaming.remotecommand import WAKE, RemoteCommandIO
from pouch.cri.streaming.requests import AttachStream, ExecStream
from pouch.engine import Engine
from pouch.errors import PouchError
from pouch.services import streams
from pouch.services.execs import ExecConfig, exec_stdio_options
from pouch.stdio import InputEnd, StdioConnection, StdioOptions, StreamKind

log = logging.getLogger("pouchd.cri.stream")

END_OUTPUT_GRACE = 0.3  # seconds of output still forwarded after the input ended (InputEnd.END_OUTPUT)
_CHANNELS = {StreamKind.STDOUT: Channel.STDOUT, StreamKind.STDERR: Channel.STDERR}


def run_exec(engine: Engine, request: ExecStream, io: RemoteCommandIO) -> None:
    config = ExecConfig(cmd=request.cmd, tty=request.tty, attach_stdin=request.stdin,
                        attach_stdout=request.stdout, attach_stderr=request.stderr)
    try:
        exec_id = engine.execs.create(request.container_id, config)
        attached = engine.execs.start_attached(exec_id)
    except PouchError as err:
        io.finish(protocol.error_status(err.message, io.protocol))
        return
    resizer = _follow_resizes(io, lambda size: engine.execs.resize(exec_id, size.height, size.width))
    try:
        pump(attached.connection, io, exec_stdio_options(config))
    finally:
        attached.finish()
        io.inbox.close()
        resizer.join()
    code = engine.execs.inspect(exec_id).exit_code
    io.finish(protocol.exit_status(-1 if code is None else code, request.cmd, io.protocol))


def run_attach(engine: Engine, request: AttachStream, io: RemoteCommandIO) -> None:
    containers = engine.containers
    try:
        c = containers.get(request.container_id)
        conn = streams.connect_attach(containers, c.id, cancelled=lambda: False)
    except PouchError as err:
        io.finish(protocol.error_status(err.message, io.protocol))
        return
    if conn is None:
        io.finish(protocol.error_status(f"container {request.container_id} did not start", io.protocol))
        return
    options = streams.attach_options(c, stdin=request.stdin, stdout=request.stdout, stderr=request.stderr)

    def resize(size: TermSize) -> None:
        with contextlib.suppress(PouchError):
            streams.resize_container(containers, containers.get(c.id), size.height, size.width)

    resizer = _follow_resizes(io, resize)
    try:
        pump(conn, io, options)
    finally:
        io.inbox.close()
        resizer.join()
    io.finish(protocol.success_status(io.protocol))


def _follow_resizes(io: RemoteCommandIO, apply: Callable[[TermSize], None]) -> threading.Thread:
    def follow() -> None:
        while (size := io.inbox.next_resize()) is not None:
            if size.width > 0 and size.height > 0:
                try:
                    apply(size)
                except PouchError as err:
                    log.debug("resize: %s", err.message)

    thread = threading.Thread(target=follow, name="cri-resize", daemon=True)
    thread.start()
    return thread


def pump(conn: StdioConnection, io: RemoteCommandIO, options: StdioOptions) -> None:
    """Output to the client's channels and (with ``options.stdin``) its input to the process,
    until the output ends; ``options.input_end`` says what the end of the input does."""
    output_done = threading.Event()

    def copy_output() -> None:
        try:
            while (chunk := conn.recv()) is not None:
                if chunk.data and options.wants(chunk.kind):
                    channel = Channel.STDOUT if options.tty else _CHANNELS.get(chunk.kind, Channel.STDOUT)
                    if not io.write(channel, chunk.data):
                        conn.stop_output()  # the client went away: so does this session
        except (OSError, PouchError):
            pass
        finally:
            output_done.set()
            io.inbox.wake()

    reader = threading.Thread(target=copy_output, name="cri-stream-out", daemon=True)
    reader.start()
    try:
        if options.stdin:
            _copy_input(conn, io, options.input_end, output_done)
    finally:
        reader.join()
        conn.close()


def _copy_input(conn: StdioConnection, io: RemoteCommandIO, on_end: InputEnd, output_done: threading.Event) -> None:
    try:
        while True:
            data = io.inbox.next_stdin()
            if data is WAKE or output_done.is_set():
                return  # the output ended: the process is gone
            if data is None:
                break
            assert isinstance(data, bytes)
            conn.send(data)
    except (PouchError, OSError):
        return
    if on_end == InputEnd.CLOSE_STDIN:
        with contextlib.suppress(OSError):
            conn.close_stdin()
    elif on_end == InputEnd.END_OUTPUT:
        output_done.wait(END_OUTPUT_GRACE)
        conn.stop_output()
