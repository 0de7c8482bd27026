"""Where a reference's registry is reached: scheme, host and mirrors (pure).

Docker's rules (``registry/config.go``): ``docker.io`` is served by
``registry-1.docker.io``, tried after any ``--registry-mirror``; a registry is
spoken to over plain HTTP only when it is *insecure*: listed with
``--insecure-registry HOST[:PORT]`` (or a CIDR that contains its IP) or on
loopback (``localhost``, ``127.0.0.0/8``, ``::1``), which Docker allows by default.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pouch.errors import InvalidArgument
from pouch.reference import DEFAULT_DOMAIN

DOCKER_HUB_HOST = "registry-1.docker.io"
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"  # the key docker's config.json uses for Docker Hub


@dataclass(frozen=True)
class Endpoint:
    url: str  # "https://registry-1.docker.io", "http://127.0.0.1:5000"
    mirror: bool = False

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1].rstrip("/")


@dataclass(frozen=True)
class RegistryConfig:
    insecure: tuple[str, ...] = ()  # HOST[:PORT] or CIDR
    mirrors: tuple[str, ...] = ()  # URLs for docker.io
    certs_dir: str = ""  # Docker's certs.d layout (registry/tls.py)
    tls_hosts: frozenset[str] = frozenset()  # hosts with a directory there: always HTTPS


def _host_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP of ``host[:port]`` (``[v6]:port`` too); ``localhost`` is 127.0.0.1; None for names."""
    if host.startswith("["):
        name = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        name = host.split(":", 1)[0]
    else:
        name = host
    if name == "localhost":
        return ipaddress.ip_address("127.0.0.1")
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def is_insecure(host: str, config: RegistryConfig) -> bool:
    """Plain HTTP for ``host``: listed (exactly, or its IP inside a listed CIDR), or loopback."""
    if host in config.insecure:
        return True
    ip = _host_ip(host)
    if ip is None:
        return False
    if ip.is_loopback:
        return True
    for entry in config.insecure:
        if "/" in entry:
            try:
                if ip in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


def endpoints(domain: str, config: RegistryConfig) -> list[Endpoint]:
    """The base URLs to try for ``domain``, in order."""
    if domain == DEFAULT_DOMAIN:
        out = [Endpoint(m.rstrip("/"), mirror=True) for m in config.mirrors]
        return out + [Endpoint("https://" + DOCKER_HUB_HOST)]
    scheme = "https" if domain in config.tls_hosts or not is_insecure(domain, config) else "http"
    return [Endpoint(f"{scheme}://{domain}")]


def validate_mirror(url: str) -> str:
    if not url.startswith(("http://", "https://")) or "/" in url.split("://", 1)[1].rstrip("/"):
        raise InvalidArgument(f"invalid mirror: {url!r}: a mirror is a URL such as https://mirror.example:5000")
    return url.rstrip("/")


def auth_key(server: str) -> str:
    """The key of a registry in config.json's ``auths`` (Docker Hub has its legacy URL)."""
    host = server.split("://", 1)[-1].rstrip("/")
    if host in ("", DEFAULT_DOMAIN, "index.docker.io", DOCKER_HUB_HOST) or host.startswith("index.docker.io/"):
        return DOCKER_HUB_AUTH_KEY
    return host
