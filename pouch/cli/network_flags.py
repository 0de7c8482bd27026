"""Network flags of ``run``/``create`` -> ``NetworkingConfig`` and ``Config.MacAddress``,
as the docker CLI builds them for API v1.41. Pure.

``--ip`` and ``--network-alias`` go in the endpoint of the ``--network`` network;
``--mac-address`` goes in ``Config.MacAddress`` (API < 1.44).
"""

from __future__ import annotations

from pouch.cli.flags import LIST, STR, F, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pouch.cli.flags import Flag

NETWORK_FLAGS: list[Flag] = [
    F("--ip", kind=STR, help="IPv4 address (e.g., 172.30.100.104)"),
    F("--mac-address", kind=STR, help="Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    F("--network-alias", kind=LIST, help="Add network-scoped alias for the container"),
]


def networking_config(get: Callable[[str], Any]) -> dict[str, Any]:
    """The top-level body fields for the flags above ({} when none is given)."""
    out: dict[str, Any] = {}
    endpoint: dict[str, Any] = {}
    if get("ip"):
        endpoint["IPAMConfig"] = {"IPv4Address": get("ip")}
    aliases = [a for a in get("network_alias") or [] if a]
    if aliases:
        endpoint["Aliases"] = aliases
    if endpoint:
        network = get("network") or "default"
        if network in ("default", "bridge", "host", "none") or network.startswith("container:"):
            what = "IP address" if get("ip") else "network-scoped alias"
            raise UsageError(f"user specified {what} is supported only for user defined networks")
        out["NetworkingConfig"] = {"EndpointsConfig": {network: endpoint}}
    if get("mac_address"):
        out["MacAddress"] = get("mac_address")
    return out
