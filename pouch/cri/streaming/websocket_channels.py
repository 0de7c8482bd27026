"""kubelet's WebSocket channel framing over a socket, with wsproto.

Each message carries one channel's bytes: binary, with the channel id as its first byte; or,
with a ``base64.`` subprotocol, text with the channel as an ASCII digit and the payload in
base64. Remote command (exec, attach) and port forward both run on it; what a channel means
is theirs (``on_message``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import select
import socket
import threading
from collections.abc import Callable

from wsproto import ConnectionState, WSConnection
from wsproto.events import BytesMessage, CloseConnection, Event, Message, Ping, TextMessage

from pouch.cri.streaming import protocol
from pouch.cri.streaming.idle import STREAM_IDLE_TIMEOUT, Activity

READ_SIZE = 65536
NORMAL_CLOSURE = 1000


class WebSocketChannels:
    def __init__(self, sock: socket.socket, ws: WSConnection, chosen: str,
                 on_message: Callable[[int, bytes], None], idle_timeout: float = STREAM_IDLE_TIMEOUT) -> None:
        self.sock = sock
        self.activity = Activity(idle_timeout)
        self.ws = ws
        self.base64 = protocol.is_base64(chosen)
        self.on_message = on_message
        self.closed = threading.Event()
        self._lock = threading.Lock()
        self._message = bytearray()
        self._text = ""

    def _send(self, event: Event) -> bool:
        with self._lock:
            if self.ws.state not in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING) and \
                    not isinstance(event, CloseConnection):
                return False
            try:
                self.sock.sendall(self.ws.send(event))
                self.activity.touch()
            except Exception:  # noqa: BLE001 - a socket error, or wsproto refusing in a closed state
                return False
            return True

    def write(self, channel: int, data: bytes) -> bool:
        """One message on ``channel``; False once the client is gone."""
        if self.base64:
            return self._send(Message(data=str(channel) + base64.b64encode(data).decode()))
        return self._send(Message(data=bytes([channel]) + data))

    def run(self) -> None:
        """Read the client's messages until it closes, or until the connection has been idle for its
        idle timeout: then the socket is shut down (the reader thread)."""
        try:
            while not self.closed.is_set():
                if not select.select([self.sock], [], [], self.activity.poll_interval())[0]:
                    if self.activity.expired():
                        self.sock.shutdown(socket.SHUT_RDWR)
                        break
                    continue
                data = self.sock.recv(READ_SIZE)
                self.activity.touch()
                self.ws.receive_data(data or None)
                if not self._events() or not data:
                    break
        except OSError:
            pass
        finally:
            self.closed.set()

    def _events(self) -> bool:
        for event in self.ws.events():
            if isinstance(event, BytesMessage):
                self._message += event.data
                if event.message_finished:
                    if self._message:
                        self.on_message(self._message[0], bytes(self._message[1:]))
                    self._message.clear()
            elif isinstance(event, TextMessage):
                self._text += event.data
                if event.message_finished:
                    self._text_message(self._text)
                    self._text = ""
            elif isinstance(event, Ping):
                self._send(event.response())
            elif isinstance(event, CloseConnection):
                if self.ws.state == ConnectionState.REMOTE_CLOSING:
                    self._send(event.response())
                return False
        return True

    def _text_message(self, message: str) -> None:
        if not self.base64 or not message or not message[0].isdigit():
            return
        try:
            self.on_message(int(message[0]), base64.b64decode(message[1:]))
        except binascii.Error:
            pass

    def close(self, linger: float) -> None:
        """Close the WebSocket and wait (at most ``linger`` seconds) for the client's close."""
        self._send(CloseConnection(code=NORMAL_CLOSURE))
        self.closed.wait(linger)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
