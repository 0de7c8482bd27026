"""conmon's attach socket and control fifos (conmon 2.1.x).

Attach socket: AF_UNIX SOCK_SEQPACKET at ``<bundle>/attach`` (we pass
``--full-attach``). Each packet conmon sends is one read of the container's
stdout or stderr (at most STDIO_BUF_SIZE = 8192 bytes of payload) prefixed by a
single stream byte: 2 = stdout, 3 = stderr (conmon's ``stdpipe_t``: 1 would be
stdin). With a terminal everything arrives as stdout. conmon closes the
connection when the container has exited and its output is drained, so
``recv()`` returning None means "no more output". ``recv()`` hands out typed
chunks (``pouch.stdio.OutputChunk``): the stream bytes stay in this module.

Bytes we send are written to the container's stdin (only if conmon was started
with ``-i``); shutting down our write side makes conmon close the container's
stdin unless it runs with ``--leave-stdin-open``.

The socket path can exceed the 108-byte ``sun_path`` limit, so we open the
directory and connect through ``/proc/self/fd/<dirfd>/attach`` (what conmon
itself does to bind it).

Control fifo ``<bundle>/ctl`` takes lines ``"<type> <height> <width>\\n"``:
type 1 resizes the terminal, type 2 makes conmon reopen its log file.

Note: conmon writes to attach clients with blocking writes; a client that
stops reading stalls the container's output (and logging). Drain promptly.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from collections.abc import Iterator

from pouch import errors
from pouch.stdio import OutputChunk, StreamKind

STDIN = 1
STDOUT = 2
STDERR = 3

WIN_RESIZE_EVENT = 1
REOPEN_LOGS_EVENT = 2

ATTACH_SOCKET = "attach"
CTL_FIFO = "ctl"
RECV_SIZE = 65536  # > conmon's 8192 + 1; SEQPACKET truncates a packet read short


def parse_packet(packet: bytes) -> tuple[int, bytes]:
    """Split one attach packet into (stream, payload)."""
    if not packet:
        raise ValueError("empty attach packet")
    return packet[0], packet[1:]


def chunk_of(stream: int, data: bytes) -> OutputChunk:
    """conmon's stream byte as a typed chunk (with a terminal everything is stdout)."""
    return OutputChunk(StreamKind.STDERR if stream == STDERR else StreamKind.STDOUT, data)


def control_message(kind: int, height: int = 0, width: int = 0) -> bytes:
    """One line for conmon's ctl fifo."""
    if not (0 <= height <= 1000 and 0 <= width <= 1000):  # conmon rejects larger sizes
        raise errors.InvalidArgument(f"invalid terminal size {height}x{width}")
    return f"{kind} {height} {width}\n".encode()


class AttachConnection:
    """A client connection to a conmon attach socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._stdin_closed = False

    @classmethod
    def connect(cls, directory: str, name: str = ATTACH_SOCKET) -> AttachConnection:
        try:
            dirfd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise errors.NotFound(f"no attach socket: {directory} does not exist") from None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            sock.connect(f"/proc/self/fd/{dirfd}/{name}")
        except (FileNotFoundError, ConnectionRefusedError) as e:
            sock.close()
            raise errors.Conflict(f"cannot attach: conmon is not listening at {directory}/{name} ({e.strerror})") from None
        finally:
            os.close(dirfd)
        return cls(sock)

    def fileno(self) -> int:
        return self.sock.fileno()

    def recv(self) -> OutputChunk | None:
        """The next output chunk, or None when conmon closed the connection."""
        while True:
            try:
                packet = self.sock.recv(RECV_SIZE)
            except InterruptedError:
                continue
            except ConnectionResetError:
                return None
            if not packet:
                return None
            stream, data = parse_packet(packet)
            if data:
                return chunk_of(stream, data)

    def __iter__(self) -> Iterator[OutputChunk]:
        while (item := self.recv()) is not None:
            yield item

    def read_all(self) -> tuple[bytes, bytes]:
        """Everything until EOF, as (stdout, stderr)."""
        out, err = bytearray(), bytearray()
        for chunk in self:
            (err if chunk.kind == StreamKind.STDERR else out).extend(chunk.data)
        return bytes(out), bytes(err)

    def send(self, data: bytes) -> None:
        """Write to the container's stdin (in packets conmon can take whole)."""
        view = memoryview(data)
        while view:
            chunk = view[:32767]  # conmon's CONN_SOCK_BUF_SIZE - 1
            try:
                self.sock.sendall(chunk)
            except BrokenPipeError:
                raise errors.Conflict("container stdin is closed") from None
            view = view[len(chunk):]

    def close_stdin(self) -> None:
        """Signal EOF on the container's stdin; output keeps flowing."""
        if not self._stdin_closed:
            self._stdin_closed = True
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_WR)

    def stop_output(self) -> None:
        """End the output side of this connection (``recv`` returns None) without
        closing the container's stdin, as a detaching client does."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RD)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> AttachConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_ctl(directory: str, line: bytes) -> None:
    """Write one control line to ``<directory>/ctl`` without ever blocking."""
    path = os.path.join(directory, CTL_FIFO)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise errors.NotFound(f"no control fifo at {path}") from None
    except OSError as e:
        if e.errno == errno.ENXIO:  # no reader: conmon is gone
            raise errors.Conflict("conmon is not running") from None
        raise
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def resize(directory: str, height: int, width: int) -> None:
    """Resize the terminal of the container (or exec session) whose conmon files
    live in ``directory`` (the bundle, or the exec session dir)."""
    write_ctl(directory, control_message(WIN_RESIZE_EVENT, height, width))


def reopen_log(directory: str) -> None:
    write_ctl(directory, control_message(REOPEN_LOGS_EVENT))
