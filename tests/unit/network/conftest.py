"""Fixtures for the network tests: a throw-away bridge, subnet and daemon root.

Tests needing root and Debian's CNI plugins use ``net_env`` (one per session:
bridge ``pt<hex>``, subnet ``10.213.<n>.0/24``, root under /tmp) and
``no_leaks``, which counts iptables rules (filter + nat), links, nsfs mounts,
IPAM allocations and cached results before and after the test.

The session warm-up makes the bridge and the shared CNI chains (CNI-FORWARD,
CNI-HOSTPORT-*) exist before any test counts; the finalizer removes the bridge,
those chains if this session created them (and they are empty again), restores
net.ipv4.ip_forward and unmounts the netns dir.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import pytest

from pouch.config import DaemonConfig
from pouch.models import PortBinding
from pouch.network import netns
from pouch.network.manager import IP_FORWARD, NetworkManager, remove_network_leftovers

PLUGIN_DIR = "/usr/lib/cni"
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def _run(*argv: str, check: bool = True) -> str:
    return subprocess.run(argv, capture_output=True, text=True, env=ENV, check=check).stdout


def iptables_rules() -> list[str]:
    """filter + nat rules and chains, without comments and counters."""
    out = []
    for table in ("filter", "nat"):
        for line in _run("iptables-save", "-t", table).splitlines():
            if line.startswith("#"):
                continue
            out.append(line.split(" [")[0] if line.startswith(":") else line)
    return out


def nsfs_mounts(below: str = "/") -> int:
    """nsfs mounts below ``below`` (other daemons on the host pin theirs elsewhere)."""
    with open("/proc/self/mountinfo") as f:
        return sum(1 for line in f if " - nsfs " in line and line.split()[4].startswith(below))


def links() -> int:
    return len(_run("ip", "-o", "link").splitlines())


def bridge_ports(bridge: str) -> list[str]:
    """The veths attached to ``bridge`` (a leaked endpoint keeps its host side there)."""
    path = f"/sys/class/net/{bridge}/brif"
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def our_iptables_rules(bridge: str, subnet: str) -> list[str]:
    """The filter + nat lines of this session's network: rules naming its bridge, subnet or
    CNI network, and the per-container chains those rules jump to (other daemons on the
    host add and remove their own rules meanwhile)."""
    prefix = subnet.rsplit(".", 1)[0] + "."
    lines = iptables_rules()
    ours = [line for line in lines if line.startswith("-A ") and
            (bridge in line or prefix in line or f"pouch-{bridge}" in line)]
    chains = {line.split()[-1] for line in ours if " -j CNI-" in line}
    ours += [line for line in lines if line.startswith("-A ") and line.split()[1] in chains]
    return ours + [line for line in lines if line.startswith(":") and line[1:].split()[0] in chains]


@dataclass
class NetEnv:
    config: DaemonConfig
    manager: NetworkManager

    @property
    def ipam_dir(self) -> str:
        return os.path.join(self.config.cni_dir, "ipam", self.manager.conflist["name"])

    def allocations(self) -> list[str]:
        if not os.path.isdir(self.ipam_dir):
            return []
        return sorted(n for n in os.listdir(self.ipam_dir) if n[0].isdigit())

    def snapshot(self) -> dict:
        results = os.path.join(self.config.cni_dir, "results")
        return {
            "iptables": len(our_iptables_rules(self.config.bridge_name, self.config.bridge_subnet)),
            "links": bridge_ports(self.config.bridge_name),
            "nsfs": nsfs_mounts(self.config.netns_dir),
            "netns_files": sorted(os.listdir(self.config.netns_dir)),
            "ipam": self.allocations(),
            "results": sorted(os.listdir(results)) if os.path.isdir(results) else [],
        }


def _free_subnet() -> str:
    routes = _run("ip", "-o", "route")
    candidates = [n for n in range(1, 255) if f"10.213.{n}." not in routes]
    return f"10.213.{random.choice(candidates)}.0/24"


def _remove_shared_chains(before: list[str]) -> None:
    """Remove the plugins' shared chains if this session created them and they are empty."""
    rules = iptables_rules()
    filter_rules, nat_rules = rules[: rules.index("COMMIT") + 1], rules[rules.index("COMMIT") + 1 :]

    def created(chain: str) -> bool:
        return not any(line.startswith(f":{chain} ") for line in before) and any(
            line.startswith(f":{chain} ") for line in rules
        )

    def body(table_rules: list[str], chain: str) -> list[str]:
        return [line for line in table_rules if line.startswith(f"-A {chain} ")]

    ipt = lambda *a: _run("iptables", "-w", *a, check=False)  # noqa: E731
    if created("CNI-FORWARD") and created("CNI-ADMIN") and not body(filter_rules, "CNI-ADMIN") \
            and len(body(filter_rules, "CNI-FORWARD")) == 1:
        ipt("-D", "FORWARD", "-m", "comment", "--comment", "CNI firewall plugin rules", "-j", "CNI-FORWARD")
        for chain in ("CNI-FORWARD", "CNI-ADMIN"):
            ipt("-F", chain)
            ipt("-X", chain)
    if created("CNI-HOSTPORT-DNAT") and not body(nat_rules, "CNI-HOSTPORT-DNAT"):
        for chain in ("PREROUTING", "OUTPUT"):
            ipt("-t", "nat", "-D", chain, "-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT")
        ipt("-t", "nat", "-D", "POSTROUTING", "-m", "comment", "--comment", "CNI portfwd requiring masquerade",
            "-j", "CNI-HOSTPORT-MASQ")
        for chain in ("CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"):
            ipt("-t", "nat", "-F", chain)
            ipt("-t", "nat", "-X", chain)


@pytest.fixture(scope="session")
def net_env():
    if os.geteuid() != 0 or not os.access(os.path.join(PLUGIN_DIR, "bridge"), os.X_OK):
        pytest.skip("needs root and the CNI plugins in /usr/lib/cni")
    before = iptables_rules()
    with open(IP_FORWARD) as f:
        ip_forward = f.read().strip()
    root = tempfile.mkdtemp(prefix="pouch-net-")
    bridge = f"pt{secrets.token_hex(4)}"
    config = DaemonConfig(
        root=os.path.join(root, "root"), exec_root=os.path.join(root, "run"), bridge_name=bridge,
        bridge_subnet=_free_subnet(), cni_plugin_dirs=(PLUGIN_DIR,),
    )
    manager = NetworkManager(config)
    try:
        manager.ensure_ready()
        # warm-up: creates the bridge and the plugins' shared chains before tests count
        cid = "0" * 64
        manager.teardown(cid, manager.setup(cid, "bridge", [PortBinding(80)]))
        yield NetEnv(config, manager)
    finally:
        for name in os.listdir(config.netns_dir) if os.path.isdir(config.netns_dir) else ():
            netns.delete_netns(os.path.join(config.netns_dir, name))
        _run("ip", "link", "del", bridge, check=False)
        remove_network_leftovers(bridge, config.bridge_subnet)
        _remove_shared_chains(before)
        with open(IP_FORWARD, "w") as f:
            f.write(ip_forward)
        netns.release_netns_dir(config.netns_dir)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def no_leaks(net_env):
    """Prove the test left no rule, link, netns, IP allocation or cached result behind."""
    before = net_env.snapshot()
    yield net_env
    assert net_env.snapshot() == before
