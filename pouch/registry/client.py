"""The HTTP edge of the distribution API (``docs/spec/api.md``, OCI distribution-spec).

One :class:`RegistryClient` per (endpoint, repository): GET/HEAD manifests and
blobs, blob uploads (monolithic and chunked, cross-repository mounts), manifest
PUT. Authentication is delegated to the sans-IO :class:`~pouch.registry.auth.Authenticator`:
this module only performs the requests it asks for. Every socket operation has
a timeout; registry errors become :class:`RegistryError` with the registry's own
``errors[].message`` when it sent one.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from pouch.errors import NotFound, PouchError
from pouch.registry.auth import Authenticator, Unauthorized
from pouch.registry.manifest import ACCEPT, MAX_MANIFEST_SIZE
from pouch.registry.tls import context_for

log = logging.getLogger(__name__)

TIMEOUT = 30.0
CHUNK = 1024 * 1024
CHUNKED_UPLOAD_THRESHOLD = 32 * 1024 * 1024  # larger blobs go up in PATCH chunks of this size
USER_AGENT = "pouch/0.1 (distribution client)"


class Readable(Protocol):
    """A request body streamed by http.client."""

    def read(self, size: int = -1, /) -> bytes: ...


class RegistryError(PouchError):
    status = 500


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    response: http.client.HTTPResponse
    conn: http.client.HTTPConnection

    def read(self, limit: int = -1) -> bytes:
        try:
            return self.response.read() if limit < 0 else self.response.read(limit)
        except (OSError, http.client.HTTPException) as exc:
            raise RegistryError(f"reading from the registry failed: {exc}") from None

    def close(self) -> None:
        self.response.close()
        self.conn.close()


def _registry_message(body: bytes) -> str:
    try:
        errors = json.loads(body).get("errors") or []
        return "; ".join(f"{e.get('code', '').lower()}: {e.get('message', '')}".strip(": ") for e in errors)
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace").strip()


class RegistryClient:
    def __init__(self, base_url: str, repository: str, auth: Authenticator, scopes: tuple[str, ...],
                 timeout: float = TIMEOUT, certs_dir: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.repository = repository
        self.auth = auth
        self.scopes = scopes
        self.timeout = timeout
        self.certs_dir = certs_dir  # per-host CAs and client certificates (registry/tls.py)

    # --- plumbing ----------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return path if "://" in path else f"{self.base_url}/v2/{self.repository}/{path}" if path else f"{self.base_url}/v2/"

    def _send(self, method: str, url: str, headers: dict[str, str], body: bytes | Readable | None) -> Reply:
        parts = urllib.parse.urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.netloc, timeout=self.timeout, context=context_for(self.certs_dir, parts.netloc))
        else:
            conn = http.client.HTTPConnection(parts.netloc, timeout=self.timeout)
        try:
            conn.request(method, target, body=body, headers={"User-Agent": USER_AGENT, **headers})
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            what = "timed out" if isinstance(exc, (socket.timeout, TimeoutError)) else str(exc) or type(exc).__name__
            raise RegistryError(f"{method} {url}: {what}") from None
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response, conn)

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | Callable[[], Readable] | None = None, scopes: tuple[str, ...] | None = None,
                ok: tuple[int, ...] = (200,), redirects: int = 3) -> Reply:
        """One request with the auth flow: a 401 gets a token (or basic credentials) and one retry."""
        url = self._url(path)
        scopes = scopes if scopes is not None else self.scopes
        attempted = False
        for _ in range(3):
            hdrs = dict(headers or {})
            authorization = self.auth.header(scopes)
            if authorization:
                hdrs["Authorization"] = authorization
            payload = body() if callable(body) else body
            reply = self._send(method, url, hdrs, payload)
            if reply.status == 401:
                challenge = reply.headers.get("www-authenticate", "")
                reply.read()
                reply.close()
                token_request = self.auth.on_unauthorized(challenge, scopes, attempted)
                attempted = True
                if token_request is not None:
                    self._fetch_token(token_request)
                continue
            if reply.status in (301, 302, 303, 307, 308) and redirects and "location" in reply.headers:
                location = urllib.parse.urljoin(url, reply.headers["location"])
                reply.close()
                if urllib.parse.urlsplit(location).netloc != urllib.parse.urlsplit(url).netloc:
                    return self._follow(method, location, headers or {}, ok)
                url = location
                redirects -= 1
                continue
            if reply.status not in ok:
                self._raise(method, url, reply)
            return reply
        raise Unauthorized(f"authentication required for {self.repository}")

    def _follow(self, method: str, url: str, headers: dict[str, str], ok: tuple[int, ...]) -> Reply:
        """A redirect to another host (blob storage): no registry credentials go there."""
        reply = self._send(method, url, headers, None)
        if reply.status not in ok:
            self._raise(method, url, reply)
        return reply

    def _fetch_token(self, token_request) -> None:
        reply = self._send("GET", token_request.url, token_request.headers, None)
        try:
            self.auth.on_token(token_request, reply.status, reply.read(1024 * 1024))
        finally:
            reply.close()

    def _raise(self, method: str, url: str, reply: Reply) -> None:
        body = reply.read(64 * 1024) if method != "HEAD" else b""
        reply.close()
        detail = _registry_message(body) or http.client.responses.get(reply.status, "")
        if reply.status == 404:
            raise NotFound(detail or "not found")
        if reply.status in (401, 403):
            raise Unauthorized(detail or "denied")
        raise RegistryError(f"{method} {url} answered HTTP {reply.status}: {detail}")

    # --- the API -----------------------------------------------------------------------------
    def ping(self) -> None:
        """``GET /v2/``: checks reachability and credentials (``pouch login``)."""
        self.request("GET", "", scopes=()).close()

    def get_manifest(self, reference: str, accept: tuple[str, ...] = ACCEPT) -> tuple[bytes, str]:
        reply = self.request("GET", f"manifests/{reference}", {"Accept": ", ".join(accept)})
        try:
            data = reply.read(MAX_MANIFEST_SIZE + 1)
        finally:
            reply.close()
        if len(data) > MAX_MANIFEST_SIZE:
            raise RegistryError(f"manifest {reference} is larger than {MAX_MANIFEST_SIZE} bytes")
        return data, reply.headers.get("content-type", "")

    def open_blob(self, digest: str, offset: int = 0) -> Reply:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        return self.request("GET", f"blobs/{digest}", headers, ok=(200, 206))

    def blob_exists(self, digest: str) -> bool:
        try:
            self.request("HEAD", f"blobs/{digest}").close()
        except NotFound:
            return False
        return True

    def mount_blob(self, digest: str, from_repository: str, scopes: tuple[str, ...]) -> str | None:
        """Cross-repository mount: True if the registry mounted it (201), else the upload URL it opened."""
        query = urllib.parse.urlencode({"mount": digest, "from": from_repository})
        reply = self.request("POST", f"blobs/uploads/?{query}", {"Content-Length": "0"}, b"", scopes=scopes,
                             ok=(201, 202))
        reply.read()
        reply.close()
        return None if reply.status == 201 else self._location(reply)

    def start_upload(self) -> str:
        reply = self.request("POST", "blobs/uploads/", {"Content-Length": "0"}, b"", ok=(202,))
        reply.read()
        reply.close()
        return self._location(reply)

    def _location(self, reply: Reply) -> str:
        location = reply.headers.get("location")
        if not location:
            raise RegistryError("registry opened an upload without a Location")
        return urllib.parse.urljoin(self.base_url + "/", location)

    def upload_blob(self, location: str, digest: str, size: int, open_blob: Callable[[], BinaryIO],
                    on_progress: Callable[[int], None]) -> None:
        """Monolithic PUT for small blobs; PATCH chunks then PUT for large ones."""
        if size <= CHUNKED_UPLOAD_THRESHOLD:
            url = _with_query(location, digest=digest)
            reply = self.request("PUT", url, {"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                                 lambda: _ProgressReader(open_blob(), on_progress), ok=(201,))
            reply.read()
            reply.close()
            return
        offset = 0
        with open_blob() as f:
            while offset < size:
                chunk = f.read(CHUNKED_UPLOAD_THRESHOLD)
                end = offset + len(chunk) - 1
                reply = self.request("PATCH", location, {"Content-Type": "application/octet-stream",
                                                         "Content-Range": f"{offset}-{end}",
                                                         "Content-Length": str(len(chunk))}, chunk, ok=(202,))
                reply.read()
                reply.close()
                location = self._location(reply)
                offset += len(chunk)
                on_progress(offset)
        reply = self.request("PUT", _with_query(location, digest=digest), {"Content-Length": "0"}, b"", ok=(201,))
        reply.read()
        reply.close()

    def put_manifest(self, reference: str, data: bytes, media_type: str) -> str:
        reply = self.request("PUT", f"manifests/{reference}", {"Content-Type": media_type}, data, ok=(201,))
        reply.read()
        reply.close()
        return reply.headers.get("docker-content-digest", "")


def _with_query(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode(params)


class _ProgressReader:
    """A file wrapper that reports how much of it was read (http.client streams it)."""

    def __init__(self, f: BinaryIO, on_progress: Callable[[int], None]) -> None:
        self.f = f
        self.count = 0
        self.on_progress = on_progress

    def read(self, size: int = -1) -> bytes:
        data = self.f.read(CHUNK if size < 0 else min(size, CHUNK))
        self.count += len(data)
        self.on_progress(self.count)
        if not data:
            self.f.close()
        return data
