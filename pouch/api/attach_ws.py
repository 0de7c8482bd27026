"""``GET /containers/{id}/attach/ws``: attach over a WebSocket (RFC 6455), as dockerd.

The query is the attach's (``logs``, ``stream``, ``stdin``, ``stdout``, ``stderr``).
The container's output goes out as binary messages, raw as with a TTY (dockerd does not
multiplex a WebSocket attach either); every message the client sends (text or binary)
is the container's input. The engine side is the ordinary attach ``pump`` run on one
end of a socket pair; here the other end is bridged to the WebSocket (``wsproto``
frames it, sans-IO).
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
from wsproto.utilities import generate_accept_token

from pouch.api.attach_streams import INPUT_READ, AttachQuery, HijackHandler, pump
from pouch.api.server import Hijack, Request, Response, Router, error_response
from pouch.engine import Engine
from pouch.fds import wait_readable
from pouch.models import Container
from pouch.services import streams

log = logging.getLogger(__name__)


def add_attach_ws_routes(router: Router, engine: Engine) -> None:
    router.add("GET", "/containers/{id}/attach/ws", lambda req: attach_ws(engine, req))


def attach_ws(engine: Engine, req: Request) -> Response:
    c = engine.containers.get(req.params["id"])
    key = req.headers.get("sec-websocket-key", "")
    if req.headers.get("upgrade", "").lower() != "websocket" or not key:
        return error_response(400, "not a WebSocket upgrade request")
    query = AttachQuery(stdin=req.query_bool("stdin"), stdout=req.query_bool("stdout"),
                        stderr=req.query_bool("stderr"), logs=req.query_bool("logs"), stream=req.query_bool("stream"))
    engine.containers.events.emit_container(c, "attach")
    return Hijack(handler=ws_handler(engine, c, query), websocket_accept=generate_accept_token(key.encode()).decode())


def ws_handler(engine: Engine, c: Container, query: AttachQuery) -> HijackHandler:
    def handler(client: socket.socket, leftover: bytes) -> None:
        inner, outer = socket.socketpair()
        worker = threading.Thread(target=_engine_side, args=(engine, c, query, inner), name="attach-ws", daemon=True)
        worker.start()
        try:
            _bridge(client, leftover, outer)
        finally:
            outer.close()
            worker.join()

    return handler


def _engine_side(engine: Engine, c: Container, query: AttachQuery, sock: socket.socket) -> None:
    """The attach as a raw stream on ``sock``: the log first (``logs``), then the live stdio."""
    try:
        if query.logs:
            log_query = streams.LogQuery(stdout=query.stdout, stderr=query.stderr)
            for entry in streams.log_entries(engine.containers, c, log_query):
                sock.sendall(entry.data)
        if not query.stream:
            return
        conn = streams.connect_attach(engine.containers, c.id)
        if conn is None:
            return
        options = streams.attach_options(c, stdin=query.stdin, stdout=query.stdout, stderr=query.stderr)
        pump(conn, sock, b"", dataclasses.replace(options, tty=True))  # tty: raw output, not stdcopy frames
    except OSError:
        pass  # the WebSocket side went away
    except Exception:  # noqa: BLE001 - a thread: log, the bridge sees the end of the stream
        log.exception("attach/ws for %s", c.id[:12])
    finally:
        sock.close()


def _bridge(client: socket.socket, leftover: bytes, stream: socket.socket) -> None:
    """WebSocket messages on ``client`` ↔ raw bytes on ``stream`` until either side ends."""
    ws = Connection(ConnectionType.SERVER)
    if leftover:
        ws.receive_data(leftover)
        if not _deliver(ws, client, stream):
            return
    while True:
        ready = wait_readable([client, stream], None)  # fds
        if stream.fileno() in ready:
            data = stream.recv(INPUT_READ)
            if not data:  # the attach ended: say so and close
                client.sendall(ws.send(CloseConnection(code=1000)))
                return
            client.sendall(ws.send(BytesMessage(data=data)))
        if client.fileno() in ready:
            data = client.recv(INPUT_READ)
            ws.receive_data(data or None)
            if not data or not _deliver(ws, client, stream):
                stream.shutdown(socket.SHUT_WR)
                return


def _deliver(ws: Connection, client: socket.socket, stream: socket.socket) -> bool:
    """The client's pending messages to the container's input; False once it closed."""
    for event in ws.events():
        if isinstance(event, (TextMessage, BytesMessage)):
            data = event.data.encode() if isinstance(event.data, str) else bytes(event.data)
            stream.sendall(data)
        elif isinstance(event, Ping):
            client.sendall(ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            if ws.state == ConnectionState.REMOTE_CLOSING:
                client.sendall(ws.send(event.response()))
            return False
    return True
