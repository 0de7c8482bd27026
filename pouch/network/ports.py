"""Published ports: ``-p`` ranges, ``-P``, host port choice. Pure, but for :func:`port_is_free`
and :func:`ephemeral_range` (the kernel's view).

A host port of 0 means "any": it is drawn from the kernel's ephemeral range
(``net.ipv4.ip_local_port_range``, as Docker does) and checked free, both against the
other containers' published ports (portmap's DNAT holds no socket) and by binding it; an
explicit host port is checked the same way (Docker's proxy binds it: a port a host process
listens on is "already allocated"), and a host IP the host does not have is refused.
``-p 8000-8010:80`` (``host_port_end``) takes the first free port of the range.
"""

from __future__ import annotations

import errno
import random
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from pouch.errors import Conflict, InvalidArgument
from pouch.models import PortBinding

EPHEMERAL_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"

Used = set[tuple[str, str, int]]  # (protocol, host IP or "" for every address, host port)

_ANY = ("", "0.0.0.0", "::")


def parse_port_key(key: str) -> tuple[int, str]:
    """``"80/tcp"`` -> (80, "tcp")."""
    port, _, proto = key.partition("/")
    return int(port), (proto or "tcp")


def publish_all(exposed: Iterable[str], bindings: Sequence[PortBinding], host_ip: str = "") -> tuple[PortBinding, ...]:
    """``-P``: every exposed port that ``-p`` left unbound, on an automatic host port."""
    bound = {(b.container_port, b.protocol) for b in bindings}
    extra = []
    for key in sorted(set(exposed), key=parse_port_key):
        port, proto = parse_port_key(key)
        if (port, proto) not in bound:
            extra.append(PortBinding(port, proto, host_ip, 0))
    return tuple(bindings) + tuple(extra)


def with_default_host_ip(bindings: Iterable[PortBinding], host_ip: str) -> tuple[PortBinding, ...]:
    """A network's ``host_binding_ipv4`` for bindings that named no host IP."""
    if not host_ip or host_ip == "0.0.0.0":
        return tuple(bindings)
    return tuple(b if b.host_ip else replace(b, host_ip=host_ip) for b in bindings)


def used_ports(bindings: Iterable[PortBinding]) -> Used:
    return {(b.protocol, _addr(b.host_ip), b.host_port) for b in bindings if b.host_port}


def _addr(host_ip: str) -> str:
    return "" if host_ip in _ANY else host_ip


def is_taken(used: Used, protocol: str, host_ip: str, port: int) -> bool:
    """A host port is taken on an address when something holds it there or on every address
    (``-p 127.0.0.1:80:80`` and ``-p 127.0.0.2:80:80`` go together, ``-p 80:80`` with neither)."""
    ip = _addr(host_ip)
    if ip == "":
        return any(p == protocol and n == port for p, _, n in used)
    return (protocol, ip, port) in used or (protocol, "", port) in used


def allocate(bindings: Sequence[PortBinding], used: Used, is_free: Callable[[str, str, int], bool],
             ephemeral: tuple[int, int], rng: random.Random | None = None) -> tuple[PortBinding, ...]:
    """Give each binding one host port: explicit ones checked against ``used`` (Docker's
    "port is already allocated"), ranges the first free port, 0 a free ephemeral one."""
    rng = rng or random.Random()
    taken = set(used)
    out = []
    for b in bindings:
        if b.host_port and not b.host_port_end:
            if is_taken(taken, b.protocol, b.host_ip, b.host_port):
                raise Conflict(f"Bind for {b.host_ip or '0.0.0.0'}:{b.host_port} failed: port is already allocated")
            if not is_free(b.protocol, b.host_ip, b.host_port):  # a host process holds it (docker-proxy's bind)
                raise Conflict(f"Bind for {b.host_ip or '0.0.0.0'}:{b.host_port} failed: port is already allocated "
                               f"(a host process holds {b.protocol} port {b.host_port})")
            port = b.host_port
        else:
            lo, hi = (b.host_port, b.host_port_end) if b.host_port_end else ephemeral
            candidates = list(range(lo, hi + 1))
            if not b.host_port_end:
                rng.shuffle(candidates)
            port = next((p for p in candidates
                         if not is_taken(taken, b.protocol, b.host_ip, p) and is_free(b.protocol, b.host_ip, p)), 0)
            if not port:
                raise Conflict(f"Bind for {b.host_ip or '0.0.0.0'}:{lo}-{hi} failed: no free port in the range "
                               f"for {b.container_port}/{b.protocol}")
        taken.add((b.protocol, _addr(b.host_ip), port))
        out.append(replace(b, host_port=port, host_port_end=0))
    return tuple(out)


def check_bindings(bindings: Iterable[PortBinding]) -> None:
    for b in bindings:
        if b.host_port_end and b.host_port_end < b.host_port:
            raise InvalidArgument(f"invalid host port range {b.host_port}-{b.host_port_end}")


# --------------------------------------------------------------------------- the kernel's view


def ephemeral_range(path: str = EPHEMERAL_RANGE_FILE) -> tuple[int, int]:
    try:
        with open(path) as f:
            lo, hi = (int(x) for x in f.read().split()[:2])
        return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def port_is_free(protocol: str, host_ip: str, port: int) -> bool:
    """True if nothing on the host holds ``port`` (a bind succeeds, as docker-proxy's would; a TCP
    port only closed connections linger on counts as free). A host IP that is not one of the
    host's addresses is a 400, whatever the port."""
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    if protocol == "sctp":
        return True  # no cheap check; the DNAT rule does not need the port free anyway
    ip = host_ip or "0.0.0.0"
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:
        with socket.socket(family, kind) as s:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "held"
            s.bind((ip, port))
        return True
    except OSError as e:
        if e.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            raise InvalidArgument(f"Error starting userland proxy: listen {protocol} {ip}:{port}: bind: cannot "
                                  f"assign requested address ({ip} is not an address of this host)") from None
        return False
