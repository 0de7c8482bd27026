"""A minimal HTTP/1.1 client for the Docker Engine API over a unix socket.

Only what ``pouch`` needs, kept small so the CLI starts fast (no http.client,
no email parser, no h11):

* one connection per request (``Connection: close`` unless upgrading), so
  concurrent requests such as attach + wait + start are just several sockets;
* request bodies as JSON (dict/list), bytes, or an iterable/file streamed with
  ``Transfer-Encoding: chunked`` (``load``, ``import``);
* responses framed by ``Content-Length``, ``chunked`` or connection close,
  read whole (``read``/``json``) or streamed (``iter_chunks``/``iter_lines``);
* the attach/exec hijack: ``Connection: Upgrade`` + ``Upgrade: tcp``, a ``101``
  answer, then the raw socket (plus any bytes already buffered) is handed over.

Every path is sent under ``/v<CLIENT_API_VERSION>`` (RFC 9112 framing; Docker Engine
API v1.41 for the endpoints).

Start-up cost is the point of this module's imports: it uses the C modules
``_socket`` (``socket`` imports ``enum`` and ``selectors``) and ``jsonwire``
(``json`` imports ``re``), so ``pouch run`` starts in about half the time.
"""

from __future__ import annotations

import _socket

from pouch import CLIENT_API_VERSION, __version__
from pouch.cli import jsonwire as json

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing/collections.abc cost ~4 ms at startup; annotations are strings
    from collections.abc import Iterable, Iterator
    from typing import Any

DEFAULT_HOST = "unix:///var/run/pouchd.sock"  # == pouch.config.DEFAULT_HOST (not imported: it costs ~10 ms)
USER_AGENT = f"pouch-cli/{__version__}"
_CHUNK = 64 * 1024
_CUT_ANSWER_TIMEOUT = 10.0  # seconds to wait for the answer of a daemon that hung up on the request body


class CLIError(Exception):
    """A failure the CLI reports as one line on stderr with an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class DaemonUnavailable(CLIError):
    def __init__(self, host: str, reason: str = "") -> None:
        if reason == "permission":
            msg = (f"permission denied while trying to connect to the Pouch daemon socket at {host}")
        else:
            msg = f"Cannot connect to the Pouch daemon at {host}. Is the pouch daemon running?"
        super().__init__(msg, 1)
        self.host = host


class APIError(CLIError):
    """The daemon answered with a 4xx/5xx status; ``message`` is its ``{"message": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Error response from daemon: {message}", 1)
        self.status = status
        self.explanation = message


class ProtocolError(CLIError):
    def __init__(self, message: str) -> None:
        super().__init__(f"error during connect: {message}", 1)


BEFORE_ANSWER = "before answering"
IN_ANSWER = "before the end of its answer"


class ConnectionLost(CLIError):
    """The daemon hung up mid-request (``when`` = :data:`BEFORE_ANSWER`) or mid-answer
    (:data:`IN_ANSWER`): never a success, whatever the verb."""

    def __init__(self, when: str = BEFORE_ANSWER) -> None:
        super().__init__(f"pouch: the daemon closed the connection {when} (is pouchd running? see its log)", 1)


def parse_host(host: str) -> tuple[int, Any]:
    """``unix:///path`` | ``/path`` | ``tcp://h:p`` -> (address family, address)."""
    if host.startswith("unix://"):
        return _socket.AF_UNIX, host[len("unix://"):]
    if host.startswith("/"):
        return _socket.AF_UNIX, host
    if host.startswith("tcp://") or host.startswith("http://"):
        hostport = host.split("://", 1)[1].rstrip("/")
        name, _, port = hostport.rpartition(":")
        if not name or not port.isdigit():
            raise CLIError(f"invalid host address {host!r}: want tcp://HOST:PORT")
        return _socket.AF_INET, (name.strip("[]"), int(port))
    raise CLIError(f"unsupported host address {host!r}: use unix:///path or tcp://host:port")


def build_path(path: str, params: dict[str, Any] | None = None) -> str:
    """``/containers/x/json`` + params -> ``/v1.41/containers/x/json?...``.

    ``None`` values are dropped, booleans become ``1``/``0``, lists repeat the key
    (``changes=a&changes=b``), dicts are JSON-encoded (``filters``)."""
    url = f"/v{CLIENT_API_VERSION}{path}"
    if params:
        pairs: list[tuple[str, str]] = []
        for key, value in params.items():
            if value is None:
                continue
            if isinstance(value, bool):
                pairs.append((key, "1" if value else "0"))
            elif isinstance(value, (list, tuple)):
                pairs.extend((key, str(v)) for v in value)
            elif isinstance(value, dict):
                pairs.append((key, json.dumps(value, compact=True)))
            else:
                pairs.append((key, str(value)))
        if pairs:
            url += "?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in pairs)
    return url


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _quote(text: str, safe: bytes = b"") -> str:
    """RFC 3986 percent-encoding (urllib.parse pulls in ipaddress: ~2.5 ms)."""
    return "".join(chr(b) if b in _UNRESERVED or b in safe else f"%{b:02X}" for b in text.encode())


def quote_name(name: str) -> str:
    """A container/image name or id as one path segment (``busybox:latest`` stays readable)."""
    return _quote(name, safe=b":@")


class Response:
    """Status line and headers already read; the body is read on demand."""

    def __init__(self, sock: _socket.socket, reader: _SocketReader, status: int, reason: str,
                 headers: dict[str, str], method: str) -> None:
        self.sock = sock
        self._reader = reader  # buffered reads over sock
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-cased names
        self._method = method
        self._done = False

    # -- framing ---------------------------------------------------------------
    @property
    def chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()

    def iter_chunks(self) -> Iterator[bytes]:
        """Body bytes as they arrive (decoded from chunked framing if needed)."""
        if self._done:
            return
        try:
            if self._method == "HEAD" or self.status in (204, 304) or 100 <= self.status < 200:
                return
            if self.chunked:
                yield from self._iter_chunked()
            elif "content-length" in self.headers:
                remaining = int(self.headers["content-length"])
                while remaining > 0:
                    data = self._reader.read1(min(remaining, _CHUNK))
                    if not data:
                        raise ConnectionLost(IN_ANSWER)
                    remaining -= len(data)
                    yield data
            else:
                while data := self._reader.read1(_CHUNK):
                    yield data
        finally:
            self._done = True
            self.close()

    def _iter_chunked(self) -> Iterator[bytes]:
        while True:
            line = self._reader.readline(1024)
            if not line:
                raise ConnectionLost(IN_ANSWER)
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size {size_text!r}") from None
            if size == 0:
                while self._reader.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            remaining = size
            while remaining > 0:
                data = self._reader.read1(min(remaining, _CHUNK))
                if not data:
                    raise ConnectionLost(IN_ANSWER)
                remaining -= len(data)
                yield data
            self._reader.readline(8)  # CRLF after the chunk data

    def iter_lines(self) -> Iterator[bytes]:
        """Body split on ``\\n`` (newline kept off), for JSON-lines progress streams."""
        pending = b""
        for chunk in self.iter_chunks():
            pending += chunk
            *lines, pending = pending.split(b"\n")
            yield from (line for line in lines if line.strip())
        if pending.strip():
            yield pending

    def iter_json(self) -> Iterator[Any]:
        for line in self.iter_lines():
            yield json.loads(line)

    def read(self) -> bytes:
        return b"".join(self.iter_chunks())

    def json(self) -> Any:
        data = self.read()
        return json.loads(data) if data.strip() else None

    def close(self) -> None:
        try:
            self._reader.close()
        finally:
            self.sock.close()


def _error_message(body: bytes, status: int, reason: str) -> str:
    text = body.decode("utf-8", "replace").strip()
    try:
        doc = json.loads(text)
    except ValueError:
        return text or f"{status} {reason}".strip()
    if isinstance(doc, dict) and isinstance(doc.get("message"), str):
        return doc["message"]
    return text


class PendingRequest:
    """A request already sent whose response has not been read yet (e.g. ``wait``
    issued before ``start``: docker sends it first so no exit can be missed)."""

    def __init__(self, client: Client, sock: _socket.socket, method: str, *, cut: bool = False) -> None:
        self._client = client
        self.sock = sock
        self.method = method
        self.cut = cut  # the daemon hung up while the request was being sent

    def response(self, *, check: bool = True) -> Response:
        if not self.cut:
            return self._client._read_response(self.sock, self.method, check=check)
        # A daemon that refused the request early has answered before closing; a dead one has not.
        self.sock.settimeout(_CUT_ANSWER_TIMEOUT)
        try:
            resp = self._client._read_response(self.sock, self.method, check=check)
        except (ProtocolError, OSError):
            self.sock.close()
            raise ConnectionLost(BEFORE_ANSWER) from None
        self.sock.settimeout(self._client.timeout)
        return resp


class Client:
    def __init__(self, host: str = DEFAULT_HOST, timeout: float | None = None) -> None:
        self.host = host
        self.family, self.address = parse_host(host)
        self.timeout = timeout

    # -- connection ------------------------------------------------------------
    def connect(self) -> _socket.socket:
        sock = _socket.socket(self.family, _socket.SOCK_STREAM)
        if self.timeout is not None:
            sock.settimeout(self.timeout)
        try:
            sock.connect(self.address)
        except PermissionError:
            sock.close()
            raise DaemonUnavailable(self.host, "permission") from None
        except OSError:
            sock.close()
            raise DaemonUnavailable(self.host) from None
        return sock

    # -- requests --------------------------------------------------------------
    def send(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             body: Any = None, headers: dict[str, str] | None = None,
             upgrade: bool = False) -> PendingRequest:
        """Connect and send the whole request; the response is read later."""
        sock = self.connect()
        try:
            self._send_on(sock, method, build_path(path, params), body, headers, upgrade)
        except ConnectionError:  # EPIPE/ECONNRESET: reading the answer tells a refusal from a death
            return PendingRequest(self, sock, method, cut=True)
        except BaseException:
            sock.close()
            raise
        return PendingRequest(self, sock, method)

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                body: Any = None, headers: dict[str, str] | None = None,
                check: bool = True) -> Response:
        """Send a request and read the status line and headers. With ``check``,
        a 4xx/5xx answer raises :class:`APIError` carrying the daemon's message."""
        return self.send(method, path, params=params, body=body, headers=headers).response(check=check)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params).json()

    def post(self, path: str, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        return self.request("POST", path, params=params, body=body).json()

    def delete(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("DELETE", path, params=params).json()

    def hijack(self, path: str, *, params: dict[str, Any] | None = None,
               body: Any = None) -> tuple[_socket.socket, bytes]:
        """POST with ``Upgrade: tcp``; after ``101`` (or a 200 from daemons that
        do not answer 101) return the raw socket and any bytes read past the headers."""
        pending = self.send("POST", path, params=params, body=body, upgrade=True)
        sock = pending.sock
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                try:
                    more = sock.recv(_CHUNK)
                except ConnectionError:
                    more = b""
                if not more:
                    raise ConnectionLost(BEFORE_ANSWER)
                data += more
                if len(data) > 1 << 20:
                    raise ProtocolError("response headers too large")
            head, leftover = data.split(b"\r\n\r\n", 1)
            status, reason, headers = _parse_head(head.split(b"\r\n"))
            if status >= 400:
                reader = _SocketReader(sock, leftover)
                resp = Response(sock, reader, status, reason, headers, "POST")
                raise APIError(status, _error_message(resp.read(), status, reason))
            if status not in (101, 200):
                raise ProtocolError(f"unexpected status {status} {reason} for an attach upgrade")
        except BaseException:
            sock.close()
            raise
        return sock, leftover

    # -- wire ------------------------------------------------------------------
    def _send_on(self, sock: _socket.socket, method: str, url: str, body: Any,
                 headers: dict[str, str] | None, upgrade: bool) -> None:
        head = {"Host": "pouchd" if self.family == _socket.AF_UNIX else f"{self.address[0]}:{self.address[1]}",
                "User-Agent": USER_AGENT}
        if upgrade:
            head["Connection"] = "Upgrade"
            head["Upgrade"] = "tcp"
        else:
            head["Connection"] = "close"
        payload: bytes | None = None
        stream: Iterable[bytes] | None = None
        if body is None:
            if method in ("POST", "PUT"):
                payload = b""
        elif isinstance(body, (dict, list)):
            payload = json.dumps(body).encode()
            head["Content-Type"] = "application/json"
        elif isinstance(body, (bytes, bytearray, memoryview)):
            payload = bytes(body)
        elif isinstance(body, str):
            payload = body.encode()
        elif hasattr(body, "read"):
            stream = _iter_file(body)
        else:
            stream = body
        if headers:
            head.update(headers)
        if payload is not None:
            head["Content-Length"] = str(len(payload))
        elif stream is not None:
            head["Transfer-Encoding"] = "chunked"
        lines = [f"{method} {url} HTTP/1.1"] + [f"{k}: {v}" for k, v in head.items()]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if payload:
            sock.sendall(data + payload)
        else:
            sock.sendall(data)
        if stream is not None:
            for chunk in stream:
                if chunk:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")

    def _read_response(self, sock: _socket.socket, method: str, *, check: bool) -> Response:
        reader = _SocketReader(sock)
        try:
            status, reason, headers = _read_head(reader)
            while status == 100:  # 100 Continue: the real answer follows
                status, reason, headers = _read_head(reader)
        except BaseException:
            reader.close()
            sock.close()
            raise
        resp = Response(sock, reader, status, reason, headers, method)
        if check and status >= 400:
            raise APIError(status, _error_message(resp.read(), status, reason))
        return resp


def _iter_file(f: Any) -> Iterator[bytes]:
    read = getattr(f, "read1", None) or f.read
    while data := read(_CHUNK):
        yield data


def _read_head(reader: _SocketReader) -> tuple[int, str, dict[str, str]]:
    lines: list[bytes] = []
    while True:
        raw = reader.readline(65537)
        if not raw:
            raise ConnectionLost(BEFORE_ANSWER)
        if raw in (b"\r\n", b"\n"):
            if lines:
                return _parse_head(lines)
            continue
        lines.append(raw)
        if len(lines) > 200:
            raise ProtocolError("too many response headers")


def _parse_head(lines: list[bytes]) -> tuple[int, str, dict[str, str]]:
    """Status line + header lines (without the blank line) -> (status, reason, headers)."""
    line = lines[0]
    parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ProtocolError(f"malformed status line {line[:80]!r}")
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers: dict[str, str] = {}
    for raw in lines[1:]:
        text = raw.decode("latin-1").rstrip("\r\n")
        name, sep, value = text.partition(":")
        if not sep:
            raise ProtocolError(f"malformed header line {raw[:80]!r}")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return status, reason, headers


class _SocketReader:
    """Buffered ``readline``/``read1`` over a socket (``socket.makefile`` without the
    ``socket`` module), starting with bytes already received (after a refused upgrade)."""

    def __init__(self, sock: _socket.socket, prefix: bytes = b"") -> None:
        self._buf = prefix
        self._sock = sock

    def _fill(self) -> bool:
        try:
            data = self._sock.recv(_CHUNK)
        except ConnectionError:  # a reset is an end: the caller says what was cut short
            data = b""
        self._buf += data
        return bool(data)

    def read1(self, n: int) -> bytes:
        if not self._buf:
            self._fill()
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def readline(self, limit: int) -> bytes:
        while b"\n" not in self._buf and len(self._buf) < limit and self._fill():
            pass
        idx = self._buf.find(b"\n")
        end = idx + 1 if idx >= 0 else len(self._buf)
        end = min(end, limit)
        data, self._buf = self._buf[:end], self._buf[end:]
        return data

    def close(self) -> None:
        pass
