"""TLS for registries: Docker's ``certs.d`` layout, under ``pouchd --registry-certs-dir``.

A company registry signed by an internal CA, or one that wants client certificates, is
configured as Docker configures it (``/etc/docker/certs.d``), in ``/etc/pouch/certs.d``::

    <certs-dir>/<host[:port]>/ca.crt         every *.crt: a CA trusted for this registry
    <certs-dir>/<host[:port]>/client.cert    every *.cert with its *.key: a client certificate
    <certs-dir>/<host[:port]>/client.key

A registry with such a directory is always spoken to over HTTPS, loopback and
``--insecure-registry`` hosts included (configuring certificates for it says it speaks TLS).
``files_for`` is the pure reading of a directory listing; ``context_for`` builds the
``ssl.SSLContext`` (system CAs plus the directory's) and keeps it while the files are unchanged.
"""

from __future__ import annotations

import os
import ssl
import threading
from dataclasses import dataclass

from pouch.errors import InvalidArgument

DEFAULT_CERTS_DIR = "/etc/pouch/certs.d"


@dataclass(frozen=True)
class TLSFiles:
    ca_files: tuple[str, ...] = ()
    client_pairs: tuple[tuple[str, str], ...] = ()  # (cert, key)


def host_dir(certs_dir: str, host: str) -> str:
    return os.path.join(certs_dir, host.replace("/", "_"))


def files_for(directory: str, names: list[str]) -> TLSFiles:
    """What a ``certs.d/<host>`` directory holding ``names`` configures; a ``.cert``
    without its ``.key`` (or the reverse) is an error naming the file, as in Docker."""
    cas, pairs = [], []
    for name in sorted(names):
        stem, ext = os.path.splitext(name)
        if ext == ".crt":
            cas.append(os.path.join(directory, name))
        elif ext == ".cert":
            if stem + ".key" not in names:
                raise InvalidArgument(f"missing key {stem}.key for client certificate {os.path.join(directory, name)}")
            pairs.append((os.path.join(directory, name), os.path.join(directory, stem + ".key")))
        elif ext == ".key" and stem + ".cert" not in names:
            raise InvalidArgument(f"missing client certificate {stem}.cert for key {os.path.join(directory, name)}")
    return TLSFiles(tuple(cas), tuple(pairs))


def configured_hosts(certs_dir: str) -> frozenset[str]:
    """The registries that have a directory under ``certs_dir``."""
    try:
        return frozenset(e.name for e in os.scandir(certs_dir) if e.is_dir())
    except OSError:
        return frozenset()


_cache: dict[tuple[str, str], tuple[tuple, ssl.SSLContext]] = {}
_cache_lock = threading.Lock()


def context_for(certs_dir: str, host: str) -> ssl.SSLContext:
    """The TLS context for ``host``: the system's CAs, plus what its certs.d directory holds."""
    directory = host_dir(certs_dir, host) if certs_dir else ""
    try:
        names = sorted(os.listdir(directory)) if directory else []
    except OSError:
        names = []
    stamp = tuple((n, os.stat(os.path.join(directory, n)).st_mtime_ns) for n in names)
    key = (certs_dir, host)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    files = files_for(directory, names)
    context = ssl.create_default_context()
    try:
        for ca in files.ca_files:
            context.load_verify_locations(cafile=ca)
        for cert, keyfile in files.client_pairs:
            context.load_cert_chain(cert, keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidArgument(f"registry {host}: bad TLS files in {directory}: {exc}") from None
    with _cache_lock:
        _cache[key] = (stamp, context)
    return context
