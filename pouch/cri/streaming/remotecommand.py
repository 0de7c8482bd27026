"""A remote command session's channels over either wire: SPDY streams or WebSocket messages.

A session (exec, attach) sees a :class:`RemoteCommandIO`: ``write`` output to a channel,
an :class:`Inbox` of what the client sent (stdin bytes and its end, terminal sizes), and
``finish`` with the status for the error channel. How channels travel is decided here.
"""

from __future__ import annotations

import queue
import socket
import threading
from typing import Protocol

from wsproto import WSConnection

from pouch.cri.streaming import protocol
from pouch.cri.streaming.idle import STREAM_IDLE_TIMEOUT
from pouch.cri.streaming.protocol import Channel, TermSize
from pouch.cri.streaming.spdy import Headers, header
from pouch.cri.streaming.spdy_link import SpdyLink
from pouch.cri.streaming.websocket_channels import WebSocketChannels

MAX_RESIZE_BUFFER = 4096
MAX_STDIN_BUFFER = 1 << 20  # bytes of client input held for a process that does not read it yet
LINGER = 2.0  # seconds the server waits for the client's close after the last frame


class Wake:
    """Put in the stdin queue to wake its reader (the session is over)."""


WAKE = Wake()


class Inbox:
    """What the client sent, for the session to take in order. Input the process does not read
    is held up to ``MAX_STDIN_BUFFER`` bytes; past that the connection's reader waits, and so,
    through TCP, does the client."""

    def __init__(self) -> None:
        self._stdin: queue.Queue[bytes | None | Wake] = queue.Queue()
        self._resizes: queue.Queue[TermSize | None] = queue.Queue()
        self._room = threading.Condition()
        self._buffered = 0
        self._stdin_ended = False
        self._resize_buffer = b""

    def stdin_data(self, data: bytes) -> None:
        with self._room:
            self._room.wait_for(lambda: self._buffered < MAX_STDIN_BUFFER or self._stdin_ended)
            if self._stdin_ended:
                return
            self._buffered += len(data)
        self._stdin.put(data)

    def stdin_end(self) -> None:
        with self._room:
            if self._stdin_ended:
                return
            self._stdin_ended = True
            self._room.notify_all()
        self._stdin.put(None)

    def wake(self) -> None:
        self._stdin.put(WAKE)

    def next_stdin(self) -> bytes | None | Wake:
        item = self._stdin.get()
        if isinstance(item, bytes):
            with self._room:
                self._buffered -= len(item)
                self._room.notify_all()
        return item

    def resize_data(self, data: bytes) -> None:
        sizes, self._resize_buffer = protocol.parse_resizes(self._resize_buffer + data)
        self._resize_buffer = self._resize_buffer[-MAX_RESIZE_BUFFER:]
        for size in sizes:
            self._resizes.put(size)

    def resizes_end(self) -> None:
        self._resizes.put(None)

    def next_resize(self) -> TermSize | None:
        return self._resizes.get()

    def close(self) -> None:
        self.stdin_end()
        self.resizes_end()


class RemoteCommandIO(Protocol):
    protocol: str
    inbox: Inbox

    def write(self, channel: Channel, data: bytes) -> bool:
        """Output to the client; False once it is gone."""
        ...

    def finish(self, status: bytes) -> None:
        """The status on the error channel (nothing if empty), then the end of the session."""
        ...


# --- SPDY ----------------------------------------------------------------------------------------


class SpdyRemoteCommand:
    """Channels as SPDY streams the client opens, each named by its ``streamType`` header."""

    def __init__(self, link: SpdyLink, chosen: str) -> None:
        self.link = link
        self.protocol = chosen
        self.inbox = Inbox()
        self._streams: dict[Channel, int] = {}
        self._channels: dict[int, Channel] = {}
        self._cond = threading.Condition()
        self._gone = False

    def wait_for(self, expected: frozenset[Channel], timeout: float) -> bool:
        """Wait until the client opened every expected stream (kubelet's handshake)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._gone or expected <= self._streams.keys(), timeout) \
                and not self._gone

    # SpdyHandler
    def on_stream(self, stream_id: int, headers: Headers) -> None:
        channel = protocol.STREAM_TYPES.get(header(headers, protocol.STREAM_TYPE))
        with self._cond:
            if channel is None or channel in self._streams:
                self.link.reset(stream_id)
                return
            self._streams[channel] = stream_id
            self._channels[stream_id] = channel
            self._cond.notify_all()
        self.link.reply(stream_id)

    def on_data(self, stream_id: int, data: bytes) -> None:
        channel = self._channels.get(stream_id)
        if channel == Channel.STDIN:
            self.inbox.stdin_data(data)
        elif channel == Channel.RESIZE:
            self.inbox.resize_data(data)

    def on_end(self, stream_id: int) -> None:
        channel = self._channels.get(stream_id)
        if channel == Channel.STDIN:
            self.inbox.stdin_end()
        elif channel == Channel.RESIZE:
            self.inbox.resizes_end()

    def on_closed(self) -> None:
        with self._cond:
            self._gone = True
            self._cond.notify_all()
        self.inbox.close()

    # RemoteCommandIO
    def write(self, channel: Channel, data: bytes) -> bool:
        stream_id = self._streams.get(channel)
        if stream_id is None:
            return not self._gone
        return self.link.send(stream_id, data)

    def finish(self, status: bytes) -> None:
        error = self._streams.get(Channel.ERROR)
        if status and error is not None:
            self.link.send(error, status)
        for stream_id in list(self._streams.values()):
            self.link.end(stream_id)
        self.link.close(LINGER)


# --- WebSocket -----------------------------------------------------------------------------------


class WebSocketRemoteCommand:
    """Channels as WebSocket messages (``websocket_channels``); v5 adds the close signal."""

    def __init__(self, sock: socket.socket, ws: WSConnection, chosen: str,
                 idle_timeout: float = STREAM_IDLE_TIMEOUT) -> None:
        self.protocol = protocol.version_of(chosen)
        self.inbox = Inbox()
        self.channels = WebSocketChannels(sock, ws, chosen, self._dispatch, idle_timeout)

    def run(self) -> None:
        try:
            self.channels.run()
        finally:
            self.inbox.close()

    def _dispatch(self, channel: int, data: bytes) -> None:
        if channel == Channel.STDIN:
            self.inbox.stdin_data(data)
        elif channel == Channel.RESIZE:
            self.inbox.resize_data(data)
        elif channel == protocol.CLOSE_SIGNAL and data[:1] == bytes([Channel.STDIN]):
            self.inbox.stdin_end()

    def write(self, channel: Channel, data: bytes) -> bool:
        return self.channels.write(channel, data)

    def finish(self, status: bytes) -> None:
        if status:
            self.write(Channel.ERROR, status)
        self.channels.close(LINGER)
