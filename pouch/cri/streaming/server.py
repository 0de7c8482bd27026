"""The CRI streaming server: plain HTTP on loopback, upgraded to SPDY/3.1 or WebSocket.

Exec, Attach and PortForward answer ``http://ADDRESS:PORT/{exec,attach,portforward}/TOKEN``
(``requests.py``); the client opens that URL with an upgrade, and the session runs on the
connection, one thread per connection:

- ``Upgrade: SPDY/3.1`` with ``X-Stream-Protocol-Version`` (``v4.channel.k8s.io`` … for remote
  command, ``portforward.k8s.io`` for port forward): the 101 answer names the chosen protocol;
- ``Upgrade: websocket`` with ``Sec-WebSocket-Protocol`` (``v5.channel.k8s.io`` …, remote command
  only), through wsproto.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import urllib.parse
from collections.abc import Callable

import h11
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request

from pouch.cri.streaming import protocol
from pouch.cri.streaming.idle import STREAM_IDLE_TIMEOUT
from pouch.cri.streaming.portforward import Dialer, SpdyPortForward, WebSocketPortForward
from pouch.cri.streaming.remotecommand import RemoteCommandIO, SpdyRemoteCommand, WebSocketRemoteCommand
from pouch.cri.streaming.requests import (
    AttachStream,
    ExecStream,
    PortForwardStream,
    RequestCache,
    StreamRequest,
    parse_path,
    url_path,
)
from pouch.cri.streaming.spdy_link import SpdyLink
from pouch.errors import NotFound, PouchError

log = logging.getLogger("pouchd.cri.stream")

STREAM_CREATION_TIMEOUT = 30.0  # seconds for a SPDY client to open its streams (kubelet's default)
MAX_HEAD = 65536
HEAD_TIMEOUT = 30.0

Session = Callable[[StreamRequest, RemoteCommandIO], None]


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class StreamServer:
    """Listens on ``address:port`` (port 0: one the kernel picks) and serves the sessions.

    ``run_session`` runs exec/attach on a remote command channel set; ``pod_dialer`` gives
    the dialer into a pod sandbox's network namespace.
    """

    def __init__(self, address: str, port: int, run_session: Session,
                 pod_dialer: Callable[[str], Dialer], idle_timeout: float = STREAM_IDLE_TIMEOUT) -> None:
        self.address = address
        self.idle_timeout = idle_timeout
        self.port = port
        self.requests = RequestCache()
        self._run_session = run_session
        self._pod_dialer = pod_dialer
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.address, self.port))
        except OSError as err:
            listener.close()
            raise OSError(err.errno, f"CRI streaming server on {self.address}:{self.port}: {err.strerror}") from None
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, name="cri-stream", daemon=True)
        self._thread.start()
        log.info("CRI streaming server on %s", self.base_url)

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        if self._thread is not None:
            self._thread.join(5)

    @property
    def base_url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}"

    def url_for(self, request: StreamRequest) -> str:
        """A fresh single-use URL for ``request``."""
        return self.base_url + url_path(request, self.requests.insert(request))

    # -- connections
    def _accept(self) -> None:
        while self._listener is not None:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), name="cri-stream-conn", daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            raw, request = _read_head(client)
            self._dispatch(client, raw, request)
        except HttpError as err:
            _answer(client, err.status, err.message)
        except (OSError, h11.RemoteProtocolError) as err:  # the client went away, or did not speak HTTP
            log.debug("streaming connection: %s", err)
            client.close()
        except Exception:  # noqa: BLE001 - one connection's bug must not take the server down
            log.exception("streaming connection failed")
            with contextlib.suppress(OSError):
                client.close()

    def _dispatch(self, client: socket.socket, raw: bytes, request: h11.Request) -> None:
        target = request.target.decode()
        route = parse_path(target)
        if route is None:
            raise HttpError(404, f"no such streaming endpoint: {target}")
        stream_request = self.requests.consume(route[1])
        if stream_request is None:
            raise HttpError(404, "unknown or expired streaming token")
        headers = {}
        offers: dict[bytes, list[str]] = {}
        for name, value in request.headers:
            headers[name.lower()] = value.decode()
            offers.setdefault(name.lower(), []).append(value.decode())
        upgrade = headers.get(b"upgrade", "").lower()
        if upgrade not in ("websocket", "spdy/3.1"):
            raise HttpError(400, "an Upgrade to SPDY/3.1 or websocket is required")
        if isinstance(stream_request, PortForwardStream):
            dial = self._dialer(stream_request)
            if upgrade == "websocket":
                self._websocket_port_forward(client, raw, stream_request, target, dial)
            else:
                self._spdy_port_forward(client, raw, offers, dial)
        elif upgrade == "websocket":
            self._websocket(client, raw, stream_request)
        else:
            self._spdy(client, raw, stream_request, offers)

    def _dialer(self, request: PortForwardStream) -> Dialer:
        try:
            return self._pod_dialer(request.sandbox_id)
        except PouchError as err:
            raise HttpError(404 if isinstance(err, NotFound) else 409, err.message) from None

    def _spdy_upgrade(self, client: socket.socket, offers: dict[bytes, list[str]], supported: tuple[str, ...]) -> str:
        offered = protocol.split_offers(offers.get(b"x-stream-protocol-version", []))
        chosen = protocol.choose(offered, supported) if offered else supported[-1]
        if chosen is None:
            raise HttpError(403, f"none of the offered protocols {offered} is supported: {list(supported)}")
        client.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                       b"X-Stream-Protocol-Version: " + chosen.encode() + b"\r\n\r\n")
        return chosen

    def _spdy_port_forward(self, client: socket.socket, raw: bytes, offers: dict[bytes, list[str]],
                           dial: Dialer) -> None:
        self._spdy_upgrade(client, offers, (protocol.PORT_FORWARD,))
        link = SpdyLink(client, _after_head(raw), client=False, idle_timeout=self.idle_timeout)
        link.run(SpdyPortForward(link, dial))  # until the client closes the connection
        link.close(0)

    def _spdy(self, client: socket.socket, raw: bytes, request: ExecStream | AttachStream,
              offers: dict[bytes, list[str]]) -> None:
        chosen = self._spdy_upgrade(client, offers, protocol.SPDY_REMOTE_COMMAND)
        link = SpdyLink(client, _after_head(raw), client=False, idle_timeout=self.idle_timeout)
        io = SpdyRemoteCommand(link, chosen)
        threading.Thread(target=link.run, args=(io,), name="cri-spdy-read", daemon=True).start()
        expected = protocol.expected_channels(request.stdin, request.stdout, request.stderr, request.tty, chosen)
        if not io.wait_for(expected, STREAM_CREATION_TIMEOUT):
            log.info("streaming client did not open its streams %s", sorted(c.name for c in expected))
            link.close(0)
            return
        self._run_session(request, io)

    def _websocket(self, client: socket.socket, raw: bytes, request: ExecStream | AttachStream) -> None:
        ws, chosen = _websocket_accept(client, raw, protocol.WEBSOCKET_REMOTE_COMMAND)
        io = WebSocketRemoteCommand(client, ws, chosen or protocol.V1, self.idle_timeout)
        threading.Thread(target=io.run, name="cri-ws-read", daemon=True).start()
        self._run_session(request, io)

    def _websocket_port_forward(self, client: socket.socket, raw: bytes, request: PortForwardStream, target: str,
                                dial: Dialer) -> None:
        ports = request.ports or _query_ports(target)
        if not ports:
            raise HttpError(400, "port forward over WebSocket needs the ports (?port=N)")
        ws, chosen = _websocket_accept(client, raw, protocol.WEBSOCKET_PORT_FORWARD)
        WebSocketPortForward(client, ws, chosen or protocol.V4, ports, dial, self.idle_timeout).serve()


def _websocket_accept(client: socket.socket, raw: bytes, supported: tuple[str, ...]) -> tuple[WSConnection, str | None]:
    """The WebSocket handshake: the connection and the subprotocol chosen (None if the client
    offered none); offers with nothing in common are refused."""
    ws = WSConnection(ConnectionType.SERVER)
    ws.receive_data(raw)
    event = next(ws.events(), None)
    if not isinstance(event, Request):
        raise HttpError(400, "not a WebSocket handshake")
    chosen = protocol.choose(event.subprotocols, supported)
    if event.subprotocols and chosen is None:
        raise HttpError(403, f"none of the offered subprotocols {event.subprotocols} is supported: {list(supported)}")
    client.sendall(ws.send(AcceptConnection(subprotocol=chosen)))
    return ws, chosen


def _query_ports(target: str) -> tuple[int, ...]:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
    try:
        ports = tuple(int(p) for value in query.get("port", []) for p in value.split(","))
    except ValueError:
        raise HttpError(400, f"invalid port in {target}") from None
    if any(not 0 < p < 65536 for p in ports):
        raise HttpError(400, f"invalid port in {target}")
    return ports


def _after_head(raw: bytes) -> bytes:
    return raw[raw.index(b"\r\n\r\n") + 4:]


def _read_head(client: socket.socket) -> tuple[bytes, h11.Request]:
    """The raw bytes read so far (the head and whatever followed it) and the parsed request."""
    client.settimeout(HEAD_TIMEOUT)
    raw = b""
    while b"\r\n\r\n" not in raw:
        data = client.recv(4096)
        if not data:
            raise ConnectionError("client closed before its request")
        raw += data
        if len(raw) > MAX_HEAD:
            raise HttpError(431, "request head too large")
    client.settimeout(None)
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(raw[:raw.index(b"\r\n\r\n") + 4])
    event = conn.next_event()
    if not isinstance(event, h11.Request):
        raise HttpError(400, "malformed request")
    return raw, event


def _answer(client: socket.socket, status: int, message: str) -> None:
    body = (message + "\n").encode()
    reason = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 431: "Request Header Fields Too Large"}
    head = (f"HTTP/1.1 {status} {reason.get(status, 'Error')}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with contextlib.suppress(OSError):
        client.sendall(head + body)
    client.close()
