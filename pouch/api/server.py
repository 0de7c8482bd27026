"""HTTP/1.1 server for the Docker Engine API on a unix socket.

h11 does the protocol (bytes in, events out); this module only moves bytes between
h11 and a blocking socket, one thread per connection, with keep-alive.

Glossary:

* **route** — ``(method, pattern, handler)``; a pattern like ``/containers/{id}/json``
  where ``{id}`` matches one path segment and ``{name:path}`` any number of them.
* **stream response** — a body of unknown length sent with chunked transfer
  encoding; status line and headers are flushed before the body iterable is first
  advanced, and each chunk is flushed as it is produced.
* **hijack** — attach and exec start take over the raw socket after the response
  head (``101 UPGRADED`` when the client asked ``Connection: Upgrade`` /
  ``Upgrade: tcp``, else a bare ``200 OK`` for old clients). See the Docker Engine
  API, "Hijacking".
"""

from __future__ import annotations

import email.utils
import io
import json
import logging
import os
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

import h11

from pouch import API_VERSION, MIN_API_VERSION, __version__, malloc
from pouch.api.listeners import Listener, unix_listener
from pouch.api.request_checks import check_no_nul, path_redactor, public_message
from pouch.api.router import Handler, Router
from pouch.errors import InvalidArgument, PouchError
from pouch.fds import hung_up, wait_readable

log = logging.getLogger(__name__)

RECV_SIZE = 64 * 1024
MAX_HEADER_SIZE = 256 * 1024  # X-Registry-Auth and X-Registry-Config can be large
MAX_BODY = 64 * 1024 * 1024  # Request.body()/json(); use stream() for uploads
DRAIN_LIMIT = 256 * 1024  # unread request body we swallow to keep a connection alive
ERROR_DRAIN_LIMIT = 16 * 1024**3  # after an error, the rest of an upload is read and dropped
TRIM_AFTER = 4 * 1024 * 1024  # after a body this large, free heap pages are handed back
IDLE_TIMEOUT = 300.0  # seconds a connection may stay silent (between requests, mid-upload) before it is closed

_VERSION_PREFIX = re.compile(r"^/v([0-9]+(?:\.[0-9]+)*)(/.*)?$")
_FALSE = {"", "0", "no", "false", "none"}  # moby httputils.BoolValue, case-insensitive


class PayloadTooLarge(PouchError):
    status = 413


class ClientDisconnected(ConnectionError):
    """The client went away while we were reading its request body."""


class BadRequestBody(InvalidArgument):
    """The request body breaks HTTP's framing (e.g. a bad chunk size): a 400, then the
    connection is closed (nothing after it can be parsed)."""


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


# --- request ---------------------------------------------------------------------------


class BodyReader(io.RawIOBase):
    """The request body as a readable stream: ``read(n)`` returns b"" at the end.

    Reads pull h11 ``Data`` events off the connection on demand, so an upload of
    any size needs no more memory than one socket read. Sends ``100 Continue``
    first if the client is waiting for it.
    """

    def __init__(self, conn: _Connection) -> None:
        super().__init__()
        self._conn = conn
        self._pending = memoryview(b"")
        self._eof = False
        self._consumed = 0

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        while not self._pending:
            if self._eof:
                return False
            data = self._conn.next_body_data()
            if data is None:
                self._eof = True
                return False
            self._consumed += len(data)
            self._pending = memoryview(data)
        return True

    @property
    def consumed(self) -> int:
        """Bytes of the body read so far."""
        return self._consumed

    def readinto(self, buffer: Any) -> int:
        if not self._fill():
            return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        if size == 0 or not self._fill():
            return b""
        chunk = bytes(self._pending[:size])
        self._pending = self._pending[len(chunk) :]
        return chunk

    def readall(self) -> bytes:
        parts = []
        while self._fill():
            parts.append(bytes(self._pending))
            self._pending = memoryview(b"")
        return b"".join(parts)

    @property
    def at_eof(self) -> bool:
        return self._eof and not self._pending


@dataclass
class Request:
    method: str
    path: str  # version prefix stripped, percent-decoded
    params: dict[str, str]
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case keys
    api_version: str
    _reader: BodyReader | None = field(default=None, repr=False)
    _sock: socket.socket | None = field(default=None, repr=False)
    _body: bytes | None = field(default=None, repr=False)

    # -- body --
    def stream(self) -> BodyReader | io.BytesIO:
        """The request body as a stream (chunked or Content-Length); b"" at the end."""
        if self._body is not None:
            return io.BytesIO(self._body)
        if self._reader is None:
            return io.BytesIO(b"")
        return self._reader

    def body(self, limit: int = MAX_BODY) -> bytes:
        """The whole body; PayloadTooLarge (413) beyond ``limit`` bytes (at once when its
        Content-Length says so: nothing is read into memory then)."""
        if self._body is None:
            declared = self.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise PayloadTooLarge(f"request body larger than {limit} bytes")
            reader = self.stream()
            parts, total = [], 0
            while chunk := reader.read(RECV_SIZE):
                total += len(chunk)
                if total > limit:
                    raise PayloadTooLarge(f"request body larger than {limit} bytes")
                parts.append(chunk)
            self._body = b"".join(parts)
        return self._body

    def json(self) -> Any:
        """The body parsed as JSON; ``{}`` for an empty body. A string holding a NUL byte
        anywhere in it is refused (400 naming where): no kernel interface or spec takes one."""
        raw = self.body()
        if not raw.strip():
            return {}
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as err:
            raise InvalidArgument(f"invalid JSON in request body: {err}") from None
        except RecursionError:
            raise InvalidArgument("invalid JSON in request body: nested too deeply") from None
        check_no_nul(doc)
        return doc

    def body_read(self) -> int:
        """Bytes of the body read so far."""
        return self._reader.consumed if self._reader is not None else 0

    # -- query --
    def query_str(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    def query_bool(self, name: str, default: bool = False) -> bool:
        """moby's ``BoolValue``: "", 0, no, false, none (any case) are false, anything else true."""
        values = self.query.get(name)
        if not values:
            return default
        return values[-1].strip().lower() not in _FALSE

    def query_int(self, name: str, default: int | None = None) -> int | None:
        values = self.query.get(name)
        if not values or values[-1] == "":
            return default
        try:
            return int(values[-1])
        except ValueError:
            raise InvalidArgument(f"invalid integer value for query parameter {name!r}: {values[-1]!r}") from None

    def query_json(self, name: str, default: Any = None) -> Any:
        values = self.query.get(name)
        if not values or values[-1] == "":
            return default
        try:
            return json.loads(values[-1])
        except ValueError as err:
            raise InvalidArgument(f"invalid JSON in query parameter {name!r}: {err}") from None

    # -- connection --
    def disconnected(self) -> bool:
        """True once the client has closed the connection completely (not a half-close).

        For long waits (``/containers/{id}/wait``, ``logs?follow``): poll this between
        waits to stop early. Never blocks.
        """
        if self._sock is None:
            return False
        try:
            return hung_up(self._sock)
        except (OSError, ValueError):
            return True


# --- responses -------------------------------------------------------------------------


@dataclass
class Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | Iterable[bytes] = b""


@dataclass
class Hijack(Response):
    """Take over the socket after the response head; see the module docstring."""

    handler: Callable[[socket.socket, bytes], None] = field(kw_only=True)
    content_type: str = field(kw_only=True, default="application/vnd.docker.raw-stream")
    websocket_accept: str = field(kw_only=True, default="")  # set: a WebSocket upgrade (attach/ws) is answered


def json_response(obj: Any, status: int = 200) -> Response:
    body = json.dumps(obj).encode() + b"\n"
    return Response(status, [("Content-Type", "application/json")], body)


def empty_response(status: int = 204) -> Response:
    return Response(status, [], b"")


def stream_response(chunks: Iterable[bytes], content_type: str = "application/json", status: int = 200) -> Response:
    return Response(status, [("Content-Type", content_type)], chunks)


def error_response(status: int, message: str) -> Response:
    return json_response({"message": message}, status)


# --- the connection --------------------------------------------------------------------


def _default_headers() -> list[tuple[str, str]]:
    return [
        ("Api-Version", API_VERSION),
        ("Docker-Experimental", "false"),
        ("Ostype", "linux"),
        ("Server", f"Pouch/{__version__}"),
        ("Date", email.utils.formatdate(usegmt=True)),
    ]


def _merge_headers(extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    names = {name.lower() for name, _ in extra}
    return [h for h in _default_headers() if h[0].lower() not in names] + list(extra)


class _Abort(Exception):
    """Stop serving this connection now (the peer is gone or the stream broke)."""


class _Connection:
    """One client connection: a loop of h11 request/response cycles."""

    def __init__(self, server: Server, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_SIZE)
        self.peer_closed = False  # the client's side ended (EOF, error, silence past idle_timeout)

    # -- IO between the socket and h11 --
    def _receive(self) -> None:
        """The next bytes from the client; a client silent for ``idle_timeout`` (idle between
        requests, stalled in an upload) counts as gone. Sending has no such limit."""
        try:
            if wait_readable([self.sock], self.server.idle_timeout):
                data = self.sock.recv(RECV_SIZE)
            else:
                log.debug("closing an API connection silent for %ss", self.server.idle_timeout)
                data = b""
        except OSError:
            data = b""
        self.peer_closed = not data
        self.h11.receive_data(data)

    def _next_event(self) -> Any:
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                self._receive()
                continue
            return event

    def _send(self, event: Any) -> None:
        data = self.h11.send(event)
        if data:
            try:
                self.sock.sendall(data)
            except OSError as err:
                self.h11.send_failed()
                raise _Abort(f"send failed: {err}") from None

    def next_body_data(self) -> bytes | None:
        """The next piece of the current request body, or None at its end."""
        if self.h11.they_are_waiting_for_100_continue:
            self._send(h11.InformationalResponse(status_code=100, headers=_default_headers()))
        if self.h11.their_state is not h11.SEND_BODY:
            return None
        try:
            event = self._next_event()
        except h11.RemoteProtocolError as err:
            if self.peer_closed:
                raise ClientDisconnected(f"client gone in the middle of the request body: {err}") from None
            raise BadRequestBody(f"bad request body: {err}") from None
        if isinstance(event, h11.Data):
            return bytes(event.data)
        if isinstance(event, h11.EndOfMessage):
            return None
        raise ClientDisconnected("client closed the connection in the middle of the request body")

    def _drain_body(self, limit: int) -> bool:
        """Read and drop the rest of the request body; False if more than ``limit``."""
        seen = 0
        try:
            while (data := self.next_body_data()) is not None:
                seen += len(data)
                if seen > limit:
                    return False
        except (ClientDisconnected, BadRequestBody):
            return False
        return True

    # -- the request/response loop --
    def run(self) -> None:
        try:
            while True:
                try:
                    event = self._next_event()
                except h11.RemoteProtocolError as err:
                    self._reject(err)
                    return
                if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                    return
                if not isinstance(event, h11.Request):
                    return
                if not self._cycle(event):
                    return
                if self.h11.our_state is h11.MUST_CLOSE or self.h11.their_state is not h11.DONE:
                    return
                self.h11.start_next_cycle()
        except (_Abort, ClientDisconnected) as err:
            log.debug("connection aborted: %s", err)
        except Exception:  # noqa: BLE001 - a bug must not kill the daemon
            log.exception("unexpected error on API connection")
        finally:
            try:
                self.sock.close()
            except OSError:
                pass

    def _reject(self, err: h11.RemoteProtocolError) -> None:
        if self.h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        resp = error_response(err.error_status_hint, f"bad request: {err}")
        try:
            self._send_response(resp, head=False)
        except (_Abort, h11.LocalProtocolError):
            pass

    def _cycle(self, event: h11.Request) -> bool:
        """Serve one request; False to close the connection afterwards."""
        started = time.monotonic()
        method = event.method.decode("ascii", "replace").upper()
        target = event.target.decode("ascii", "replace")
        request, handler, resp = self._route(event, method, target)
        if request is not None and handler is not None:
            resp = self._call(request, handler)
            if request.body_read() > TRIM_AFTER:
                request._body = None
                malloc.trim()  # the free pages a large body leaves go back to the system now
        assert resp is not None
        status = resp.status
        if isinstance(resp, Hijack):
            status = self._hijack(request, resp)
            keep = False
        else:
            # an upload refused half-way: read the rest so the client gets to see the error
            keep = self._finish_request_body(ERROR_DRAIN_LIMIT if resp.status >= 400 else DRAIN_LIMIT)
            self._send_response(resp, head=method == "HEAD")
        log.debug("%s %s -> %d (%.1f ms)", method, target, status, (time.monotonic() - started) * 1000)
        return keep

    def _route(
        self, event: h11.Request, method: str, target: str
    ) -> tuple[Request | None, Handler | None, Response | None]:
        raw_path, _, raw_query = target.partition("?")
        version = API_VERSION
        m = _VERSION_PREFIX.match(raw_path)
        if m:
            version, raw_path = m.group(1), m.group(2) or "/"
            try:
                vt = _version_tuple(version)
            except ValueError:
                return None, None, error_response(400, f"invalid API version {version!r}")
            if vt > _version_tuple(API_VERSION):
                return None, None, error_response(
                    400, f"client version {version} is too new. Maximum supported API version is {API_VERSION}"
                )
            if vt < _version_tuple(MIN_API_VERSION):
                return None, None, error_response(
                    400,
                    f"client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, "
                    "please upgrade your client to a newer version",
                )
        handler, found = self.server.router.resolve(method, raw_path)
        if handler is None:
            if found:
                resp = error_response(405, f"method {method} not allowed for {raw_path}")
                resp.headers.append(("Allow", ", ".join(found)))
                return None, None, resp
            return None, None, error_response(404, "page not found")
        headers: dict[str, str] = {}
        for name, value in event.headers:
            key = name.decode("latin-1").lower()
            val = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {val}" if key in headers else val
        request = Request(
            method=method,
            path=unquote(raw_path),
            params=found,  # type: ignore[arg-type]
            query=parse_qs(raw_query, keep_blank_values=True),
            headers=headers,
            api_version=version,
            _reader=BodyReader(self),
            _sock=self.sock,
        )
        return request, handler, None

    def _call(self, request: Request, handler: Handler) -> Response:
        try:
            resp = handler(request)
            if not isinstance(resp, Response):
                raise TypeError(f"handler for {request.method} {request.path} returned {type(resp).__name__}")
            return resp
        except PouchError as err:
            log.debug("%s %s: %s %s", request.method, request.path, err.status, err.message)
            return error_response(err.status, self.server.redact(err.message))
        except ClientDisconnected:
            raise
        except Exception as err:  # noqa: BLE001
            log.exception("error handling %s %s", request.method, request.path)
            return error_response(500, self.server.redact(public_message(err)))

    def _finish_request_body(self, limit: int = 0) -> bool:
        """Skip an unread request body; False if the connection cannot be reused."""
        if self.h11.their_state is h11.SEND_BODY:
            if self.h11.they_are_waiting_for_100_continue:
                # The client has not sent the body; h11 will mark the connection
                # not reusable once we answer, so do not ask for it.
                return False
            return self._drain_body(limit or DRAIN_LIMIT)
        return True

    def _send_response(self, resp: Response, head: bool) -> None:
        headers = _merge_headers(resp.headers)
        body = resp.body
        no_body = head or resp.status in (204, 304) or 100 <= resp.status < 200
        if isinstance(body, (bytes, bytearray, memoryview)):
            if resp.status not in (204, 304) and not any(n.lower() == "content-length" for n, _ in headers):
                headers.append(("Content-Length", str(len(body))))
            self._send(h11.Response(status_code=resp.status, headers=headers))
            if body and not no_body:
                self._send(h11.Data(data=bytes(body)))
            self._send(h11.EndOfMessage())
            return
        # A streamed body: head first (flushed by sendall), then each chunk as produced.
        self._send(h11.Response(status_code=resp.status, headers=headers))
        try:
            if not no_body:
                self._pump(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        self._send(h11.EndOfMessage())

    def _pump(self, body: Iterable[bytes]) -> None:
        iterator: Iterator[bytes] = iter(body)
        while True:
            try:
                chunk = next(iterator)
            except StopIteration:
                return
            except Exception as err:  # noqa: BLE001 - status already sent: cut the stream
                log.exception("error while streaming a response")
                raise _Abort(f"stream failed: {err}") from None
            if chunk:
                self._send(h11.Data(data=bytes(chunk)))

    def _hijack(self, request: Request | None, resp: Hijack) -> int:
        """Send the head, run ``resp.handler`` on the raw socket; returns the status sent."""
        assert request is not None
        if not self._drain_body(MAX_BODY):
            raise _Abort("could not read the request body before hijacking")
        wants_upgrade = "upgrade" in request.headers.get("connection", "").lower() and request.headers.get(
            "upgrade", ""
        ).lower() == "tcp"
        headers = [h for h in resp.headers if h[0].lower() != "content-type"]
        headers = _merge_headers([("Content-Type", resp.content_type)] + headers)
        if resp.websocket_accept and self.h11.their_state is h11.MIGHT_SWITCH_PROTOCOL:
            ws_headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", resp.websocket_accept)]
            self._send(h11.InformationalResponse(status_code=101, headers=ws_headers, reason=b"Switching Protocols"))
            status = 101
        elif wants_upgrade and self.h11.their_state is h11.MIGHT_SWITCH_PROTOCOL:
            headers += [("Connection", "Upgrade"), ("Upgrade", "tcp")]
            self._send(h11.InformationalResponse(status_code=101, headers=headers, reason=b"UPGRADED"))
            status = 101
        else:
            status = 200
            head = "HTTP/1.1 200 OK\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n"
            try:
                self.sock.sendall(head.encode("latin-1"))
            except OSError as err:
                raise _Abort(f"send failed: {err}") from None
        leftover, _closed = self.h11.trailing_data
        try:
            resp.handler(self.sock, bytes(leftover))
        except Exception:  # noqa: BLE001
            log.exception("error in hijacked stream for %s %s", request.method, request.path)
        _linger_close(self.sock)
        return status


def _linger_close(sock: socket.socket, timeout: float = 2.0) -> None:
    """End a hijacked stream gracefully: send FIN, then drop what the client still sends
    until it closes too. Closing with unread input would make the kernel send a RST,
    and the client could lose output it has not read yet."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and sock.recv(65536):
            pass
    except OSError:
        pass


# --- the server ------------------------------------------------------------------------


class Server:
    """Accepts connections on its listeners (``api/listeners.py``), one thread per connection.

    ``Server(path, router)`` listens on the unix socket ``path``; pouchd gives the listeners
    of its ``-H`` addresses instead (``listeners=``)."""

    def __init__(self, socket_path: str | None, router: Router, mode: int = 0o660,
                 listeners: Sequence[Listener] | None = None, idle_timeout: float = IDLE_TIMEOUT,
                 private_paths: tuple[str, ...] = ()) -> None:
        self.socket_path = os.path.abspath(socket_path) if socket_path else ""
        self.router = router
        self.idle_timeout = idle_timeout
        self.redact = path_redactor(private_paths)
        self.listeners = list(listeners) if listeners is not None else [unix_listener(self.socket_path, mode)]
        self._wake_r, self._wake_w = socket.socketpair()
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._serving: int | None = None
        self._closed = False

    def serve_forever(self) -> None:
        if self._closed:
            raise RuntimeError("server is shut down")
        self._serving = threading.get_ident()
        for listener in self.listeners:
            log.info("API listening on %s", listener.name)
        try:
            with selectors.DefaultSelector() as sel:
                for listener in self.listeners:
                    sel.register(listener.sock, selectors.EVENT_READ, listener)
                sel.register(self._wake_r, selectors.EVENT_READ)
                while not self._stopping.is_set():
                    for key, _ in sel.select():
                        if key.data is not None and not self._stopping.is_set():
                            self._accept(key.data)
        finally:
            self._stopped.set()
            if self._stopping.is_set():
                self._close_listener()

    def _accept(self, listener: Listener) -> None:
        try:
            sock = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as err:
            log.warning("accept failed: %s", err)
            time.sleep(0.05)  # e.g. EMFILE: do not spin
            return
        if sock is None:
            return
        conn = _Connection(self, sock)
        thread = threading.Thread(target=self._run_connection, args=(conn,), name="pouch-api-conn", daemon=True)
        with self._lock:
            self._connections[sock] = thread
        thread.start()

    def _run_connection(self, conn: _Connection) -> None:
        try:
            conn.run()
        finally:
            with self._lock:
                self._connections.pop(conn.sock, None)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every connection, join their threads, remove the socket.

        Safe to call from another thread, from a signal handler running in the
        serving thread (the socket is then closed when ``serve_forever`` returns),
        or without ``serve_forever`` ever having run.
        """
        self._stopping.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        in_serving_thread = self._serving == threading.get_ident()
        if self._serving is not None and not in_serving_thread:
            self._stopped.wait(timeout)
        with self._lock:
            connections = list(self._connections.items())
        for sock, _ in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for _, thread in connections:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        if not in_serving_thread or self._stopped.is_set():
            self._close_listener()

    def _close_listener(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for listener in self.listeners:
            listener.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
