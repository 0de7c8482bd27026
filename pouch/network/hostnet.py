"""The host side of a network: its bridge link, its iptables chains, the host's routes (IO).

Every function is idempotent, so daemon start can re-run them, and removal tolerates
what is already gone. The rules themselves are built by ``networks.network_rules`` and
``networks.isolation_rules`` (pure).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shlex

from pouch import process
from pouch.errors import Internal, InvalidArgument
from pouch.network import cni, networks

log = logging.getLogger(__name__)

PARENT = {"filter": "FORWARD", "nat": "POSTROUTING"}


def _ipt(table: str, *args: str) -> process.Completed:
    return process.run(["iptables", "-w", "-t", table, *args])


def install_chain(chain: str, rules: dict[str, list[list[str]]], *, first: bool = False) -> None:
    """Create (or refresh) ``chain`` in each table with ``rules``, jumped to from FORWARD /
    POSTROUTING; a table without rules gets no chain. ``first``: the jump is moved to
    position 1 even if it exists (the isolation chain must be evaluated before the others)."""
    for table, parent in PARENT.items():
        body = rules.get(table) or []
        if not body:
            remove_chain(chain, tables=(table,))
            continue
        if not _ipt(table, "-N", chain).ok:
            _ipt(table, "-F", chain)
        for rule in body:
            result = _ipt(table, "-A", chain, *rule)
            if not result.ok:
                raise Internal(f"iptables -t {table} -A {chain} {shlex.join(rule)}: "
                               f"{result.stderr.decode(errors='replace').strip()}")
        if first:
            while _ipt(table, "-D", parent, "-j", chain).ok:
                pass
        if first or not _ipt(table, "-C", parent, "-j", chain).ok:
            _ipt(table, "-I", parent, "1", "-j", chain)


def remove_chain(chain: str, tables: tuple[str, ...] = ("filter", "nat")) -> list[str]:
    """Remove ``chain`` and the jumps to it; returns what was done (for leak sweeps)."""
    done = []
    for table in tables:
        parent = PARENT[table]
        while _ipt(table, "-D", parent, "-j", chain).ok:
            done.append(f"iptables -t {table} -D {parent} -j {chain}")
        if _ipt(table, "-F", chain).ok and _ipt(table, "-X", chain).ok:
            done.append(f"iptables -t {table} -X {chain}")
    return done


def link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def ensure_bridge(name: str, gateway: str, prefix_len: int, mtu: int = 0) -> bool:
    """Create the bridge ``name`` with the gateway address, up (as Docker does at network
    create, so the subnet's route exists at once); True if this call created it."""
    created = False
    if not link_exists(name):
        result = process.run(["ip", "link", "add", "name", name, "type", "bridge"])
        if not result.ok and not link_exists(name):
            raise Internal(f"creating bridge {name}: {result.stderr.decode(errors='replace').strip()}")
        created = True
    try:
        if mtu:
            process.run(["ip", "link", "set", "dev", name, "mtu", str(mtu)])
        addr = f"{gateway}/{prefix_len}"
        shown = process.run(["ip", "-4", "-o", "addr", "show", "dev", name]).stdout.decode()
        if f" {addr} " not in shown:
            result = process.run(["ip", "addr", "add", addr, "dev", name])
            if not result.ok:
                raise Internal(f"adding {addr} to bridge {name}: {result.stderr.decode(errors='replace').strip()}")
        process.run(["ip", "link", "set", "dev", name, "up"])
    except BaseException:
        if created:
            delete_link(name)
        raise
    return created


def delete_link(name: str) -> None:
    if link_exists(name):
        result = process.run(["ip", "link", "delete", name])
        if not result.ok and link_exists(name):
            log.warning("deleting link %s: %s", name, result.stderr.decode(errors="replace").strip())


def parse_routes(text: str) -> list[str]:
    """Destinations of ``ip -4 -o route show`` output, but the default route."""
    out = []
    for line in text.splitlines():
        dest = line.split(" ", 1)[0]
        if not dest or dest == "default" or dest.startswith(("broadcast", "local", "unreachable")):
            continue
        try:
            out.append(str(ipaddress.ip_network(dest, strict=False)))
        except ValueError:
            continue
    return out


def host_routes() -> list[str]:
    return parse_routes(process.run(["ip", "-4", "-o", "route", "show"]).stdout.decode())


def install_static_rules(bridge: str, subnet: str) -> None:
    """Create (or refresh) the daemon bridge's chains (``networks.static_rules``) and the
    jumps to them, first in FORWARD / POSTROUTING; idempotent."""
    chain = networks.static_chain(bridge)
    for table, rules in networks.static_rules(bridge, subnet).items():
        ipt = ["iptables", "-w", "-t", table]
        if not process.run([*ipt, "-N", chain]).ok:
            process.run([*ipt, "-F", chain])
        for rule in rules:
            result = process.run([*ipt, "-A", chain, *rule])
            if not result.ok:
                raise InvalidArgument(f"iptables: {result.stderr.decode(errors='replace').strip()}")
        parent = PARENT[table]
        if not process.run([*ipt, "-C", parent, "-j", chain]).ok:
            process.run([*ipt, "-I", parent, "1", "-j", chain])


def remove_static_rules(bridge: str) -> list[str]:
    chain = networks.static_chain(bridge)
    done = []
    for table, parent in PARENT.items():
        ipt = ["iptables", "-w", "-t", table]
        while process.run([*ipt, "-D", parent, "-j", chain]).ok:
            done.append(shlex.join([*ipt, "-D", parent, "-j", chain]))
        if process.run([*ipt, "-F", chain]).ok and process.run([*ipt, "-X", chain]).ok:
            done.append(shlex.join([*ipt, "-X", chain]))
    return done


def remove_network_leftovers(bridge: str, subnet: str) -> list[str]:
    """Remove iptables rules and per-container chains a daemon's network left behind
    (tests, ``pouchd`` uninstall); returns the commands run, so tests can assert it is
    empty. The network's static chains and the daemon's isolation chain go too; the
    bridge link and the plugins' shared chains are not touched."""
    done = remove_static_rules(bridge)
    done += remove_chain(networks.isolation_chain(bridge), tables=("filter",))
    for table in ("filter", "nat"):
        save = process.run(["iptables-save", "-t", table])
        for argv in cni.leftover_commands(table, save.stdout.decode(), bridge, subnet):
            process.run(argv)
            done.append(shlex.join(argv))
    return done
