"""Recovery at pouchd start, the IO half: the facts of every container id gathered (records,
journals, runc's list, conmon, mounts, netns), each decided on (``services/reconcile.py``),
the actions applied through the container service.

Every container id the daemon holds anything of is visited once: each record, each journaled
removal, and each id with a container dir, a bundle or runtime state but neither (a create cut
short). An action that fails is logged and the next container is recovered: the daemon starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import TYPE_CHECKING

from pouch import mount as mounts
from pouch.errors import Conflict, NotFound, PouchError
from pouch.metadata import containers as store
from pouch.models import Container, ContainerState, Status
from pouch.services import commitpause, starting
from pouch.services.health import health_at_start
from pouch.services.pending import Removal
from pouch.services.reconcile import Action, Facts, decide
from pouch.timestamps import now_rfc3339

if TYPE_CHECKING:
    from pouch.services.containers import ContainerService

log = logging.getLogger(__name__)


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


class Recovery:
    """One pass over every container id at daemon start (``ContainerService.recover``)."""

    def __init__(self, svc: ContainerService) -> None:
        self.svc = svc
        self.config = svc.config
        self.runc_status: dict[str, str] = {}
        self.cni_results: set[str] = set()

    def run(self) -> None:
        svc = self.svc
        removals = {r.container_id: r for r in svc.pending_removals.entries()}
        records = {c.id: c for c in store.list_all(svc.db)}
        self.runc_status = self._runc_list()
        self.cni_results = self._cni_results()
        others = (self._ids_on_disk() | set(self.runc_status)) - set(records) - set(removals)
        for container_id in sorted(set(records) | set(removals) | others):
            c, removal = records.get(container_id), removals.get(container_id)
            try:
                facts = self.facts(container_id, c, removal)
                actions = decide(facts)
                if actions not in ((Action.WATCH,), (Action.BOOT_START,)):
                    log.info("recovering container %s (%s): %s", container_id[:12], facts,
                             ", ".join(actions))
                for action in actions:
                    self.apply(action, container_id, c, removal)
            except Exception:  # noqa: BLE001 - one container must not keep the daemon from starting
                log.exception("recovering container %s", container_id[:12])

    # ------------------------------------------------------------------ facts
    def _runc_list(self) -> dict[str, str]:
        """id -> runc status for every container on the daemon's runtime handlers' state roots."""
        found: dict[str, str] = {}
        for name, handler in self.svc.runtime.handlers.items():
            try:
                found.update({str(s["id"]): str(s["status"]) for s in handler.list()})
            except (PouchError, KeyError, TypeError):
                log.exception("listing the containers of runtime %s", name)
        return found

    def _cni_results(self) -> set[str]:
        """The ids with a cached CNI result (``<cni_dir>/results/<id>[.<ifname>].json``, network/manager.py):
        an address held, also after a reboot emptied --exec-root. Listed once, not globbed per container."""
        return {name[:64] for name in _listdir(os.path.join(self.config.cni_dir, "results"))}

    def _ids_on_disk(self) -> set[str]:
        found = set(_listdir(os.path.join(self.config.root, "containers")))
        found |= set(_listdir(os.path.join(self.config.exec_root, "bundles")))
        return {name for name in found if len(name) == 64}

    def _runc(self, container_id: str, bundle: bool) -> str | None:
        """runc's status: from the list, or (a handler no longer registered) asked of the handler
        the bundle names."""
        status = self.runc_status.get(container_id)
        if status is None and bundle:
            with contextlib.suppress(PouchError):
                status = (self.svc.runtime.state(container_id) or {}).get("status")
        return status

    def facts(self, container_id: str, c: Container | None, removal: Removal | None) -> Facts:
        runtime = self.svc.runtime
        cdir = self.config.container_dir(container_id)
        bundle = os.path.isdir(self.config.bundle_dir(container_id))
        conmon_pid = (c.state.conmon_pid if c is not None else 0) or (runtime.conmon_pid(container_id) if bundle else 0)
        netns = os.path.lexists(self.svc.network.netns_path(container_id))
        return Facts(
            status=c.state.status if c is not None else None,
            removal_journaled=removal is not None and not removal.creating,
            create_journaled=removal is not None and removal.creating,
            start_journaled=starting.exists(cdir),
            runc=self._runc(container_id, bundle),
            conmon_alive=bool(conmon_pid) and runtime.conmon_alive(conmon_pid or 0, container_id),
            leftovers=bundle or netns or container_id in self.cni_results
            or mounts.is_mountpoint(os.path.join(cdir, "rootfs")),
            commit_paused=os.path.exists(commitpause.marker_path(cdir)),
        )

    # ---------------------------------------------------------------- actions
    def apply(self, action: Action, container_id: str, c: Container | None, removal: Removal | None) -> None:
        svc = self.svc
        cdir = self.config.container_dir(container_id)
        if action == Action.FINISH_REMOVAL:
            self.finish_removal(container_id, removal)
        elif action == Action.END_CREATE:
            svc.pending_removals.clear(container_id)
        elif action == Action.DROP_LEFTOVERS:
            svc._teardown(container_id, None)
            svc._drop_container_files(container_id)
        elif action == Action.ADOPT:
            self.adopt(container_id)
        elif action == Action.UNDO_START:
            self.undo_start(container_id)
        elif action == Action.THAW:
            assert c is not None
            commitpause.thaw_after_crash(svc.runtime, cdir, container_id, running=c.state.status == Status.RUNNING)
        elif action in (Action.RECORD_PAUSED, Action.RECORD_RUNNING):
            self.record_status(container_id, Status.PAUSED if action == Action.RECORD_PAUSED else Status.RUNNING)
        elif action == Action.WATCH:
            self.watch(container_id)
        elif action == Action.SETTLE_EXIT:
            commitpause.clear(cdir)
            svc._handle_exit(container_id)
        else:
            self.policy(action, container_id)

    def finish_removal(self, container_id: str, removal: Removal | None) -> None:
        """The record (if still there) and everything of the container go; then the marker."""
        svc = self.svc
        c = store.get(svc.db, container_id)
        if c is not None:
            c.state.status = Status.REMOVING
            store.save_state(svc.db, c)
            svc._teardown_runtime(c)  # kills what still runs
            svc._finish_remove(c)
        else:
            svc._teardown(container_id, removal.attachment if removal else None)
            svc._drop_container_files(container_id)
        for name in removal.volumes if removal else ():
            try:
                svc.volumes.remove(name)
            except (Conflict, NotFound):
                pass
            except PouchError as err:
                log.warning("removing volume %s of container %s: %s", name, container_id[:12], err.message)
        starting.clear(self.config.container_dir(container_id))
        svc.pending_removals.clear(container_id)

    def adopt(self, container_id: str) -> None:
        """A start that got as far as ``runc start``: recorded running with what it was given."""
        svc = self.svc
        journal = starting.read(svc.config.container_dir(container_id))
        c = store.get(svc.db, container_id)
        if journal is None or c is None:
            raise PouchError(f"container {container_id[:12]}: its start journal is unreadable")
        c.state = ContainerState(status=Status.RUNNING, pid=journal.pid, conmon_pid=journal.conmon_pid,
                                 started_at=journal.started_at or now_rfc3339(), finished_at=c.state.finished_at,
                                 health=health_at_start(c.state.health, c.options.healthcheck))
        c.network = journal.attachment
        store.save_state(svc.db, c)
        starting.clear(svc.config.container_dir(container_id))
        svc.events.emit_container(c, "start")
        log.info("adopted container %s (pid %d): started before pouchd was killed", container_id[:12], c.state.pid)

    def undo_start(self, container_id: str) -> None:
        """Runtime, network, mounts and bundle of a start cut short go; the record is kept."""
        cdir = self.config.container_dir(container_id)
        journal = starting.read(cdir)
        c = store.get(self.svc.db, container_id)
        attachment = journal.attachment if journal else (c.network if c is not None else None)
        self.svc._teardown(container_id, attachment)
        starting.clear(cdir)
        if c is not None and c.network is not None:
            c.network = None
            store.save_state(self.svc.db, c)

    def record_status(self, container_id: str, status: Status) -> None:
        c = store.get(self.svc.db, container_id)
        if c is not None:
            c.state.status = status
            store.save_state(self.svc.db, c)

    def watch(self, container_id: str) -> None:
        c = store.get(self.svc.db, container_id)
        if c is not None and c.state.conmon_pid:
            self.svc.monitor.watch(c.id, c.state.conmon_pid)
            self.svc.health.watch(c)

    def policy(self, action: Action, container_id: str) -> None:
        c = store.get(self.svc.db, container_id)
        if c is None:
            return
        if action == Action.RESUME_RESTART:
            self.svc.restarts.resume(c)
        else:
            self.svc.restarts.on_boot(c)
