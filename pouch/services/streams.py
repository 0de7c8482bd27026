"""Byte streams between API clients and containers: attach, logs, resize.

``pump`` connects a hijacked client socket with a conmon attach connection:
container output goes to the client (raw with a TTY, Docker's multiplexed
frames without), client input goes to the container's stdin, and closing the
client's write side closes the container's stdin.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
from collections.abc import Iterator

from pouch.api.framing import encode_frame
from pouch.errors import Conflict, PouchError
from pouch.models import Container, Status

log = logging.getLogger(__name__)

# conmon's attach socket prefixes each packet with the stream: 2 stdout, 3 stderr.
CONMON_STDOUT, CONMON_STDERR = 2, 3
DOCKER_STDOUT, DOCKER_STDERR = 1, 2


# What happens when the client's input ends (it half-closes the connection):
CLOSE_STDIN = "close-stdin"  # the process's stdin is closed, its output flows to the end (StdinOnce, exec -i)
KEEP_OUTPUT = "keep-output"  # nothing: the output flows to the end (exec -it: a terminal has no EOF)
END_OUTPUT = "end-output"  # the stream ends and the process keeps its stdin (attach without StdinOnce)
END_OUTPUT_GRACE = 0.3  # seconds of output still forwarded after the input ended, with END_OUTPUT


def on_input_eof(tty: bool, stdin_once: bool, exec_session: bool) -> str:
    """Docker's rule: close stdin only for StdinOnce without a TTY; otherwise an attach
    ends, while an exec session's output is kept to its end."""
    if stdin_once and not tty:
        return CLOSE_STDIN
    return KEEP_OUTPUT if exec_session else END_OUTPUT


def pump(conn, client: socket.socket, leftover: bytes, *, tty: bool, stdin: bool, stdout: bool = True,
         stderr: bool = True, on_eof: str = CLOSE_STDIN) -> None:
    """Copy output to ``client`` and (with ``stdin``) input to ``conn`` until the output ends;
    ``on_eof`` says what the end of the client's input does."""
    output_done = threading.Event()
    wake_r, wake_w = os.pipe()

    def copy_output() -> None:
        try:
            while True:
                packet = conn.recv()
                if packet is None:
                    break
                stream, data = packet
                if not data:
                    continue
                if stream == CONMON_STDERR:
                    if not stderr:
                        continue
                    frame = data if tty else encode_frame(DOCKER_STDERR, data)
                else:
                    if not stdout:
                        continue
                    frame = data if tty else encode_frame(DOCKER_STDOUT, data)
                client.sendall(frame)
        except OSError:
            pass
        finally:
            output_done.set()
            os.write(wake_w, b"x")

    reader = threading.Thread(target=copy_output, name="attach-out", daemon=True)
    reader.start()
    try:
        if stdin:
            _copy_input(conn, client, leftover, wake_r, on_eof)
    finally:
        reader.join()
        conn.close()
        os.close(wake_r)
        os.close(wake_w)


def _copy_input(conn, client: socket.socket, leftover: bytes, wake_r: int, on_eof: str) -> None:
    """Client input to the container until the output ends or the input does."""
    try:
        if leftover:
            conn.send(leftover)
        while True:
            ready, _, _ = select.select([client, wake_r], [], [])
            if wake_r in ready:
                return  # output ended: the process is gone
            data = client.recv(32768)
            if not data:
                break
            conn.send(data)
    except (PouchError, OSError):
        return  # the container's stdin is gone (it exited): nothing more to deliver
    if on_eof == CLOSE_STDIN:
        with contextlib.suppress(OSError):
            conn.close_stdin()
    elif on_eof == END_OUTPUT:
        # the answer to the last input may still be on its way: a short grace period
        select.select([wake_r], [], [], END_OUTPUT_GRACE)
        conn.stop_output()


def _client_gone(client: socket.socket) -> bool:
    ready, _, _ = select.select([client], [], [], 0)
    if not ready:
        return False
    try:
        return client.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def attach_handler(engine, c: Container, *, stdin: bool, stdout: bool, stderr: bool, logs: bool, stream: bool):
    """The hijack handler for ``POST /containers/{id}/attach``."""
    svc = engine.containers

    def handler(client: socket.socket, leftover: bytes) -> None:
        if logs:
            for chunk in log_chunks(engine, c, stdout=stdout, stderr=stderr, follow=False):
                client.sendall(chunk)
        if not stream:
            return
        current = svc.get(c.id)
        if current.state.status in (Status.RUNNING, Status.PAUSED):
            conn = engine.runtime.attach(c.id)
        else:
            # attached before start (docker run): wait for start to open the gate
            while True:
                if svc.attach_gate.wait_open(c.id, timeout=1.0):
                    break
                if _client_gone(client):
                    return
            try:
                conn = engine.runtime.attach(c.id)
            finally:
                svc.attach_gate.connected(c.id)
        opts = c.options
        pump(conn, client, leftover, tty=opts.tty, stdin=stdin and opts.open_stdin, stdout=stdout, stderr=stderr,
             on_eof=on_input_eof(opts.tty, opts.stdin_once, exec_session=False))

    return handler


def log_chunks(engine, c: Container, *, stdout: bool, stderr: bool, follow: bool, since: float | None = None,
               until: float | None = None, timestamps: bool = False, tail: int | None = None) -> Iterator[bytes]:
    from pouch.runtime.logs import read_logs

    svc = engine.containers
    tty = c.options.tty

    def stopped() -> bool:
        return svc.is_stopped(c.id)

    for entry in read_logs(svc.log_path(c), since=since, until=until, tail=tail, follow=follow, should_stop=stopped,
                           rotated=svc.rotated_log_paths(c)):
        is_err = entry.stream == "stderr"
        if (is_err and not stderr) or (not is_err and not stdout):
            continue
        data = entry.data
        if timestamps:
            data = entry.rfc3339().encode() + b" " + data
        yield data if tty else encode_frame(DOCKER_STDERR if is_err else DOCKER_STDOUT, data)


def resize_container(engine, c: Container, height: int, width: int) -> None:
    if c.state.status not in (Status.RUNNING, Status.PAUSED):
        raise Conflict(f"Container {c.id} is not running")
    if height <= 0 or width <= 0:
        return
    engine.runtime.resize(c.id, height, width)
