"""What a streaming URL stands for: the CRI request it was made for, behind a single-use token.

Exec, Attach and PortForward answer a URL on the streaming server; the session itself starts
when the client opens it. As kubelet's streaming server does, the URL carries a random token
(never the request), each token works once, and one that is not used within ``ttl`` expires.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

TOKEN_TTL = 60.0  # seconds, kubelet's streaming cache TTL
MAX_IN_FLIGHT = 1000  # tokens not yet used, kubelet's limit


@dataclass(frozen=True)
class ExecStream:
    container_id: str
    cmd: tuple[str, ...]
    tty: bool
    stdin: bool
    stdout: bool
    stderr: bool


@dataclass(frozen=True)
class AttachStream:
    container_id: str
    tty: bool
    stdin: bool
    stdout: bool
    stderr: bool


@dataclass(frozen=True)
class PortForwardStream:
    sandbox_id: str
    ports: tuple[int, ...]  # informational: the client names each port on its streams


StreamRequest = ExecStream | AttachStream | PortForwardStream

PATHS = {ExecStream: "exec", AttachStream: "attach", PortForwardStream: "portforward"}


class TooManyRequests(Exception):
    """More requests waiting for their client than the cache holds."""


class RequestCache:
    def __init__(self, ttl: float = TOKEN_TTL, capacity: int = MAX_IN_FLIGHT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, StreamRequest]] = {}

    def insert(self, request: StreamRequest) -> str:
        """A new token for ``request`` (URL-safe, 64 random bits as kubelet's)."""
        token = base64.urlsafe_b64encode(secrets.token_bytes(8)).decode().rstrip("=")
        with self._lock:
            self._expire()
            if len(self._entries) >= self.capacity:
                raise TooManyRequests(f"too many streaming requests in flight ({self.capacity})")
            self._entries[token] = (self._clock() + self.ttl, request)
        return token

    def consume(self, token: str) -> StreamRequest | None:
        """The request behind ``token``, once: None if unknown, used or expired."""
        with self._lock:
            self._expire()
            entry = self._entries.pop(token, None)
        return None if entry is None else entry[1]

    def _expire(self) -> None:
        now = self._clock()
        for token in [t for t, (deadline, _) in self._entries.items() if deadline <= now]:
            del self._entries[token]


def url_path(request: StreamRequest, token: str) -> str:
    return f"/{PATHS[type(request)]}/{token}"


def parse_path(path: str) -> tuple[str, str] | None:
    """(kind, token) of ``/exec/TOKEN``, ``/attach/TOKEN`` or ``/portforward/TOKEN``."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    if len(parts) == 2 and parts[0] in PATHS.values() and parts[1]:
        return parts[0], parts[1]
    return None
