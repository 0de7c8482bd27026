"""Sandboxes: the network namespace a group of containers shares, and the values of the seam.

The network service (``NetworkManager``) gives networking to *sandboxes*, not to
containers. A sandbox is one network namespace with its interfaces (one endpoint per
network), its published ports and its three files (``hostname``, ``hosts``,
``resolv.conf``, bind-mounted into the containers that use it). A container either
owns its sandbox or joins another's:

- ``bridge``, a user-defined network, ``none`` and ``host``: the container owns a
  sandbox whose id is the container's id (Docker's behaviour; ``host`` has no namespace
  of its own, ``none`` one the runtime makes with only ``lo``);
- ``--network container:X``: the container joins X's sandbox (its namespace path),
  owns nothing, and never tears it down.

Operations (``pouch.network.manager.NetworkManager``)::

    create_sandbox(sandbox_id, SandboxConfig, alongside=None) -> Sandbox
    remove_sandbox(sandbox_id, attachment=None) -> None        # idempotent
    connect(container, net_ref, EndpointConfig) -> Connection   # network connect
    disconnect(container, net_ref, force) -> Connection         # network disconnect

The network layer writes no container record and emits no container event: the
container service holds the container's lock, calls these, records the returned
attachment and endpoint configs, and emits the ``network connect``/``disconnect``
events of ``network connect``/``disconnect``. (The sandbox's own life — interfaces added
at creation, removed at removal — is reported by the network layer as Docker's
libnetwork does.)

**The CRI front end (pods).** A pod sandbox is an infra container (``cri/pod_options.py``)
whose create options carry the pod's conflist (``CreateOptions.cni_conflist``, from
``load_cni_conf_dir(--cni-conf-dir)``: the first config by file name), so the container
service makes its sandbox as for any container that owns one (:func:`sandbox_config` passes
the conflist on)::

    create_sandbox(pod_id, SandboxConfig(mode=<the "pod" network mode>, hostname=<the pod's>,
                   files_dir=<root>/containers/<pod_id>, conflist=<the pod's conflist>,
                   port_bindings=<PortMapping with a host port -> PortBinding>,
                   dns=DNSConfig(servers, searches, options)))     # PodSandboxConfig.dns_config

and each of the pod's containers joins it with ``container:<pod_id>``. With ``conflist`` the
sandbox gets one interface, eth0, from that conflist as it is (the cluster's plugins,
kubelet's runtime convention: the CNI network name is the conflist's ``name``;
``portMappings`` as the capability argument), not from Pouch's networks; its ADD result is
cached like any other, so the infra container's teardown (``StopPodSandbox``) runs DEL after
a daemon restart too. ``PodSandboxStatus`` reads the IP from the infra container's attachment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pouch.errors import InvalidArgument
from pouch.models import (
    CreateOptions,
    EndpointConfig,
    NetworkAttachment,
    NetworkMode,
    PortBinding,
)
from pouch.network import etcfiles

CONF_EXTENSIONS = (".conflist", ".conf", ".json")


@dataclass(frozen=True)
class DNSConfig:
    """What a sandbox's resolv.conf says (``--dns*``; the CRI's ``DNSConfig``). Empty: the host's."""

    servers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class SandboxFiles:
    """The paths of a sandbox's files, bind-mounted at /etc/hostname, /etc/hosts, /etc/resolv.conf."""

    hostname: str
    hosts: str
    resolv_conf: str

    @classmethod
    def in_dir(cls, directory: str) -> SandboxFiles:
        return cls(os.path.join(directory, "hostname"), os.path.join(directory, "hosts"),
                   os.path.join(directory, "resolv.conf"))


@dataclass(frozen=True)
class SandboxConfig:
    """What a sandbox is made of. ``mode`` is never ``container:X`` (that one joins a sandbox).

    ``networks``: the endpoint configs in order (the first carries the default route and
    the published ports), as ``NetworkManager.prepare_create`` resolved them; None: the
    mode's network alone; empty: none (lo alone: each was disconnected). ``conflist``: a
    CNI conflist used as it is for eth0 (the CRI's ``--cni-conf-dir``), instead of Pouch's
    networks.
    """

    mode: NetworkMode
    hostname: str
    files_dir: str
    name: str = ""  # the name peers on user-defined networks know it by
    domainname: str = ""
    networks: tuple[EndpointConfig, ...] | None = None  # None: the mode's network; (): none
    port_bindings: tuple[PortBinding, ...] = ()
    publish_all: bool = False  # -P: every port in exposed_ports
    exposed_ports: tuple[str, ...] = ()
    dns: DNSConfig = field(default_factory=DNSConfig)
    extra_hosts: tuple[str, ...] = ()
    conflist: Mapping[str, Any] | None = None
    # how its network namespace is made at ``path`` (a user-namespaced container's: owned by its
    # user namespace, pouch/userns); None: netns.create_netns
    make_netns: Callable[[str], None] | None = None

    @property
    def files(self) -> SandboxFiles:
        return SandboxFiles.in_dir(self.files_dir)


@dataclass(frozen=True)
class Sandbox:
    """A sandbox that exists. ``netns_path``: None for the host's namespace, "" when the
    runtime makes a fresh one (``none``), else the persistent namespace file."""

    id: str
    netns_path: str | None
    attachment: NetworkAttachment | None
    files: SandboxFiles


@dataclass(frozen=True)
class Connection:
    """The outcome of ``network connect``/``disconnect`` for the container service to record:
    the network, the container's endpoint configs now, and its attachment now (None: the
    container does not run, or nothing changed in its namespace)."""

    network_id: str
    network_name: str
    driver: str
    networks: tuple[EndpointConfig, ...]
    attachment: NetworkAttachment | None


def sandbox_config(opts: CreateOptions, *, hostname: str, files_dir: str, name: str = "",
                   image_exposed: tuple[str, ...] = ()) -> SandboxConfig:
    """The sandbox a container owns, from its create options (pure). A ``container:X`` one
    joins X's namespace and owns no sandbox, but the config still describes its files."""
    return SandboxConfig(
        mode=opts.network, hostname=hostname, files_dir=files_dir, name=name, domainname=opts.domainname,
        networks=None if opts.networks is None else tuple(opts.networks),
        port_bindings=tuple(opts.port_bindings), publish_all=opts.publish_all,
        exposed_ports=tuple(dict.fromkeys((*opts.exposed_ports, *image_exposed))),
        dns=DNSConfig(tuple(opts.dns), tuple(opts.dns_search), tuple(opts.dns_options)),
        extra_hosts=tuple(opts.extra_hosts), conflist=opts.cni_conflist,
    )


def cni_conf_files(names: list[str]) -> list[str]:
    """The CNI config files of a directory listing in the order a runtime tries them (pure):
    by name, as libcni's ``ConfFiles`` sorts them; kubelet runtimes take the first."""
    return sorted(n for n in names if n.endswith(CONF_EXTENSIONS))


def parse_cni_conf(text: str, filename: str) -> dict:
    """A conflist, or a single plugin's ``.conf`` wrapped as one (libcni's ``ConfListFromConf``)."""
    try:
        data = json.loads(text)
    except ValueError as err:
        raise InvalidArgument(f"CNI config {filename}: {err}") from None
    if not isinstance(data, dict) or not data.get("name"):
        raise InvalidArgument(f"CNI config {filename}: no network name")
    if "plugins" in data:
        if not isinstance(data["plugins"], list) or not data["plugins"]:
            raise InvalidArgument(f"CNI config {filename}: no plugins")
        return data
    if not data.get("type"):
        raise InvalidArgument(f"CNI config {filename}: no plugin type")
    top = {k: data[k] for k in ("cniVersion", "name") if k in data}
    return {**top, "plugins": [{k: v for k, v in data.items() if k not in ("name",)}]}


def load_cni_conf_dir(directory: str) -> dict | None:
    """The conflist a pod sandbox gets: the first CNI config of ``directory`` by name (None: there is none)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return None
    for filename in cni_conf_files(names):
        with open(os.path.join(directory, filename), encoding="utf-8") as f:
            return parse_cni_conf(f.read(), filename)
    return None


def write_files(cfg: SandboxConfig, ip_address: str = "", *, host_gateway_ip: str = "",
                in_place: bool = False) -> None:
    """The sandbox's hostname, hosts and resolv.conf (host networking: the host's hosts and
    resolv.conf as Docker copies them). ``in_place``: only hosts is rewritten, into the same
    inode, because it is bind-mounted into a created container already."""
    host = cfg.mode.is_host
    files = cfg.files
    hosts = etcfiles.build_hosts(cfg.hostname, ip_address, cfg.extra_hosts, domainname=cfg.domainname,
                                 host_gateway_ip=host_gateway_ip,
                                 host_hosts=_read_text("/etc/hosts") if host else None)
    if in_place:
        with open(files.hosts, "r+") as f:
            f.write(hosts)
            f.truncate()
        return
    etcfiles.write_file_atomic(files.hosts, hosts)
    etcfiles.write_hostname(files.hostname, cfg.hostname)
    etcfiles.write_resolv_conf(files.resolv_conf, cfg.dns.servers, cfg.dns.searches, cfg.dns.options,
                               host_network=host)


def _read_text(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None
