"""Port forward: TCP connections into a pod's loopback, over SPDY (``portforward.k8s.io``) or WebSocket.

The client opens two streams per connection it forwards, an ``error`` and a ``data`` stream,
with the same ``requestID`` and the pod's ``port``. Once both are there, the server connects
to 127.0.0.1:port inside the pod's network namespace (a socket made on a thread that joined
the namespace: ``network.netns.run_in_netns``) and copies bytes both ways; the end of the
client's data half-closes the TCP connection, the end of the pod's closes the data stream.
A connection that fails says why on the error stream. Over WebSocket (kubelet's v4 channels)
each port of the request is one connection, for the life of the WebSocket.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from wsproto import WSConnection

from pouch.cri.streaming import protocol
from pouch.cri.streaming.idle import STREAM_IDLE_TIMEOUT
from pouch.cri.streaming.spdy import Headers, header
from pouch.cri.streaming.spdy_link import SpdyLink
from pouch.cri.streaming.websocket_channels import WebSocketChannels
from pouch.network.netns import run_in_netns

log = logging.getLogger("pouchd.cri.stream")

CONNECT_TIMEOUT = 10.0
READ_SIZE = 32768

Dialer = Callable[[int], socket.socket]


def netns_dialer(netns_path: str) -> Dialer:
    """Connections to the loopback of the network namespace at ``netns_path``."""

    def dial(port: int) -> socket.socket:
        sock = run_in_netns(netns_path, socket.socket, socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect(("127.0.0.1", port))
            sock.settimeout(None)
        except OSError:
            sock.close()
            raise
        return sock

    return dial


@dataclass
class _Pair:
    port: int
    data: int = 0
    error: int = 0
    inbound: queue.Queue[bytes | None] = field(default_factory=queue.Queue)
    started: bool = False
    sock: socket.socket | None = None


class SpdyPortForward:
    """The SpdyHandler of a port forward connection."""

    def __init__(self, link: SpdyLink, dial: Dialer) -> None:
        self.link = link
        self.dial = dial
        self._lock = threading.Lock()
        self._pairs: dict[str, _Pair] = {}
        self._by_stream: dict[int, _Pair] = {}
        self.closed = threading.Event()

    def on_stream(self, stream_id: int, headers: Headers) -> None:
        kind = header(headers, protocol.STREAM_TYPE)
        port_text = header(headers, protocol.PORT)
        if kind not in ("data", "error") or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            self.link.reset(stream_id)
            return
        # without a requestID (old clients) the data stream follows its error stream: kubelet's rule
        request_id = header(headers, protocol.REQUEST_ID) or str(stream_id - 2 if kind == "data" else stream_id)
        self.link.reply(stream_id)
        with self._lock:
            pair = self._pairs.setdefault(request_id, _Pair(int(port_text)))
            setattr(pair, kind, stream_id)
            self._by_stream[stream_id] = pair
            ready = pair.data and pair.error and not pair.started
            if ready:
                pair.started = True
        if ready:
            threading.Thread(target=self._forward, args=(pair,), name=f"cri-pf-{pair.port}", daemon=True).start()

    def on_data(self, stream_id: int, data: bytes) -> None:
        pair = self._by_stream.get(stream_id)
        if pair is not None and stream_id == pair.data:
            pair.inbound.put(data)

    def on_end(self, stream_id: int) -> None:
        pair = self._by_stream.get(stream_id)
        if pair is not None and stream_id == pair.data:
            pair.inbound.put(None)

    def on_closed(self) -> None:
        with self._lock:
            pairs = list(self._pairs.values())
        for pair in pairs:
            _hang_up(pair)
        self.closed.set()

    def _forward(self, pair: _Pair) -> None:
        forward(self.dial, pair, lambda data: self.link.send(pair.data, data),
                lambda message: self.link.send(pair.error, message))
        self.link.end(pair.data)
        self.link.end(pair.error)


class WebSocketPortForward:
    """Port forward over WebSocket (kubelet's v4 channels): one connection per port of the
    request, its data on channel 2i and its errors on 2i+1, each channel opened by the port
    as two little-endian bytes."""

    def __init__(self, sock: socket.socket, ws: WSConnection, chosen: str, ports: tuple[int, ...],
                 dial: Dialer, idle_timeout: float = STREAM_IDLE_TIMEOUT) -> None:
        self.channels = WebSocketChannels(sock, ws, chosen, self._dispatch, idle_timeout)
        self.pairs = [_Pair(port) for port in ports]
        self.dial = dial

    def _dispatch(self, channel: int, data: bytes) -> None:
        if channel % 2 == 0 and channel // 2 < len(self.pairs):
            self.pairs[channel // 2].inbound.put(data)

    def serve(self) -> None:
        """Forward until the client closes the WebSocket."""
        workers = []
        for i, pair in enumerate(self.pairs):
            prefix = struct.pack("<H", pair.port)
            self.channels.write(2 * i, prefix)
            self.channels.write(2 * i + 1, prefix)
            worker = threading.Thread(target=forward, name=f"cri-pf-{pair.port}", daemon=True, args=(
                self.dial, pair, functools.partial(self.channels.write, 2 * i),
                functools.partial(self.channels.write, 2 * i + 1)))
            worker.start()
            workers.append(worker)
        self.channels.run()
        for pair in self.pairs:
            _hang_up(pair)
        for worker in workers:
            worker.join()
        self.channels.close(0)


def forward(dial: Dialer, pair: _Pair, out: Callable[[bytes], bool], error: Callable[[bytes], object]) -> None:
    """One connection into the pod: ``pair.inbound`` to it, what it answers to ``out``,
    a failure to connect to ``error``."""
    try:
        sock = dial(pair.port)
    except OSError as err:
        error(f"failed to connect to localhost:{pair.port} inside the pod: {err.strerror or err}".encode())
        return
    pair.sock = sock
    writer = threading.Thread(target=_to_pod, args=(pair.inbound, sock), name="cri-pf-in", daemon=True)
    writer.start()
    try:
        while data := sock.recv(READ_SIZE):
            if not out(data):
                break
    except OSError:
        pass
    pair.inbound.put(None)
    writer.join()
    sock.close()


def _hang_up(pair: _Pair) -> None:
    """The client is gone: so is its connection into the pod."""
    pair.inbound.put(None)
    if pair.sock is not None:
        with contextlib.suppress(OSError):
            pair.sock.shutdown(socket.SHUT_RDWR)


def _to_pod(inbound: queue.Queue[bytes | None], sock: socket.socket) -> None:
    try:
        while (data := inbound.get()) is not None:
            sock.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
