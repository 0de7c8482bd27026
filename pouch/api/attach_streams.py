"""The Docker API's byte streams: attach, exec start and logs over a client's connection.

The engine hands out a container's (or exec session's) stdio as typed chunks
(``pouch.stdio``) and its log as typed entries (``runtime.logs.LogEntry``). Here
they become Docker's wire format: raw bytes with a TTY, stdcopy frames without
(``framing.encode_frame``; the content type says which). ``pump`` connects a
hijacked client socket with an engine connection: output to the client, client
input to the process's stdin, and the end of the client's input handled by the
engine's rule (``StdioOptions.input_end``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote_plus

from pouch.api.framing import Stream, encode_frame
from pouch.detachkeys import DetachMatcher, session_detach_keys
from pouch.engine import Engine
from pouch.errors import PouchError
from pouch.fds import wait_readable
from pouch.models import Container
from pouch.runtime.logs import LogEntry
from pouch.services import streams
from pouch.services.execs import exec_stdio_options
from pouch.stdio import InputEnd, OutputChunk, StdioConnection, StdioOptions, StreamKind

RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"
END_OUTPUT_GRACE = 0.3  # seconds of output still forwarded after the input ended, with InputEnd.END_OUTPUT
INPUT_READ = 32768

HijackHandler = Callable[[socket.socket, bytes], None]

_DOCKER_STREAM = {StreamKind.STDIN: Stream.STDIN, StreamKind.STDOUT: Stream.STDOUT, StreamKind.STDERR: Stream.STDERR}


# --- pure ----------------------------------------------------------------------------------------


def content_type(tty: bool) -> str:
    return RAW_STREAM if tty else MULTIPLEXED_STREAM


def frame(kind: StreamKind, data: bytes, tty: bool) -> bytes:
    """Output bytes as the client reads them: as they are with a TTY, else one stdcopy frame."""
    return data if tty else encode_frame(_DOCKER_STREAM[kind], data)


def frame_chunk(chunk: OutputChunk, tty: bool) -> bytes:
    return frame(chunk.kind, chunk.data, tty)


def frame_log_entry(entry: LogEntry, tty: bool, timestamps: bool, details: bool = False) -> bytes:
    """One log line for ``GET /containers/{id}/logs`` (``--timestamps``: RFC 3339 and a space first;
    ``--details``: then the line's attrs as dockerd writes them, ``k=v,k2=v2`` query-escaped, and a space)."""
    data = entry.data
    if details:
        data = ",".join(f"{quote_plus(k, safe='~')}={quote_plus(v, safe='~')}" for k, v in entry.attrs).encode() \
            + b" " + data
    if timestamps:
        data = entry.rfc3339().encode() + b" " + data
    return frame(entry.stream, data, tty)


@dataclass(frozen=True)
class AttachQuery:
    """The query of ``POST /containers/{id}/attach``."""

    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    logs: bool = False
    stream: bool = False
    detach_keys: str = ""  # as the client gave them (checked), "" for the default


# --- pumping a hijacked connection ---------------------------------------------------------------


def pump(conn: StdioConnection, client: socket.socket, leftover: bytes, options: StdioOptions,
         detach_keys: bytes = b"") -> bool:
    """Copy output to ``client`` and (with ``options.stdin``) input to ``conn`` until the output
    ends or the client hangs up or types ``detach_keys`` (True); ``options.input_end`` says what
    the end of the client's input does."""
    wake_r, wake_w = os.pipe()
    hung_up = False

    def copy_output() -> None:
        try:
            while (chunk := conn.recv()) is not None:
                if chunk.data and options.wants(chunk.kind):
                    client.sendall(frame_chunk(chunk, options.tty))
        except OSError:
            pass
        finally:
            os.write(wake_w, b"x")

    reader = threading.Thread(target=copy_output, name="attach-out", daemon=True)
    reader.start()
    try:
        if options.stdin and _copy_input(conn, client, leftover, wake_r, options.input_end, detach_keys):
            hung_up = True  # detached: the session ends as if the client had left, the process runs on
        else:
            hung_up = _until_output_end_or_hangup(client, wake_r)
        if hung_up:
            conn.stop_output()  # the client left: release this thread and the connection now
    finally:
        reader.join()
        conn.close()
        os.close(wake_r)
        os.close(wake_w)
    return hung_up


def _copy_input(conn: StdioConnection, client: socket.socket, leftover: bytes, wake_r: int, on_end: InputEnd,
                detach_keys: bytes = b"") -> bool:
    """Client input to the process until the output ends or the input does; True when the
    client detached (``detach_keys``, which are not delivered)."""
    matcher = DetachMatcher(detach_keys)
    try:
        data = leftover
        while True:
            data = matcher.feed(data)
            if data:
                conn.send(data)
            if matcher.detached:
                return True
            if wake_r in wait_readable([client, wake_r], None):
                return False  # output ended: the process is gone
            data = client.recv(INPUT_READ)
            if not data:
                break
    except (PouchError, OSError):
        return False  # the process's stdin is gone (it exited): nothing more to deliver
    if on_end == InputEnd.CLOSE_STDIN:
        with contextlib.suppress(OSError):
            conn.close_stdin()
    elif on_end == InputEnd.END_OUTPUT:
        # the answer to the last input may still be on its way: a short grace period
        wait_readable([wake_r], END_OUTPUT_GRACE)
        conn.stop_output()
    return False


def _until_output_end_or_hangup(client: socket.socket, wake_r: int) -> bool:
    """Wait for the end of the output (False) or for the client to close its end of the
    connection completely (True). A half-close (the end of its input) is not a hang-up."""
    while True:
        ready = wait_readable([wake_r], None, hangup=[client])
        if wake_r in ready:
            return False
        if ready:
            return True


def _client_gone(client: socket.socket) -> bool:
    if not wait_readable([client], 0):
        return False
    try:
        return client.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


# --- the handlers --------------------------------------------------------------------------------


def attach_handler(engine: Engine, c: Container, query: AttachQuery) -> HijackHandler:
    """The hijack handler for ``POST /containers/{id}/attach``: the log first (``logs``), then
    the live stdio (``stream``; a created container is waited for until it starts)."""
    containers = engine.containers
    tty = c.options.tty

    def handler(client: socket.socket, leftover: bytes) -> None:
        if query.logs and streams.logs_readable(c):  # syslog, none: no past output to replay
            log_query = streams.LogQuery(stdout=query.stdout, stderr=query.stderr)
            for entry in streams.log_entries(containers, c, log_query):
                client.sendall(frame_log_entry(entry, tty, timestamps=False))
        if not query.stream:
            return
        conn = streams.connect_attach(containers, c.id, cancelled=lambda: _client_gone(client))
        if conn is None:
            return
        options = streams.attach_options(c, stdin=query.stdin, stdout=query.stdout, stderr=query.stderr)
        pump(conn, client, leftover, options, session_detach_keys(query.detach_keys, tty))

    return handler


def exec_handler(engine: Engine, exec_id: str, console_size: tuple[int, int] = (0, 0)) -> HijackHandler:
    """The hijack handler for ``POST /exec/{id}/start`` (not detached).

    The session is checked now (so errors answer the request) and its process starts only
    after the 101 head went out, as with dockerd: clients that read the head with a buffered
    reader would otherwise lose output arriving in the same read. An error starting the
    process goes to the stream (stderr), and the exit code says what happened.
    """
    execs = engine.execs
    config = execs.check_attachable(exec_id).config
    options = exec_stdio_options(config)

    def handler(client: socket.socket, leftover: bytes) -> None:
        try:
            attached = execs.start_attached(exec_id, console_size)
        except PouchError as err:
            client.sendall(frame(StreamKind.STDERR, (err.message + "\n").encode(), config.tty))
            return
        left = True
        try:
            left = pump(attached.connection, client, leftover, options,
                        session_detach_keys(config.detach_keys, config.tty))
        finally:
            if left:  # the process may run on for long: its exit is collected when it comes
                attached.finish_later()
            else:
                attached.finish()

    return handler


def log_stream(engine: Engine, c: Container, query: streams.LogQuery, timestamps: bool,
               cancelled: Callable[[], bool] = lambda: False, details: bool = False) -> Iterator[bytes]:
    """The body of ``GET /containers/{id}/logs`` (following stops once ``cancelled()``)."""
    tty = c.options.tty
    for entry in streams.log_entries(engine.containers, c, query, cancelled):
        yield frame_log_entry(entry, tty, timestamps, details)
