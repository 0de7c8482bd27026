"""``pouch network create|ls|inspect|rm|connect|disconnect|prune`` and ``pouch port``.

Output follows the docker CLI: ``network ls`` is a table (NETWORK ID, NAME, DRIVER,
SCOPE) sorted by name, ``create`` prints the id, ``rm`` the names, ``port`` lines such
as ``80/tcp -> 0.0.0.0:8080``.
"""

from __future__ import annotations

from pouch.cli.client import CLIError, quote_name
from pouch.cli.containers import for_each, inspect_and_print
from pouch.cli.flags import LIST, STR, F
from pouch.cli.format import record, table
from pouch.cli.objects import filters_query, go_time, key_values, print_template_lines
from pouch.cli.prune import confirm, prune_networks
from pouch.cli.values import parse_filters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pouch.cli.main import Context


def _n(name: str) -> str:
    return f"/networks/{quote_name(name)}"


CREATE_FLAGS = [
    F("--attachable", help="Enable manual container attachment"),
    F("--aux-address", kind=LIST, help="Auxiliary IPv4 addresses used by Network driver"),
    F("-d", "--driver", kind=STR, default="bridge", help="Driver to manage the Network"),
    F("--gateway", kind=LIST, help="IPv4 Gateway for the master subnet"),
    F("--internal", help="Restrict external access to the network"),
    F("--ip-range", kind=LIST, help="Allocate container ip from a sub-range"),
    F("--ipam-driver", kind=STR, default="default", help="IP Address Management Driver"),
    F("--ipam-opt", kind=LIST, help="Set IPAM driver specific options"),
    F("--ipv6", help="Enable IPv6 networking"),
    F("--label", kind=LIST, help="Set metadata on a network"),
    F("-o", "--opt", kind=LIST, help="Set driver specific options"),
    F("--subnet", kind=LIST, help="Subnet in CIDR format that represents a network segment"),
]


def create_body(name: str, opts: dict[str, Any]) -> dict[str, Any]:
    """``POST /networks/create`` body of ``pouch network create`` (pure)."""
    subnets, gateways, ranges = opts.get("subnet") or [], opts.get("gateway") or [], opts.get("ip_range") or []
    if len(subnets) > 1:
        raise CLIError("one --subnet per network is supported")
    if (gateways or ranges or opts.get("aux_address")) and not subnets:
        raise CLIError("no matching subnet for " + ("gateway " + gateways[0] if gateways else
                                                   "range " + ranges[0] if ranges else "aux-address"))
    if len(gateways) > 1 or len(ranges) > 1:
        raise CLIError("cannot configure multiple gateways or ranges for the same subnet")
    ipam_config = []
    if subnets:
        cfg: dict[str, Any] = {"Subnet": subnets[0]}
        if gateways:
            cfg["Gateway"] = gateways[0]
        if ranges:
            cfg["IPRange"] = ranges[0]
        if opts.get("aux_address"):
            cfg["AuxiliaryAddresses"] = key_values(opts["aux_address"], "--aux-address")
        ipam_config.append(cfg)
    return {
        "Name": name,
        "CheckDuplicate": True,
        "Driver": opts.get("driver") or "bridge",
        "EnableIPv6": bool(opts.get("ipv6")),
        "IPAM": {"Driver": opts.get("ipam_driver") or "default", "Config": ipam_config,
                 "Options": key_values(opts.get("ipam_opt") or [], "--ipam-opt")},
        "Internal": bool(opts.get("internal")),
        "Attachable": bool(opts.get("attachable")),
        "Options": key_values(opts.get("opt") or [], "--opt"),
        "Labels": key_values(opts.get("label") or [], "--label"),
    }


def cmd_network_create(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] NETWORK", "Create a network", CREATE_FLAGS, argv, min_args=1, max_args=1)
    ctx.out(ctx.client.post("/networks/create", body=create_body(args[0], opts))["Id"])
    return 0


def ls_rows(nets: list[dict[str, Any]], trunc: bool = True) -> list[list[str]]:
    """Rows of ``pouch network ls`` sorted by name (pure)."""
    return [[n["Id"][:12] if trunc else n["Id"], n["Name"], n.get("Driver", ""), n.get("Scope", "local")]
            for n in sorted(nets, key=lambda n: n.get("Name", ""))]


NETWORK_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4",
                   "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT"}


def _format_row(n: dict[str, Any], trunc: bool) -> Any:
    """docker's ``network ls --format`` context (``*network.networkContext``)."""
    labels = n.get("Labels") or {}
    return record("*network.networkContext", {
        "ID": n["Id"][:12] if trunc else n["Id"], "Name": n.get("Name", ""), "Driver": n.get("Driver", ""),
        "Scope": n.get("Scope", "local"), "IPv4": str(bool(n.get("EnableIPv4"))).lower(),
        "IPv6": str(bool(n.get("EnableIPv6"))).lower(), "Internal": str(bool(n.get("Internal"))).lower(),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "Label": lambda name: labels.get(name, ""),
        "CreatedAt": go_time(n.get("Created", "")),
    })


def cmd_network_ls(ctx: Context, argv: list[str]) -> int:
    opts, _ = ctx.parse("[OPTIONS]", "List networks",
                        [F("-f", "--filter", kind=LIST, help="Provide filter values (e.g. 'driver=bridge')"),
                         F("--format", kind=STR, help="Pretty-print networks using a Go template"),
                         F("--no-trunc", help="Do not truncate the output"),
                         F("-q", "--quiet", help="Only display network IDs")], argv, max_args=0)
    nets = ctx.client.get("/networks", filters_query(opts["filter"] or [])) or []
    rows = ls_rows(nets, trunc=not opts["no_trunc"])
    if opts["quiet"]:
        for row in rows:
            ctx.out(row[0])
    elif opts["format"] and opts["format"] != "table":
        rows = [_format_row(n, not opts["no_trunc"]) for n in sorted(nets, key=lambda n: n.get("Name", ""))]
        print_template_lines(ctx, opts["format"], rows, NETWORK_HEADERS)
    else:
        ctx.stdout.write(table(["NETWORK ID", "NAME", "DRIVER", "SCOPE"], rows))
    return 0


def cmd_network_inspect(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] NETWORK [NETWORK...]", "Display detailed information on one or more networks",
                           [F("-f", "--format", kind=STR, help="Format the output using the given Go template"),
                            F("-v", "--verbose", help="Verbose output for diagnostics")], argv, min_args=1)
    return inspect_and_print(ctx, args, "network", opts["format"])


def cmd_network_rm(ctx: Context, argv: list[str]) -> int:
    _, args = ctx.parse("NETWORK [NETWORK...]", "Remove one or more networks",
                        [F("-f", "--force", help="Do not error if the network does not exist")], argv, min_args=1)

    def remove(name: str) -> None:
        ctx.client.request("DELETE", _n(name)).read()

    return for_each(ctx, args, remove)


def cmd_network_connect(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] NETWORK CONTAINER", "Connect a container to a network",
                           [F("--alias", kind=LIST, help="Add network-scoped alias for the container"),
                            F("--driver-opt", kind=LIST, help="driver options for the network"),
                            F("--ip", kind=STR, help="IPv4 address (e.g., 172.30.100.104)"),
                            F("--link", kind=LIST, help="Add link to another container")],
                           argv, min_args=2, max_args=2)
    if opts["link"]:
        raise CLIError("--link is not supported: containers on a user-defined network reach each other by name")
    endpoint: dict[str, Any] = {}
    if opts["ip"]:
        endpoint["IPAMConfig"] = {"IPv4Address": opts["ip"]}
    if opts["alias"]:
        endpoint["Aliases"] = list(opts["alias"])
    ctx.client.request("POST", _n(args[0]) + "/connect",
                       body={"Container": args[1], "EndpointConfig": endpoint}).read()
    return 0


def cmd_network_disconnect(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] NETWORK CONTAINER", "Disconnect a container from a network",
                           [F("-f", "--force", help="Force the container to disconnect from a network")],
                           argv, min_args=2, max_args=2)
    ctx.client.request("POST", _n(args[0]) + "/disconnect",
                       body={"Container": args[1], "Force": bool(opts["force"])}).read()
    return 0


def cmd_network_prune(ctx: Context, argv: list[str]) -> int:
    opts, _ = ctx.parse("[OPTIONS]", "Remove all unused networks",
                        [F("--filter", kind=LIST, help="Provide filter values (e.g. 'until=<timestamp>')"),
                         F("-f", "--force", help="Do not prompt for confirmation")], argv, max_args=0)

    filters = parse_filters(opts["filter"] or [])
    warning = "WARNING! This will remove all custom networks not used by at least one container."
    if not opts["force"] and not confirm(ctx, warning):
        return 0
    _, text = prune_networks(ctx, filters)
    if text:
        ctx.out(text)
    return 0


# --- pouch port -------------------------------------------------------------------------------

def port_lines(ports: dict[str, Any] | None, wanted: str = "") -> list[str]:
    """``pouch port`` output from ``NetworkSettings.Ports`` (pure): ``80/tcp -> 0.0.0.0:8080``
    per binding, or just ``0.0.0.0:8080`` when one port is asked for (``80`` means 80/tcp)."""
    if wanted and "/" not in wanted:
        wanted += "/tcp"
    lines = []

    def key(item: tuple[str, Any]) -> tuple[int, str]:
        port, _, proto = item[0].partition("/")
        return (int(port) if port.isdigit() else 0, proto)

    for port, bindings in sorted((ports or {}).items(), key=key):
        if wanted and port != wanted:
            continue
        for b in bindings or []:
            addr = f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort', '')}"
            lines.append(addr if wanted else f"{port} -> {addr}")
    return lines


def cmd_port(ctx: Context, argv: list[str]) -> int:
    _, args = ctx.parse("CONTAINER [PRIVATE_PORT[/PROTO]]", "List port mappings or a specific mapping for the container",
                        [], argv, min_args=1, max_args=2)
    info = ctx.client.get(f"/containers/{quote_name(args[0])}/json")
    wanted = args[1] if len(args) > 1 else ""
    lines = port_lines((info.get("NetworkSettings") or {}).get("Ports"), wanted)
    if wanted and not lines:
        raise CLIError(f"Error: No public port '{wanted if '/' in wanted else wanted + '/tcp'}' published for {args[0]}")
    for line in lines:
        ctx.out(line)
    return 0
