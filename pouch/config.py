"""Daemon configuration and the on-disk layout derived from it.

``--root`` (default /var/lib/pouch) holds what must survive a reboot: the
metadata database, blobs, snapshots, container logs and per-container files.
``--exec-root`` (default /var/run/pouch) holds what lives and dies with the
host's uptime: OCI bundles, conmon sockets and fifos, exit files, netns files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_HOST = "unix:///var/run/pouchd.sock"
DEFAULT_ROOT = "/var/lib/pouch"
DEFAULT_EXEC_ROOT = "/var/run/pouch"
DEFAULT_CRI_LISTEN = "unix:///var/run/pouchd-cri.sock"
DEFAULT_CNI_CONF_DIR = "/etc/cni/net.d"
DEFAULT_CONFIG_FILE = "/etc/pouch/daemon.json"  # pouchd --config-file (pouch/daemon_config.py)
DEFAULT_TLS_DIR = "/etc/pouch/tls"  # ca.pem, cert.pem, key.pem for -H tcp:// with --tls/--tlsverify
DEFAULT_SOCKET_GROUP = "pouch"  # the unix socket's group when it exists (pouchd --group)


@dataclass(frozen=True)
class DaemonConfig:
    # -H, repeatable: unix://PATH, tcp://HOST:PORT, fd://[N] (pouch/listen.py parses them, pouch/api/listeners.py binds)
    hosts: tuple[str, ...] = (DEFAULT_HOST,)
    root: str = DEFAULT_ROOT
    exec_root: str = DEFAULT_EXEC_ROOT
    runtimes: dict[str, str] = field(default_factory=lambda: {"runc": "/usr/bin/runc"})
    default_runtime: str = "runc"
    # --runtime-args NAME=ARGS: global options given to runtime NAME before each command (dockerd's runtimeArgs)
    runtime_args: dict[str, tuple[str, ...]] = field(default_factory=dict)
    conmon_path: str = "/usr/bin/conmon"
    bridge_name: str = "p0"
    bridge_subnet: str = "192.168.5.0/24"
    cni_plugin_dirs: tuple[str, ...] = ("/usr/lib/cni", "/opt/cni/bin")
    log_max_size: int = 10 * 1024 * 1024  # a container log is rotated past this size
    log_max_files: int = 2  # the current log and one rotated file
    log_driver: str = "json-file"  # --log-driver: containers' default (runtime/logconfig.py)
    log_opts: dict[str, str] = field(default_factory=dict)  # --log-opt: the default driver's options
    hooks_dir: str = "/etc/pouch/hooks.d"  # host OCI hooks (oci-hooks(5) JSON files)
    userns_remap: str = ""  # --userns-remap default: every container without --userns gets an id range (pouch/userns)
    enable_lxcfs: bool = False  # lxcfs: pouchd keeps it mounted at /var/lib/lxcfs (pouch/rich/lxcfsd.py)
    lxcfs_path: str = "/usr/bin/lxcfs"
    insecure_registries: tuple[str, ...] = ()  # HOST[:PORT] or CIDR spoken to over plain HTTP (pouch/registry)
    registry_mirrors: tuple[str, ...] = ()  # mirror URLs for docker.io
    registry_timeout: float = 30.0  # seconds, each registry socket operation
    registry_certs_dir: str = "/etc/pouch/certs.d"  # CAs and client certificates per registry (registry/tls.py)
    disk_quota: bool = False  # --disk-quota: quotas checked (btrfs: enabled) at start (snapshots/quota_manager.py)
    cri: bool = False  # --cri: serve the Kubernetes CRI v1 on cri_listen (pouch/cri)
    cri_listen: str = DEFAULT_CRI_LISTEN
    cri_stream_address: str = "127.0.0.1"  # the CRI streaming server (exec/attach/port-forward URLs), as containerd's
    cri_stream_port: int = 0  # 0: a port the kernel picks at each start (containerd's default)
    cni_conf_dir: str = DEFAULT_CNI_CONF_DIR  # pods' CNI config: the first conflist by name (kubelet runtimes' rule)
    pod_infra_image: str = ""  # --pod-infra-image: the pods' infra container image; "": one pouchd makes (cri/infra_image.py)
    api_idle_timeout: float = 300.0  # seconds an API connection may stay silent (idle keep-alive) before it is closed
    # --max-layer-size: bytes one layer may unpack to (0: no limit but --root's free space; pouch/archive.py)
    max_layer_size: int = 64 * 1024**3
    debug: bool = False
    debug_faults: tuple[str, ...] = ()  # tests only: where pouchd stops to be killed (services/faults.py)
    group: str = DEFAULT_SOCKET_GROUP  # --group: the unix sockets' group (root's when the default one does not exist)
    tls: bool = False  # --tls: tcp:// hosts speak TLS (--tlsverify: and require a client certificate)
    tls_verify: bool = False
    tls_cacert: str = os.path.join(DEFAULT_TLS_DIR, "ca.pem")
    tls_cert: str = os.path.join(DEFAULT_TLS_DIR, "cert.pem")
    tls_key: str = os.path.join(DEFAULT_TLS_DIR, "key.pem")
    config_file: str = DEFAULT_CONFIG_FILE  # --config-file: daemon.json (pouch/daemon_config.py)

    @property
    def host(self) -> str:
        """The first -H (for messages)."""
        return self.hosts[0] if self.hosts else ""

    @property
    def socket_path(self) -> str:
        """The first unix socket's path ("" when pouchd listens on none)."""
        return next((h.removeprefix("unix://") for h in self.hosts if h.startswith("unix://")), "")

    # --- persistent layout (root) ---
    @property
    def db_path(self) -> str:
        return os.path.join(self.root, "pouch.db")

    @property
    def content_dir(self) -> str:
        return os.path.join(self.root, "content")

    @property
    def snapshots_dir(self) -> str:
        return os.path.join(self.root, "snapshots")

    def container_dir(self, container_id: str) -> str:
        """Per-container persistent files: log, hosts, resolv.conf, hostname, rootfs mountpoint."""
        return os.path.join(self.root, "containers", container_id)

    # --- volatile layout (exec_root) ---
    def bundle_dir(self, container_id: str) -> str:
        """OCI bundle: config.json, pidfiles, conmon's ctl/winsz fifos."""
        return os.path.join(self.exec_root, "bundles", container_id)

    @property
    def exits_dir(self) -> str:
        return os.path.join(self.exec_root, "exits")

    @property
    def sockets_dir(self) -> str:
        return os.path.join(self.exec_root, "sockets")

    @property
    def netns_dir(self) -> str:
        return os.path.join(self.exec_root, "netns")

    @property
    def cni_dir(self) -> str:
        """CNI conflists and host-local IPAM state, per daemon."""
        return os.path.join(self.root, "cni")


class LiveConfig:
    """The configuration as of now: pouchd's SIGHUP swaps in a reloaded one (only the settings
    ``daemon_config.RELOADABLE`` names differ). Readers take ``current`` once per operation."""

    def __init__(self, config: DaemonConfig) -> None:
        self._config = config

    @property
    def current(self) -> DaemonConfig:
        return self._config

    def replace(self, config: DaemonConfig) -> None:
        self._config = config
