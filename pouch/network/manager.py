"""Networking of one container, by network mode: the only entry point services use.

- ``bridge``: a fresh netns (lo up) attached to the daemon's bridge by CNI
  (bridge + host-local, portmap, firewall). The ADD result is cached in
  ``cni_dir/results/<id>.json`` (like libcni's cache) so DEL gets ``prevResult``
  and the port mappings it was created with, even after a daemon restart.
- ``none``: a fresh netns with only ``lo`` up.
- ``host``: nothing; the container stays in the host's netns (``None``).
- ``container:X``: the caller resolves X and passes its netns path; the
  attachment points there and owns nothing.

Setup runs inside an ExitStack: a failure undoes every step done so far.
Teardown is idempotent and tolerates vanished state (netns gone after a reboot,
no cached result after a crash between ADD and the cache write).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

from pouch.events import EventBus
from pouch import process
from pouch.config import DaemonConfig
from pouch.errors import InvalidArgument
from pouch.models import NetworkAttachment, PortBinding
from pouch.network import cni, netns
from pouch.network.etcfiles import (  # noqa: F401  (re-exported: the per-container files)
    build_hostname,
    build_hosts,
    build_resolv_conf,
    write_hostname,
    write_hosts,
    write_file_atomic,
    write_resolv_conf,
)

log = logging.getLogger(__name__)

IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"


def parse_mode(mode: str) -> tuple[str, str]:
    """``bridge|default|none|host|container:X`` -> (kind, X)."""
    if mode in ("", "default", "bridge"):
        return "bridge", ""
    if mode in ("none", "host"):
        return mode, ""
    kind, sep, target = mode.partition(":")
    if kind == "container" and sep and target:
        return "container", target
    raise InvalidArgument(f"network mode {mode!r} is not supported (bridge, none, host, container:NAME)")


FORWARD_CHAIN_PARENT = {"filter": "FORWARD", "nat": "POSTROUTING"}


def static_chain(bridge: str) -> str:
    return f"POUCH-{bridge}"


def static_rules(bridge: str, subnet: str) -> dict[str, list[list[str]]]:
    """The rules every container of the network shares, by table (pure).

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


def install_static_rules(bridge: str, subnet: str) -> None:
    """Create (or refresh) the network's chains and the jumps to them; idempotent."""
    chain = static_chain(bridge)
    for table, rules in static_rules(bridge, subnet).items():
        ipt = ["iptables", "-w", "-t", table]
        if not process.run([*ipt, "-N", chain]).ok:
            process.run([*ipt, "-F", chain])
        for rule in rules:
            result = process.run([*ipt, "-A", chain, *rule])
            if not result.ok:
                raise InvalidArgument(f"iptables: {result.stderr.decode(errors='replace').strip()}")
        parent = FORWARD_CHAIN_PARENT[table]
        if not process.run([*ipt, "-C", parent, "-j", chain]).ok:
            process.run([*ipt, "-I", parent, "1", "-j", chain])


def remove_static_rules(bridge: str) -> list[str]:
    chain = static_chain(bridge)
    done = []
    for table, parent in FORWARD_CHAIN_PARENT.items():
        ipt = ["iptables", "-w", "-t", table]
        while process.run([*ipt, "-D", parent, "-j", chain]).ok:
            done.append(shlex.join([*ipt, "-D", parent, "-j", chain]))
        if process.run([*ipt, "-F", chain]).ok and process.run([*ipt, "-X", chain]).ok:
            done.append(shlex.join([*ipt, "-X", chain]))
    return done


def resolve_host_ports(bindings: Sequence[PortBinding]) -> tuple[PortBinding, ...]:
    """Give every ``-p containerPort`` without a host port a free one chosen by the kernel."""
    out = []
    for b in bindings:
        if not b.host_port:
            kind = socket.SOCK_DGRAM if b.protocol == "udp" else socket.SOCK_STREAM
            with socket.socket(socket.AF_INET, kind) as s:
                s.bind((b.host_ip or "0.0.0.0", 0))
                b = replace(b, host_port=s.getsockname()[1])
        out.append(b)
    return tuple(out)


class NetworkManager:
    def __init__(self, config: DaemonConfig) -> None:
        self.events = EventBus()  # the daemon's bus replaces it (daemon.build_engine)
        self.config = config
        self.conflist = cni.build_conflist(
            config.bridge_name, config.bridge_subnet, os.path.join(config.cni_dir, "ipam")
        )

    # ------------------------------------------------------------------ layout
    @property
    def conflist_path(self) -> str:
        return os.path.join(self.config.cni_dir, f"{self.conflist['name']}.conflist")

    @property
    def gateway(self) -> str:
        """The bridge's address: what ``--add-host x:host-gateway`` resolves to."""
        return cni.gateway_of(self.config.bridge_subnet)

    def netns_path(self, container_id: str) -> str:
        return os.path.join(self.config.netns_dir, container_id)

    def _result_path(self, container_id: str) -> str:
        return os.path.join(self.config.cni_dir, "results", f"{container_id}.json")

    def _invocation(self, container_id: str, netns_path: str) -> cni.Invocation:
        return cni.Invocation(container_id, netns_path, tuple(self.config.cni_plugin_dirs))

    # ------------------------------------------------------------------ lifecycle
    def ensure_ready(self) -> None:
        """Daemon startup: conflist on disk, IPv4 forwarding on, shared netns dir."""
        os.makedirs(os.path.join(self.config.cni_dir, "results"), exist_ok=True)
        write_file_atomic(self.conflist_path, json.dumps(self.conflist, indent=2) + "\n")
        with open(IP_FORWARD, "r+") as f:
            if f.read().strip() != "1":
                f.seek(0)
                f.write("1")
        netns.ensure_netns_dir(self.config.netns_dir)
        install_static_rules(self.config.bridge_name, self.config.bridge_subnet)

    def setup(
        self,
        container_id: str,
        mode: str,
        port_bindings: Sequence[PortBinding] = (),
        other_netns: str | None = None,
        alongside: Callable[[str | None], None] | None = None,
    ) -> NetworkAttachment | None:
        """Give the container its network; on failure nothing is left behind.

        ``alongside(netns_path)`` (optional) runs in the calling thread once the
        namespace exists (None for the host's), while the CNI plugins configure it
        on another: the caller creates the container in the meantime. If either
        fails, the network is undone and the error raised.
        """
        kind, _ = parse_mode(mode)
        if kind == "host":
            if alongside:
                alongside(None)
            return None
        if kind == "container":
            if not other_netns:
                raise InvalidArgument(f"network mode {mode!r}: the container has no network namespace")
            if alongside:
                alongside(other_netns)
            return NetworkAttachment(network="container", netns_path=other_netns)
        if kind == "none":
            # the runtime makes a fresh namespace with only lo up: nothing to name or undo
            if alongside:
                alongside("")
            return NetworkAttachment(network="none", netns_path="")
        path = self.netns_path(container_id)
        if os.path.lexists(path) or os.path.exists(self._result_path(container_id)):
            # left over by a daemon that died before tearing the container down
            log.info("container %s: removing stale network state", container_id[:12])
            self.teardown(container_id, None)
        with contextlib.ExitStack() as undo:
            netns.create_netns(path)
            undo.callback(netns.delete_netns, path)
            bindings = resolve_host_ports(port_bindings)
            outcome: dict[str, object] = {}

            def add() -> None:
                try:
                    outcome["attachment"] = self._cni_add(undo, container_id, path, bindings)
                except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
                    outcome["error"] = err

            worker = threading.Thread(target=add, name=f"cni-add-{container_id[:12]}")
            worker.start()
            try:
                if alongside:
                    alongside(path)
            finally:
                worker.join()
            if "error" in outcome:
                raise outcome["error"]  # type: ignore[misc]
            attachment = outcome["attachment"]  # type: ignore[assignment]
            undo.pop_all()
        return attachment

    def _cni_add(self, undo: contextlib.ExitStack, container_id: str, path: str,
                 bindings: tuple[PortBinding, ...]) -> NetworkAttachment:
        inv = self._invocation(container_id, path)
        runtime_config = cni.build_runtime_config(bindings)
        # cached before ADD too (without a result), so a daemon dying mid-ADD leaves
        # teardown enough to DEL what the plugins did
        cache = self._result_path(container_id)
        self._write_cache(cache, None, runtime_config)
        undo.callback(_unlink, cache)
        result = cni.exec_add(self.conflist, inv, runtime_config)
        undo.callback(cni.exec_del, self.conflist, inv, runtime_config, result)
        attachment = cni.parse_result(result, path, bindings)
        self._write_cache(cache, result, runtime_config)
        return attachment

    @staticmethod
    def _write_cache(path: str, result: dict | None, runtime_config: dict) -> None:
        write_file_atomic(path, json.dumps({"result": result, "runtimeConfig": runtime_config}), 0o600)

    def teardown(self, container_id: str, attachment: NetworkAttachment | None) -> None:
        """Undo :meth:`setup`; idempotent, tolerant of state that is already gone.

        CNI DEL failures are logged, not raised: a container must stay removable.
        """
        if attachment is not None and attachment.network in ("container", "none"):
            return  # the netns belongs to the other container, or to the runtime
        path = self.netns_path(container_id)
        if attachment is None or attachment.network == cni.NETWORK:
            self._cni_del(container_id, path, attachment)
        netns.delete_netns(path)

    def _cni_del(self, container_id: str, path: str, attachment: NetworkAttachment | None) -> None:
        cache_path = self._result_path(container_id)
        try:
            with open(cache_path, encoding="utf-8") as f:
                cache = json.load(f)
            prev, runtime_config = cache["result"], cache.get("runtimeConfig") or {}
        except (FileNotFoundError, ValueError, KeyError):
            if attachment is None:
                return  # never attached (or already torn down): nothing to DEL
            prev = cni.synthesize_result(attachment)
            runtime_config = cni.build_runtime_config(attachment.port_bindings)
        had_netns = netns.netns_exists(path)
        errors = cni.exec_del(self.conflist, self._invocation(container_id, path), runtime_config, prev)
        if not had_netns:
            cni.remove_ipmasq_leftovers(self.conflist["name"], container_id)
        if errors:
            log.warning("container %s: CNI DEL left %d error(s); first: %s", container_id[:12], len(errors), errors[0])
        _unlink(cache_path)


def remove_network_leftovers(bridge: str, subnet: str) -> list[str]:
    """Remove iptables rules and per-container chains a daemon's network left behind
    (tests, ``pouchd`` uninstall); returns the commands run, so tests can assert it is
    empty. The network's static chains go too; the bridge link and the plugins'
    shared chains are not touched."""
    done = remove_static_rules(bridge)
    for table in ("filter", "nat"):
        save = process.run(["iptables-save", "-t", table])
        for argv in cni.leftover_commands(table, save.stdout.decode(), bridge, subnet):
            process.run(argv)
            done.append(shlex.join(argv))
    return done


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
