"""A real distribution registry (Debian's docker-registry) on loopback, and a Bearer-token front for it.

The token front: the reference registry's ``auth: token`` mode wants an X.509
signing chain and JWTs; instead :class:`TokenFront` is a small HTTP server that
answers every ``/v2/`` request without ``Authorization: Bearer <token>`` with a
401 and a ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``
challenge, issues tokens at ``/token`` (checking basic credentials when given)
and proxies authorised requests to the real registry. The client side of the
flow -- challenge, token request, retry -- is exercised exactly as against
Docker Hub, and blobs come from the real registry's storage.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import os
import secrets
import socket
import subprocess
import threading
import time
import urllib.parse


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    def __init__(self, base: str, htpasswd: tuple[str, str] | None = None, tls: dict[str, str] | None = None) -> None:
        """``tls``: {"certificate": path, "key": path, "clientca": path (optional)}: HTTPS only."""
        self.base = base
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        os.makedirs(base, exist_ok=True)
        auth = ""
        if htpasswd:
            path = os.path.join(base, "htpasswd")
            line = subprocess.run(["htpasswd", "-nbB", *htpasswd], check=True, capture_output=True, text=True).stdout
            with open(path, "w") as f:
                f.write(line.strip() + "\n")
            auth = f"auth:\n  htpasswd:\n    realm: pouch-test\n    path: {path}\n"
        https = ""
        if tls:
            https = f"  tls:\n    certificate: {tls['certificate']}\n    key: {tls['key']}\n"
            if tls.get("clientca"):
                https += f"    clientcas:\n      - {tls['clientca']}\n"
        self.config = os.path.join(base, "config.yml")
        with open(self.config, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {base}/data\n"
                    f"  delete:\n    enabled: true\nhttp:\n  addr: {self.host}\n  secret: {secrets.token_hex(8)}\n"
                    f"{https}{auth}")

    def start(self) -> Registry:
        self.log = open(os.path.join(self.base, "registry.log"), "ab")
        self.proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("docker-registry exited") from None
                time.sleep(0.05)
        raise RuntimeError("docker-registry did not come up")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None
            self.log.close()


class TokenFront:
    """Bearer-token registry front (see the module docstring); ``users`` maps user -> password."""

    def __init__(self, upstream: str, users: dict[str, str] | None = None) -> None:
        self.upstream = upstream
        self.users = users or {}
        self.tokens: dict[str, str] = {}  # token -> scope(s)
        self.token_requests: list[dict] = []
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _any(self):
                path = urllib.parse.urlsplit(self.path)
                if path.path == "/token":
                    return front.token(self, urllib.parse.parse_qs(path.query))
                auth = self.headers.get("Authorization", "")
                if not (auth.startswith("Bearer ") and auth[7:] in front.tokens):
                    body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", f'Bearer realm="http://{front.host}/token",'
                                     f'service="pouch-test",scope="repository:x:pull"')
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                front.proxy(self)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> TokenFront:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def token(self, h, query) -> None:
        self.token_requests.append({k: v for k, v in query.items()})
        auth = h.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            if self.users.get(user) != password:
                h.send_response(401)
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
        elif self.users:
            h.send_response(401)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        token = secrets.token_hex(16)
        self.tokens[token] = " ".join(query.get("scope", []))
        body = json.dumps({"token": token, "expires_in": 300}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def proxy(self, h) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(self.upstream, timeout=30)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("authorization", "host", "connection")}
        conn.request(h.command, h.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() in ("content-length", "connection", "transfer-encoding"):
                continue
            if k.lower() == "location":
                v = v.replace(self.upstream, self.host)
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)
        conn.close()


class CutOnceFront:
    """A proxy to a registry that cuts the first download of every large blob off half-way
    (full ``Content-Length`` sent, half the bytes, then the connection closed), and records
    the ``Range`` headers of the requests that follow."""

    def __init__(self, upstream: str, min_size: int = 512 * 1024) -> None:
        self.upstream = upstream
        self.ranges: list[str] = []
        self.cut: set[str] = set()
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                if self.headers.get("Range"):
                    front.ranges.append(self.headers["Range"])
                conn = http.client.HTTPConnection(front.upstream, timeout=30)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                cut = (self.command == "GET" and "/blobs/" in self.path and resp.status == 200
                       and len(data) >= min_size and self.path not in front.cut)
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v.replace(front.upstream, front.host) if k.lower() == "location" else v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if cut:
                    front.cut.add(self.path)
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(data)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> CutOnceFront:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
