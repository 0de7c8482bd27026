"""``VolumeService``: the local volume driver and the volume side of a container's life.

A volume is a row in the ``volumes`` table and a directory ``<root>/volumes/<name>/_data``
(Docker's layout). A volume created with the local driver's options (``-o type=tmpfs
-o device=tmpfs -o o=size=64m``, ``-o type=none -o o=bind -o device=/path``, any
filesystem with its device and options) has that filesystem mounted on its ``_data`` while
at least one container that uses it runs, and unmounted when the last one stops.

Containers: ``resolve`` (at create) names anonymous volumes, adds the image's VOLUMEs and
``--volumes-from``, creates missing volumes; ``acquire`` (at start) checks bind propagation,
mounts, copies the image's content up into empty volumes; ``release`` (at teardown)
unmounts what nobody runs with anymore; ``remove_anonymous`` is ``rm -v``.

Who uses a volume is read from the containers' records (plus the containers being created
right now), so "in use" can't drift from them: through ``volume_users`` (``VolumeUser`` rows
given by ``engine.build_engine``), never the containers table itself. One lock serialises
the decisions.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import logging
import os
import re
import secrets
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime

from pouch import mount as mounts
from pouch.config import DaemonConfig
from pouch.diskusage import directory_size
from pouch.errors import Conflict, Internal, InvalidArgument, NotFound, PouchError
from pouch.events import EventBus
from pouch.labels import label_matches, labels_match
from pouch.metadata import volumes as store
from pouch.metadata.db import Database
from pouch.metadata.volumes import Volume
from pouch.models import BindMount, Container, CreateOptions, ImageConfig, VolumeMount
from pouch.types import Mount
from pouch.volumes.copyup import copy_up
from pouch.volumes.propagation import check_binds
from pouch.volumes.specs import (
    ANONYMOUS_LABEL,
    DRIVER,
    anonymous_volumes,
    check_driver,
    hide_password,
    parse_volumes_from,
    validate_local_options,
    validate_volume_name,
)

log = logging.getLogger(__name__)

VOLUME_FILTERS = ("dangling", "name", "label", "label!", "driver", "all")


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- pure helpers ----------------------------------------------------------------------


def _truthy(value: str, key: str) -> bool:
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise InvalidArgument(f"invalid filter '{key}={value}'")


def _regex_match(pattern: str, text: str) -> bool:
    try:
        return pattern == text or re.search(pattern, text) is not None
    except re.error:
        return False


def check_volume_filters(filters: Mapping[str, list[str]]) -> None:
    for key, values in filters.items():
        if key not in VOLUME_FILTERS:
            raise InvalidArgument(f"invalid filter '{key}'")
        if key in ("dangling", "all"):
            for value in values:
                _truthy(value, key)


def volume_matches(v: Volume, filters: Mapping[str, list[str]], in_use: bool) -> bool:
    """Docker's ``volume ls``/``prune`` filters: dangling, name (regexp), label (k or k=v;
    every one must match), label! (none may), driver (exact)."""
    for value in filters.get("dangling", ()):
        if _truthy(value, "dangling") == in_use:
            return False
    if filters.get("name") and not any(_regex_match(p, v.name) for p in filters["name"]):
        return False
    if filters.get("driver") and v.driver not in filters["driver"]:
        return False
    if not labels_match(filters.get("label", ()), v.labels):
        return False
    if any(label_matches(w, v.labels) for w in filters.get("label!", ())):
        return False
    return True


def make_bind_sources(binds: Iterable[BindMount]) -> None:
    """Docker makes the missing host directory of a ``-v /host:/ctr`` bind at each start
    (0755, root's); a ``--mount type=bind`` source must exist (refused at create)."""
    for b in binds:
        if b.create_source and not os.path.lexists(b.source):
            try:
                os.makedirs(b.source, mode=0o755, exist_ok=True)
            except OSError as err:
                raise InvalidArgument(f"error while creating mount source path '{b.source}': {err.strerror}") from None
            log.info("created the missing bind source %s", b.source)


def container_mounts(opts: CreateOptions, image: ImageConfig, sources: Mapping[str, CreateOptions]
                     ) -> tuple[list[BindMount], list[VolumeMount]]:
    """The binds and volume mounts of a new container (names of anonymous volumes still
    empty): the user's own, then ``--volumes-from`` (``sources``: spec -> that container's
    options) where the user put nothing, then the image's VOLUMEs where nothing is. Pure."""
    binds = list(opts.binds)
    volumes = list(opts.volumes)
    taken = {b.target for b in binds} | set(opts.tmpfs) | {v.target for v in volumes}
    for spec in opts.volumes_from:
        _, read_only = parse_volumes_from(spec)
        other = sources[spec]
        for b in other.binds:
            if b.target not in taken:
                binds.append(b if read_only is None else dataclasses.replace(b, read_only=read_only))
                taken.add(b.target)
        for v in other.volumes:
            if v.target not in taken:
                ro = v.read_only if read_only is None else read_only
                volumes.append(dataclasses.replace(v, read_only=ro, origin="volumes-from"))
                taken.add(v.target)
    for v in anonymous_volumes(image.volumes, "image", "the image's VOLUME"):
        if v.target not in taken:
            volumes.append(v)
            taken.add(v.target)
    return binds, volumes


# --- the service -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VolumeUser:
    """A container as the volume service sees it: whether it runs (or is paused, restarting)
    and the volumes it was created with."""

    container_id: str
    active: bool
    volumes: tuple[VolumeMount, ...]


VolumeUsers = Callable[[], Iterable[VolumeUser]]  # every container, in any state


class VolumeService:
    def __init__(self, config: DaemonConfig, db: Database, events: EventBus | None = None, *,
                 volume_users: VolumeUsers) -> None:
        self.config = config
        self.db = db
        self.volume_users = volume_users
        self.events = events or EventBus()
        self._lock = threading.RLock()
        self._pending: dict[str, set[str]] = {}  # container being created -> volume names it will use
        self._created: dict[str, list[str]] = {}  # container being created -> volumes created for it
        self._holders: dict[str, set[str]] = {}  # volume -> containers started with it (this daemon's life)
        self._held: dict[str, list[VolumeMount]] = {}  # container -> the mounts acquire() took
        self._copy_locks: dict[str, threading.Lock] = {}  # volume -> its copy-up (not under _lock: slow)

    # ------------------------------------------------------------------ layout
    @property
    def volumes_dir(self) -> str:
        return os.path.join(self.config.root, "volumes")

    def path(self, name: str) -> str:
        return os.path.join(self.volumes_dir, name)

    def data_path(self, name: str) -> str:
        return os.path.join(self.path(name), "_data")

    # -------------------------------------------------------------------- CRUD
    def get(self, name: str) -> Volume:
        return store.lookup(self.db, name)

    def create(self, name: str = "", driver: str = "", labels: Mapping[str, str] | None = None,
               options: Mapping[str, str] | None = None, anonymous: bool = False) -> Volume:
        """``docker volume create``: an existing volume of that name is returned as it is."""
        check_driver(driver)
        options = validate_local_options(options or {})
        labels = dict(labels or {})
        if not name:
            name = secrets.token_hex(32)
            if anonymous:
                labels[ANONYMOUS_LABEL] = ""
        validate_volume_name(name)
        with self._lock:
            existing = store.get(self.db, name)
            if existing is not None:
                return existing
            fresh = not os.path.exists(self.path(name))
            os.makedirs(self.volumes_dir, mode=0o701, exist_ok=True)
            try:
                os.makedirs(self.data_path(name), mode=0o755, exist_ok=True)
                volume = Volume(name, now_rfc3339(), DRIVER, labels, options)
                store.insert(self.db, volume)
            except BaseException:
                if fresh:
                    shutil.rmtree(self.path(name), ignore_errors=True)
                raise
        self.events.emit("volume", "create", name, {"driver": DRIVER})
        log.info("created volume %s", name)
        return volume

    def users(self) -> dict[str, list[str]]:
        """Volume name -> ids of the containers that use it (every state), creations in flight included."""
        out: dict[str, list[str]] = {}
        for u in self.volume_users():
            for m in u.volumes:
                if u.container_id not in out.setdefault(m.name, []):
                    out[m.name].append(u.container_id)
        for container_id, names in self._pending.items():
            for name in names:
                if container_id not in out.setdefault(name, []):
                    out[name].append(container_id)
        return out

    def list(self, filters: Mapping[str, list[str]] | None = None) -> list[Volume]:
        filters = filters or {}
        check_volume_filters(filters)
        users = self.users() if "dangling" in filters else {}
        return [v for v in store.list_all(self.db) if volume_matches(v, filters, bool(users.get(v.name)))]

    def remove(self, name: str, force: bool = False) -> None:
        """``docker volume rm [-f]``: 409 while any container uses it; ``force`` only
        forgives a volume that does not exist."""
        with self._lock:
            volume = store.get(self.db, name)
            if volume is None:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            users = self.users().get(name)
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            trash = self._destroy(volume)
        shutil.rmtree(trash, ignore_errors=True)  # outside the lock: a big volume takes a while
        self.events.emit("volume", "destroy", name, {"driver": DRIVER})
        log.info("removed volume %s", name)

    def _destroy(self, volume: Volume) -> str:
        """Unmount, forget, move the directory aside: never through a mount (a bind device's
        files must survive), and the row goes only once nothing is mounted. Returns the moved
        directory, for the caller to delete once it let go of the lock."""
        data = self.data_path(volume.name)
        self._unmount(volume)
        below = [p for p in mounts.mountpoints() if p == data or p.startswith(self.path(volume.name) + "/")]
        if below:
            raise Conflict(f"remove {volume.name}: something is still mounted at {below[0]}")
        trash = os.path.join(self.volumes_dir, f".removing-{volume.name}-{secrets.token_hex(4)}")
        if os.path.exists(self.path(volume.name)):
            os.rename(self.path(volume.name), trash)
        store.delete(self.db, volume.name)
        self._copy_locks.pop(volume.name, None)
        return trash

    def prune(self, filters: Mapping[str, builtins.list[str]] | None = None) -> tuple[builtins.list[str], int]:
        """Remove the anonymous volumes no container uses that match; named ones too only with the
        filter ``all=true`` (``volume prune -a``): Docker 23's rule, whatever the API version."""
        filters = dict(filters or {})
        check_volume_filters(filters)
        if "dangling" in filters:
            raise InvalidArgument("invalid filter 'dangling'")
        named_too = any(_truthy(v, "all") for v in filters.pop("all", ()))
        removed, space, trash = [], 0, []
        with self._lock:
            users = self.users()
            for volume in store.list_all(self.db):
                if users.get(volume.name) or not volume_matches(volume, filters, False):
                    continue
                if not named_too and ANONYMOUS_LABEL not in volume.labels:
                    continue
                size = 0 if volume.has_device else directory_size(self.data_path(volume.name))
                try:
                    trash.append(self._destroy(volume))
                except PouchError as err:
                    log.warning("prune: %s", err.message)
                    continue
                removed.append(volume.name)
                space += size
        for path in trash:
            shutil.rmtree(path, ignore_errors=True)
        for name in removed:
            self.events.emit("volume", "destroy", name, {"driver": DRIVER})
        return removed, space

    # ------------------------------------------------------------- mounting
    def _mount(self, volume: Volume) -> None:
        data = self.data_path(volume.name)
        if not volume.has_device or mounts.is_mountpoint(data):
            return
        options = tuple(o for o in volume.options.get("o", "").split(",") if o)
        m = Mount(volume.options.get("type") or "none", volume.options.get("device", ""), "", options)
        try:
            mounts.mount(m, data)
        except PouchError as err:
            raise Internal(f"error while mounting volume '{data}': failed to mount local volume: "
                           f"{hide_password(err.message)}") from None
        log.info("mounted volume %s (%s)", volume.name, m.type)

    def _unmount(self, volume: Volume) -> None:
        data = self.data_path(volume.name)
        if not volume.has_device or not mounts.is_mountpoint(data):
            return
        mounts.unmount_or_detach(data)
        log.info("unmounted volume %s", volume.name)

    def _active_users(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for u in self.volume_users():
            if u.active:
                for m in u.volumes:
                    out.setdefault(m.name, set()).add(u.container_id)
        return out

    def _let_go(self, container_id: str, names: Iterable[str]) -> None:
        """``container_id`` no longer needs ``names``: unmount those nobody else runs with."""
        with self._lock:
            active: dict[str, set[str]] | None = None
            for name in dict.fromkeys(names):
                holders = self._holders.get(name, set())
                holders.discard(container_id)
                if holders:
                    continue
                self._holders.pop(name, None)
                volume = store.get(self.db, name)
                if volume is None or not volume.has_device:
                    continue
                if active is None:
                    active = self._active_users()
                if active.get(name, set()) - {container_id}:
                    continue
                try:
                    self._unmount(volume)
                except PouchError as err:
                    log.warning("unmounting volume %s: %s", name, err.message)

    # ----------------------------------------------------------- containers
    def resolve(self, container_id: str, opts: CreateOptions, image: ImageConfig,
                lookup: Callable[[str], Container]) -> CreateOptions:
        """At create: the container's binds and volumes with every volume named, created if
        missing, and its host path filled in. ``rollback_create`` undoes it, ``create_done``
        ends it (the container's row now says which volumes it uses)."""
        sources = {}
        for spec in opts.volumes_from:
            name, _ = parse_volumes_from(spec)
            sources[spec] = lookup(name).options
        binds, wanted = container_mounts(opts, image, sources)
        resolved: list[VolumeMount] = []
        with self._lock:
            self._pending[container_id] = set()
            self._created[container_id] = []
            try:
                for m in wanted:
                    name = m.name
                    if not name or store.get(self.db, name) is None:
                        volume = self.create(name, DRIVER, m.labels, m.driver_options, anonymous=m.anonymous)
                        self._created[container_id].append(volume.name)
                        name = volume.name
                    self._pending[container_id].add(name)
                    resolved.append(dataclasses.replace(m, name=name, source=self.data_path(name),
                                                        driver_options={}, labels={}))
            except BaseException:
                self.rollback_create(container_id)
                raise
        return dataclasses.replace(opts, binds=tuple(binds), volumes=tuple(resolved))

    def rollback_create(self, container_id: str) -> None:
        with self._lock:
            self._pending.pop(container_id, None)
            for name in self._created.pop(container_id, []):
                try:
                    self.remove(name, force=True)
                except PouchError as err:
                    log.warning("removing volume %s of a failed create: %s", name, err.message)

    def create_done(self, container_id: str) -> None:
        with self._lock:
            self._pending.pop(container_id, None)
            self._created.pop(container_id, None)

    def acquire(self, c: Container, rootfs: str) -> None:
        """At start, with the container's root mounted at ``rootfs``: check the binds'
        propagation, mount the volumes that have a device and, at the container's first start
        (dockerd does it at create, before the root is mounted here), copy the image's content
        into empty ones; a volume emptied later is not filled again. On failure what was taken
        is let go again."""
        first_start = not c.state.ever_started
        make_bind_sources(c.options.binds)
        check_binds(c.options.binds)
        taken: list[VolumeMount] = []
        try:
            for m in c.options.volumes:
                with self._lock:
                    volume = store.get(self.db, m.name)
                    if volume is None:
                        raise NotFound(f"volume {m.name} of container {c.name} does not exist anymore")
                    self._holders.setdefault(m.name, set()).add(c.id)
                    taken.append(m)
                    self._mount(volume)
                    copy_lock = self._copy_locks.setdefault(m.name, threading.Lock())
                # held from here on (neither unmounted nor removed): only copy-ups into the same volume wait
                with copy_lock:
                    if first_start and not m.nocopy and copy_up(rootfs, m.target, self.data_path(m.name)):
                        log.info("copied %s of container %s into volume %s", m.target, c.id[:12], m.name)
        except BaseException:
            self._let_go(c.id, [m.name for m in taken])
            raise
        self._held[c.id] = taken
        for m in taken:
            self.events.emit("volume", "mount", m.name, {
                "container": c.id, "destination": m.target, "driver": DRIVER, "propagation": "",
                "read/write": "false" if m.read_only else "true",
            })

    @contextlib.contextmanager
    def held(self, holder: str, volume_mounts: Iterable[VolumeMount]) -> Iterator[None]:
        """The volumes' file systems (``-o type= device=``) mounted on their ``_data`` for a short
        use outside a running container (``pouch cp`` of a stopped one, as dockerd mounts them),
        unmounted after unless a running container uses them."""
        names: list[str] = []
        try:
            for m in volume_mounts:
                with self._lock:
                    volume = store.get(self.db, m.name)
                    if volume is None:
                        raise NotFound(f"volume {m.name} does not exist anymore")
                    self._holders.setdefault(m.name, set()).add(holder)
                    names.append(m.name)
                    self._mount(volume)
            yield
        finally:
            self._let_go(holder, names)

    def release(self, container_id: str, mounts: Iterable[VolumeMount] | None = None) -> None:
        """At teardown (exit, stop, failed start, removal): tolerates being called twice.
        After a daemon restart ``mounts``, or else the running container's record, say what it held."""
        with self._lock:
            taken = self._held.pop(container_id, None)
            if taken is None and mounts is not None:
                taken = list(mounts)
            elif taken is None:
                user = next((u for u in self.volume_users() if u.container_id == container_id), None)
                taken = list(user.volumes) if user is not None and user.active else []
        if not taken:
            return
        self._let_go(container_id, [m.name for m in taken])
        for m in taken:
            self.events.emit("volume", "unmount", m.name, {"container": container_id, "driver": DRIVER})

    def remove_anonymous(self, c: Container) -> None:
        """``rm -v``, ``run --rm``: the container's anonymous volumes go unless another container
        uses them (named volumes stay, as in Docker)."""
        for m in c.options.volumes:
            if m.anonymous:
                try:
                    self.remove(m.name)
                except (Conflict, NotFound):
                    pass
                except PouchError as err:
                    log.warning("removing volume %s of container %s: %s", m.name, c.id[:12], err.message)

    def recover(self) -> None:
        """After the containers are settled at daemon start: unmount volumes no running container
        uses. Under the lock: a container started by its restart policy meanwhile holds its own."""
        with self._lock:
            active = self._active_users()
            for volume in store.list_all(self.db):
                if volume.has_device and not active.get(volume.name) and not self._holders.get(volume.name):
                    try:
                        self._unmount(volume)
                    except PouchError as err:
                        log.warning("unmounting volume %s: %s", volume.name, err.message)
