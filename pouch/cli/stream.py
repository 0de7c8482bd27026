"""Attach/exec/logs stream IO: Docker's multiplexed framing, the stdin pump,
and the local terminal (raw mode, window size).

Framing (Docker Engine API, "Attach to a container" → "Stream format"): when
the container has no TTY, each frame is an 8-byte header ``[STREAM_TYPE, 0, 0,
0, SIZE1, SIZE2, SIZE3, SIZE4]`` (type 0 stdin, 1 stdout, 2 stderr, 3 system
error; size big-endian uint32) followed by SIZE bytes. With a TTY the stream
is raw bytes. :class:`FrameDecoder` is sans-IO: bytes in, frames out.
"""

from __future__ import annotations

import _socket  # not `socket`: it imports enum and selectors (~3 ms of start-up)
import os

from pouch.cli.client import IN_ANSWER, ConnectionLost
from pouch.detachkeys import DetachMatcher

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any, BinaryIO

STDIN, STDOUT, STDERR, SYSTEMERR = 0, 1, 2, 3
_RECV = 64 * 1024


class FrameDecoder:
    """Incremental decoder for Docker's 8-byte-header multiplexed stream."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        frames = []
        while len(self._buf) >= 8:
            size = int.from_bytes(self._buf[4:8], "big")
            if len(self._buf) < 8 + size:
                break
            frames.append((self._buf[0], bytes(self._buf[8:8 + size])))
            del self._buf[:8 + size]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame still buffered."""
        return len(self._buf)


def encode_frame(stream: int, payload: bytes) -> bytes:
    """The inverse of :class:`FrameDecoder` (used by tests and fake servers)."""
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def iter_socket(sock: _socket.socket, leftover: bytes = b"") -> Iterator[bytes]:
    """Bytes from a hijacked socket until the daemon closes its side; ConnectionLost if
    the connection is reset instead (the daemon went away)."""
    if leftover:
        yield leftover
    while True:
        try:
            data = sock.recv(_RECV)
        except (ConnectionResetError, BrokenPipeError):
            raise ConnectionLost(IN_ANSWER) from None
        if not data:
            return
        yield data


def copy_output(chunks: Iterable[bytes], *, tty: bool, stdout: BinaryIO, stderr: BinaryIO) -> None:
    """Write a raw (TTY) or multiplexed stream to local stdout/stderr as it arrives."""
    if tty:
        for data in chunks:
            _write(stdout, data)
        return
    decoder = FrameDecoder()
    for data in chunks:
        for stream, payload in decoder.feed(data):
            _write(stderr if stream in (STDERR, SYSTEMERR) else stdout, payload)
    if decoder.pending:  # cut in the middle of a frame: not the end the daemon sends
        raise ConnectionLost(IN_ANSWER)


def _write(out: BinaryIO, data: bytes) -> None:
    try:
        out.write(data)
        out.flush()
    except BrokenPipeError:
        pass


class StdinPump:
    """Copies local ``fd`` to the hijacked socket in a daemon thread; at EOF half-closes the
    socket (``shutdown(SHUT_WR)``) so the container sees EOF while its output keeps flowing
    back. With ``detach_keys`` (a TTY session), the sequence is not sent: the session is
    left (both directions shut, so the output copy ends) and ``detached`` is True."""

    def __init__(self, sock: _socket.socket, fd: int, detach_keys: bytes = b"") -> None:
        self.sock = sock
        self.fd = fd
        self.matcher = DetachMatcher(detach_keys)
        self._thread: Any = None

    @property
    def detached(self) -> bool:
        return self.matcher.detached

    def start(self) -> StdinPump:
        import threading  # noqa: PLC0415 - CLI start-up: only when stdin is attached

        self._thread = threading.Thread(target=self._pump, name="pouch-stdin", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _pump(self) -> None:
        try:
            while True:
                try:
                    data = os.read(self.fd, _RECV)
                except OSError:
                    data = b""
                if not data:
                    break
                forward = self.matcher.feed(data)
                if forward:
                    self.sock.sendall(forward)
                if self.matcher.detached:
                    self.sock.shutdown(_socket.SHUT_RDWR)
                    return
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass  # the container went away first; the output side will notice


def start_stdin_pump(sock: _socket.socket, fd: int, detach_keys: bytes = b"") -> StdinPump:
    """:class:`StdinPump`, started."""
    return StdinPump(sock, fd, detach_keys).start()


class RawTerminal:
    """Context manager: put a tty fd in raw mode (like docker's ``term.MakeRaw``)
    and restore the saved attributes on exit, whatever happens."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._saved: Any = None

    def __enter__(self) -> RawTerminal:
        if os.isatty(self.fd):
            import termios  # noqa: PLC0415 - CLI start-up: only with a terminal
            import tty  # noqa: PLC0415 - CLI start-up: only with a terminal

            self._saved = termios.tcgetattr(self.fd)
            tty.setraw(self.fd, termios.TCSANOW)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            import termios  # noqa: PLC0415 - CLI start-up: only with a terminal

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None


def terminal_size(fd: int = 1) -> tuple[int, int] | None:
    """(height, width) of the local terminal, or None when not a terminal."""
    for candidate in (fd, 0, 2):
        try:
            size = os.get_terminal_size(candidate)
        except OSError:
            continue
        return size.lines, size.columns
    return None
