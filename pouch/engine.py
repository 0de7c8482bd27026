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
- ``builds``: ``docker build`` (a context directory in, typed progress out; base images
  pulled through the registry service);
- ``network``: networks and sandboxes (network namespaces with their endpoints and files,
  ``network/sandbox.py``); a container's endpoints are recorded by ``containers``
  (``connect_network``/``disconnect_network``);
- ``volumes``: named and anonymous volumes;
- ``events``: the bus every service reports to;
- ``stats``: resource usage samples of running containers;
- ``upgrades``: ``pouch upgrade`` (a container's image replaced in place, rolled back on failure).
- ``gc``: garbage collection of what no record references (at start and in image prune).
"""

from __future__ import annotations

from dataclasses import dataclass

from pouch.build.builder import Pull
from pouch.build.service import BuildService
from pouch.config import DaemonConfig, LiveConfig
from pouch.events import EventBus
from pouch.images.service import ContainersUsing, ImageService
from pouch.metadata import containers as container_store
from pouch.metadata.db import Database
from pouch.models import Container
from pouch.network.manager import NetworkManager
from pouch.private import make_private
from pouch.registry.auth import Credentials
from pouch.registry.endpoints import RegistryConfig
from pouch.registry.progress import RegistryProgress
from pouch.registry.service import RegistryService
from pouch.registry.tls import configured_hosts
from pouch.rich.lxcfs import lxcfs_pids
from pouch.rich.lxcfsd import LxcfsSupervisor
from pouch.runtime.registry import Runtimes
from pouch.services.containers import ContainerService
from pouch.services.execs import ExecService
from pouch.services.gc import GarbageCollector
from pouch.services.rich import RichContainers
from pouch.services.stats import StatsService
from pouch.services.timers import Scheduler
from pouch.services.upgrade import UpgradeService
from pouch.snapshots.quota_manager import DiskQuotas
from pouch.volumes.service import VolumeService, VolumeUser, VolumeUsers


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
    builds: BuildService
    live: LiveConfig  # config as reloaded by SIGHUP (registry settings, runtimes, debug); paths stay config's
    upgrades: UpgradeService  # `pouch upgrade`, and the recovery of one a crash cut short
    gc: GarbageCollector  # unreferenced blobs, snapshots, ingest and tmp files, container dirs (services/gc.py)

    def registry_service(self) -> RegistryService:
        return registry_service(self.live.current, self.images)


def registry_service(config: DaemonConfig, images: ImageService) -> RegistryService:
    """The registry service as configured now (certs.d read per use)."""
    certs = config.registry_certs_dir
    registry = RegistryConfig(config.insecure_registries, config.registry_mirrors, certs, configured_hosts(certs))
    return RegistryService(images, registry, config.registry_timeout)


def build_pull(live: LiveConfig, images: ImageService) -> Pull:
    """How a build pulls a base image it lacks: anonymously, for the host platform."""

    def pull(name: str) -> list[RegistryProgress]:
        events: list[RegistryProgress] = []
        registry_service(live.current, images).pull(name, Credentials(), "", events.append)
        return events

    return pull


def containers_using(db: Database) -> ContainersUsing:
    """What the image service may know of containers: which ones use an image."""
    return lambda image_id: container_store.ids_using_image(db, image_id)


def volume_users(db: Database) -> VolumeUsers:
    """What the volume service may know of containers: the volumes each one uses, and whether it runs."""

    def users() -> list[VolumeUser]:
        return [_volume_user(c) for c in container_store.list_all(db)]

    return users


def _volume_user(c: Container) -> VolumeUser:
    return VolumeUser(c.id, c.state.status.is_active(), tuple(c.options.volumes))


def build_engine(config: DaemonConfig) -> Engine:
    """Construct every service in order: storage, images, runtime, network, volumes, containers."""
    make_private(config)  # --root, --exec-root and their content subtrees: no host user but root (pouch/private.py)
    db = Database(config.db_path)
    events = EventBus()
    images = ImageService(db, config, events, containers_using=containers_using(db))
    images.recover()
    runtime = Runtimes.from_config(config)  # runc, and each --add-runtime NAME=PATH
    network = NetworkManager(config, db, events, active_containers=lambda: container_store.list_active(db))
    network.ensure_ready()
    volumes = VolumeService(config, db, events, volume_users=volume_users(db))
    lxcfs = None
    if config.enable_lxcfs:  # lxcfs: started and watched by pouchd (pouch/rich/lxcfsd.py)
        lxcfs = LxcfsSupervisor(config.lxcfs_path, config.exec_root,
                                lambda: lxcfs_pids(containers.list()))
    containers = ContainerService(
        config, db, events=events, images=images, runtime=runtime, network=network, volumes=volumes,
        quota=DiskQuotas(config, images), rich=RichContainers(config, images, runtime), timers=Scheduler(),
        lxcfs=lxcfs)
    execs = ExecService(config, containers, runtime)
    containers.on_removed = execs.forget_container
    live = LiveConfig(config)
    builds = BuildService(images, containers, pull=build_pull(live, images))
    return Engine(config=config, db=db, events=events, images=images, runtime=runtime, network=network,
                  volumes=volumes, containers=containers, execs=execs, stats=StatsService(containers), lxcfs=lxcfs,
                  builds=builds, live=live, upgrades=UpgradeService(config, containers, images),
                  gc=GarbageCollector(config, db, images))
