"""Docker's JSON for networks and a container's endpoints. Pure functions only.

- ``network_json``: ``GET /networks/{id}`` and the items of ``GET /networks`` (API v1.41 ``Network``);
- ``network_filter``: the ``filters=`` of ``GET /networks`` and ``POST /networks/prune``;
- ``endpoints_from_docker``: ``NetworkingConfig.EndpointsConfig`` of a create body;
- ``container_networks``: ``NetworkSettings.Networks`` of a container (inspect and list).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pouch.errors import InvalidArgument
from pouch.labels import label_matches, labels_match
from pouch.models import Container, Endpoint, EndpointConfig
from pouch.network.networks import NetworkRecord

NETWORK_FILTERS = ("dangling", "driver", "id", "label", "name", "scope", "type")
PRUNE_FILTERS = ("label", "label!", "until")
_HOST_PORT_RANGE = re.compile(r"^(\d+)-(\d+)$")


def endpoint_id(container_id: str, network: str) -> str:
    """Stable per container and network (also the inspect's ``SandboxID``, network ``sandbox``)."""
    return hashlib.sha256(f"pouch-endpoint:{container_id}:{network}".encode()).hexdigest()


def _ipam_config(rec: NetworkRecord) -> list[dict[str, Any]]:
    if not rec.subnet:
        return []
    cfg: dict[str, Any] = {"Subnet": rec.subnet, "Gateway": rec.gateway}
    if rec.ip_range:
        cfg["IPRange"] = rec.ip_range
    if rec.aux_addresses:
        cfg["AuxiliaryAddresses"] = dict(rec.aux_addresses)
    return [cfg]


def network_json(rec: NetworkRecord, members: Sequence[tuple[Container, Endpoint]] = ()) -> dict[str, Any]:
    """One ``Network`` object; ``members``: the running containers on it, with their endpoint."""
    containers = {}
    for c, ep in members:
        containers[c.id] = {
            "Name": c.name,
            "EndpointID": endpoint_id(c.id, rec.name),
            "MacAddress": ep.mac_address,
            "IPv4Address": f"{ep.ip_address}/{ep.prefix_len}" if ep.ip_address else "",
            "IPv6Address": "",
        }
    return {
        "Name": rec.name,
        "Id": rec.id,
        "Created": rec.created or "0001-01-01T00:00:00Z",
        "Scope": "local",
        "Driver": rec.driver,
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": dict(rec.ipam_options) or None, "Config": _ipam_config(rec)},
        "Internal": rec.internal,
        "Attachable": rec.attachable,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": containers,
        "Options": dict(rec.options),
        "Labels": dict(rec.labels),
    }


def check_filters(filters: Mapping[str, list[str]], allowed: Sequence[str]) -> None:
    for key, values in filters.items():
        if key not in allowed:
            raise InvalidArgument(f"invalid filter '{key}'")
        if key == "type":
            for v in values:
                if v not in ("custom", "builtin"):
                    raise InvalidArgument(f"invalid filter: 'type'='{v}'")
        if key == "dangling":
            for v in values:
                if v.lower() not in ("true", "false", "1", "0"):
                    raise InvalidArgument(f"invalid filter 'dangling={v}'")


def network_filter(rec: NetworkRecord, filters: Mapping[str, list[str]], in_use: bool) -> bool:
    """True if ``rec`` passes ``GET /networks`` ``filters`` (each key ANDed, its values ORed)."""
    for key, values in filters.items():
        if not values:
            continue
        if key == "name" and not any(v in rec.name for v in values):
            return False
        if key == "id" and not any(rec.id.startswith(v) for v in values):
            return False
        if key == "driver" and rec.driver not in values:
            return False
        if key == "scope" and "local" not in values:
            return False
        if key == "label" and not labels_match(values, rec.labels):
            return False
        if key == "type" and ("builtin" if rec.builtin else "custom") not in values:
            return False
        if key == "dangling":
            want = values[-1].lower() in ("true", "1")
            if rec.builtin or in_use == want:
                return False
    return True


def prune_keeps(rec: NetworkRecord, filters: Mapping[str, list[str]], created_epoch: float | None,
                until_epoch: float | None) -> bool:
    """True if ``network prune`` ``filters`` spare ``rec`` (label=, label!=, until=)."""
    if filters.get("label") and not labels_match(filters["label"], rec.labels):
        return True
    for item in filters.get("label!", []):
        if label_matches(item, rec.labels):
            return True
    if until_epoch is not None and created_epoch is not None and created_epoch > until_epoch:
        return True
    return False


# --------------------------------------------------------------------------- containers


def parse_host_port_range(value: Any, field: str) -> tuple[int, int] | None:
    """``HostPort`` ``"8000-8010"`` -> (8000, 8010); None when it is not a range."""
    if not isinstance(value, str):
        return None
    m = _HOST_PORT_RANGE.match(value.strip())
    if not m:
        return None
    lo, hi = int(m.group(1)), int(m.group(2))
    if not 0 < lo <= hi <= 65535:
        raise InvalidArgument(f"{field}: invalid host port range {value!r}")
    return lo, hi


def endpoints_from_docker(body: Mapping[str, Any], network_mode: str) -> tuple[EndpointConfig, ...] | None:
    """``NetworkingConfig.EndpointsConfig`` (and the older ``Config.MacAddress``) of a create body;
    None when it names none (the container's network is its mode's)."""
    networking = body.get("NetworkingConfig") or {}
    if not isinstance(networking, Mapping):
        raise InvalidArgument("NetworkingConfig: expected an object")
    configs = networking.get("EndpointsConfig") or {}
    if not isinstance(configs, Mapping):
        raise InvalidArgument("NetworkingConfig.EndpointsConfig: expected an object")
    out = []
    for name, settings in configs.items():
        name = "bridge" if name in ("", "default") else name  # the docker CLI names the default network so
        out.append(endpoint_config_from_docker(name, settings or {}, f"NetworkingConfig.EndpointsConfig[{name!r}]"))
    mac = body.get("MacAddress") or ""
    if not isinstance(mac, str):
        raise InvalidArgument("Config.MacAddress: expected a string")
    if mac:
        primary = "bridge" if network_mode in ("", "default") else network_mode
        found = [e for e in out if e.network == primary]
        if found and not found[0].mac_address:
            out[out.index(found[0])] = EndpointConfig(found[0].network, "", found[0].aliases,
                                                      found[0].ipv4_address, mac)
        elif not found:
            out.insert(0, EndpointConfig(primary, mac_address=mac))
    return tuple(out) or None


def endpoint_config_from_docker(network: str, settings: Mapping[str, Any], field: str) -> EndpointConfig:
    """One ``EndpointSettings`` (create body, ``network connect``'s ``EndpointConfig``)."""
    if not isinstance(settings, Mapping):
        raise InvalidArgument(f"{field}: expected an object")
    ipam = settings.get("IPAMConfig") or {}
    if not isinstance(ipam, Mapping):
        raise InvalidArgument(f"{field}.IPAMConfig: expected an object")
    if ipam.get("IPv6Address"):
        raise InvalidArgument(f"{field}.IPAMConfig.IPv6Address: IPv6 is not supported")
    aliases = settings.get("Aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise InvalidArgument(f"{field}.Aliases: expected an array of strings")
    ipv4 = ipam.get("IPv4Address") or ""
    mac = settings.get("MacAddress") or ""
    if not isinstance(ipv4, str) or not isinstance(mac, str):
        raise InvalidArgument(f"{field}: IPv4Address and MacAddress are strings")
    return EndpointConfig(network=network, aliases=tuple(dict.fromkeys(aliases)), ipv4_address=ipv4, mac_address=mac)


def _endpoint_json(c: Container, cfg: EndpointConfig, ep: Endpoint | None, user_defined: bool) -> dict[str, Any]:
    aliases = list(cfg.aliases)
    if user_defined and ep is not None:
        aliases.append(c.id[:12])  # Docker 20.10 lists the short id among the aliases
    return {
        "IPAMConfig": {"IPv4Address": cfg.ipv4_address} if cfg.ipv4_address else None,
        "Links": None,
        "Aliases": aliases or None,
        "NetworkID": cfg.network_id,
        "EndpointID": endpoint_id(c.id, cfg.network) if ep else "",
        "Gateway": ep.gateway if ep else "",
        "IPAddress": ep.ip_address if ep else "",
        "IPPrefixLen": ep.prefix_len if ep else 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": ep.mac_address if ep else cfg.mac_address,
        "DriverOpts": None,
    }


def container_networks(c: Container, configs: Sequence[EndpointConfig], endpoints: Sequence[Endpoint],
                       builtin_ids: Mapping[str, str]) -> dict[str, Any]:
    """``NetworkSettings.Networks``: every network the container is connected to, with its
    address while it runs. ``builtin_ids``: name -> id of the predefined networks."""
    live = {e.network_id or builtin_ids.get(e.network, ""): e for e in endpoints} if c.state.status.is_active() else {}
    out = {}
    for cfg in configs:
        nid = cfg.network_id or builtin_ids.get(cfg.network, "")
        cfg = EndpointConfig(cfg.network, nid, cfg.aliases, cfg.ipv4_address, cfg.mac_address)
        out[cfg.network] = _endpoint_json(c, cfg, live.get(nid), cfg.network not in builtin_ids)
    return out
