"""CNI for the default bridge network: conflist, runtimeConfig, results, plugin exec.

Implements the runtime side of the CNI spec 1.0.0
(https://github.com/containernetworking/cni/blob/spec-v1.0.0/SPEC.md), checked
against Debian's containernetworking-plugins 1.1.1:

- ``build_port_mappings`` / ``plugin_config`` / ``parse_result``
  are pure: data in, data out.
- ``exec_add`` / ``exec_del`` run the plugins of a conflist (section 4 "Plugin
  delegation": ADD in order with ``prevResult`` chained, DEL in reverse order).

Glossary: *conflist* — the network configuration list (JSON with ``plugins``);
*plugin config* — one element of it, completed with ``name``, ``cniVersion``,
``prevResult`` and ``runtimeConfig`` before it is piped to the plugin's stdin;
*result* — what ADD prints: interfaces, ips, routes, dns.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import re
import shlex
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pouch import process
from pouch.errors import Internal
from pouch.models import NetworkAttachment, PortBinding

log = logging.getLogger(__name__)

CNI_VERSION = "1.0.0"
# Plugins that only act on runtimeConfig capabilities: skipped (ADD and DEL) when
# none of theirs is given, saving portmap's ~50 ms of iptables calls per container.
CAPABILITY_ONLY_PLUGINS = frozenset({"portmap", "bandwidth"})
IFNAME = "eth0"
NETWORK = "bridge"  # Docker's name of the default network
PLUGIN_PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class CNIError(Internal):
    """A CNI plugin failed; carries the plugin and the CNI error code (spec section "Error")."""

    def __init__(self, plugin: str, command: str, code: int, msg: str, details: str = "") -> None:
        text = f"CNI plugin {plugin} {command} failed: {msg}"
        if details:
            text += f": {details}"
        super().__init__(text)
        self.plugin = plugin
        self.command = command
        self.code = code
        self.msg = msg
        self.details = details


# --------------------------------------------------------------------------- pure builders


def network_name(bridge_name: str) -> str:
    """The CNI network name; iptables chains and comments of the plugins derive from it."""
    return f"pouch-{bridge_name}"


def gateway_of(subnet: str) -> str:
    """The first host address of ``subnet`` (``192.168.5.0/24`` -> ``192.168.5.1``)."""
    net = ipaddress.ip_network(subnet, strict=False)
    return str(net.network_address + 1)


def build_port_mappings(bindings: Iterable[PortBinding]) -> list[dict]:
    """portmap's ``runtimeConfig.portMappings`` (CONVENTIONS.md "Port mappings").

    Host ports must be resolved (non-zero) by then; ``host_ip`` "" means all addresses.
    """
    out = []
    for b in bindings:
        if not b.host_port:
            raise Internal(f"port binding {b.container_port}/{b.protocol} has no host port")
        out.append(
            {"hostPort": b.host_port, "containerPort": b.container_port, "protocol": b.protocol or "tcp", "hostIP": b.host_ip}
        )
    return out


def build_runtime_config(bindings: Iterable[PortBinding]) -> dict:
    """Capability arguments for the whole conflist (libcni's ``CapabilityArgs``)."""
    mappings = build_port_mappings(bindings)
    return {"portMappings": mappings} if mappings else {}


def plugin_config(conflist: dict, plugin: dict, runtime_config: dict, prev_result: dict | None) -> dict:
    """The config piped to one plugin: the element plus name/cniVersion, the
    runtimeConfig keys it declares as capabilities, and the previous result."""
    conf = dict(plugin)
    conf["name"] = conflist["name"]
    conf["cniVersion"] = conflist["cniVersion"]
    caps = [k for k, on in (plugin.get("capabilities") or {}).items() if on]
    rc = {k: runtime_config[k] for k in caps if k in runtime_config}
    if rc:
        conf["runtimeConfig"] = rc
    if prev_result is not None:
        conf["prevResult"] = prev_result
    return conf


def active_conflist(conflist: dict, runtime_config: dict) -> dict:
    """``conflist`` without the capability-only plugins that have nothing to do."""
    def wanted(plugin: dict) -> bool:
        if plugin["type"] not in CAPABILITY_ONLY_PLUGINS:
            return True
        caps = [k for k, on in (plugin.get("capabilities") or {}).items() if on]
        return any(runtime_config.get(k) for k in caps)

    return dict(conflist, plugins=[p for p in conflist["plugins"] if wanted(p)])


def parse_result(result: dict, netns_path: str, bindings: Sequence[PortBinding] = (), ifname: str = IFNAME) -> NetworkAttachment:
    """The :class:`NetworkAttachment` of a CNI 1.0.0 result: the first IPv4 address on
    the container's ``ifname`` (the interface with a ``sandbox``), its gateway and MAC."""
    interfaces = result.get("interfaces") or []
    wanted = {i for i, itf in enumerate(interfaces) if itf.get("name") == ifname and itf.get("sandbox")}
    for ip in result.get("ips") or []:
        idx = ip.get("interface")
        if wanted and idx not in wanted:
            continue
        iface = ipaddress.ip_interface(ip["address"])
        if iface.version != 4:
            continue
        mac = interfaces[idx].get("mac", "") if isinstance(idx, int) and idx < len(interfaces) else ""
        return NetworkAttachment(
            network=NETWORK,
            netns_path=netns_path,
            ip_address=str(iface.ip),
            prefix_len=iface.network.prefixlen,
            gateway=ip.get("gateway", ""),
            mac_address=mac,
            port_bindings=tuple(bindings),
        )
    raise Internal(f"CNI result has no IPv4 address on {ifname}: {json.dumps(result)}")


def synthesize_result(attachment: NetworkAttachment, ifname: str = IFNAME) -> dict:
    """A minimal result for DEL when the cached ADD result is lost: enough for the
    firewall plugin to find the per-IP rules it has to remove."""
    if not attachment.ip_address:
        return {"cniVersion": CNI_VERSION, "interfaces": [], "ips": []}
    ip = {"interface": 0, "address": f"{attachment.ip_address}/{attachment.prefix_len}"}
    if attachment.gateway:
        ip["gateway"] = attachment.gateway
    return {
        "cniVersion": CNI_VERSION,
        "interfaces": [{"name": ifname, "mac": attachment.mac_address, "sandbox": attachment.netns_path}],
        "ips": [ip],
    }


def parse_plugin_error(stdout: bytes, stderr: bytes, returncode: int) -> tuple[int, str, str]:
    """(code, msg, details) of a failed plugin: its JSON error on stdout, else its stderr."""
    try:
        err = json.loads(stdout)
        if isinstance(err, dict) and "msg" in err:
            return int(err.get("code", returncode)), str(err["msg"]), str(err.get("details", ""))
    except ValueError:
        pass
    text = (stderr or stdout).decode(errors="replace").strip() or f"exit status {returncode}"
    return returncode, text, ""


def ipmasq_chain_name(network: str, container_id: str) -> str:
    """The bridge plugin's per-container masquerade chain (utils.FormatChainName)."""
    return "CNI-" + hashlib.sha512((network + container_id).encode()).hexdigest()[:24]


def ipmasq_cleanup_commands(nat_rules: str, chain: str) -> list[list[str]]:
    """iptables argv lists removing ``chain`` and the POSTROUTING rules jumping to it,
    from ``iptables-save -t nat`` output; [] when the chain is not there."""
    if f":{chain} " not in nat_rules:
        return []
    cmds = []
    for line in nat_rules.splitlines():
        args = shlex.split(line)
        if args[:2] == ["-A", "POSTROUTING"] and args[-2:] == ["-j", chain]:
            cmds.append(["iptables", "-w", "-t", "nat", "-D", *args[1:]])
    cmds.append(["iptables", "-w", "-t", "nat", "-F", chain])
    cmds.append(["iptables", "-w", "-t", "nat", "-X", chain])
    return cmds


_PER_CONTAINER_CHAIN = re.compile(r"^CNI-(DN-)?[0-9a-f]{16,}$")


def _in_subnet(value: str, subnet: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return net.version == subnet.version and net.subnet_of(subnet)  # type: ignore[arg-type]


def leftover_commands(table: str, rules: str, bridge: str, subnet: str) -> list[list[str]]:
    """iptables argv lists removing what the plugins of network ``pouch-<bridge>`` left
    in ``table`` (``iptables-save -t <table>`` output): rules naming the bridge, an
    address of ``subnet`` or the network in their comment, and the per-container chains
    (``CNI-<hash>``, ``CNI-DN-<hash>``) they jump to. Shared chains stay."""
    net = ipaddress.ip_network(subnet, strict=False)
    tag = f'name: "{network_name(bridge)}"'
    parsed = [shlex.split(line) for line in rules.splitlines() if line.startswith("-A ")]

    def ours(args: list[str]) -> bool:
        for flag, value in zip(args, args[1:]):
            if flag in ("-s", "-d") and _in_subnet(value, net):
                return True
            if flag in ("-i", "-o") and value == bridge:
                return True
            if flag == "--comment" and tag in value:
                return True
        return False

    matched = [args for args in parsed if ours(args)]
    doomed = {args[-1] for args in matched if args[-2] == "-j" and _PER_CONTAINER_CHAIN.match(args[-1])}
    ipt = ["iptables", "-w", "-t", table]
    cmds = [[*ipt, "-D", *args[1:]] for args in matched if args[1] not in doomed]
    cmds += [[*ipt, "-F", chain] for chain in sorted(doomed)]
    cmds += [[*ipt, "-X", chain] for chain in sorted(doomed)]
    return cmds


# --------------------------------------------------------------------------- IO


def remove_ipmasq_leftovers(network: str, container_id: str) -> None:
    """Remove the bridge plugin's masquerade chain of a container whose netns vanished
    (its DEL then skips the chain: it learns the addresses from the netns)."""
    save = process.run(["iptables-save", "-t", "nat"])
    for argv in ipmasq_cleanup_commands(save.stdout.decode(), ipmasq_chain_name(network, container_id)):
        result = process.run(argv)
        if not result.ok:
            log.warning("%s: %s", shlex.join(argv), result.stderr.decode(errors="replace").strip())


@dataclass(frozen=True)
class Invocation:
    """Where and for whom plugins run (the CNI_* environment, minus the command)."""

    container_id: str
    netns_path: str
    plugin_dirs: tuple[str, ...]
    ifname: str = IFNAME

    def env(self, command: str) -> dict[str, str]:
        return {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": self.container_id,
            "CNI_NETNS": self.netns_path,
            "CNI_IFNAME": self.ifname,
            "CNI_PATH": os.pathsep.join(self.plugin_dirs),
            "PATH": PLUGIN_PATH_ENV,
        }


def find_plugin(name: str, plugin_dirs: Sequence[str]) -> str:
    for d in plugin_dirs:
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    raise CNIError(name, "lookup", 0, f"plugin not found in {os.pathsep.join(plugin_dirs) or '(no CNI plugin dirs)'}")


def exec_plugin(plugin: str, command: str, conf: dict, inv: Invocation) -> dict | None:
    """Run one plugin binary; return its parsed stdout (ADD result) or None (DEL/CHECK)."""
    path = find_plugin(plugin, inv.plugin_dirs)
    started = time.perf_counter()
    proc = process.run([path], input=json.dumps(conf).encode(), env=inv.env(command))
    log.debug("cni %s %s %s: rc=%d in %.1f ms", plugin, command, inv.container_id[:12], proc.returncode,
              (time.perf_counter() - started) * 1000)
    if proc.returncode != 0:
        raise CNIError(plugin, command, *parse_plugin_error(proc.stdout, proc.stderr, proc.returncode))
    if command != "ADD":
        return None
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise CNIError(plugin, command, 0, f"invalid result: {proc.stdout[:200]!r}") from None


def exec_add(conflist: dict, inv: Invocation, runtime_config: dict) -> dict:
    """ADD the container to the network: each plugin in order, each given the previous result.

    If a plugin fails, the plugins run so far (the failing one included: it may have
    done part of its work) get a DEL in reverse order before the error is raised.
    """
    conflist = active_conflist(conflist, runtime_config)
    result: dict | None = None
    for n, plugin in enumerate(conflist["plugins"]):
        conf = plugin_config(conflist, plugin, runtime_config, result)
        try:
            result = exec_plugin(plugin["type"], "ADD", conf, inv)
        except CNIError:
            done = dict(conflist, plugins=conflist["plugins"][: n + 1])
            exec_del(done, inv, runtime_config, result)
            raise
    assert result is not None
    return result


def exec_del(conflist: dict, inv: Invocation, runtime_config: dict, prev_result: dict | None) -> list[CNIError]:
    """DEL the container from the network: each plugin in reverse order, all of them even if
    some fail (the spec wants DEL to succeed on missing state); returns the failures."""
    conflist = active_conflist(conflist, runtime_config)
    errors: list[CNIError] = []
    for plugin in reversed(conflist["plugins"]):
        conf = plugin_config(conflist, plugin, runtime_config, prev_result)
        try:
            exec_plugin(plugin["type"], "DEL", conf, inv)
        except CNIError as exc:
            log.warning("%s", exc.message)
            errors.append(exc)
    return errors
