"""Networks as records: the bridge driver's options, IPAM, conflists and iptables rules. Pure.

A *network* is one Linux bridge, one CNI conflist (bridge + host-local + portmap)
and one host-local range, plus a few static iptables rules. Three are predefined
(Docker's): ``bridge`` (the daemon's ``--bridge-name``/``--bip``), ``host`` and
``none``; user-defined ones come from ``network create`` (:func:`record_from_request`).

Docker's bridge driver options understood here (``-o KEY=VALUE``):
``com.docker.network.bridge.name``, ``...bridge.enable_ip_masquerade``,
``...bridge.enable_icc``, ``...bridge.host_binding_ipv4``,
``com.docker.network.driver.mtu`` and ``com.docker.network.container_iface_prefix``.

Glossary: *primary endpoint* — a container's first network: it carries the default
route and the published ports; *isolation chain* — ``POUCH-ISO-<daemon bridge>``, jumped
to first from FORWARD, which keeps each network's bridge closed to traffic from other
networks (Docker's DOCKER-ISOLATION chains).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from pouch.errors import Conflict, InvalidArgument
from pouch.models import Endpoint, EndpointConfig, NetworkKind, NetworkMode, known_fields

PREDEFINED = ("bridge", "host", "none")
DRIVERS = {"bridge": "bridge", "host": "host", "none": "null"}
OPT_PREFIX = "com.docker.network."
OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
OPT_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"
OPT_ICC = "com.docker.network.bridge.enable_icc"
OPT_HOST_BINDING = "com.docker.network.bridge.host_binding_ipv4"
OPT_MTU = "com.docker.network.driver.mtu"
OPT_IFACE_PREFIX = "com.docker.network.container_iface_prefix"
KNOWN_OPTIONS = (OPT_BRIDGE_NAME, OPT_MASQUERADE, OPT_ICC, OPT_HOST_BINDING, OPT_MTU, OPT_IFACE_PREFIX,
                 "com.docker.network.bridge.default_bridge")
_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_IFNAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,15}$")
# Docker's default local address pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s
AUTO_POOLS: tuple[str, ...] = tuple(f"172.{n}.0.0/16" for n in range(17, 32)) + tuple(
    f"192.168.{n}.0/20" for n in range(0, 256, 16))


@functools.cache  # asked for every container of every `ps` and inspect
def builtin_id(name: str) -> str:
    """The id of a predefined network (stable, as container_json.network_id)."""
    return hashlib.sha256(f"pouch-network:{name}".encode()).hexdigest()


def cni_name(bridge: str) -> str:
    """The CNI network name (== cni.network_name): host-local keeps its leases under it."""
    return f"pouch-{bridge}"


@dataclass(frozen=True)
class NetworkRecord:
    """One network. ``subnet``/``gateway``/``bridge`` are empty for ``host`` and ``none``."""

    id: str
    name: str
    driver: str = "bridge"  # bridge | host | null
    created: str = ""
    bridge: str = ""
    subnet: str = ""
    gateway: str = ""
    ip_range: str = ""
    aux_addresses: dict[str, str] = field(default_factory=dict)
    internal: bool = False
    attachable: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    ipam_options: dict[str, str] = field(default_factory=dict)
    builtin: bool = False

    # -- what the options mean
    @property
    def masquerade(self) -> bool:
        return _opt_bool(self.options, OPT_MASQUERADE, True)

    @property
    def icc(self) -> bool:
        return _opt_bool(self.options, OPT_ICC, True)

    @property
    def mtu(self) -> int:
        return int(self.options.get(OPT_MTU) or 0)

    @property
    def host_binding_ip(self) -> str:
        return self.options.get(OPT_HOST_BINDING, "")

    @property
    def iface_prefix(self) -> str:
        return self.options.get(OPT_IFACE_PREFIX) or "eth"

    @property
    def is_bridge(self) -> bool:
        return self.driver == "bridge"

    @property
    def user_defined(self) -> bool:
        """Docker gives names (embedded DNS) only on these."""
        return self.is_bridge and not self.builtin

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkRecord:
        return cls(**known_fields(cls, dict(data)))


def predefined(bridge: str, subnet: str) -> list[NetworkRecord]:
    """``bridge``, ``host`` and ``none`` of a daemon whose default bridge is ``bridge`` on ``subnet``."""
    net = ipaddress.ip_network(subnet, strict=False)
    return [
        NetworkRecord(id=builtin_id("bridge"), name="bridge", driver="bridge", bridge=bridge, subnet=str(net),
                      gateway=str(net.network_address + 1), builtin=True,
                      options={OPT_BRIDGE_NAME: bridge, "com.docker.network.bridge.default_bridge": "true",
                               OPT_MASQUERADE: "true", OPT_ICC: "true", OPT_HOST_BINDING: "0.0.0.0"}),
        NetworkRecord(id=builtin_id("host"), name="host", driver="host", builtin=True),
        NetworkRecord(id=builtin_id("none"), name="none", driver="null", builtin=True),
    ]


def _opt_bool(options: Mapping[str, str], key: str, default: bool) -> bool:
    value = options.get(key)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "t", "true", "yes", "on")


# --------------------------------------------------------------------------- create requests


@dataclass(frozen=True)
class CreateRequest:
    """``POST /networks/create`` / ``network create``, validated field by field."""

    name: str
    driver: str = "bridge"
    subnet: str = ""
    gateway: str = ""
    ip_range: str = ""
    aux_addresses: dict[str, str] = field(default_factory=dict)
    internal: bool = False
    attachable: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    ipam_options: dict[str, str] = field(default_factory=dict)


def _ipv4_net(text: str, what: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid {what} {text!r}: not a CIDR such as 10.10.0.0/16") from None
    if net.version != 4:
        raise InvalidArgument(f"invalid {what} {text!r}: only IPv4 networks are supported")
    return net  # type: ignore[return-value]


def _ipv4_addr(text: str, what: str) -> ipaddress.IPv4Address:
    try:
        addr = ipaddress.ip_address(text.split("/", 1)[0])
    except ValueError:
        raise InvalidArgument(f"invalid {what} {text!r}: not an IPv4 address") from None
    if addr.version != 4:
        raise InvalidArgument(f"invalid {what} {text!r}: only IPv4 is supported")
    return addr  # type: ignore[return-value]


def validate_options(options: Mapping[str, str]) -> None:
    for key, value in options.items():
        if key.startswith(OPT_PREFIX) and key not in KNOWN_OPTIONS:
            raise InvalidArgument(f"network option {key!r} is not supported by the bridge driver")
        if key in (OPT_MASQUERADE, OPT_ICC) and value.strip().lower() not in (
                "", "1", "0", "t", "f", "true", "false", "yes", "no", "on", "off"):
            raise InvalidArgument(f"network option {key}: expected true or false, got {value!r}")
        if key == OPT_MTU and value and (not value.isdigit() or not 68 <= int(value) <= 65535):
            raise InvalidArgument(f"network option {key}: invalid MTU {value!r} (68..65535)")
        if key == OPT_HOST_BINDING and value:
            _ipv4_addr(value, f"network option {key}")
        if key == OPT_BRIDGE_NAME and value and not _IFNAME_RE.match(value):
            raise InvalidArgument(f"network option {key}: invalid interface name {value!r} (1-15 of [a-zA-Z0-9_.-])")
        if key == OPT_IFACE_PREFIX and value and not re.match(r"^[a-z]{1,8}$", value):
            raise InvalidArgument(f"network option {key}: invalid interface prefix {value!r}")


def overlapping(subnet: str, taken: Iterable[str]) -> str:
    """The first of ``taken`` that overlaps ``subnet``, or ""."""
    net = ipaddress.ip_network(subnet, strict=False)
    for other in taken:
        try:
            if net.overlaps(ipaddress.ip_network(other, strict=False)):
                return other
        except (ValueError, TypeError):
            continue
    return ""


def allocate_subnet(taken: Iterable[str], pools: Sequence[str] = AUTO_POOLS) -> str:
    """The first pool that overlaps none of ``taken`` (other networks, host routes)."""
    taken = list(taken)
    for pool in pools:
        if not overlapping(pool, taken):
            return pool
    raise InvalidArgument("could not find an available, non-overlapping IPv4 address pool among the defaults "
                          "to assign to the network: give one with --subnet")


def record_from_request(req: CreateRequest, network_id: str, created: str, *,
                        taken_subnets: Sequence[str], host_routes: Sequence[str],
                        taken_names: Iterable[str], taken_bridges: Iterable[str]) -> NetworkRecord:
    """A new network's record: name, options and addresses checked against the others
    (``taken_subnets``: other networks'; ``host_routes``: the host's non-default routes)."""
    if not _NAME_RE.match(req.name):
        raise InvalidArgument(f"invalid network name {req.name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    if req.name in PREDEFINED:
        raise Conflict(f"network with name {req.name} already exists")
    if req.name in set(taken_names):
        raise Conflict(f"network with name {req.name} already exists")
    validate_options(req.options)
    bridge = req.options.get(OPT_BRIDGE_NAME) or f"br-{network_id[:12]}"
    if bridge in set(taken_bridges):
        raise Conflict(f"bridge {bridge} is already used by another network")

    if req.subnet:
        net = _ipv4_net(req.subnet, "subnet")
        if net.prefixlen > 30:
            raise InvalidArgument(f"invalid subnet {req.subnet}: too small for containers (at most /30)")
        clash = overlapping(str(net), taken_subnets)
        if clash:
            raise InvalidArgument(f"Pool overlaps with other one on this address space: {net} overlaps {clash}")
        clash = overlapping(str(net), host_routes)
        if clash:
            raise InvalidArgument(f"subnet {net} overlaps the host's route to {clash}")
    else:
        if req.gateway or req.ip_range:
            raise InvalidArgument("--gateway and --ip-range need --subnet")
        net = _ipv4_net(allocate_subnet(list(taken_subnets) + list(host_routes)), "subnet")
    if req.gateway:
        gw = _ipv4_addr(req.gateway, "gateway")
        if gw not in net or gw in (net.network_address, net.broadcast_address):
            raise InvalidArgument(f"invalid gateway {req.gateway}: not a host address of subnet {net}")
    else:
        gw = net.network_address + 1
    ip_range = ""
    if req.ip_range:
        rng = _ipv4_net(req.ip_range, "ip-range")
        if not rng.subnet_of(net):
            raise InvalidArgument(f"invalid ip-range {req.ip_range}: not inside subnet {net}")
        ip_range = str(rng)
    aux: dict[str, str] = {}
    for host, addr in req.aux_addresses.items():
        ip = _ipv4_addr(addr, f"aux-address {host}")
        if ip not in net:
            raise InvalidArgument(f"invalid aux-address {host}={addr}: not inside subnet {net}")
        aux[host] = str(ip)
    return NetworkRecord(
        id=network_id, name=req.name, driver="bridge", created=created, bridge=bridge, subnet=str(net),
        gateway=str(gw), ip_range=ip_range, aux_addresses=aux, internal=req.internal, attachable=req.attachable,
        labels=dict(req.labels), options=dict(req.options), ipam_options=dict(req.ipam_options),
    )


def find(records: Sequence[NetworkRecord], ref: str) -> NetworkRecord | None:
    """Docker's lookup order: full id, then name, then a unique id prefix."""
    for rec in records:
        if rec.id == ref:
            return rec
    for rec in records:
        if rec.name == ref:
            return rec
    if ref and all(ch in "0123456789abcdef" for ch in ref):
        found = [rec for rec in records if rec.id.startswith(ref)]
        if len(found) == 1:
            return found[0]
    return None


# --------------------------------------------------------------------------- CNI


def address_range(rec: NetworkRecord) -> tuple[str, str]:
    """host-local's (rangeStart, rangeEnd) of ``--ip-range``; ("", "") for the whole subnet."""
    if not rec.ip_range:
        return "", ""
    net = ipaddress.ip_network(rec.subnet)
    rng = ipaddress.ip_network(rec.ip_range)
    start = max(rng.network_address, net.network_address + 1)
    end = min(rng.broadcast_address, net.broadcast_address - 1)
    return str(start), str(end)


def build_conflist(rec: NetworkRecord, ipam_data_dir: str, *, default_route: bool = True,
                   whole_subnet: bool = False, cni_version: str = "1.0.0") -> dict:
    """The conflist of a bridge network for one endpoint.

    bridge (gateway on the bridge, hairpin, MTU; ``ips`` and ``mac`` capabilities for
    ``--ip``/``--mac-address``) with host-local IPAM in ``ipam_data_dir``; the default
    route only for the primary endpoint of a non-internal network; portmap for ``-p``.
    ``whole_subnet``: for a static ``--ip``, which Docker allows outside ``--ip-range``
    (the leases live in the same directory, so addresses stay unique).
    Outbound NAT and forwarding are static per-network rules (:func:`network_rules`).
    """
    rng: dict[str, str] = {"subnet": rec.subnet, "gateway": rec.gateway}
    start, end = address_range(rec)
    if start and not whole_subnet:
        rng.update(rangeStart=start, rangeEnd=end)
    bridge: dict[str, Any] = {
        "type": "bridge",
        "bridge": rec.bridge,
        "isGateway": True,
        "ipMasq": False,
        "hairpinMode": True,
        "capabilities": {"ips": True, "mac": True},
        "ipam": {
            "type": "host-local",
            "ranges": [[rng]],
            "routes": [{"dst": "0.0.0.0/0"}] if default_route and not rec.internal else [],
            "dataDir": ipam_data_dir,
        },
    }
    if rec.mtu:
        bridge["mtu"] = rec.mtu
    plugins = [bridge, {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}]
    return {"cniVersion": cni_version, "name": cni_name(rec.bridge), "plugins": plugins}


def reserved_addresses(rec: NetworkRecord) -> list[str]:
    """Addresses host-local must never hand out: the aux addresses (reserved by lease files)."""
    return sorted(set(rec.aux_addresses.values()) - {rec.gateway})


# --------------------------------------------------------------------------- iptables


def static_chain(bridge: str) -> str:
    return f"POUCH-{bridge}"


def static_rules(bridge: str, subnet: str) -> dict[str, list[list[str]]]:
    """The rules every container of the daemon's bridge shares, by table.

    filter (jumped to first from FORWARD, so a DROP policy or Docker's chains do
    not get in the way): replies to the containers, connections to published
    ports (DNAT), and everything the containers send. nat (from POSTROUTING):
    masquerade what leaves the subnet through another interface.
    """
    return {
        "filter": [
            ["-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
            ["-o", bridge, "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"],
            ["-i", bridge, "-j", "ACCEPT"],
        ],
        "nat": [["-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"]],
    }


def isolation_chain(daemon_bridge: str) -> str:
    return f"POUCH-ISO-{daemon_bridge}"


def network_rules(rec: NetworkRecord) -> dict[str, list[list[str]]]:
    """The rules a user-defined network's containers share, by table (chain ``POUCH-<bridge>``).

    filter: replies and published ports in, traffic between the network's containers
    (unless ``enable_icc=false``), everything out (unless ``--internal``). nat: masquerade
    what leaves the subnet (unless internal or ``enable_ip_masquerade=false``).
    """
    br = rec.bridge
    filter_rules = [["-i", br, "-o", br, "-j", "ACCEPT" if rec.icc else "DROP"]]
    nat_rules: list[list[str]] = []
    if not rec.internal:
        filter_rules = [
            ["-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
            ["-o", br, "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"],
            *filter_rules,
            ["-i", br, "!", "-o", br, "-j", "ACCEPT"],
        ]
        if rec.masquerade:
            nat_rules.append(["-s", rec.subnet, "!", "-o", br, "-j", "MASQUERADE"])
    return {"filter": filter_rules, "nat": nat_rules}


def isolation_rules(records: Iterable[NetworkRecord]) -> list[list[str]]:
    """The isolation chain's rules: nothing new enters a network's bridge from elsewhere
    but published ports (DNAT) and replies; nothing leaves an internal network."""
    rules = []
    for rec in records:
        if not rec.is_bridge or not rec.bridge:
            continue
        rules.append(["!", "-i", rec.bridge, "-o", rec.bridge, "-m", "conntrack", "!", "--ctstate",
                      "RELATED,ESTABLISHED,DNAT", "-j", "DROP"])
        if rec.internal:
            rules.append(["-i", rec.bridge, "!", "-o", rec.bridge, "-j", "DROP"])
    return rules


# --------------------------------------------------------------------------- endpoints


def interface_name(prefix: str, taken: Iterable[str]) -> str:
    """The lowest free ``<prefix>N`` (eth0, eth1...) not in ``taken``."""
    used = set(taken)
    n = 0
    while f"{prefix}{n}" in used:
        n += 1
    return f"{prefix}{n}"


def validate_endpoint(rec: NetworkRecord, ipv4: str, mac: str, aliases: Sequence[str]) -> None:
    """``--ip``, ``--mac-address`` and ``--network-alias`` checked against the network (Docker's messages)."""
    if (ipv4 or aliases) and not rec.user_defined:
        what = "IP address" if ipv4 else "network-scoped alias"
        raise InvalidArgument(f"user specified {what} is supported on user defined networks only")
    if ipv4:
        addr = _ipv4_addr(ipv4, "IPv4 address")
        net = ipaddress.ip_network(rec.subnet)
        if addr not in net or addr in (net.network_address, net.broadcast_address):
            raise InvalidArgument(f"invalid IPv4 address {ipv4}: not a host address of network {rec.name} ({rec.subnet})")
        if str(addr) == rec.gateway:
            raise InvalidArgument(f"invalid IPv4 address {ipv4}: it is the gateway of network {rec.name}")
    if mac and not re.match(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$", mac):
        raise InvalidArgument(f"invalid MAC address {mac!r}")
    if mac and int(mac[:2], 16) & 1:
        raise InvalidArgument(f"invalid MAC address {mac}: a multicast address")
    for alias in aliases:
        if not alias or not re.match(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", alias):
            raise InvalidArgument(f"invalid network alias {alias!r}")


def runtime_config(ipv4: str, prefix_len: int, mac: str, port_mappings: list[dict]) -> dict:
    """libcni's CapabilityArgs of one endpoint: static IP, MAC, port mappings."""
    out: dict[str, Any] = {}
    if ipv4:
        out["ips"] = [f"{ipv4}/{prefix_len}"]
    if mac:
        out["mac"] = mac
    if port_mappings:
        out["portMappings"] = port_mappings
    return out


def with_network_id(configs: Iterable[Any], records: Sequence[NetworkRecord]) -> list[Any]:
    """EndpointConfigs with their ``network_id`` filled from ``records`` (by name)."""
    by_name = {r.name: r for r in records}
    return [replace(c, network_id=by_name[c.network].id) if c.network in by_name and not c.network_id else c
            for c in configs]


def endpoint_configs(options: Any) -> tuple[Any, ...]:
    """The networks a container (its ``CreateOptions``) is connected to. Rows written before
    there were several networks store none (None): their one network is the mode's. An empty
    tuple is a container disconnected from each of its networks."""
    if options.networks is not None:
        return tuple(options.networks)
    return endpoint_configs_of(options.network)


def endpoint_configs_of(mode: NetworkMode) -> tuple[EndpointConfig, ...]:
    """The one network of a network mode (none for host, none and container:X)."""
    if mode.kind == NetworkKind.BRIDGE:
        return (EndpointConfig("bridge", builtin_id("bridge")),)
    if not mode.has_own_netns or mode.is_none:
        return ()
    return (EndpointConfig(mode.target),)


def endpoints_of(attachment: Any) -> tuple[Any, ...]:
    """The interfaces of a ``NetworkAttachment``; rows written before there were several
    networks: the one the top-level fields describe (eth0)."""
    if attachment is None or attachment.network in ("none", "container"):
        return ()
    if attachment.endpoints:
        return tuple(attachment.endpoints)
    if not attachment.ip_address:
        return ()
    nid = builtin_id(attachment.network) if attachment.network in PREDEFINED else ""
    return (Endpoint(attachment.network, nid, "eth0", attachment.ip_address, attachment.prefix_len,
                     attachment.gateway, attachment.mac_address),)
