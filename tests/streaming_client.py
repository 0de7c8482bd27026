"""A client of the CRI streaming server, speaking both wires as kubelet's clients do.

SPDY/3.1 (client-go's SPDY executor and port forwarder) reuses the server's sans-IO codec
(``SpdyLink`` with ``client=True``); WebSocket (client-go's WebSocket executor) uses wsproto.
Sessions are interactive: send stdin, wait for output, resize, close stdin, wait for the end.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    RejectConnection,
    Request,
    TextMessage,
)

from pouch.cri.streaming import protocol
from pouch.cri.streaming.protocol import Channel, TermSize
from pouch.cri.streaming.spdy import Headers
from pouch.cri.streaming.spdy_link import SpdyLink

TIMEOUT = 30.0


class UpgradeRefused(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def _connect(url: str) -> tuple[socket.socket, str, str]:
    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT)
    return sock, parts.path + (f"?{parts.query}" if parts.query else ""), parts.netloc


def _read_head(sock: socket.socket) -> tuple[int, dict[str, list[str]], bytes]:
    raw = b""
    while b"\r\n\r\n" not in raw:
        data = sock.recv(4096)
        if not data:
            break
        raw += data
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers, rest


def spdy_upgrade(url: str, protocols: list[str]) -> tuple[SpdyLink, str]:
    """POST with ``Upgrade: SPDY/3.1``: the link and the protocol the server chose."""
    sock, target, host = _connect(url)
    offers = "".join(f"X-Stream-Protocol-Version: {p}\r\n" for p in protocols)
    sock.sendall(f"POST {target} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                 f"{offers}Content-Length: 0\r\n\r\n".encode())
    status, headers, rest = _read_head(sock)
    if status != 101:
        while data := sock.recv(4096):
            rest += data
        sock.close()
        raise UpgradeRefused(status, rest.decode(errors="replace"))
    sock.settimeout(None)
    return SpdyLink(sock, rest, client=True), headers.get("x-stream-protocol-version", [""])[0]


@dataclass
class _Inbound:
    data: dict[int, bytearray] = field(default_factory=dict)
    ended: set[int] = field(default_factory=set)
    cond: threading.Condition = field(default_factory=threading.Condition)
    closed: bool = False


class Collector:
    """SpdyHandler keeping what each stream received."""

    def __init__(self) -> None:
        self.inbound = _Inbound()

    def on_stream(self, stream_id: int, headers: Headers) -> None:
        pass

    def on_data(self, stream_id: int, data: bytes) -> None:
        with self.inbound.cond:
            self.inbound.data.setdefault(stream_id, bytearray()).extend(data)
            self.inbound.cond.notify_all()

    def on_end(self, stream_id: int) -> None:
        with self.inbound.cond:
            self.inbound.ended.add(stream_id)
            self.inbound.cond.notify_all()

    def on_closed(self) -> None:
        with self.inbound.cond:
            self.inbound.closed = True
            self.inbound.cond.notify_all()


class Session:
    """What both wires offer a test: output so far, stdin, resize, and the end's status."""

    protocol: str

    def output(self, channel: Channel) -> bytes:
        raise NotImplementedError

    def wait_output(self, channel: Channel, expected: bytes, timeout: float = TIMEOUT) -> bytes:
        deadline = time.monotonic() + timeout
        while expected not in (got := self.output(channel)):
            if time.monotonic() > deadline or self.done():
                return self.output(channel)
            time.sleep(0.02)
        return got

    def done(self) -> bool:
        raise NotImplementedError

    def status(self, timeout: float = TIMEOUT) -> tuple[int, str]:
        """Wait for the end: (exit code, message) from the error channel."""
        deadline = time.monotonic() + timeout
        while not self.done():
            if time.monotonic() > deadline:
                raise TimeoutError("the session did not end")
            time.sleep(0.02)
        return protocol.parse_status(self.output(Channel.ERROR), self.protocol)


class SpdySession(Session):
    """client-go's SPDY executor: error stream first, then stdin, stdout, stderr, resize."""

    def __init__(self, url: str, *, stdin: bool, stdout: bool = True, stderr: bool = True, tty: bool = False,
                 protocols: tuple[str, ...] = protocol.SPDY_REMOTE_COMMAND) -> None:
        self.link, self.protocol = spdy_upgrade(url, list(protocols))
        self.collector = Collector()
        threading.Thread(target=self.link.run, args=(self.collector,), daemon=True).start()
        self.streams: dict[Channel, int] = {}
        wanted = [(Channel.ERROR, True), (Channel.STDIN, stdin), (Channel.STDOUT, stdout),
                  (Channel.STDERR, stderr and not tty), (Channel.RESIZE, tty and self.protocol != protocol.V2)]
        for channel, on in wanted:
            if on:
                name = next(k for k, v in protocol.STREAM_TYPES.items() if v == channel)
                self.streams[channel] = self.link.open_stream(((protocol.STREAM_TYPE, name),))

    def output(self, channel: Channel) -> bytes:
        with self.collector.inbound.cond:
            return bytes(self.collector.inbound.data.get(self.streams.get(channel, -1), b""))

    def done(self) -> bool:
        inbound = self.collector.inbound
        outputs = [self.streams[c] for c in (Channel.ERROR, Channel.STDOUT, Channel.STDERR) if c in self.streams]
        with inbound.cond:
            return inbound.closed or all(s in inbound.ended for s in outputs)

    def send_stdin(self, data: bytes) -> None:
        self.link.send(self.streams[Channel.STDIN], data)

    def close_stdin(self) -> None:
        self.link.end(self.streams[Channel.STDIN])

    def resize(self, size: TermSize) -> None:
        self.link.send(self.streams[Channel.RESIZE], protocol.encode_resize(size))

    def close(self) -> None:
        self.link.close(1.0)


class WebSocketSession(Session):
    """client-go's WebSocket executor: channel-prefixed binary messages."""

    def __init__(self, url: str, protocols: tuple[str, ...] = protocol.WEBSOCKET_REMOTE_COMMAND) -> None:
        self.sock, target, host = _connect(url)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(self.ws.send(Request(host=host, target=target, subprotocols=list(protocols))))
        self._buffers: dict[int, bytearray] = {}
        self._message = bytearray()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        accepted = self._handshake()
        self.base64 = protocol.is_base64(accepted.subprotocol or "")
        self.protocol = protocol.version_of(accepted.subprotocol or protocol.V1)
        self.sock.settimeout(None)
        threading.Thread(target=self._read, daemon=True).start()

    def _handshake(self) -> AcceptConnection:
        while True:
            data = self.sock.recv(65536)
            self.ws.receive_data(data or None)
            for event in self.ws.events():
                if isinstance(event, AcceptConnection):
                    return event
                if isinstance(event, RejectConnection):
                    raise UpgradeRefused(event.status_code, "websocket handshake rejected")
                self._event(event)
            if not data:
                raise UpgradeRefused(0, "connection closed during the handshake")

    def _event(self, event: object) -> None:
        if isinstance(event, TextMessage) and event.data:  # base64: a digit, then the payload
            with self._lock:
                self._buffers.setdefault(int(event.data[0]), bytearray()).extend(base64.b64decode(event.data[1:]))
        elif isinstance(event, BytesMessage):
            self._message += event.data
            if event.message_finished and self._message:
                with self._lock:
                    self._buffers.setdefault(self._message[0], bytearray()).extend(self._message[1:])
                self._message.clear()
        elif isinstance(event, CloseConnection):
            with self._lock:
                try:
                    self.sock.sendall(self.ws.send(event.response()))
                except Exception:  # noqa: BLE001 - already closing
                    pass
            self._closed.set()

    def _read(self) -> None:
        try:
            while not self._closed.is_set():
                data = self.sock.recv(65536)
                self.ws.receive_data(data or None)
                for event in self.ws.events():
                    self._event(event)
                if not data:
                    break
        except OSError:
            pass
        self._closed.set()

    def send(self, channel: int, data: bytes) -> None:
        message: Message = Message(data=str(channel) + base64.b64encode(data).decode()) if self.base64 \
            else Message(data=bytes([channel]) + data)
        with self._lock:
            self.sock.sendall(self.ws.send(message))

    def output(self, channel: int) -> bytes:
        with self._lock:
            return bytes(self._buffers.get(channel, b""))

    def done(self) -> bool:
        return self._closed.is_set()

    def send_stdin(self, data: bytes) -> None:
        self.send(Channel.STDIN, data)

    def close_stdin(self) -> None:
        self.send(protocol.CLOSE_SIGNAL, bytes([Channel.STDIN]))  # v5's close signal

    def resize(self, size: TermSize) -> None:
        self.send(Channel.RESIZE, protocol.encode_resize(size))

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader
        except OSError:
            pass
        self.sock.close()


class PortForwardClient:
    """client-go's port forwarder: per connection an error and a data stream with its requestID."""

    def __init__(self, url: str) -> None:
        self.link, self.protocol = spdy_upgrade(url, [protocol.PORT_FORWARD])
        self.collector = Collector()
        threading.Thread(target=self.link.run, args=(self.collector,), daemon=True).start()
        self._next_request = 0

    def request(self, port: int, payload: bytes, timeout: float = TIMEOUT) -> tuple[bytes, bytes]:
        """Send ``payload`` to ``port`` in the pod, half-close, and read until the pod closes:
        (what the pod answered, what the error stream said)."""
        request_id = str(self._next_request)
        self._next_request += 1
        common = ((protocol.PORT, str(port)), (protocol.REQUEST_ID, request_id))
        error = self.link.open_stream(((protocol.STREAM_TYPE, "error"), *common))
        data = self.link.open_stream(((protocol.STREAM_TYPE, "data"), *common))
        self.link.send(data, payload, fin=True)
        inbound = self.collector.inbound
        with inbound.cond:
            inbound.cond.wait_for(lambda: inbound.closed or (data in inbound.ended and error in inbound.ended),
                                  timeout)
            return bytes(inbound.data.get(data, b"")), bytes(inbound.data.get(error, b""))

    def close(self) -> None:
        self.link.close(1.0)
