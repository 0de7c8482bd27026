"""Container use cases: create, start, stop, kill, remove, pause, rename, wait, top.

The service orchestrates the storage, network and runtime layers; it speaks
internal models only (no HTTP). Each multi-step operation runs inside an
``ExitStack`` whose undo callbacks are dropped (``pop_all``) only when every
step succeeded, so a failed create or start leaves no mount, netns, runc state
or store entry behind.

Concurrency: a per-container lock serialises lifecycle transitions; waiting
for a state change (``wait``, ``stop``) happens outside that lock on one
condition variable that every state change notifies.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import logging
import os
import resource
import secrets
import shutil
import signal as signal_module
import threading
from collections.abc import Callable, Iterator, Sequence

from pouch import mount as mounts
from pouch import process
from pouch.config import DaemonConfig
from pouch.errors import Cancelled, Conflict, InvalidArgument, NotFound, PouchError
from pouch.events import EventBus
from pouch.hooks.ocihooks import inject_hooks, load_hooks
from pouch.images.service import ImageService
from pouch.jsonfile import write_json_atomic
from pouch.metadata import containers as store
from pouch.metadata.db import Database
from pouch.models import (
    DEFAULT_STOP_TIMEOUT,
    Container,
    ContainerState,
    CreateOptions,
    EndpointConfig,
    NetworkAttachment,
    Status,
)
from pouch.network.manager import NetworkManager
from pouch.network.sandbox import Connection, SandboxConfig, sandbox_config
from pouch.oci.caps import read_host_capabilities
from pouch.oci.env import merge_env
from pouch.oci.seccomp import resolve_seccomp
from pouch.oci.spec import SpecInput, generate_spec, resolve_env
from pouch.oci.user import read_user_files, resolve_user
from pouch.rich.lxcfs import with_lxcfs
from pouch.rich.lxcfsd import LxcfsSupervisor, lxcfs_root_for
from pouch.runtime.registry import Runtimes
from pouch.services import create_checks, lifecycle, links, logsinks, starting
from pouch.services import resources as resource_checks  # -m, --cpus, --device, --ipc... (400s)
from pouch.services.attachgate import AttachGate
from pouch.services.faults import fault_point
from pouch.services.health import HealthMonitor, health_at_start, health_at_stop, with_image_healthcheck
from pouch.services.lifecycle import Op
from pouch.services.logrotate import LogRotator
from pouch.services.monitor import ExitMonitor
from pouch.services.names import random_name, validate_container_name
from pouch.services.pending import PendingRemovals
from pouch.services.recovery import Recovery
from pouch.services.restart import RestartManager
from pouch.services.rich import RichContainers, check_rich_create, write_session_env
from pouch.services.timers import Scheduler
from pouch.services.top import TopResult, parse_ps_output
from pouch.signals import parse_signal
from pouch.snapshots.quota_manager import DiskQuotas
from pouch.timestamps import now_rfc3339, rfc3339_of
from pouch.userns.allocator import UsernsAllocator
from pouch.userns.netns import netns_maker, release_userns_pin
from pouch.userns.options import resolve_userns
from pouch.userns.rootfs import mount_rootfs
from pouch.userns.spec import hand_over_stdio, prepare_userns_spec
from pouch.volumes.service import VolumeService

log = logging.getLogger(__name__)

WAIT_CANCEL_POLL = 3.0  # seconds between checks that a waiter (POST /wait) is still there (each reads its row)
KILL_WAIT = 10.0  # seconds kill -s KILL waits for the exit, as dockerd

RLIMITS = {
    "RLIMIT_NOFILE": resource.RLIMIT_NOFILE,
    "RLIMIT_NPROC": resource.RLIMIT_NPROC,
}


class RecentExits:
    """The exit codes of the last containers that exited, bounded: a waiter reads one right after
    the exit (the container may be removed or restarted by then), so old entries are dropped."""

    def __init__(self, keep: int = 1024) -> None:
        self._keep = keep
        self._codes: dict[str, int] = {}
        self._guard = threading.Lock()

    def record(self, container_id: str, code: int) -> None:
        with self._guard:
            self._codes.pop(container_id, None)
            self._codes[container_id] = code  # dicts keep insertion order: the oldest first
            while len(self._codes) > self._keep:
                del self._codes[next(iter(self._codes))]

    def get(self, container_id: str) -> int:
        with self._guard:
            return self._codes.get(container_id, 0)


class ContainerService:
    """The container use cases, and the only writer of container records.

    Other services act on a container through the public operations here; when they must
    hold a container still, they take its lock with :meth:`locked` and report a change with
    :meth:`notify_changed`. The collaborators that outlive any one container are given
    (``engine.build_engine``); the parts of this service that call back into it (exit
    monitor, restarts, health, log rotation, the attach gate) are built here.
    """

    def __init__(self, config: DaemonConfig, db: Database, *, events: EventBus, images: ImageService,
                 runtime: Runtimes, network: NetworkManager, volumes: VolumeService, quota: DiskQuotas,
                 rich: RichContainers, timers: Scheduler, lxcfs: LxcfsSupervisor | None = None) -> None:
        self.events = events
        self.config = config
        self.db = db
        self.images = images
        self.runtime = runtime
        self.network = network
        self.attach_gate = AttachGate()
        self.rich = rich
        self.monitor = ExitMonitor(self._handle_exit)
        self.timers = timers  # one thread for restart back-offs and health probes
        self.restarts = RestartManager(self, self.timers)  # services/restart.py
        self.health = HealthMonitor(self, self.timers)  # services/health.py
        self.log_rotator = LogRotator(config.log_max_size, config.log_max_files, self._running_logs, runtime.reopen_log)
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()
        self._changed = threading.Condition()
        self.on_removed: Callable[[str], None] | None = None  # e.g. to drop a removed container's exec sessions
        self.host_capabilities: tuple[str, ...] | None = None  # the daemon's bounding set, read once
        self.pending_removals = PendingRemovals(config.root)  # --rm teardowns to finish after a crash
        self._recent_exits = RecentExits()  # for waiters that wake after a removal or a policy restart
        self.lxcfs = lxcfs  # with pouchd --enable-lxcfs (pouch/rich/lxcfsd.py)
        self.volumes = volumes  # -v, --mount, `pouch volume`
        self.quota = quota  # --disk-quota: the writable layer's limit
        self.userns = UsernsAllocator(os.path.join(config.root, "containers"))  # --userns=auto: id ranges

    # ----------------------------------------------------------------- helpers
    @contextlib.contextmanager
    def locked(self, container_id: str) -> Iterator[None]:
        with self._locks_guard:
            lock = self._locks.setdefault(container_id, threading.RLock())
        with lock:
            yield

    def notify_changed(self) -> None:
        with self._changed:
            self._changed.notify_all()
        self.network.refresh_hosts()  # the peers' /etc/hosts follow containers coming and going

    def get(self, ref: str) -> Container:
        return store.lookup(self.db, ref)

    def get_or_none(self, container_id: str) -> Container | None:
        """The container with this full id, None once it is gone."""
        return store.get(self.db, container_id)

    def list(self) -> list[Container]:
        return store.list_all(self.db)

    def log_path(self, c: Container) -> str:
        """Where its log is read (``logsinks``): the log driver's current file, conmon's k8s-file
        (``CreateOptions.log_path``, a CRI container's, rotated by its owner; else ``ctr.log``), or ""
        for a driver that keeps none (syslog, none)."""
        return logsinks.log_path(self.config, c)

    def log_path_of(self, container_id: str) -> str:
        return os.path.join(self.config.container_dir(container_id), "ctr.log")

    def rotated_log_paths(self, c: Container) -> builtins.list[str]:  # `list` is a method here
        return logsinks.rotated_log_paths(self.config, c)

    def _running_logs(self) -> builtins.list[tuple[str, str]]:
        return [(cid, self.log_path_of(cid)) for cid in store.active_ids(self.db)]

    def rootfs_path(self, c: Container) -> str:
        return os.path.join(self.config.container_dir(c.id), "rootfs")

    def etc_path(self, c: Container, name: str) -> str:
        return os.path.join(self.config.container_dir(c.id), name)

    def _save(self, c: Container) -> None:
        store.save_state(self.db, c)
        self.notify_changed()

    # ------------------------------------------------------------------ create
    def create(self, opts: CreateOptions) -> Container:
        image = self.images.get(opts.image)
        opts = dataclasses.replace(opts, runtime=self.runtime.resolve(opts.runtime))  # none given: the default
        opts = self.network.prepare_create(opts)  # its networks resolved (404 for an unknown one) and checked
        for warning in resource_checks.check_create(opts, self.get, self.host_capabilities):
            log.warning("create %s: %s", opts.name or opts.image, warning)
        create_checks.check_security(opts, self.host_capabilities)  # CapAdd/CapDrop, seccomp profile (400s)
        for bind in opts.binds:
            if not os.path.isabs(bind.source):
                raise InvalidArgument(f"invalid mount config: bind source path must be absolute: {bind.source}")
            if not bind.create_source and not os.path.exists(bind.source):  # -v makes it at start, --mount refuses
                raise InvalidArgument(f"invalid mount config for type \"bind\": bind source path does not exist: {bind.source}")
        if opts.rich:
            check_rich_create(opts.rich, image)
        if opts.enable_lxcfs:  # lxcfs: refused when no lxcfs is there
            lxcfs_root_for(self.lxcfs)
        if opts.disk_quota:  # a 400 when --root's filesystem keeps no quotas
            self.quota.check(opts.disk_quota)
        opts = resolve_userns(opts, self.config.userns_remap == "default")  # --userns, --userns-remap
        opts = with_image_healthcheck(opts, image.config)  # the image's HEALTHCHECK under the user's --health-*
        opts = dataclasses.replace(opts, log_config=logsinks.resolve_create(self.config, opts.log_config, opts.log_path))
        opts = links.check_create(opts, self.get)  # --link: its targets exist, a mode that takes links
        container_id = secrets.token_hex(32)
        name = opts.name or self._unused_name()
        c = Container(
            id=container_id,
            name=name,
            image_id=image.id,
            image_ref=opts.image,
            created=now_rfc3339(),
            options=opts,
            state=ContainerState(),
        )
        with contextlib.ExitStack() as undo:
            c.options = self.volumes.resolve(c.id, opts, image.image_config, self.get)  # -v, --mount, VOLUME...
            undo.callback(self.volumes.rollback_create, c.id)
            self.pending_removals.mark(c.id, None, anonymous_volumes(c), creating=True)  # a crash: undone
            undo.callback(self.pending_removals.clear, c.id)
            cdir = self.config.container_dir(container_id)
            os.makedirs(os.path.join(cdir, "rootfs"), mode=0o700)
            undo.callback(shutil.rmtree, cdir, ignore_errors=True)
            if opts.userns_mode == "auto":  # recorded in cdir: freed with it
                self.userns.allocate(container_id)
            undo.callback(self.images.remove_rw, container_id)
            if opts.disk_quota:  # the rw directory made with its quota (snapshots/quota_manager.py)
                undo.callback(self.quota.release, container_id)
                self.quota.apply(container_id, opts.disk_quota)
            self.images.prepare_rw(container_id, image.id)
            fault_point(self.config, "create.before-insert")
            store.insert(self.db, c)
            fault_point(self.config, "create.after-insert")
            undo.pop_all()
        self.pending_removals.clear(c.id)
        self.volumes.create_done(c.id)
        self.events.emit_container(c, "create")
        log.info("created container %s (%s) from %s", c.id[:12], c.name, opts.image)
        return c

    def _unused_name(self) -> str:
        for _ in range(20):
            name = random_name()
            try:
                store.lookup(self.db, name)
            except NotFound:
                return name
        return random_name() + "_" + secrets.token_hex(2)

    # ------------------------------------------------------------------- start
    def start(self, ref: str) -> None:
        c = self.get(ref)
        with self.locked(c.id):
            c = self.get(c.id)
            lifecycle.check(Op.START, c)
            try:
                self.restarts.on_user_start(c)  # RestartCount and the back-off begin again
                self.start_locked(c)
            except PouchError as err:
                c.state.error = err.message
                store.save_state(self.db, c)
                if c.options.auto_remove:  # as dockerd: a --rm container that cannot start is removed
                    with contextlib.suppress(PouchError):
                        self.remove(c.id, force=True, volumes=True)
                raise
            self.events.emit_container(c, "start")
            self.health.watch(c)
        self.notify_changed()

    def start_locked(self, c: Container) -> None:
        """Mount, network, bundle, conmon + runc create, attach gate, runc start.

        The CNI plugins configure the container's netns while conmon and runc
        create the container in it (``NetworkManager.create_sandbox(alongside=...)``); the
        address they hand out is written into /etc/hosts in place afterwards, before
        the container's process runs.
        """
        opts = c.options
        if self.host_capabilities is None:
            self.host_capabilities = tuple(read_host_capabilities())
        linked = links.for_start(c, self.get, self._link_facts)  # --link: hosts lines and env, this run only
        image = self.images.for_container(c.image_id)
        rootfs = self.rootfs_path(c)
        bundle = self.config.bundle_dir(c.id)
        hostname = self._hostname(c)
        created = None
        with contextlib.ExitStack() as undo:
            # 1. root filesystem and the files the container gets from pouchd
            ids = self.userns.range_of(c.id)  # --userns=auto: its layers idmapped into its range
            if not mounts.is_mountpoint(rootfs):
                mount_rootfs(self.images.rootfs_mount(c.image_id, c.id), rootfs, ids, self.config.container_dir(c.id))
                undo.callback(mounts.unmount, rootfs)
            self.volumes.acquire(c, rootfs)  # propagation checks, volume mounts, copy-up
            undo.callback(self.volumes.release, c.id)
            fault_point(self.config, "start.after-mount")
            passwd, group = read_user_files(rootfs)
            user = resolve_user(opts.user or image.image_config.user, passwd, group)
            sandbox = self._sandbox_config(linked, hostname, image.image_config.exposed_ports)
            if ids is not None:  # its netns made in its user namespace (pouch/userns/netns.py)
                sandbox = dataclasses.replace(sandbox, make_netns=netns_maker(ids, self.config.container_dir(c.id)))
                undo.callback(release_userns_pin, self.config.container_dir(c.id))
            joined = self._joined_netns(c)  # container:X: X's sandbox

            # 2. network, and meanwhile the bundle and conmon + runc create
            def create_container(netns_path: str | None) -> None:
                nonlocal created
                os.makedirs(bundle, mode=0o700, exist_ok=True)
                undo.callback(shutil.rmtree, bundle, ignore_errors=True)
                spec = self._spec(linked, image.image_config, rootfs, hostname, netns_path, user, group)
                if opts.rich:
                    spec = self.rich.prepare_spec(c, spec, rootfs)
                if opts.enable_lxcfs:  # lxcfs: /proc files with the container's limits
                    spec = with_lxcfs(spec, lxcfs_root_for(self.lxcfs))
                if ids is not None:  # its user namespace, and its files handed to its ids
                    spec = prepare_userns_spec(spec, ids, self.config.container_dir(c.id),
                                               frozenset(b.target for b in opts.binds if b.idmap))
                inject_hooks(spec, load_hooks(self.config.hooks_dir), has_bind_mounts=bool(opts.binds or opts.volumes))
                write_json_atomic(os.path.join(bundle, "config.json"), spec)
                target = logsinks.open_target(self.config, c, c.image_ref, spec["process"]["env"])  # its log writer
                undo.callback(target.stop)
                created = self.runtime.create(
                    c.id,
                    bundle_dir=bundle,
                    runtime=opts.runtime,
                    log_path=target.conmon_path,
                    log_driver=target.conmon_driver,
                    tty=opts.tty or self.rich.needs_console(c),  # systemd, sysvinit: runc binds it at /dev/console
                    stdin=opts.open_stdin,
                    leave_stdin_open=opts.open_stdin and not opts.stdin_once,
                    # pouchd rotates (services/logrotate.py); conmon's own limit would cut the
                    # log short: it counts every byte written since it started, reopens included
                    log_max_size=0,
                )
                undo.callback(self.runtime.delete, c.id, True)
                target.confirm()  # the writer started meanwhile (a syslog it cannot reach fails the start)

            attachment = self._sandbox_for(c, sandbox, joined, create_container)
            undo.callback(self.network.remove_sandbox, c.id, attachment)
            fault_point(self.config, "start.after-runtime-create")
            assert created is not None
            self.monitor.watch(c.id, created.conmon_pid)
            if ids is not None:  # conmon's pipes, reopened through /proc (systemd mode's app unit)
                hand_over_stdio(created.pid, ids)

            # 3. let attached clients connect, then run the process; journaled from when a crash
            # should adopt it (recover): at once, or once the rich hooks its app waits for ran
            cdir = self.config.container_dir(c.id)
            journal = starting.Start(created.pid, created.conmon_pid, now_rfc3339(), attachment)
            hooked = opts.rich is not None and bool(opts.rich.init_script or opts.rich.prestart_hooks)
            if not hooked:
                starting.mark(cdir, journal)
            undo.callback(starting.clear, cdir)
            self.attach_gate.open_and_wait(c.id, timeout=5.0)
            try:
                self.runtime.start(c.id)
            finally:
                self.attach_gate.close(c.id)
            fault_point(self.config, "start.after-runtime-start")
            if opts.rich:
                undo.callback(self.rich.kill_quietly, c.id)
                self.rich.run_prestart_hooks(c)
                if hooked:
                    starting.mark(cdir, journal)
            c.state = ContainerState(
                status=Status.RUNNING,
                pid=created.pid,
                conmon_pid=created.conmon_pid,
                started_at=now_rfc3339(),
                finished_at=c.state.finished_at,  # kept, as Docker (`wait` tells exits apart by it)
                health=health_at_start(c.state.health, opts.healthcheck),  # "starting", the last probes kept
            )
            c.network = attachment
            store.save_state(self.db, c)
            starting.clear(cdir)
            undo.pop_all()
        log.info("started container %s (pid %d)", c.id[:12], c.state.pid)

    def _spec(self, c: Container, image_config, rootfs: str, hostname: str, netns_path: str | None, user,
              group: str) -> dict:
        """``group``: the image's /etc/group, already read for the user (``--group-add`` names)."""
        opts = c.options
        return generate_spec(
            SpecInput(
                container_id=c.id,
                options=opts,
                image=image_config,
                rootfs=rootfs,
                hostname=hostname,
                etc_files={
                    "/etc/hostname": self.etc_path(c, "hostname"),
                    "/etc/hosts": self.etc_path(c, "hosts"),
                    "/etc/resolv.conf": self.etc_path(c, "resolv.conf"),
                },
                netns=None if opts.network.is_host else netns_path,
                user=user,
                cgroups_path=resource_checks.cgroups_path(c),
                resources=resource_checks.start_input(c, group, self.get),
                host_rlimits={name: resource.getrlimit(number) for name, number in RLIMITS.items()},
                seccomp=resolve_seccomp(opts, host_capabilities=self.host_capabilities),
                init_path=find_static_init() if opts.init else "",
                host_capabilities=self.host_capabilities,
            )
        )

    def _link_facts(self, child: Container) -> tuple[builtins.list[str], builtins.list[str], str]:
        """What a link to ``child`` shows: its Config.Env, exposed ports and hostname."""
        image_config = self.images.for_container(child.image_id).image_config
        exposed = [*child.options.exposed_ports, *image_config.exposed_ports]
        return merge_env(list(image_config.env), list(child.options.env)), exposed, self._hostname(child)

    def _joined_netns(self, c: Container) -> str | None:
        """``container:X``: the namespace of X's sandbox (None for a container owning its own)."""
        mode = c.options.network
        if not mode.joins_container:
            return None
        other = self.get(mode.target)
        if other.id == c.id:
            raise InvalidArgument("cannot join own network namespace")
        if other.state.status != Status.RUNNING:
            raise Conflict(f"cannot join network of a non running container: {other.name}")
        if other.network and other.network.netns_path:
            return other.network.netns_path
        return f"/proc/{other.state.pid}/ns/net"

    def _sandbox_config(self, c: Container, hostname: str, image_exposed: Sequence[str] = ()) -> SandboxConfig:
        return sandbox_config(c.options, hostname=hostname, files_dir=self.config.container_dir(c.id), name=c.name,
                              image_exposed=tuple(image_exposed))

    def _sandbox_for(self, c: Container, cfg: SandboxConfig, joined: str | None,
                     alongside: Callable[[str | None], None]) -> NetworkAttachment | None:
        """The container's own sandbox (id: the container's), or X's it joins (``container:X``,
        with files of its own); ``alongside`` creates the container while CNI runs."""
        if not c.options.network.joins_container:
            return self.network.create_sandbox(c.id, cfg, alongside=alongside).attachment
        self.network.write_sandbox_files(cfg)
        return self.network.join_sandbox(joined, alongside=alongside)

    def connect_network(self, container_ref: str, net_ref: str, cfg: EndpointConfig) -> None:
        """``network connect``: an interface now if the container runs, at each start from now on."""
        self._change_network(container_ref, "connect",
                             lambda c: self.network.connect(c, net_ref, cfg))

    def disconnect_network(self, container_ref: str, net_ref: str, force: bool = False) -> None:
        """``network disconnect``: the interface goes now if the container runs."""
        self._change_network(container_ref, "disconnect",
                             lambda c: self.network.disconnect(c, net_ref, force))

    def _change_network(self, container_ref: str, action: str, change: Callable[[Container], Connection]) -> None:
        """Under the container's lock (as a start takes it): the network layer's CNI work, then
        the record; the network event after (as dockerd: a connect's only when an interface was
        added, a stopped container's comes at its start; a disconnect's always)."""
        c = self.get(container_ref)
        with self.locked(c.id):
            c = self.get(c.id)
            done = change(c)
            fault_point(self.config, f"network.{action}")
            if done.attachment is not None:
                c.network = done.attachment
                store.save_state(self.db, c)
            c.options = dataclasses.replace(c.options, networks=done.networks)
            store.save_options(self.db, c)
        self.notify_changed()  # the peers' /etc/hosts
        if action == "disconnect" or done.attachment is not None:
            self.events.emit("network", action, done.network_id,
                             {"container": c.id, "name": done.network_name, "type": done.driver})

    def _hostname(self, c: Container) -> str:
        if c.options.network.is_host and not c.options.hostname:
            return os.uname().nodename
        return c.options.hostname or c.id[:12]

    # -------------------------------------------------------------------- exit
    def _handle_exit(self, container_id: str) -> None:
        """conmon exited: record the exit code, tear the container's runtime down
        (an ``--rm`` container: remove it first, tear down after)."""
        with self.locked(container_id):
            c = store.get(self.db, container_id)
            if c is None or not c.state.status.is_active():
                return
            status = self.runtime.exit_status(container_id)
            c.state.status = Status.EXITED
            c.state.pid = 0
            c.state.conmon_pid = 0
            c.state.exit_code = status.code if status else 255
            if c.options.rich:
                app_code = self.rich.app_exit_code(c)
                c.state.exit_code = c.state.exit_code if app_code is None else app_code
            c.state.finished_at = rfc3339_of(status.finished_at) if status else now_rfc3339()
            c.state.oom_killed = bool(self.runtime.oom_killed(container_id))
            if not c.state.oom_killed:  # conmon's oom file is the norm; the cgroup's counter a backstop
                c.state.oom_killed = resource_checks.host_cgroup_oom_killed(c)
            if status is None:
                c.state.error = "container state was lost (conmon exited without an exit code)"
            self._recent_exits.record(c.id, c.state.exit_code)
            log.info("container %s exited with %d", container_id[:12], c.state.exit_code)
            self.health.unwatch(c.id)
            c.state.health = health_at_stop(c.state.health)
            if c.state.oom_killed:
                self.events.emit_container(c, "oom")
            self.events.emit_container(c, "die", exitCode=c.state.exit_code)
            self.restarts.on_exit(c)  # --restart: `restarting`, started again after the back-off
            if c.options.auto_remove:
                self._remove_after_exit(c)
            else:
                self._teardown_runtime(c)
                c.network = None
                store.save_state(self.db, c)
        self.notify_changed()

    def _teardown_runtime(self, c: Container) -> None:
        self._teardown(c.id, c.network)

    def _teardown(self, container_id: str, attachment) -> None:
        """Undo what start did; every step tolerates being already undone."""
        rootfs = os.path.join(self.config.container_dir(container_id), "rootfs")
        for step in (
            lambda: self.runtime.delete(container_id, True),
            lambda: self.volumes.release(container_id),
            lambda: self.network.remove_sandbox(container_id, attachment),
            lambda: mounts.unmount(rootfs) if mounts.is_mountpoint(rootfs) else None,
            lambda: release_userns_pin(self.config.container_dir(container_id)),
            lambda: shutil.rmtree(self.config.bundle_dir(container_id), ignore_errors=True),
        ):
            try:
                step()
            except Exception:
                log.exception("cleaning up container %s", container_id[:12])

    def _remove_after_exit(self, c: Container) -> None:
        """An exited ``--rm`` container: gone for clients at once (its name free, ``wait
        ?condition=removed`` answered), then torn down. A marker file under --root lets
        ``recover`` finish the teardown if the daemon dies in between."""
        self.pending_removals.mark(c.id, c.network, anonymous_volumes(c))
        store.delete(self.db, c.id)
        self.events.emit_container(c, "destroy")
        self.volumes.release(c.id, c.options.volumes)  # its processes are gone: volumes first, so that
        self.volumes.remove_anonymous(c)  # --rm's anonymous ones are gone when `wait` is answered
        self.notify_changed()
        self._teardown(c.id, c.network)
        self._drop_container_files(c.id)
        self.pending_removals.clear(c.id)
        log.info("removed container %s", c.id[:12])

    def _drop_container_files(self, container_id: str) -> None:
        self.quota.release(container_id)  # its disk quota's limit, before the rw layer goes
        with contextlib.suppress(Exception):
            self.images.remove_rw(container_id)
        shutil.rmtree(self.config.container_dir(container_id), ignore_errors=True)
        if self.on_removed:
            self.on_removed(container_id)
        self.restarts.forget(container_id)
        self.health.unwatch(container_id)
        with self._locks_guard:
            self._locks.pop(container_id, None)

    # ---------------------------------------------------------------- recovery
    def recover(self) -> None:
        """After a daemon (re)start: every container's record reconciled with what runs and what
        is on disk (services/recovery.py), then the volumes no running container uses unmounted."""
        Recovery(self).run()
        self.volumes.recover()

    # ------------------------------------------------------- stop, kill, wait
    def wait_for(self, predicate, timeout: float | None) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def is_stopped(self, container_id: str) -> bool:
        c = store.get(self.db, container_id)
        return c is None or not c.state.status.is_active()

    def _stopped_or_exited_since(self, before: Container) -> bool:
        """Not running, or an exit since ``before`` was read (``wait`` returns on it, as Docker's,
        even when the restart policy restarts the container): one read per wake-up."""
        c = store.get(self.db, before.id)
        return c is None or not c.state.status.is_active() or c.state.finished_at != before.state.finished_at

    def stop(self, ref: str, timeout: int | None = None) -> None:
        c = self.get(ref)
        lifecycle.check(Op.STOP, c)
        if timeout is None:
            timeout = c.options.stop_timeout if c.options.stop_timeout is not None else DEFAULT_STOP_TIMEOUT
        image = self.images.for_container(c.image_id)
        default_signal = self.rich.stop_signal(c)  # SIGTERM, or the rich mode's init's poweroff
        stop_signal = parse_signal(c.options.stop_signal or image.image_config.stop_signal or default_signal)
        with self.locked(c.id):
            c = self.get(c.id)
            c.state.stopped_by_user = True
            store.save_state(self.db, c)
            if c.options.rich:
                self.rich.mark_stopping(c)
            self._signal(c, stop_signal)
            if c.state.status == Status.PAUSED:
                with contextlib.suppress(PouchError):
                    self.runtime.resume(c.id)
        fault_point(self.config, "stop.after-signal")
        if timeout < 0 or not self.wait_for(lambda: self.is_stopped(c.id), timeout):
            log.info("container %s did not stop within %ss, killing it", c.id[:12], timeout)
            with self.locked(c.id):
                self._signal(self.get(c.id), signal_module.SIGKILL)
            if not self.wait_for(lambda: self.is_stopped(c.id), 30):
                raise PouchError(f"container {c.name} did not stop after SIGKILL")
        self.events.emit_container(c, "stop")

    def _signal(self, c: Container, sig: int) -> None:
        if not c.state.status.is_active():
            return
        if c.state.status == Status.RESTARTING:  # waiting for its back-off: it just stays stopped
            self.restarts.cancel(c)
            return
        try:
            self.runtime.kill(c.id, sig, all=sig == signal_module.SIGKILL)
        except PouchError:
            if self.runtime.state(c.id) is not None:
                raise
        self.events.emit_container(c, "kill", signal=sig)

    def kill(self, ref: str, sig: str | int | None) -> None:
        number = parse_signal(sig, signal_module.SIGKILL)
        c = self.get(ref)
        lifecycle.check(Op.KILL, c)
        with self.locked(c.id):
            c = self.get(c.id)
            if number in (signal_module.SIGKILL, signal_module.SIGTERM, signal_module.SIGINT):
                c.state.stopped_by_user = True
                store.save_state(self.db, c)
            self._signal(c, number)
        # as dockerd: SIGKILL answers once the container has stopped (an immediate inspect or rm
        # sees it stopped); any other signal answers once delivered, the process may handle it
        if number == signal_module.SIGKILL and not self.wait_for(lambda: self.is_stopped(c.id), KILL_WAIT):
            raise PouchError(f"tried to kill container {c.name}, but it did not stop")

    def restart(self, ref: str, timeout: int | None = None) -> None:
        c = self.get(ref)
        lifecycle.check(Op.RESTART, c)
        if c.state.status.is_active():
            self.stop(c.id, timeout)
        self.start(c.id)
        self.events.emit_container(self.get(c.id), "restart")

    def _wait_until(self, predicate: Callable[[], bool], cancelled: Callable[[], bool] | None) -> None:
        """``wait_for(predicate)`` without a time limit; raises Cancelled once ``cancelled()``
        (asked every WAIT_CANCEL_POLL seconds), so an abandoned waiter lets its thread go."""
        if cancelled is None:
            self.wait_for(predicate, None)
            return
        while not self.wait_for(predicate, WAIT_CANCEL_POLL):
            if cancelled():
                raise Cancelled("the waiter went away")

    def wait(self, ref: str, condition: str = "not-running", cancelled: Callable[[], bool] | None = None) -> int:
        """Block until the container reaches ``condition``; return its exit code.

        ``not-running`` returns at once for a stopped container; ``next-exit``
        waits for the end of the next run (starting from a created container
        counts); ``removed`` waits until the container is gone (``--rm``).
        Cancelled if ``cancelled()`` becomes true first.
        """
        c = self.get(ref)
        if condition not in ("not-running", "next-exit", "removed", ""):
            raise InvalidArgument(f"invalid condition: {condition}")
        if condition == "removed":
            self._wait_until(lambda: store.get(self.db, c.id) is None, cancelled)
        elif condition == "next-exit":
            running_since = c.state.started_at if c.state.status.is_active() else None

            def exited_next() -> bool:
                now = store.get(self.db, c.id)
                if now is None:
                    return True
                if now.state.finished_at != c.state.finished_at:
                    return True  # it exited (a restart policy may have it restarting already)
                if running_since is None:
                    return now.state.status == Status.EXITED and now.state.started_at != c.state.started_at
                return not now.state.status.is_active()

            self._wait_until(exited_next, cancelled)
        else:
            self._wait_until(lambda: self._stopped_or_exited_since(c), cancelled)
        now = store.get(self.db, c.id)
        if now is not None and now.state.status != Status.RUNNING:
            return now.state.exit_code
        return self.recent_exit_code(c.id)  # removed, or restarted already by its policy

    def recent_exit_code(self, container_id: str) -> int:
        """The last exit code of a container that may be gone already (``wait?condition=removed``)."""
        return self._recent_exits.get(container_id)

    # ----------------------------------------------------------- pause, rename
    def pause(self, ref: str) -> None:
        c = self.get(ref)
        with self.locked(c.id):
            c = self.get(c.id)
            lifecycle.check(Op.PAUSE, c)
            self.runtime.pause(c.id)
            fault_point(self.config, "pause.after-runtime")
            c.state.status = Status.PAUSED
            self._save(c)
        self.events.emit_container(c, "pause")

    def unpause(self, ref: str) -> None:
        c = self.get(ref)
        with self.locked(c.id):
            c = self.get(c.id)
            lifecycle.check(Op.UNPAUSE, c)
            self.runtime.resume(c.id)
            c.state.status = Status.RUNNING
            self._save(c)
        self.events.emit_container(c, "unpause")

    def rename(self, ref: str, new_name: str) -> None:
        new_name = validate_container_name(new_name)
        c = self.get(ref)
        lifecycle.check(Op.RENAME, c)
        if c.name == new_name:
            raise InvalidArgument("Renaming a container with the same name as its current name")
        store.rename(self.db, c.id, new_name)
        old_name, c.name = c.name, new_name
        self.events.emit_container(c, "rename", oldName=old_name)

    # ------------------------------------------------------------------ update
    def update_env(self, ref: str, env: Sequence[str]) -> None:
        """``pouch update --env K=V``: the container's environment changes for every process
        that starts next: exec sessions (``current_env``), the next start (the record) and, in
        a running rich container, login shells and ssh sessions (``write_session_env``); merged
        into its ``-e`` by the one rule (``pouch.oci.env``)."""
        for item in env:
            if not item or item.startswith("="):
                raise InvalidArgument(f"invalid environment variable: {item!r}")
        c = self.get(ref)
        with self.locked(c.id):
            c = self.get(c.id)
            c.options = dataclasses.replace(c.options, env=tuple(merge_env(list(c.options.env), env)))
            store.save_options(self.db, c)
            rootfs = self.rootfs_path(c)
            if c.options.rich and c.state.status.is_active() and mounts.is_mountpoint(rootfs):
                write_session_env(rootfs, self.current_env(c))

    def current_env(self, c: Container) -> builtins.list[str]:  # `list` is a method here
        """The environment a process started in ``c`` now gets (an exec session's base): the
        daemon's defaults, the image's Env, then the container's ``-e`` as updated."""
        return resolve_env(c.options, self.images.for_container(c.image_id).image_config, self._hostname(c))

    # ------------------------------------------------------------------ remove
    def remove(self, ref: str, force: bool = False, volumes: bool = False, owner: str = "") -> None:
        """``owner``: the front end asking, for a container one owns (``lifecycle.check_owner``).
        Journaled (services/pending.py) before anything is done: a daemon killed meanwhile
        finishes the removal at its next start."""
        c = self.get(ref)
        lifecycle.check_owner(c, owner)
        lifecycle.check(Op.REMOVE_FORCE if force else Op.REMOVE, c)
        self.pending_removals.mark(c.id, c.network, anonymous_volumes(c) if volumes else ())
        try:
            self._remove_journaled(c, volumes)
        except BaseException:
            if store.get(self.db, c.id) is not None:  # the container stays: no removal is pending
                self.pending_removals.clear(c.id)
            raise

    def _remove_journaled(self, c: Container, volumes: bool) -> None:
        if c.state.status.is_active():  # with --force: killed first
            with self.locked(c.id):
                c = self.get(c.id)
                c.state.stopped_by_user = True  # no restart policy brings it back
                store.save_state(self.db, c)
                self._signal(c, signal_module.SIGKILL)
            if not self.wait_for(lambda: self.is_stopped(c.id), 30):
                raise PouchError(f"could not kill container {c.name}")
            fault_point(self.config, "rm.after-kill")
        with self.locked(c.id):
            current = store.get(self.db, c.id)
            if current is None:
                return
            current.state.status = Status.REMOVING
            store.save_state(self.db, current)
            self._finish_remove(current, volumes)
        self.notify_changed()

    def _finish_remove(self, c: Container, volumes: bool = False) -> None:
        if os.path.exists(self.config.bundle_dir(c.id)) or mounts.is_mountpoint(self.rootfs_path(c)):
            self._teardown_runtime(c)  # not torn down yet (a crash, or removal during start)
        store.delete(self.db, c.id)
        fault_point(self.config, "rm.after-delete")
        self.events.emit_container(c, "destroy")
        self._drop_container_files(c.id)
        if volumes:  # rm -v: the anonymous ones
            self.volumes.remove_anonymous(c)
        self.pending_removals.clear(c.id)
        log.info("removed container %s", c.id[:12])

    # ----------------------------------------------------------------- upgrade
    def replace_image(self, container_id: str, image_id: str, image_ref: str, options: CreateOptions) -> Container:
        """Point a container's record at an image with these options (``pouch upgrade``, services/upgrade.py,
        which holds the container's lock and has made its writable layer); the next start uses them."""
        with self.locked(container_id):
            c = self.get(container_id)
            c.image_id, c.image_ref, c.options = image_id, image_ref, options
            store.save_image(self.db, c)
        self.notify_changed()
        return c

    def teardown_leftovers(self, container_id: str) -> None:
        """Undo what an interrupted start left of a container recorded as stopped (runc state,
        netns, rootfs mount, bundle); every step tolerates having nothing to undo."""
        c = self.get(container_id)
        self._teardown(c.id, c.network)

    # --------------------------------------------------------------------- top
    def top(self, ref: str, ps_args: str = "-ef") -> TopResult:
        """The container's processes as ``ps ps_args`` shows them."""
        c = self.get(ref)
        if c.state.status == Status.RESTARTING:  # dockerd's words; no runc container during the back-off
            raise Conflict(f"Container {c.id} is restarting, wait until the container is running")
        if not c.state.status.is_active():
            raise Conflict(f"Container {c.id} is not running")
        pids = set(self.runtime.processes(c.id))
        result = process.run(["ps", *ps_args.split()])
        if not result.ok:
            raise InvalidArgument(f"Error running ps: {result.stderr.decode(errors='replace').strip()}")
        return parse_ps_output(result.stdout.decode(errors="replace"), pids)


def anonymous_volumes(c: Container) -> tuple[str, ...]:
    """The volumes that go with the container (``rm -v``, ``--rm``): its anonymous ones."""
    return tuple(m.name for m in c.options.volumes if m.anonymous)


def find_static_init() -> str:
    """``--init``: a statically linked init, so it runs in images without a libc (Docker's docker-init is tini)."""
    for candidate in ("/usr/bin/tini-static", "/usr/bin/docker-init"):
        if os.access(candidate, os.X_OK):
            return candidate
    raise InvalidArgument("--init needs a static init binary: install Debian's tini package (tini-static)")
