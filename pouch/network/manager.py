"""Networking of sandboxes, and the networks themselves: the only entry point services use.

A *sandbox* (``network/sandbox.py``: the values of this seam, and how the CRI will use it)
is a network namespace with its interfaces, published ports and files; a container owns
one (id: the container's) or joins another's (``container:X``). By network mode:

- ``bridge`` or a user-defined network's name: a fresh netns (lo up) with one
  interface per connected network (eth0, eth1...), each added by CNI (bridge +
  host-local, portmap) from the network's conflist (``networks.build_conflist``). The
  ADD result of each interface is cached in ``cni_dir/results/<id>.json`` (eth0) or
  ``<id>.<ifname>.json`` with the conflist and runtimeConfig it was made with (like
  libcni's cache), so DEL works after a daemon restart, a crash or a network removal.
  A pod's sandbox made from a conflist as it is (``SandboxConfig.conflist``) is cached alike.
- ``none``: a fresh netns with only ``lo`` up, made by the runtime.
- ``host``: nothing; the container stays in the host's netns (``None``).
- ``container:X``: the container service resolves X's namespace (:meth:`NetworkManager.join_sandbox`);
  the attachment points there and owns nothing.

Per network (``create``, ``remove``, ``prune``): the record in SQLite
(``metadata/networks.py``), the bridge link and the static iptables chains (``hostnet.py``),
the host-local lease directory. ``connect``/``disconnect`` do the CNI work of ``network
connect``/``disconnect`` and return what changed (``sandbox.Connection``): the container
service records it, under the container's lock. Names on user-defined networks are kept in
every container's /etc/hosts (``hostsync.py``) by :meth:`NetworkManager.refresh_hosts`. The
running containers are read through ``active_containers``; no container record is written here.

Setup runs inside an ExitStack: a failure undoes every step done so far.
Teardown is idempotent and tolerates vanished state (netns gone after a reboot,
no cached result after a crash between ADD and the cache write).
"""

from __future__ import annotations

import contextlib
import glob
import ipaddress
import json
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from pouch.config import DaemonConfig
from pouch.errors import Conflict, Forbidden, InvalidArgument, NotFound
from pouch.events import EventBus
from pouch.metadata import networks as store
from pouch.metadata.db import Database
from pouch.models import (
    Container,
    CreateOptions,
    Endpoint,
    EndpointConfig,
    NetworkAttachment,
    NetworkKind,
    NetworkMode,
    PortBinding,
    parse_network_mode,
)
from pouch.network import cni, hostnet, hostsync, netns, networks, ports
from pouch.network.etcfiles import (  # noqa: F401  (re-exported: the per-container files)
    build_hostname,
    build_hosts,
    build_resolv_conf,
    write_file_atomic,
    write_hostname,
    write_hosts,
    write_resolv_conf,
)
from pouch.network.hostnet import remove_network_leftovers  # noqa: F401 (re-exported: tests, uninstall)
from pouch.network.networks import (  # noqa: F401 (re-exported)
    NetworkRecord,
    endpoint_configs,
    endpoint_configs_of,
    endpoints_of,
)
from pouch.network.sandbox import Connection, Sandbox, SandboxConfig, write_files
from pouch.timestamps import now_rfc3339

log = logging.getLogger(__name__)

IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"

# (undo stack, netns path, port bindings) -> the interfaces added, their undo pushed on the stack
AddInterfaces = Callable[[contextlib.ExitStack, str, tuple[PortBinding, ...]], list[Endpoint]]


def attachment_of(netns_path: str, endpoints: Sequence[Endpoint], bindings: Sequence[PortBinding]) -> NetworkAttachment:
    """The attachment of a netns with ``endpoints``: the top-level fields are the first one's."""
    if not endpoints:
        return NetworkAttachment(network="none", netns_path=netns_path)
    first = endpoints[0]
    return NetworkAttachment(network=first.network, netns_path=netns_path, ip_address=first.ip_address,
                             prefix_len=first.prefix_len, gateway=first.gateway, mac_address=first.mac_address,
                             port_bindings=tuple(bindings), endpoints=tuple(endpoints))


ActiveContainers = Callable[[], list[Container]]  # the running (or paused, restarting) containers, read-only


class NetworkManager:
    """The network service: networks, sandboxes (namespaces, interfaces, published ports, their
    files) and the names kept in hosts files. It reads the running containers through
    ``active_containers`` (who is on a network, which host ports are taken) and never writes
    a container record (``services/containers.py`` records what it returns)."""

    def __init__(self, config: DaemonConfig, db: Database | None = None, events: EventBus | None = None,
                 active_containers: ActiveContainers = list) -> None:
        self.events = events or EventBus()
        self.config = config
        self.db = db  # None: only the predefined networks (unit tests)
        self.active_containers = active_containers
        self.default = networks.predefined(config.bridge_name, config.bridge_subnet)[0]
        self.conflist = networks.build_conflist(self.default, self.ipam_dir)
        self._lock = threading.RLock()  # network create/remove (connect/disconnect hold the container lock)
        self._hosts_lock = threading.Lock()
        self._hosts_written: dict[str, tuple[str, ...]] = {}  # container -> the peer lines its hosts file has
        self._ports_lock = threading.Lock()  # host port choice
        self._reserved: dict[str, ports.Used] = {}  # container -> host ports it took (starts in flight)
        # container -> ids of the networks it is being set up on, from the moment setup reads their
        # records until teardown: `network rm` refuses them even before the container is recorded
        # running. A leaf lock: nothing else is taken while it is held.
        self._membership_lock = threading.Lock()
        self._joining: dict[str, frozenset[str]] = {}
        self.started = now_rfc3339()  # the predefined networks' Created

    # ------------------------------------------------------------------ layout
    @property
    def ipam_dir(self) -> str:
        return os.path.join(self.config.cni_dir, "ipam")

    @property
    def conflist_path(self) -> str:
        return self._conflist_path(self.default)

    def _conflist_path(self, rec: NetworkRecord) -> str:
        return os.path.join(self.config.cni_dir, f"{networks.cni_name(rec.bridge)}.conflist")

    @property
    def gateway(self) -> str:
        """The bridge's address: what ``--add-host x:host-gateway`` resolves to."""
        return cni.gateway_of(self.config.bridge_subnet)

    def netns_path(self, container_id: str) -> str:
        return os.path.join(self.config.netns_dir, container_id)

    def _result_path(self, container_id: str, ifname: str = cni.IFNAME) -> str:
        name = container_id if ifname == cni.IFNAME else f"{container_id}.{ifname}"
        return os.path.join(self.config.cni_dir, "results", f"{name}.json")

    def _invocation(self, container_id: str, netns_path: str, ifname: str = cni.IFNAME) -> cni.Invocation:
        return cni.Invocation(container_id, netns_path, tuple(self.config.cni_plugin_dirs), ifname)

    def _hosts_path(self, container_id: str) -> str:
        return os.path.join(self.config.container_dir(container_id), "hosts")

    # ------------------------------------------------------------------ records
    def records(self) -> list[NetworkRecord]:
        """Every network: the predefined ones, then the user-defined ones by creation time."""
        builtin = [replace(r, created=self.started) for r in
                   networks.predefined(self.config.bridge_name, self.config.bridge_subnet)]
        return builtin + ([NetworkRecord.from_dict(d) for d in store.list_all(self.db)] if self.db is not None else [])

    def get(self, ref: str) -> NetworkRecord:
        rec = networks.find(self.records(), ref)
        if rec is None:
            raise NotFound(f"network {ref} not found")
        return rec

    def _store(self) -> Database:
        if self.db is None:
            raise InvalidArgument("networks cannot be created or removed without the daemon's database")
        return self.db

    def _record_by_id(self, network_id: str) -> NetworkRecord | None:
        return next((r for r in self.records() if r.id == network_id), None)

    def members(self, rec: NetworkRecord) -> list[tuple[Container, Endpoint]]:
        """(container, endpoint) of the running containers on ``rec``."""
        out: list[tuple[Container, Endpoint]] = []
        for c in self._active_containers():
            for ep in endpoints_of(c.network):
                if ep.network_id == rec.id or (not ep.network_id and ep.network == rec.name):
                    out.append((c, ep))
        return out

    # ------------------------------------------------------------------ daemon start
    def ensure_ready(self) -> None:
        """Daemon startup: conflists on disk, IPv4 forwarding on, shared netns dir, every
        network's bridge and rules, and the containers' hosts files up to date."""
        os.makedirs(os.path.join(self.config.cni_dir, "results"), exist_ok=True)
        write_file_atomic(self.conflist_path, json.dumps(self.conflist, indent=2) + "\n")
        with open(IP_FORWARD, "r+") as f:
            if f.read().strip() != "1":
                f.seek(0)
                f.write("1")
        netns.ensure_netns_dir(self.config.netns_dir)
        hostnet.install_static_rules(self.config.bridge_name, self.config.bridge_subnet)
        for rec in self.records():
            if rec.user_defined:
                self._install_network(rec)
        self._sync_isolation()
        self.refresh_hosts()

    def _install_network(self, rec: NetworkRecord) -> None:
        hostnet.ensure_bridge(rec.bridge, rec.gateway, ipaddress.ip_network(rec.subnet).prefixlen, rec.mtu)
        hostnet.install_chain(networks.static_chain(rec.bridge), networks.network_rules(rec))
        lease_dir = os.path.join(self.ipam_dir, networks.cni_name(rec.bridge))
        os.makedirs(lease_dir, exist_ok=True)
        for addr in networks.reserved_addresses(rec):  # host-local never hands out a leased address
            path = os.path.join(lease_dir, addr)
            if not os.path.exists(path):
                write_file_atomic(path, "pouch-aux-address\naux", 0o644)
        write_file_atomic(self._conflist_path(rec), json.dumps(networks.build_conflist(rec, self.ipam_dir), indent=2) + "\n")

    def _sync_isolation(self) -> None:
        chain = networks.isolation_chain(self.config.bridge_name)
        hostnet.install_chain(chain, {"filter": networks.isolation_rules(self.records())}, first=True)

    # ------------------------------------------------------------------ network life cycle
    def create(self, req: networks.CreateRequest) -> NetworkRecord:
        """``network create``: record, bridge, rules; on failure nothing is left."""
        with self._lock:
            recs = self.records()
            ours = {r.bridge for r in recs if r.bridge}
            rec = networks.record_from_request(
                req, secrets.token_hex(32), now_rfc3339(),
                taken_subnets=[r.subnet for r in recs if r.subnet],
                host_routes=[r for r in hostnet.host_routes()
                             if not networks.overlapping(r, [x.subnet for x in recs if x.subnet])],
                taken_names=[r.name for r in recs], taken_bridges=ours,
            )
            if hostnet.link_exists(rec.bridge):
                raise Conflict(f"bridge {rec.bridge} already exists on the host: choose another "
                               f"com.docker.network.bridge.name")
            with contextlib.ExitStack() as undo:
                undo.callback(self._uninstall_network, rec)
                self._install_network(rec)
                store.insert(self._store(), rec.to_dict())
                undo.callback(store.delete, self._store(), rec.id)
                self._sync_isolation()
                undo.pop_all()
        log.info("created network %s (%s) on %s, %s", rec.name, rec.id[:12], rec.bridge, rec.subnet)
        self.events.emit("network", "create", rec.id, {"name": rec.name, "type": rec.driver})
        return rec

    def _uninstall_network(self, rec: NetworkRecord) -> None:
        hostnet.remove_chain(networks.static_chain(rec.bridge))
        hostnet.delete_link(rec.bridge)
        shutil.rmtree(os.path.join(self.ipam_dir, networks.cni_name(rec.bridge)), ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._conflist_path(rec))

    def remove(self, ref: str) -> None:
        """``network rm``: refused for the predefined networks and while containers run on it."""
        with self._lock:
            rec = self.get(ref)
            if rec.builtin:
                raise Forbidden(f"{rec.name} is a pre-defined network and cannot be removed")
            with self._membership_lock:  # a container starting on it now either is seen here or sees it gone
                if self.members(rec) or any(rec.id in ids for ids in self._joining.values()):
                    raise Forbidden(f"error while removing network: network {rec.name} id {rec.id} has active endpoints")
                store.delete(self._store(), rec.id)
            self._uninstall_network(rec)
            self._sync_isolation()
        log.info("removed network %s (%s)", rec.name, rec.id[:12])
        self.events.emit("network", "destroy", rec.id, {"name": rec.name, "type": rec.driver})

    def prune(self, keep: Callable[[NetworkRecord], bool] = lambda rec: False) -> list[str]:
        """``network prune``: every user-defined network no running container uses (and
        ``keep`` does not keep); returns their names."""
        removed = []
        for rec in self.records():
            if not rec.user_defined or keep(rec) or self.members(rec):
                continue
            try:
                self.remove(rec.id)
            except (Forbidden, NotFound):
                continue
            removed.append(rec.name)
        return removed

    # ------------------------------------------------------------------ container create
    def prepare_create(self, opts: CreateOptions) -> CreateOptions:
        """``opts`` with its networks resolved and checked (404 for an unknown network):
        the mode's network first, each with its id."""
        mode = opts.network
        if opts.cni_conflist is not None:  # a pod's sandbox: eth0 from the conflist, no Pouch network
            return replace(opts, networks=())
        if not mode.has_own_netns or mode.is_none:
            extra = [e for e in opts.networks or () if e.network not in (opts.network_mode, "host", "none")]
            if extra:
                raise InvalidArgument(f"conflicting options: network mode {opts.network_mode} cannot be combined "
                                      f"with network {extra[0].network}")
            return replace(opts, networks=())
        primary = self.get("bridge" if mode.kind == NetworkKind.BRIDGE else mode.target)
        if primary.driver != "bridge":
            return replace(opts, network_mode=primary.name, networks=())
        given = {e.network: e for e in opts.networks or ()}
        first = given.pop(opts.network_mode, None) or given.pop(primary.name, None) or EndpointConfig(primary.name)
        configs = []
        for cfg in (first, *given.values()):
            rec = primary if cfg is first else self.get(cfg.network)
            if not rec.is_bridge:
                raise InvalidArgument(f"container cannot be connected to network {rec.name} and to others")
            networks.validate_endpoint(rec, cfg.ipv4_address, cfg.mac_address, cfg.aliases)
            configs.append(replace(cfg, network=rec.name, network_id=rec.id))
        return replace(opts, networks=tuple(configs))

    # ------------------------------------------------------------------ sandboxes
    def create_sandbox(self, sandbox_id: str, cfg: SandboxConfig,
                       alongside: Callable[[str | None], None] | None = None) -> Sandbox:
        """A sandbox (see ``network/sandbox.py``): its files, its namespace and interfaces, the
        names of its peers; on failure nothing of the namespace is left behind.

        ``alongside(netns_path)`` runs in the calling thread once the namespace exists (None
        for the host's, "" for one the runtime makes) while the CNI plugins configure it on
        another thread: the container service creates the container meanwhile. The hosts
        file gets the sandbox's address in place afterwards, before any process runs."""
        if cfg.mode.joins_container:
            raise InvalidArgument(f"network mode container:{cfg.mode.target} joins a sandbox, it makes none")
        self.write_sandbox_files(cfg)
        configs = endpoint_configs_of(cfg.mode) if cfg.networks is None else tuple(cfg.networks)
        exposed = cfg.exposed_ports if cfg.publish_all else None
        attachment = self._attach(sandbox_id, cfg.mode, configs, cfg.port_bindings, exposed, alongside,
                                  conflist=cfg.conflist, make_netns=cfg.make_netns)
        with contextlib.ExitStack() as undo:
            undo.callback(self.remove_sandbox, sandbox_id, attachment)
            if attachment is not None and attachment.ip_address:
                self.write_sandbox_files(cfg, attachment.ip_address, in_place=True)
            self.write_peers(sandbox_id, cfg.name, attachment)  # names on user-defined networks
            undo.pop_all()
        netns_path = None if attachment is None else attachment.netns_path
        return Sandbox(sandbox_id, netns_path, attachment, cfg.files)

    def join_sandbox(self, netns_path: str | None,
                     alongside: Callable[[str | None], None] | None = None) -> NetworkAttachment:
        """``container:X``: the attachment of a container in X's sandbox (``netns_path``, resolved
        by the container service); it owns nothing there."""
        if not netns_path:
            raise InvalidArgument("network mode container: the container has no network namespace")
        if alongside:
            alongside(netns_path)
        return NetworkAttachment(network="container", netns_path=netns_path)

    def remove_sandbox(self, sandbox_id: str, attachment: NetworkAttachment | None = None) -> None:
        """Undo :meth:`create_sandbox` (its files stay with their owner); idempotent, tolerant of
        state already gone. ``attachment`` (what the sandbox was given) lets DEL run when a
        cached ADD result is lost; a joined attachment (``container:X``) owns nothing."""
        self.teardown(sandbox_id, attachment)

    def write_sandbox_files(self, cfg: SandboxConfig, ip_address: str = "", in_place: bool = False) -> None:
        """The sandbox's hostname, hosts and resolv.conf (``sandbox.write_files``)."""
        write_files(cfg, ip_address, host_gateway_ip=self.gateway, in_place=in_place)

    # ------------------------------------------------------------------ namespaces and interfaces
    def _plan(self, configs: Sequence[EndpointConfig]) -> list[tuple[EndpointConfig, NetworkRecord]]:
        recs = self.records()  # read once for all the container's networks
        plan = []
        for cfg in configs:
            rec = next((r for r in recs if r.id == cfg.network_id), None) if cfg.network_id else None
            if rec is None:
                rec = networks.find(recs, cfg.network)
            if rec is None:  # the network was removed meanwhile
                raise NotFound(f"network {cfg.network} not found")
            plan.append((cfg, rec))
        return plan

    def _used_ports(self, container_id: str) -> ports.Used:
        """The host ports the other containers hold: the running ones' records, and the
        reservations of those still starting (not recorded running yet). With _ports_lock."""
        used: ports.Used = set()
        active = set()
        for c in self._active_containers():
            if c.id != container_id:
                active.add(c.id)
                if c.network is not None:
                    used |= ports.used_ports(c.network.port_bindings)
        for other, held in self._reserved.items():
            if other != container_id and other not in active:
                used |= held
        return used

    def _allocate_ports(self, container_id: str, bindings: tuple[PortBinding, ...]) -> tuple[PortBinding, ...]:
        """Host ports for ``bindings``, reserved until :meth:`teardown`: two containers starting
        at once never get the same one."""
        if not bindings:
            return ()  # nothing to choose: no need to read the other containers
        with self._ports_lock:
            bindings = ports.allocate(bindings, self._used_ports(container_id), ports.port_is_free,
                                      ports.ephemeral_range())
            self._reserved[container_id] = ports.used_ports(bindings)
        return bindings

    def _release_ports(self, container_id: str) -> None:
        with self._ports_lock:
            self._reserved.pop(container_id, None)

    def _join(self, container_id: str, configs: Sequence[EndpointConfig]) -> list[tuple[EndpointConfig, NetworkRecord]]:
        """The container's networks (records read now), marked as in use by it until teardown."""
        with self._membership_lock:
            plan = self._plan(configs)
            self._joining[container_id] = frozenset(rec.id for _, rec in plan)
        return plan

    def _leave(self, container_id: str) -> None:
        with self._membership_lock:
            self._joining.pop(container_id, None)

    def setup(
        self,
        container_id: str,
        mode: str,
        port_bindings: Sequence[PortBinding] = (),
        other_netns: str | None = None,
        alongside: Callable[[str | None], None] | None = None,
        *,
        options: CreateOptions | None = None,
        image_exposed: Sequence[str] = (),
    ) -> NetworkAttachment | None:
        """The namespace and interfaces of a sandbox alone, without its files (:meth:`create_sandbox`
        is the whole); ``container:X`` joins ``other_netns``. On failure nothing is left behind.

        ``options`` (the container's create options) name its networks and ``-P``; without
        them the mode's network alone is used."""
        parsed = parse_network_mode(mode)
        if parsed.joins_container:
            return self.join_sandbox(other_netns, alongside)
        configs = endpoint_configs(options) if options is not None else endpoint_configs_of(parsed)
        exposed = None
        if options is not None and options.publish_all:
            exposed = (*options.exposed_ports, *image_exposed)
        return self._attach(container_id, parsed, configs, port_bindings, exposed, alongside)

    def _attach(self, sandbox_id: str, mode: NetworkMode, configs: Sequence[EndpointConfig],
                port_bindings: Sequence[PortBinding], publish_all: Sequence[str] | None,
                alongside: Callable[[str | None], None] | None,
                conflist: Mapping[str, Any] | None = None,
                make_netns: Callable[[str], None] | None = None) -> NetworkAttachment | None:
        """``publish_all``: the exposed ports -P publishes (None without -P); ``make_netns``: how
        the namespace is made (``SandboxConfig.make_netns``)."""
        if mode.is_host:
            if alongside:
                alongside(None)
            return None
        if mode.is_none:
            # the runtime makes a fresh namespace with only lo up: nothing to name or undo
            if alongside:
                alongside("")
            return NetworkAttachment(network="none", netns_path="")
        if os.path.lexists(self.netns_path(sandbox_id)) or self._cache_files(sandbox_id):
            # left over by a daemon that died before tearing the container down
            log.info("sandbox %s: removing stale network state", sandbox_id[:12])
            self.teardown(sandbox_id, None)
        bindings = tuple(port_bindings)
        ports.check_bindings(bindings)
        if publish_all is not None:
            bindings = ports.publish_all(set(publish_all), bindings)
        if conflist is not None:
            return self._setup_netns(sandbox_id, bindings, alongside,
                                     lambda undo, path, b: [self._add_conflist(undo, sandbox_id, path, conflist, b)],
                                     make_netns)
        plan = self._join(sandbox_id, configs)
        primary = plan[0][1] if plan else None  # none: disconnected from each network, lo alone
        if primary is None or primary.internal:
            bindings = ()
        else:
            bindings = ports.with_default_host_ip(bindings, primary.host_binding_ip)
        try:
            attachment = self._setup_netns(sandbox_id, bindings, alongside,
                                           lambda undo, path, b: self._add_all(undo, sandbox_id, path, plan, b),
                                           make_netns)
        except BaseException:
            self._leave(sandbox_id)
            raise
        for _cfg, rec in plan:
            self.events.emit("network", "connect", rec.id, {"container": sandbox_id, "name": rec.name, "type": rec.driver})
        return attachment

    def _setup_netns(self, sandbox_id: str, bindings: tuple[PortBinding, ...],
                     alongside: Callable[[str | None], None] | None, add: AddInterfaces,
                     make_netns: Callable[[str], None] | None = None) -> NetworkAttachment:
        """The namespace, ``add`` run on a thread while ``alongside`` runs here; undone on failure."""
        path = self.netns_path(sandbox_id)
        bindings = self._allocate_ports(sandbox_id, bindings)
        with contextlib.ExitStack() as undo:
            undo.callback(self._release_ports, sandbox_id)
            (make_netns or netns.create_netns)(path)
            undo.callback(netns.delete_netns, path)
            outcome: dict[str, object] = {}

            def run_add() -> None:
                try:
                    outcome["endpoints"] = add(undo, path, bindings)
                except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
                    outcome["error"] = err

            worker = threading.Thread(target=run_add, name=f"cni-add-{sandbox_id[:12]}")
            worker.start()
            try:
                if alongside:
                    alongside(path)
            finally:
                worker.join()
            if "error" in outcome:
                raise outcome["error"]  # type: ignore[misc]
            endpoints: list[Endpoint] = outcome["endpoints"]  # type: ignore[assignment]
            undo.pop_all()
        return attachment_of(path, endpoints, bindings)

    def _add_conflist(self, undo: contextlib.ExitStack, sandbox_id: str, path: str, conflist: Mapping[str, Any],
                      bindings: Sequence[PortBinding]) -> Endpoint:
        """eth0 from a conflist used as it is (a pod's, from --cni-conf-dir)."""
        runtime_config = cni.build_runtime_config(bindings)
        return self._exec_add(undo, sandbox_id, path, dict(conflist), runtime_config, cni.IFNAME, "",
                              str(conflist["name"]))

    def _add_all(self, undo: contextlib.ExitStack, container_id: str, path: str,
                 plan: list[tuple[EndpointConfig, NetworkRecord]], bindings: tuple[PortBinding, ...]) -> list[Endpoint]:
        endpoints: list[Endpoint] = []
        routed = False
        for i, (cfg, rec) in enumerate(plan):
            default_route = not routed and not rec.internal
            routed = routed or default_route
            ifname = networks.interface_name(rec.iface_prefix, [e.ifname for e in endpoints])
            endpoints.append(self._add_endpoint(undo, container_id, path, rec, cfg, ifname, default_route,
                                                bindings if i == 0 else ()))
        return endpoints

    def _add_endpoint(self, undo: contextlib.ExitStack, container_id: str, path: str, rec: NetworkRecord,
                      cfg: EndpointConfig, ifname: str, default_route: bool,
                      bindings: Sequence[PortBinding]) -> Endpoint:
        conflist = networks.build_conflist(rec, self.ipam_dir, default_route=default_route,
                                           whole_subnet=bool(cfg.ipv4_address))
        prefix = ipaddress.ip_network(rec.subnet).prefixlen
        runtime_config = networks.runtime_config(cfg.ipv4_address, prefix, cfg.mac_address,
                                                 cni.build_port_mappings(bindings))
        try:
            ep = self._exec_add(undo, container_id, path, conflist, runtime_config, ifname, rec.id, rec.name)
        except cni.CNIError as err:
            if cfg.ipv4_address and "not available" in err.message:
                raise Conflict(f"Address already in use: {cfg.ipv4_address} on network {rec.name}") from None
            raise
        return replace(ep, aliases=tuple(cfg.aliases))

    def _exec_add(self, undo: contextlib.ExitStack, sandbox_id: str, path: str, conflist: dict,
                  runtime_config: dict, ifname: str, network_id: str, network_name: str) -> Endpoint:
        """CNI ADD of one interface, its result cached; the undo of it pushed on ``undo``."""
        inv = self._invocation(sandbox_id, path, ifname)
        # cached before ADD too (without a result), so a daemon dying mid-ADD leaves
        # teardown enough to DEL what the plugins did
        cache = self._result_path(sandbox_id, ifname)
        self._write_cache(cache, None, runtime_config, conflist, network_id)
        undo.callback(_unlink, cache)
        result = cni.exec_add(conflist, inv, runtime_config)
        undo.callback(cni.exec_del, conflist, inv, runtime_config, result)
        att = cni.parse_result(result, path, (), ifname)
        self._write_cache(cache, result, runtime_config, conflist, network_id)
        return Endpoint(network=network_name, network_id=network_id, ifname=ifname, ip_address=att.ip_address,
                        prefix_len=att.prefix_len, gateway=att.gateway, mac_address=att.mac_address)

    @staticmethod
    def _write_cache(path: str, result: dict | None, runtime_config: dict, conflist: dict | None = None,
                     network_id: str = "") -> None:
        data = {"result": result, "runtimeConfig": runtime_config, "conflist": conflist, "networkId": network_id}
        write_file_atomic(path, json.dumps(data), 0o600)

    def _cache_files(self, container_id: str) -> list[str]:
        results = os.path.join(self.config.cni_dir, "results")
        found = glob.glob(os.path.join(glob.escape(results), f"{container_id}.json"))
        return found + sorted(glob.glob(os.path.join(glob.escape(results), f"{container_id}.*.json")))

    def write_peers(self, container_id: str, name: str, attachment: NetworkAttachment | None) -> None:
        """Before a container's process runs: its /etc/hosts gets the names of its peers
        on its user-defined networks (the others learn its name from :meth:`refresh_hosts`)."""
        if self.db is None or attachment is None:
            return
        user = {r.id for r in self.records() if r.user_defined}
        mine = {ep.network_id for ep in endpoints_of(attachment) if ep.network_id in user}
        if not mine:
            return
        members = self._host_members(user)
        members += [hostsync.Member(container_id, name, ep.network_id, ep.ip_address, ep.aliases)
                    for ep in endpoints_of(attachment) if ep.network_id in user]
        lines = tuple(hostsync.peer_lines(mine, members))
        with self._hosts_lock:
            hostsync.rewrite_in_place(self._hosts_path(container_id), lines)
            self._hosts_written[container_id] = lines

    def _active_containers(self) -> list[Container]:
        return self.active_containers()

    def _host_members(self, user: set[str], active: list | None = None) -> list[hostsync.Member]:
        return [hostsync.Member(c.id, c.name, ep.network_id, ep.ip_address, ep.aliases)
                for c in (self._active_containers() if active is None else active)
                for ep in endpoints_of(c.network) if ep.network_id in user]

    def refresh_hosts(self) -> None:
        """Bring the name block of every running container's /etc/hosts up to date.

        Called on every state change: only the active rows are parsed, and a file is
        touched only when its peer lines differ from what was last written to it."""
        if self.db is None:
            return
        with self._hosts_lock:
            try:
                user = {r.id for r in self.records() if r.user_defined}
                if not user and not self._hosts_written:
                    return  # no user-defined network: no container has names to keep
                active = [c for c in self._active_containers() if c.network is not None]
                members = self._host_members(user, active)
                for c in active:
                    mine = {ep.network_id for ep in endpoints_of(c.network) if ep.network_id in user}
                    lines = tuple(hostsync.peer_lines(mine, members))
                    if self._hosts_written.get(c.id, ()) != lines:
                        hostsync.rewrite_in_place(self._hosts_path(c.id), lines)
                    self._hosts_written[c.id] = lines
                for gone in set(self._hosts_written) - {c.id for c in active}:
                    del self._hosts_written[gone]
            except Exception:  # noqa: BLE001 - names are a convenience; never fail a state change
                log.exception("refreshing the containers' hosts files")

    # ------------------------------------------------------------------ container stop
    def teardown(self, container_id: str, attachment: NetworkAttachment | None) -> None:
        """Undo :meth:`setup`; idempotent, tolerant of state that is already gone.

        CNI DEL failures are logged, not raised: a container must stay removable.
        """
        if attachment is not None and attachment.network in ("container", "none"):
            return  # the netns belongs to the other container, or to the runtime
        self._release_ports(container_id)
        self._leave(container_id)
        path = self.netns_path(container_id)
        had_netns = netns.netns_exists(path)
        done: set[str] = set()
        for cache_path in self._cache_files(container_id):
            done.add(self._del_cached(container_id, path, cache_path, had_netns))
        bindings = attachment.port_bindings if attachment is not None else ()
        for i, ep in enumerate(endpoints_of(attachment)):
            if ep.ifname not in done:
                self._del_synthesized(container_id, path, ep, bindings if i == 0 else (), had_netns)
        netns.delete_netns(path)
        if attachment is not None:
            for ep in endpoints_of(attachment):
                self.events.emit("network", "disconnect", ep.network_id or networks.builtin_id(ep.network),
                                 {"container": container_id, "name": ep.network, "type": "bridge"})

    def _del_cached(self, container_id: str, path: str, cache_path: str, had_netns: bool) -> str:
        """DEL one interface from its cached ADD; returns its ifname."""
        base = os.path.basename(cache_path)[: -len(".json")]
        ifname = base.split(".", 1)[1] if "." in base else cni.IFNAME
        try:
            with open(cache_path, encoding="utf-8") as f:
                cache = json.load(f)
            prev, runtime_config = cache.get("result"), cache.get("runtimeConfig") or {}
            conflist = cache.get("conflist") or self.conflist
        except (OSError, ValueError, AttributeError):
            prev, runtime_config, conflist = None, {}, self.conflist
        self._exec_del(container_id, path, ifname, conflist, runtime_config, prev, had_netns)
        _unlink(cache_path)
        return ifname

    def _del_synthesized(self, container_id: str, path: str, ep: Endpoint, bindings: Sequence[PortBinding],
                         had_netns: bool) -> None:
        """DEL an interface whose cached result is lost, from what the attachment says."""
        rec = self._record_by_id(ep.network_id) if ep.network_id else None
        if rec is None and ep.network == "bridge":
            rec = self.default
        if rec is None:
            return
        conflist = networks.build_conflist(rec, self.ipam_dir)
        att = NetworkAttachment(ep.network, path, ep.ip_address, ep.prefix_len, ep.gateway, ep.mac_address)
        self._exec_del(container_id, path, ep.ifname, conflist, cni.build_runtime_config(bindings),
                       cni.synthesize_result(att, ep.ifname), had_netns)

    def _exec_del(self, container_id: str, path: str, ifname: str, conflist: dict, runtime_config: dict,
                  prev: dict | None, had_netns: bool) -> None:
        errors = cni.exec_del(conflist, self._invocation(container_id, path, ifname), runtime_config, prev)
        if not had_netns:
            cni.remove_ipmasq_leftovers(conflist["name"], container_id)
        if errors:
            log.warning("container %s %s: CNI DEL left %d error(s); first: %s", container_id[:12], ifname,
                        len(errors), errors[0])

    # ------------------------------------------------------------------ connect / disconnect
    def connect(self, c: Container, net_ref: str, cfg: EndpointConfig) -> Connection:
        """``network connect``, with the container's lock held by the caller (the container
        service, which records the outcome): an interface now if the container runs, and the
        endpoint config it keeps for its next starts. CNI runs without the network-wide lock;
        `network rm` sees the container as joining meanwhile."""
        with self._membership_lock:
            rec = self.get(net_ref)  # NotFound if removed meanwhile
            joined_before = rec.id in self._joining.get(c.id, frozenset())
            self._joining[c.id] = self._joining.get(c.id, frozenset()) | {rec.id}
        try:
            change = self._connect(c, rec, cfg)
        except BaseException:
            if not joined_before:
                self._drop_joining(c.id, rec.id)
            raise
        if change.attachment is None:
            self._drop_joining(c.id, rec.id)  # joins at its next start
        return change

    def _drop_joining(self, container_id: str, network_id: str) -> None:
        with self._membership_lock:
            left = self._joining.get(container_id, frozenset()) - {network_id}
            if left:
                self._joining[container_id] = left
            else:
                self._joining.pop(container_id, None)

    def _connect(self, c: Container, rec: NetworkRecord, cfg: EndpointConfig) -> Connection:
        self._check_connectable(c, rec)
        configs = endpoint_configs(c.options)
        running = c.state.status.is_active() and c.network is not None and bool(c.network.netns_path)
        if any(e.network_id == rec.id or e.network == rec.name for e in configs):
            if running:
                raise Forbidden(f"endpoint with name {c.name} already exists in network {rec.name}")
            return Connection(rec.id, rec.name, rec.driver, configs, None)  # dockerd: kept as it was
        networks.validate_endpoint(rec, cfg.ipv4_address, cfg.mac_address, cfg.aliases)
        cfg = replace(cfg, network=rec.name, network_id=rec.id)
        attachment = None
        if running and c.network is not None:
            path = c.network.netns_path
            eps = list(endpoints_of(c.network))
            ifname = networks.interface_name(rec.iface_prefix, [e.ifname for e in eps])
            default_route = not rec.internal and not netns.has_default_route(path)
            with contextlib.ExitStack() as undo:
                ep = self._add_endpoint(undo, c.id, path, rec, cfg, ifname, default_route, ())
                undo.pop_all()
            attachment = attachment_of(path, [*eps, ep], c.network.port_bindings)
        return Connection(rec.id, rec.name, rec.driver, (*configs, cfg), attachment)

    def disconnect(self, c: Container, net_ref: str, force: bool = False) -> Connection:
        """``network disconnect``, with the container's lock held by the caller: the interface
        goes now if the container runs (CNI DEL without the network-wide lock, as connect)."""
        rec = self.get(net_ref)
        mode = c.options.network
        if not mode.has_own_netns or mode.is_none:
            if not force:
                raise Forbidden(f"container {c.name} is not connected to network {rec.name}"
                                if rec.name != c.options.network_mode else
                                f"container cannot be disconnected from {rec.name} network")
        configs = endpoint_configs(c.options)
        kept = tuple(e for e in configs if not (e.network_id == rec.id or e.network == rec.name))
        if len(kept) == len(configs) and not force:
            raise Forbidden(f"container {c.id} is not connected to network {rec.name}")
        attachment = None
        if c.state.status.is_active() and c.network is not None and c.network.netns_path:
            attachment = self._remove_endpoint(c.id, c.network, rec)
        self._drop_joining(c.id, rec.id)
        return Connection(rec.id, rec.name, rec.driver, kept, attachment)

    def _remove_endpoint(self, container_id: str, current: NetworkAttachment,
                         rec: NetworkRecord) -> NetworkAttachment | None:
        """CNI DEL of the interface on ``rec``; the attachment without it (None: none was there)."""
        eps = list(endpoints_of(current))
        gone = [e for e in eps if e.network_id == rec.id or (not e.network_id and e.network == rec.name)]
        if not gone:
            return None
        ep, path = gone[0], current.netns_path
        first = eps[0] is ep
        cache = self._result_path(container_id, ep.ifname)
        had = netns.netns_exists(path)
        if os.path.exists(cache):
            self._del_cached(container_id, path, cache, had)
        else:
            self._del_synthesized(container_id, path, ep, current.port_bindings if first else (), had)
        rest = [e for e in eps if e is not ep]
        if rest and not netns.has_default_route(path):
            routable = self._routable(rest)
            if routable is not None:
                netns.add_default_route(path, routable.gateway, routable.ifname)
        return attachment_of(path, rest, () if first else current.port_bindings)

    def _routable(self, endpoints: Sequence[Endpoint]) -> Endpoint | None:
        for ep in endpoints:
            rec = self._record_by_id(ep.network_id)
            if rec is not None and not rec.internal and ep.gateway:
                return ep
        return None

    @staticmethod
    def _check_connectable(c: Container, rec: NetworkRecord) -> None:
        mode = c.options.network
        if not rec.is_bridge:
            raise Forbidden(f"container cannot be disconnected from host network or connected to {rec.name} network")
        if not mode.has_own_netns:
            raise Forbidden("container sharing network namespace with another container or host cannot be "
                            "connected to any other network")
        if mode.is_none:
            raise Forbidden("container cannot be connected to multiple networks with one of the networks in "
                            "private (none) mode")


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
