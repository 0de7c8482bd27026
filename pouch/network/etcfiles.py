"""A container's /etc/hosts, /etc/resolv.conf and /etc/hostname.

``build_*`` are pure (strings in, file content out) and follow what Docker's
libnetwork writes (``etchosts.Build``, ``resolvconf.FilterResolvDNS`` and
``resolvconf.Build``); ``write_*`` write them atomically into the container's
directory, from where the runtime bind-mounts them.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Sequence

from pouch.errors import InvalidArgument

# Docker's defaultContent of /etc/hosts, IPv6 lines included.
DEFAULT_HOSTS: tuple[tuple[str, str], ...] = (
    ("127.0.0.1", "localhost"),
    ("::1", "localhost ip6-localhost ip6-loopback"),
    ("fe00::0", "ip6-localnet"),
    ("ff00::0", "ip6-mcastprefix"),
    ("ff02::1", "ip6-allnodes"),
    ("ff02::2", "ip6-allrouters"),
)
DEFAULT_NAMESERVERS: tuple[str, ...] = ("8.8.8.8", "8.8.4.4")
HOST_GATEWAY = "host-gateway"

_NAMESERVER_RE = re.compile(r"^\s*nameserver\s+(\S+)", re.MULTILINE)


def parse_extra_host(entry: str, host_gateway_ip: str = "") -> tuple[str, str]:
    """``--add-host name:ip`` -> (ip, name); ``ip`` may be IPv6 (split on the first ':')
    or ``host-gateway`` (replaced by ``host_gateway_ip``)."""
    name, sep, ip = entry.partition(":")
    if not sep or not name or not ip:
        raise InvalidArgument(f"invalid extra host {entry!r}: expected name:ip")
    if ip == HOST_GATEWAY:
        if not host_gateway_ip:
            raise InvalidArgument(f"extra host {entry!r}: no host gateway IP on this network")
        ip = host_gateway_ip
    try:
        ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        raise InvalidArgument(f"invalid IP address in extra host {entry!r}") from None
    return ip.strip("[]"), name


def _main_record(hostname: str, domainname: str) -> str:
    fqdn = f"{hostname}.{domainname}" if domainname else hostname
    short = fqdn.split(".", 1)[0]
    return f"{fqdn} {short}" if short != fqdn else fqdn


def build_hosts(
    hostname: str,
    ip_address: str = "",
    extra_hosts: Sequence[str] = (),
    domainname: str = "",
    host_gateway_ip: str = "",
    host_hosts: str | None = None,
) -> str:
    """/etc/hosts: Docker's localhost and ip6 lines (or, for host networking, the host's
    file ``host_hosts``), then ``--add-host`` entries, then the container's own address."""
    lines: list[str] = []
    if host_hosts is not None:
        lines.extend(host_hosts.rstrip("\n").split("\n") if host_hosts.strip() else [])
    else:
        lines.extend(f"{ip}\t{names}" for ip, names in DEFAULT_HOSTS)
    for entry in extra_hosts:
        ip, name = parse_extra_host(entry, host_gateway_ip)
        lines.append(f"{ip}\t{name}")
    if ip_address and hostname:
        lines.append(f"{ip_address}\t{_main_record(hostname, domainname)}")
    return "\n".join(lines) + "\n"


def build_hostname(hostname: str) -> str:
    return hostname + "\n"


def _is_loopback(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _is_ipv6(addr: str) -> bool:
    return ":" in addr


def filter_resolv_conf(content: str, ipv6: bool = False) -> str:
    """Docker's FilterResolvDNS: drop loopback nameservers (unreachable from another
    netns) and, without IPv6, IPv6 ones; if none remain, fall back to Google DNS."""
    kept: list[str] = []
    for line in content.splitlines():
        m = _NAMESERVER_RE.match(line)
        if m and (_is_loopback(m.group(1)) or (not ipv6 and _is_ipv6(m.group(1)))):
            continue
        kept.append(line)
    out = "\n".join(kept).strip("\n")
    if not _NAMESERVER_RE.search(out):
        fallback = "\n".join(f"nameserver {ns}" for ns in DEFAULT_NAMESERVERS)
        out = f"{out}\n\n{fallback}" if out else fallback
    return out + "\n"


def _values(content: str, keyword: str) -> list[str]:
    out: list[str] = []
    for line in content.splitlines():
        parts = line.split()
        if parts and parts[0] == keyword:
            out.extend(parts[1:])
    return out


def build_resolv_conf(
    host_resolv: str,
    host_network: bool = False,
    dns: Sequence[str] = (),
    dns_search: Sequence[str] = (),
    dns_options: Sequence[str] = (),
) -> str:
    """/etc/resolv.conf from the host's: as is for host networking, filtered otherwise
    (:func:`filter_resolv_conf`); ``--dns/--dns-search/--dns-option`` each replace the
    corresponding part (Docker's resolvconf.Build). ``--dns-search .`` means no search."""
    base = host_resolv if host_network else filter_resolv_conf(host_resolv)
    if not (dns or dns_search or dns_options):
        return base if base.endswith("\n") or not base else base + "\n"
    nameservers = list(dns) or _NAMESERVER_RE.findall(base)
    search = [] if list(dns_search) == ["."] else (list(dns_search) or _values(base, "search"))
    options = list(dns_options) or _values(base, "options")
    lines = []
    if search:
        lines.append("search " + " ".join(search))
    lines.extend(f"nameserver {ns}" for ns in nameservers)
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def write_file_atomic(path: str, content: str, mode: int = 0o644) -> None:
    """Write ``content`` to ``path`` through a temporary file and rename."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_hosts(path: str, hostname: str, ip_address: str = "", extra_hosts: Sequence[str] = (),
                domainname: str = "", host_gateway_ip: str = "", host_network: bool = False,
                host_hosts_path: str = "/etc/hosts") -> None:
    host_hosts = None
    if host_network:
        host_hosts = _read(host_hosts_path)
    write_file_atomic(path, build_hosts(hostname, ip_address, extra_hosts, domainname, host_gateway_ip, host_hosts))


def write_resolv_conf(path: str, dns: Sequence[str] = (), dns_search: Sequence[str] = (),
                      dns_options: Sequence[str] = (), host_network: bool = False,
                      host_resolv_path: str = "/etc/resolv.conf") -> None:
    write_file_atomic(path, build_resolv_conf(_read(host_resolv_path), host_network, dns, dns_search, dns_options))


def write_hostname(path: str, hostname: str) -> None:
    write_file_atomic(path, build_hostname(hostname))


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return ""
