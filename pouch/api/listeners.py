"""The API's listening sockets: unix sockets, TCP (with TLS), systemd-activated fds.

:class:`Listener` pairs a listening socket with what an accepted connection needs before it
speaks HTTP; the server (``api/server.py``) only calls ``accept()`` and gets a plain, blocking
stream socket back. For TLS that socket is one end of a socketpair whose other end a relay
thread (:func:`tls_relay`) joins to the TLS connection: the handshake runs there (not in the
accept loop), one thread does every TLS read and write (an ``SSLSocket`` is not safe to use
from the two threads a hijacked attach runs), and the HTTP code, hijacking, half-closes and
hang-up checks work on the connection as on a unix socket.

Unix sockets are bound in a private directory, given their mode and group, then renamed into
place, so they are never reachable with a wider mode (dockerd: ``-G``/``--group``, 0660).
"""

from __future__ import annotations

import contextlib
import grp
import ipaddress
import logging
import os
import select
import socket
import ssl
import stat
import tempfile
import threading
from collections.abc import Iterator

from pouch.config import DEFAULT_SOCKET_GROUP, DaemonConfig
from pouch.errors import InvalidArgument, PouchError
from pouch.listen import ListenAddress, parse_host
from pouch.systemd import listen_fds

log = logging.getLogger(__name__)

RELAY_CHUNK = 64 * 1024
HANDSHAKE_TIMEOUT = 10.0


class Listener:
    """A listening socket; ``accept()`` gives the next connection ready for HTTP (or None)."""

    def __init__(self, sock: socket.socket, name: str, *, tls: ssl.SSLContext | None = None,
                 path: str = "", inode: int = 0) -> None:
        self.sock = sock
        self.name = name
        self.tls = tls
        self._path = path  # a unix socket we made: removed at close if it is still ours
        self._inode = inode

    def accept(self) -> socket.socket | None:
        """The next connection (OSError from accept() is the caller's: EAGAIN, EMFILE...)."""
        conn, _ = self.sock.accept()
        conn.setblocking(True)
        if self.tls is None:
            return conn
        return tls_relay(conn, self.tls)

    def close(self) -> None:
        self.sock.close()
        if not self._path:
            return
        with contextlib.suppress(FileNotFoundError):
            if os.lstat(self._path).st_ino == self._inode:
                os.unlink(self._path)


# --- opening what the configuration asks for ------------------------------------------------------


def open_listeners(config: DaemonConfig) -> list[Listener]:
    """A listener for each ``-H`` (``fd://``: each socket systemd passed); InvalidArgument or
    PouchError naming the address that cannot be served, with nothing left open."""
    context = server_tls_context(config) if config.tls else None
    activated = listen_fds()
    opened: list[Listener] = []
    try:
        for text in config.hosts:
            address = parse_host(text, config.tls)
            opened.extend(_open(address, config, context, activated))
    except BaseException:
        for listener in opened:
            listener.close()
        raise
    return opened


def _open(address: ListenAddress, config: DaemonConfig, context: ssl.SSLContext | None,
          activated: list[int]) -> list[Listener]:
    if address.scheme == "unix":
        os.makedirs(os.path.dirname(address.address) or "/", exist_ok=True)
        return [unix_listener(address.address, 0o660, socket_group(config.group))]
    if address.scheme == "tcp":
        return [tcp_listener(address, context)]
    return _activated(address, activated, context)


def socket_group(name: str) -> int:
    """The gid for ``--group``: root's (0) when the default group does not exist; an error for
    another group that does not (dockerd's rule)."""
    if name.isdigit():
        return int(name)
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        if name == DEFAULT_SOCKET_GROUP:
            log.info("group %s does not exist: the API socket stays root:root 0660", name)
            return 0
        raise InvalidArgument(f"--group {name}: no such group") from None


def tcp_listener(address: ListenAddress, context: ssl.SSLContext | None, backlog: int = 128) -> Listener:
    family = socket.AF_INET6 if ":" in address.address else socket.AF_INET
    host = "127.0.0.1" if address.address == "localhost" else address.address
    sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, address.port))
        sock.listen(backlog)
    except OSError as err:
        sock.close()
        raise PouchError(f"cannot listen on {address}: {err.strerror}") from None
    return Listener(sock, f"{address}" + (" (TLS)" if context else ""), tls=context)


def _activated(address: ListenAddress, fds: list[int], context: ssl.SSLContext | None) -> list[Listener]:
    """``fd://``: every socket systemd passed; ``fd://N``: fd N (dockerd's listenFD)."""
    if not fds:
        raise InvalidArgument("-H fd://: no sockets found via socket activation: "
                              "make sure the service was started by systemd (pouchd.socket)")
    if address.address:
        number = int(address.address)
        if number not in fds:
            raise InvalidArgument(f"-H fd://{number}: systemd passed fds {', '.join(map(str, fds))} only")
        fds = [number]
    out = []
    for fd in fds:
        sock = socket.socket(fileno=fd)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = sock.getsockname()[0]
            if context is None and not ipaddress.ip_address(host).is_loopback:
                sock.detach()
                raise InvalidArgument(f"refusing to serve systemd's socket on {host} without TLS "
                                      "(use --tlsverify --tlscacert --tlscert --tlskey, or a loopback address)")
            out.append(Listener(sock, f"fd://{fd} ({host}:{sock.getsockname()[1]})", tls=context))
        else:
            out.append(Listener(sock, f"fd://{fd} ({sock.getsockname() or 'unix'})"))
    return out


def server_tls_context(config: DaemonConfig) -> ssl.SSLContext:
    """The server side of ``--tls``/``--tlsverify`` (TLS 1.2 or later; a client certificate signed
    by ``--tlscacert`` required with --tlsverify, as dockerd's RequireAndVerifyClientCert)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_RENEGOTIATION
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
        if config.tls_verify:
            context.load_verify_locations(cafile=config.tls_cacert)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as err:
        raise InvalidArgument(f"TLS: cannot load {config.tls_cert}, {config.tls_key} "
                              f"or {config.tls_cacert}: {err}") from None
    return context


# --- unix sockets -----------------------------------------------------------------------------------


def unix_listener(path: str, mode: int = 0o660, gid: int = 0) -> Listener:
    sock, inode = create_unix_listener(path, mode, gid=gid)
    return Listener(sock, f"unix://{os.path.abspath(path)}", path=os.path.abspath(path), inode=inode)


@contextlib.contextmanager
def _unix_address(path: str) -> Iterator[str]:
    """``path``, or a /proc/self/fd alias of it when it is longer than sun_path allows."""
    if len(os.fsencode(path)) < 100:
        yield path
        return
    dirfd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{dirfd}/{os.path.basename(path)}"
    finally:
        os.close(dirfd)


def _check_stale(path: str) -> None:
    """Raise if ``path`` is in use or is not a socket; a dead socket may be replaced."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise PouchError(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        with _unix_address(path) as address:
            probe.connect(address)
    except (ConnectionRefusedError, FileNotFoundError):
        return  # nobody listening: stale, replaced by the rename
    except OSError as err:
        raise PouchError(f"cannot tell whether {path} is in use: {err}") from None
    finally:
        probe.close()
    raise PouchError(f"another daemon is listening on {path}")


def create_unix_listener(path: str, mode: int = 0o660, backlog: int = 128, gid: int = -1) -> tuple[socket.socket, int]:
    """A listening socket at ``path`` with exactly ``mode`` (and group ``gid``), and its inode.

    The socket is bound inside a fresh 0700 directory next to ``path``, chmod-ed, then
    renamed into place, so it is never reachable with a wider mode, the parent's mode
    is not touched and a stale socket is replaced atomically.
    """
    path = os.path.abspath(path)
    _check_stale(path)
    tmpdir = tempfile.mkdtemp(prefix=".pouchd-", dir=os.path.dirname(path))
    tmp_path = os.path.join(tmpdir, "s")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _unix_address(tmp_path) as address:
            sock.bind(address)
        if gid >= 0:
            os.chown(tmp_path, -1, gid)
        os.chmod(tmp_path, mode)
        sock.listen(backlog)
        os.rename(tmp_path, path)
        inode = os.lstat(path).st_ino
    except BaseException:
        sock.close()
        if os.path.lexists(tmp_path):
            os.unlink(tmp_path)
        raise
    finally:
        os.rmdir(tmpdir)
    return sock, inode


# --- TLS ----------------------------------------------------------------------------------------------


def tls_relay(raw: socket.socket, context: ssl.SSLContext) -> socket.socket:
    """A plain socket whose peer is the TLS client on ``raw`` (a thread relays between them)."""
    inner, outer = socket.socketpair()
    threading.Thread(target=_relay, args=(raw, outer, context), name="pouch-tls", daemon=True).start()
    return inner


def _relay(raw: socket.socket, plain: socket.socket, context: ssl.SSLContext) -> None:
    peer = _peer(raw)
    raw.settimeout(HANDSHAKE_TIMEOUT)
    tls = context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)  # takes raw's fd
    try:
        tls.do_handshake()
    except (OSError, ssl.SSLError) as err:
        log.info("TLS handshake with %s refused: %s", peer, err)
        # the alert reaches the client (not a reset), so it can say what was wrong
        _linger_close(socket.socket(fileno=tls.detach()))
        plain.close()
        return
    tls.setblocking(False)
    try:
        _Relay(tls, plain).run()
    except OSError as err:  # ssl.SSLError too: the connection is over either way
        log.debug("TLS connection with %s ended: %s", peer, err)
    finally:
        tls.close()
        plain.close()


class _Relay:
    """Both directions between a TLS connection and the server's plain socket, non-blocking, so
    neither side waits on the other (an echo through a hijacked stream cannot deadlock). An end
    of input is passed on as a half-close once what came before it is delivered."""

    def __init__(self, tls: ssl.SSLSocket, plain: socket.socket) -> None:
        self.tls, self.plain = tls, plain
        self.to_plain = bytearray()  # from the client, for the server
        self.to_client = bytearray()
        self.client_open = self.server_open = True  # still reading from each side
        self.plain_shut = self.client_shut = False  # the half-close passed on
        self.plain_gone = False  # the server closed its end: only what it sent is left to deliver
        plain.setblocking(False)

    def run(self) -> None:
        while self.client_open or self.server_open or self.to_plain or self.to_client:
            tls_events, plain_events = self._wanted()
            if tls_events & select.POLLIN and self.tls.pending():
                ready = {self.tls.fileno(): select.POLLIN}
            else:
                poller = select.poll()
                poller.register(self.tls, tls_events)
                if not self.plain_gone:  # a closed socket is always "ready" (POLLHUP): not polled again
                    poller.register(self.plain, plain_events)
                ready = dict(poller.poll())
            if not self._step(ready.get(self.tls.fileno(), 0), ready.get(self.plain.fileno(), 0)):
                return

    def _wanted(self) -> tuple[int, int]:
        tls_events = plain_events = 0
        if self.client_open and len(self.to_plain) < RELAY_CHUNK:
            tls_events |= select.POLLIN
        if self.to_client:
            tls_events |= select.POLLOUT
        if self.server_open and len(self.to_client) < RELAY_CHUNK:
            plain_events |= select.POLLIN
        if self.to_plain:
            plain_events |= select.POLLOUT
        return tls_events, plain_events

    def _step(self, tls_ready: int, plain_ready: int) -> bool:
        """One round of IO; False when the connection is over."""
        gone = select.POLLHUP | select.POLLERR
        if tls_ready & select.POLLERR or (tls_ready & select.POLLHUP and not self.client_open):
            return False  # the client is gone both ways: nothing can reach it any more
        if self.client_open and tls_ready & (select.POLLIN | gone):
            self._read_client()
        if self.to_client and tls_ready & select.POLLOUT:
            self._write_client()
        if self.server_open and plain_ready & (select.POLLIN | gone):
            data = self.plain.recv(RELAY_CHUNK)
            if data:
                self.to_client += data
            else:
                self.server_open = False
        elif not self.server_open and plain_ready & gone:
            self.plain_gone = True  # the server closed the connection
            self.to_plain.clear()
            if not self.to_client:
                return False
        if self.to_plain and plain_ready & select.POLLOUT and not self.plain_gone:
            del self.to_plain[:self.plain.send(self.to_plain)]
        self._pass_half_closes()
        return not (self.plain_gone and not self.to_client)

    def _read_client(self) -> None:
        try:
            data = self.tls.recv(RELAY_CHUNK)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return  # a record not complete yet, or one that carried no data
        except ssl.SSLZeroReturnError:
            data = b""
        if data:
            self.to_plain += data
        else:
            self.client_open = False

    def _write_client(self) -> None:
        try:
            del self.to_client[:self.tls.send(self.to_client[:RELAY_CHUNK])]
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
            pass

    def _pass_half_closes(self) -> None:
        if not self.client_open and not self.to_plain and not self.plain_shut and not self.plain_gone:
            self.plain_shut = True
            self.plain.shutdown(socket.SHUT_WR)
        if not self.server_open and not self.to_client and not self.client_shut:
            self.client_shut = True
            socket.socket.shutdown(self.tls, socket.SHUT_WR)  # the base method: SSLSocket's drops the TLS state


def _linger_close(sock: socket.socket, timeout: float = 1.0) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(timeout)
        while sock.recv(RELAY_CHUNK):
            pass
    sock.close()


def _peer(sock: socket.socket) -> str:
    try:
        host, port = sock.getpeername()[:2]
    except OSError:
        return "a client"
    return f"{host}:{port}"
