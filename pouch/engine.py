"""The engine: every service pouchd runs, built in one place, in dependency order.

Front ends (the Docker API in ``pouch/api``, the CRI server) receive an :class:`Engine`
and call its typed services; they own no state of their own and hold no rule of the
engine. Glossary of the services a front end uses:

- ``containers``: create/start/stop/kill/remove/pause/update/wait of containers, their
  per-container lock and state changes (the only writer of container records);
- ``execs``: exec sessions in running containers;
- ``images``: the local image store (load, import, tag, remove, rootfs mounts);
- ``registry_service()``: pull, push and login against registries (certs.d is read per
  use, as dockerd does, so a new host directory needs no restart);
- ``network``: networks, endpoints and network namespaces;
- ``volumes``: named and anonymous volumes;
- ``events``: the bus every service reports to;
- ``stats``: resource usage samples of running containers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pouch.config import DaemonConfig
from pouch.events import EventBus
from pouch.images.service import ImageService
from pouch.metadata.db import Database
from pouch.network.manager import NetworkManager
from pouch.registry.endpoints import RegistryConfig
from pouch.registry.service import RegistryService
from pouch.registry.tls import configured_hosts
from pouch.rich.lxcfs import lxcfs_pids
from pouch.rich.lxcfsd import LxcfsSupervisor
from pouch.runtime.registry import Runtimes
from pouch.services.containers import ContainerService
from pouch.services.execs import ExecService
from pouch.services.rich import RichContainers
from pouch.services.stats import StatsService
from pouch.services.timers import Scheduler
from pouch.snapshots.quota_manager import DiskQuotas
from pouch.volumes.service import VolumeService


@dataclass(frozen=True)
class Engine:
    """Everything pouchd wires together; front ends and tests get services from here."""

    config: DaemonConfig
    db: Database
    events: EventBus
    images: ImageService
    runtime: Runtimes  # the OCI runtime handlers by name; each container's operations go to its own
    network: NetworkManager
    volumes: VolumeService
    containers: ContainerService
    execs: ExecService
    stats: StatsService
    lxcfs: LxcfsSupervisor | None  # with --enable-lxcfs

    def registry_service(self) -> RegistryService:
        config = self.config
        certs = config.registry_certs_dir
        registry = RegistryConfig(config.insecure_registries, config.registry_mirrors, certs, configured_hosts(certs))
        return RegistryService(self.images, registry, config.registry_timeout)


def build_engine(config: DaemonConfig) -> Engine:
    """Construct every service in order: storage, images, runtime, network, volumes, containers."""
    for path in (config.root, config.exec_root):
        os.makedirs(path, mode=0o711, exist_ok=True)
    db = Database(config.db_path)
    events = EventBus()
    images = ImageService(db, config, events)
    images.recover()
    runtime = Runtimes.from_config(config)  # runc, and each --add-runtime NAME=PATH
    network = NetworkManager(config, db, events)
    network.ensure_ready()
    volumes = VolumeService(config, db, events)
    lxcfs = None
    if config.enable_lxcfs:  # lxcfs: started and watched by pouchd (pouch/rich/lxcfsd.py)
        lxcfs = LxcfsSupervisor(config.lxcfs_path, config.exec_root,
                                lambda: lxcfs_pids(containers.list()))
    containers = ContainerService(
        config, db, events=events, images=images, runtime=runtime, network=network, volumes=volumes,
        quota=DiskQuotas(config, images), rich=RichContainers(config, images, runtime), timers=Scheduler(),
        lxcfs=lxcfs)
    network.containers = containers  # network connect/disconnect act on containers
    execs = ExecService(config, containers, runtime)
    containers.on_removed = execs.forget_container
    return Engine(config=config, db=db, events=events, images=images, runtime=runtime, network=network,
                  volumes=volumes, containers=containers, execs=execs, stats=StatsService(containers), lxcfs=lxcfs)
