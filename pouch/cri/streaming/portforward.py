"""Port forward over SPDY (``portforward.k8s.io``): TCP connections into a pod's loopback.

The client opens two streams per connection it forwards, an ``error`` and a ``data`` stream,
with the same ``requestID`` and the pod's ``port``. Once both are there, the server connects
to 127.0.0.1:port inside the pod's network namespace (a socket made on a thread that joined
the namespace: ``network.netns.run_in_netns``) and copies bytes both ways; the end of the
client's data half-closes the TCP connection, the end of the pod's closes the data stream.
A connection that fails says why on the error stream.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from pouch.cri.streaming import protocol
from pouch.cri.streaming.spdy import Headers, header
from pouch.cri.streaming.spdy_link import SpdyLink
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
            pair.inbound.put(None)
            if pair.sock is not None:  # the client is gone: so are its connections into the pod
                with contextlib.suppress(OSError):
                    pair.sock.shutdown(socket.SHUT_RDWR)
        self.closed.set()

    def _forward(self, pair: _Pair) -> None:
        try:
            sock = self.dial(pair.port)
        except OSError as err:
            message = f"failed to connect to localhost:{pair.port} inside the pod: {err.strerror or err}"
            self.link.send(pair.error, message.encode())
            self._end(pair)
            return
        pair.sock = sock
        writer = threading.Thread(target=_to_pod, args=(pair.inbound, sock), name="cri-pf-in", daemon=True)
        writer.start()
        try:
            while data := sock.recv(READ_SIZE):
                if not self.link.send(pair.data, data):
                    break
        except OSError:
            pass
        self._end(pair)
        pair.inbound.put(None)
        writer.join()
        sock.close()

    def _end(self, pair: _Pair) -> None:
        self.link.end(pair.data)
        self.link.end(pair.error)


def _to_pod(inbound: queue.Queue[bytes | None], sock: socket.socket) -> None:
    try:
        while (data := inbound.get()) is not None:
            sock.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
