"""The addresses pouchd listens on (``-H``), parsed: pure, no sockets here.

Docker's spellings (dockerd ``-H``, ``opts.ParseHost``):

- ``unix:///var/run/pouchd.sock`` (or a bare absolute path);
- ``tcp://HOST:PORT``; ``tcp://:PORT`` is every address, ``tcp://HOST`` takes 2375
  (2376 when TLS is on), ``tcp://[::1]:2375`` for IPv6;
- ``fd://`` every socket systemd passed (socket activation), ``fd://N`` only fd N.

Which of them may run without TLS is :func:`check_tls`'s rule: a plain-text TCP socket
off loopback would hand root on this host to anyone who can reach the port, so it is
refused (dockerd 27 refuses it too, unless told ``--tls=false`` explicitly).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pouch.errors import InvalidArgument

DEFAULT_TCP_PORT = 2375
DEFAULT_TLS_PORT = 2376


@dataclass(frozen=True)
class ListenAddress:
    """One ``-H``: ``scheme`` is unix, tcp or fd; ``address`` the path, the host or the fd
    (empty: all of them); ``port`` for tcp."""

    scheme: str
    address: str
    port: int = 0

    def __str__(self) -> str:
        if self.scheme == "tcp":
            host = f"[{self.address}]" if ":" in self.address else self.address
            return f"tcp://{host}:{self.port}"
        return f"{self.scheme}://{self.address}"

    @property
    def loopback(self) -> bool:
        """Whether only this host can connect (a tcp address on 127/8, ::1 or ``localhost``)."""
        if self.scheme != "tcp":
            return True
        if self.address == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.address).is_loopback
        except ValueError:
            return False


def parse_host(text: str, tls: bool = False) -> ListenAddress:
    """One ``-H`` value; InvalidArgument naming it when it is not one of the forms above."""
    text = text.strip()
    if text.startswith("/"):
        text = "unix://" + text
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise InvalidArgument(f"invalid -H {text!r}: expected unix://PATH, tcp://HOST:PORT or fd://")
    if scheme == "unix":
        if not rest.startswith("/"):
            raise InvalidArgument(f"invalid -H {text!r}: a unix socket needs an absolute path")
        return ListenAddress("unix", rest)
    if scheme == "fd":
        if rest not in ("", "*") and not rest.isdigit():
            raise InvalidArgument(f"invalid -H {text!r}: fd:// takes a file descriptor number (fd://3) or nothing")
        return ListenAddress("fd", "" if rest == "*" else rest)
    if scheme == "tcp":
        return _parse_tcp(text, rest, DEFAULT_TLS_PORT if tls else DEFAULT_TCP_PORT)
    raise InvalidArgument(f"invalid -H {text!r}: unsupported scheme {scheme!r} (unix, tcp or fd)")


def _parse_tcp(text: str, rest: str, default_port: int) -> ListenAddress:
    rest = rest.rstrip("/")
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port_text = tail.removeprefix(":")
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
    else:
        host, port_text = rest, ""
    if not host:
        host = "0.0.0.0"
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise InvalidArgument(f"invalid -H {text!r}: bad port {port_text!r}") from None
    if not 0 <= port < 65536:  # 0: a port the kernel picks
        raise InvalidArgument(f"invalid -H {text!r}: port {port} out of range")
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise InvalidArgument(f"invalid -H {text!r}: {host!r} is not an IP address") from None
    return ListenAddress("tcp", host, port)


def check_tls(addresses: tuple[ListenAddress, ...], tls: bool) -> None:
    """Plain-text TCP only on loopback: anyone who reaches the API is root on this host."""
    if tls:
        return
    for address in addresses:
        if address.scheme == "tcp" and not address.loopback:
            raise InvalidArgument(
                f"refusing to listen on {address} without TLS: anyone who can reach it would be root on this host "
                "(use --tlsverify --tlscacert --tlscert --tlskey, or a loopback address)")
