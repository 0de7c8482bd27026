"""A SPDY connection over a socket: the sans-IO :class:`~.spdy.Connection` with a reader loop,
a write lock and waits for the peer's flow control window. Used by the streaming server, and
by tests as a client.

The reader (``run``, in its own thread) hands the peer's frames to a :class:`SpdyHandler`;
any thread may send. A stream is identified by its SPDY id.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
from typing import Protocol

from pouch.cri.streaming import spdy
from pouch.cri.streaming.idle import STREAM_IDLE_TIMEOUT, Activity
from pouch.cri.streaming.spdy import Headers

log = logging.getLogger("pouchd.cri.stream")

READ_SIZE = 65536
WINDOW_WAIT = 30.0  # seconds a sender waits for the peer to open its window before giving up


class SpdyHandler(Protocol):
    def on_stream(self, stream_id: int, headers: Headers) -> None: ...

    def on_data(self, stream_id: int, data: bytes) -> None: ...

    def on_end(self, stream_id: int) -> None:
        """The peer closed its side of the stream (FIN) or reset it."""
        ...

    def on_closed(self) -> None:
        """The connection ended (the peer went away, or a protocol error)."""
        ...


class SpdyLink:
    def __init__(self, sock: socket.socket, leftover: bytes = b"", *, client: bool,
                 idle_timeout: float = STREAM_IDLE_TIMEOUT) -> None:
        self.sock = sock
        self.activity = Activity(idle_timeout)
        self.conn = spdy.Connection(client=client)
        self._leftover = leftover
        self._cond = threading.Condition()
        self._closed = False

    # -- sending (any thread)
    def _flush(self) -> None:
        """Write what the connection queued (called with the lock held)."""
        out = self.conn.data_to_send()
        if out and not self._closed:
            self.activity.touch()
            try:
                self.sock.sendall(out)
            except OSError:
                self._closed = True
                self._cond.notify_all()

    def open_stream(self, headers: Headers, fin: bool = False) -> int:
        with self._cond:
            stream_id = self.conn.open_stream(headers, fin)
            self._flush()
            return stream_id

    def reply(self, stream_id: int, fin: bool = False) -> None:
        with self._cond:
            self.conn.reply(stream_id, (), fin)
            self._flush()

    def reset(self, stream_id: int) -> None:
        with self._cond:
            self.conn.reset(stream_id)
            self._flush()

    def send(self, stream_id: int, data: bytes, fin: bool = False) -> bool:
        """Send ``data`` (waiting for window as the peer asks); False if the stream or the
        connection is gone."""
        view = memoryview(data)
        with self._cond:
            while True:
                if self._closed:
                    return False
                n = self.conn.send_data(stream_id, bytes(view), fin)
                self._flush()
                view = view[n:]
                if not view:
                    return stream_id in self.conn.streams or fin
                if stream_id not in self.conn.streams:
                    return False
                if not self._cond.wait_for(lambda: self._closed or self.conn.send_window(stream_id) > 0,
                                           WINDOW_WAIT):
                    return False

    def end(self, stream_id: int) -> None:
        """Close this side of the stream (an empty data frame with FIN)."""
        self.send(stream_id, b"", fin=True)

    def ping(self, ping_id: int) -> None:
        with self._cond:
            self.conn.ping(ping_id)
            self._flush()

    def close(self, linger: float = 2.0) -> None:
        """GOAWAY, half-close, and read until the peer closes too (at most ``linger`` seconds),
        so the last frames reach it before the socket goes."""
        with self._cond:
            if not self._closed:
                self.conn.go_away()
                self._flush()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
        with self._cond:
            self._cond.wait_for(lambda: self._closed, linger)
            self._closed = True
        self.sock.close()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- receiving (the reader thread)
    def run(self, handler: SpdyHandler) -> None:
        """Read frames and dispatch them until the peer closes, the socket fails, or the connection
        has been idle for its idle timeout (then the socket is shut down, so both ends see it)."""
        data = self._leftover
        try:
            while True:
                if data:
                    self._dispatch(data, handler)
                if self.sock.fileno() < 0:
                    break
                ready, _, _ = select.select([self.sock], [], [], self.activity.poll_interval())
                if not ready:
                    data = b""
                    if self._closed:
                        break
                    if self.activity.expired():
                        log.info("SPDY stream connection idle for %.0f s: closed", self.activity.timeout)
                        with contextlib.suppress(OSError):
                            self.sock.shutdown(socket.SHUT_RDWR)
                        break
                    continue
                data = self.sock.recv(READ_SIZE)
                self.activity.touch()
                if not data:
                    break
        except (OSError, ValueError):
            pass
        except spdy.ProtocolError as err:
            log.warning("SPDY stream connection: %s", err)
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
            handler.on_closed()

    def _dispatch(self, data: bytes, handler: SpdyHandler) -> None:
        with self._cond:
            frames = self.conn.receive_data(data)
            self._flush()
            self._cond.notify_all()  # a window may have opened
        for frame in frames:
            match frame:
                case spdy.SynStream(stream_id, headers, fin):
                    handler.on_stream(stream_id, headers)
                    if fin:
                        handler.on_end(stream_id)
                case spdy.Data(stream_id, payload, fin):
                    if payload:
                        handler.on_data(stream_id, payload)
                    if fin:
                        handler.on_end(stream_id)
                case spdy.SynReply(stream_id, _, fin) | spdy.HeadersFrame(stream_id, _, fin):
                    if fin:
                        handler.on_end(stream_id)
                case spdy.RstStream(stream_id, _):
                    handler.on_end(stream_id)
                case spdy.GoAway():
                    pass  # the peer opens no more streams; those open go on
