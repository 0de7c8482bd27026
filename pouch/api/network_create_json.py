"""``POST /networks/create``: Docker's JSON body -> ``network.networks.CreateRequest`` (400 on bad input)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pouch.errors import InvalidArgument
from pouch.network.networks import CreateRequest


def request_from_docker(body: Mapping[str, Any]) -> CreateRequest:
    """The Docker JSON of ``POST /networks/create`` -> a :class:`CreateRequest` (400 on bad input)."""
    if not isinstance(body, Mapping):
        raise InvalidArgument("request body must be a JSON object")
    name = body.get("Name")
    if not isinstance(name, str) or not name:
        raise InvalidArgument("network name is required (Name)")
    driver = body.get("Driver") or "bridge"
    if driver != "bridge":
        raise InvalidArgument(f"network driver {driver!r} is not supported: only the bridge driver creates networks")
    if body.get("EnableIPv6"):
        raise InvalidArgument("EnableIPv6: IPv6 networks are not supported")
    for key in ("Ingress", "ConfigOnly"):
        if body.get(key):
            raise InvalidArgument(f"{key}: not supported by the bridge driver on a local engine")
    if (body.get("Scope") or "local") != "local":
        raise InvalidArgument("Scope: only local networks are supported")
    ipam = body.get("IPAM") or {}
    if not isinstance(ipam, Mapping):
        raise InvalidArgument("IPAM: expected an object")
    if (ipam.get("Driver") or "default") != "default":
        raise InvalidArgument(f"IPAM.Driver: IPAM driver {ipam.get('Driver')!r} is not supported (default)")
    configs = ipam.get("Config") or []
    if not isinstance(configs, list) or not all(isinstance(c, Mapping) for c in configs):
        raise InvalidArgument("IPAM.Config: expected an array of objects")
    configs = [c for c in configs if any(c.get(k) for k in ("Subnet", "IPRange", "Gateway", "AuxiliaryAddresses"))]
    if len(configs) > 1:
        raise InvalidArgument("IPAM.Config: one IPv4 pool per network is supported")
    pool = configs[0] if configs else {}
    return CreateRequest(
        name=name,
        driver=driver,
        subnet=_str(pool, "Subnet"),
        gateway=_str(pool, "Gateway"),
        ip_range=_str(pool, "IPRange"),
        aux_addresses=_str_map(pool, "AuxiliaryAddresses"),
        internal=bool(body.get("Internal")),
        attachable=bool(body.get("Attachable")),
        labels=_str_map(body, "Labels"),
        options=_str_map(body, "Options"),
        ipam_options=_str_map(ipam, "Options"),
    )


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key) or ""
    if not isinstance(value, str):
        raise InvalidArgument(f"{key}: expected a string")
    return value


def _str_map(obj: Mapping[str, Any], key: str) -> dict[str, str]:
    value = obj.get(key) or {}
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidArgument(f"{key}: expected an object of strings")
    return dict(value)
