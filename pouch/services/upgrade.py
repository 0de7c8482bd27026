"""``pouch upgrade``: a container's image replaced in place, with rollback, crash-safe.

The container keeps its id, name, networks (addresses and MACs too), published ports,
volumes and options (rich mode, hooks, env, limits); what changes is its image, and its
entrypoint and command if asked (``upgrade_plan.py``). As PouchContainer does, the old
image's writable layer is discarded once the new container runs.

The steps, for a running container:

1. stop it (its poststop hooks run), as ``pouch stop``;
2. under its lock: write the journal (``prepared``), set the old writable layer aside (its key
   gets ``.upgrade-old``), make a new one on the new image, point the record at the new
   image, journal ``switched``;
3. start it (a new bundle and spec; its prestart hooks run) with the network addresses and
   host ports it had, and watch it for ``SETTLE_SECONDS`` (the lock released, so that an
   exit is recorded): a container that exits that soon failed as one that could not start;
4. success: the old writable layer and the journal go, an ``upgrade`` event is sent;
   failure: journal ``rolling-back``, the new writable layer goes, the old one comes back,
   the record names the old image again, the old container starts as it was, and the error
   says why the new one failed (the start's error, or its exit code and last output).

A stopped container is switched the same way and stays stopped. A pouchd killed at any point
leaves a journal: :meth:`UpgradeService.recover`, at pouchd's start, goes back to the old
container before ``switched`` and keeps the new one from then on (started or not, it can be
started and removed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import time

from pouch import mount as mounts
from pouch.config import DaemonConfig
from pouch.errors import Conflict, PouchError
from pouch.images.service import ImageService
from pouch.models import Container, HealthConfig, NetworkAttachment, Status
from pouch.runtime.logs import K8S_FILE, LogFormat, read_logs
from pouch.services import logsinks
from pouch.services.containers import ContainerService
from pouch.services.faults import fault_point
from pouch.services.health import from_image
from pouch.services.upgrade_plan import (
    OLD_RW_SUFFIX,
    Journal,
    Phase,
    Recovery,
    Side,
    UpgradePlan,
    UpgradeRequest,
    pinned_options,
    plan_upgrade,
    recovery_for,
)
from pouch.snapshots.quota import RECORD_NAME

log = logging.getLogger(__name__)

JOURNAL_NAME = "upgrade.json"
SETTLE_SECONDS = 2.0  # a new container that exits this soon after its start failed: the old one comes back


class UpgradeService:
    def __init__(self, config: DaemonConfig, containers: ContainerService, images: ImageService) -> None:
        self.config = config
        self.containers = containers
        self.images = images

    # ------------------------------------------------------------------ upgrade
    def upgrade(self, ref: str, request: UpgradeRequest) -> Container:
        """Upgrade the container ``ref``; the record after. When the new container cannot
        start, or exits within ``SETTLE_SECONDS`` of its start, the old one comes back and a
        PouchError says why."""
        c = self.containers.get(ref)
        image = self.images.get(request.image) if request.image else self.images.for_container(c.image_id)
        image_ref = request.image or c.image_ref
        health = (_image_health(self.images.for_container(c.image_id).config), _image_health(image.config))
        plan = plan_upgrade(c, request, image.id, image_ref, health)  # refused before anything stops
        self._check_no_upgrade_under_way(c)
        attachment = c.network  # its addresses and ports, for the next start
        if plan.restart:
            self.containers.stop(c.id)
        with self.containers.locked(c.id):
            c = self.containers.get(c.id)
            if c.state.status.is_active():
                raise Conflict(f"cannot upgrade container {c.name}: it was started again meanwhile")
            self._check_no_upgrade_under_way(c)
            plan = dataclasses.replace(plan_upgrade(c, request, image.id, image_ref, health), restart=plan.restart)
            self._switch(plan)
            since = time.time()
            if plan.restart:
                try:
                    self._start(plan.container_id, plan.new, attachment)
                except Exception as err:  # noqa: BLE001 - whatever stopped it, the old container comes back
                    self._back_to_old(plan, attachment, _reason(err))
                fault_point(self.config, "upgrade-started")
        if plan.restart:
            why = self._settle(plan.container_id, since)  # outside the lock: its exit is recorded meanwhile
            if why:
                self._back_to_old_after_exit(plan, attachment, why)
        with self.containers.locked(plan.container_id):
            self._finish(plan)
            c = self.containers.get(plan.container_id)
        self.containers.events.emit_container(c, "upgrade", oldImage=plan.old.image_ref)
        log.info("upgraded container %s from %s to %s", c.id[:12], plan.old.image_ref, plan.new.image_ref)
        return c

    def _check_no_upgrade_under_way(self, c: Container) -> None:
        if os.path.exists(self._journal_path(c.id)):
            raise Conflict(f"cannot upgrade container {c.name}: an upgrade of it is under way")

    def _switch(self, plan: UpgradePlan) -> None:
        """The old writable layer set aside, a new one on the new image, the record switched."""
        if mounts.is_mountpoint(self._rootfs(plan.container_id)):
            self.containers.teardown_leftovers(plan.container_id)  # a stop leaves it unmounted; make sure
        self._write_journal(Journal(Phase.PREPARED, plan))
        fault_point(self.config, "upgrade-prepared")
        try:
            self._set_aside(plan)
            self.containers.replace_image(plan.container_id, plan.new.image_id, plan.new.image_ref, plan.new.options)
        except Exception:
            self._roll_back(plan)
            self._drop_journal(plan.container_id)
            raise
        self._write_journal(Journal(Phase.SWITCHED, plan))
        fault_point(self.config, "upgrade-switched")

    def _settle(self, container_id: str, since: float) -> str:
        """Why the new container is not up ``SETTLE_SECONDS`` after its start ("" when it is):
        it exited (the app's code, and its last output), or the app of a rich container whose
        init stays (sbin-init mode) ended."""
        started = self.containers.get(container_id)
        rich = self.containers.rich

        def ended() -> bool:
            now = self.containers.get_or_none(container_id)
            return (now is None or now.state.status != Status.RUNNING or now.state.started_at != started.state.started_at
                    or (now.options.rich is not None and rich.app_exit_code(now) is not None))

        deadline = time.monotonic() + SETTLE_SECONDS
        while not ended():
            left = deadline - time.monotonic()
            if left <= 0:
                return ""
            self.containers.wait_for(ended, min(left, 0.1))  # woken by an exit; polled for the app's code
        now = self.containers.get_or_none(container_id)
        if now is None:
            return "it was removed"
        if now.state.stopped_by_user:  # `pouch stop` or `kill` meanwhile: the new one stays, stopped
            return ""
        code = rich.app_exit_code(now) if now.options.rich else None
        code = now.state.exit_code if code is None else code
        output = last_output(self.containers.log_path(now), since, fmt=logsinks.read_format(now))
        return f"it exited with code {code} right after its start" + (f": {output}" if output else "")

    def _back_to_old_after_exit(self, plan: UpgradePlan, attachment: NetworkAttachment | None, why: str) -> None:
        """The new container ended right after its start: stopped for good (its restart policy
        cancelled, a rich init brought down), then the old one comes back."""
        self._stop_for_good(plan.container_id)
        with self.containers.locked(plan.container_id):
            c = self.containers.get_or_none(plan.container_id)
            if c is None:
                self._drop_old(plan.container_id)
                raise Conflict(f"upgrade to {plan.new.image_ref} failed ({why}), and the container was removed meanwhile")
            if c.state.status.is_active() or c.image_id != plan.new.image_id:
                self._finish(plan)  # what runs now is the new one
                raise Conflict(f"upgrade to {plan.new.image_ref} failed ({why}), and the container was changed "
                               f"meanwhile ({c.state.status}, {c.image_ref}): it is left as it is")
            self._back_to_old(plan, attachment, why)

    def _stop_for_good(self, container_id: str, attempts: int = 3) -> None:
        """Stopped, and no restart pending: a stop marks it stopped by the user (no policy restarts
        it) and cancels a pending restart; one that found the app gone already (its kill failed,
        its exit not recorded yet) is followed by a wait for the exit and another try."""
        for _ in range(attempts):
            with contextlib.suppress(PouchError):  # already stopped, or its process gone already
                self.containers.stop(container_id)
            if self.containers.wait_for(lambda: self.containers.is_stopped(container_id), 10):
                return

    def _back_to_old(self, plan: UpgradePlan, attachment: NetworkAttachment | None, why: str) -> None:
        """The new container failed (``why``): the old one comes back as it was; always raises."""
        log.warning("upgrade of %s: the new container failed (%s): rolling back", plan.container_id[:12], why)
        self._write_journal(Journal(Phase.ROLLING_BACK, plan))
        fault_point(self.config, "upgrade-rolling-back")
        self._roll_back(plan)
        try:
            self._start(plan.container_id, plan.old, attachment)
        except Exception as again:  # noqa: BLE001 - reported with the first cause
            raise PouchError(f"upgrade to {plan.new.image_ref} failed: {why}; the old container "
                             f"({plan.old.image_ref}) is back but did not start: {_reason(again)}") from None
        finally:
            self._drop_journal(plan.container_id)
        raise PouchError(f"upgrade to {plan.new.image_ref} failed, the container runs {plan.old.image_ref} "
                         f"again: {why}")

    def _start(self, container_id: str, side: Side, attachment: NetworkAttachment | None) -> None:
        """Start with the addresses and host ports it had; the record keeps the options as asked."""
        self.containers.replace_image(container_id, side.image_id, side.image_ref,
                                      pinned_options(side.options, attachment))
        try:
            self.containers.start(container_id)
        finally:
            self.containers.replace_image(container_id, side.image_id, side.image_ref, side.options)

    def _finish(self, plan: UpgradePlan) -> None:
        self._drop_old(plan.container_id)
        self._drop_journal(plan.container_id)

    def _roll_back(self, plan: UpgradePlan) -> None:
        """Back to the old container's record and writable layer."""
        self._put_back(plan.container_id)
        self.containers.replace_image(plan.container_id, plan.old.image_id, plan.old.image_ref, plan.old.options)

    # ------------------------------------------------------------------ writable layers
    # The old layer is set aside as if it were a container of its own, ``<id>.upgrade-old``: its
    # snapshot key (whose ``parent`` keeps the old image's layers from GC) and, with a disk quota,
    # a container dir holding its quota record (which keeps its project id allocated). Each step
    # below can be run again after a crash.
    def _set_aside(self, plan: UpgradePlan) -> None:
        """The old writable layer set aside, a new one on the new image (with a quota of its own)."""
        cid, old_key = plan.container_id, self._old_key(plan.container_id)
        os.rename(self._rw_base(cid), self._rw_base(old_key))
        if os.path.exists(self._quota_record(cid)):
            os.makedirs(self.config.container_dir(old_key), mode=0o700, exist_ok=True)
            os.replace(self._quota_record(cid), self._quota_record(old_key))
        if plan.new.options.disk_quota:
            self.containers.quota.apply(cid, plan.new.options.disk_quota)
        self.images.prepare_rw(cid, plan.new.image_id)

    def _put_back(self, container_id: str) -> None:
        """The new writable layer (and its quota) gone, the old one back where it was."""
        old_key = self._old_key(container_id)
        if os.path.exists(self._quota_record(old_key)):
            self.containers.quota.release(container_id)
            os.replace(self._quota_record(old_key), self._quota_record(container_id))
        if os.path.isdir(self._rw_base(old_key)):
            self.images.remove_rw(container_id)
            os.rename(self._rw_base(old_key), self._rw_base(container_id))
        shutil.rmtree(self.config.container_dir(old_key), ignore_errors=True)

    def _drop_old(self, container_id: str) -> None:
        """The old writable layer deleted (its quota's limit cleared first), the new one kept."""
        old_key = self._old_key(container_id)
        self.containers.quota.release(old_key)
        self.images.remove_rw(old_key)
        shutil.rmtree(self.config.container_dir(old_key), ignore_errors=True)

    def _quota_record(self, key: str) -> str:
        return os.path.join(self.config.container_dir(key), RECORD_NAME)

    # ------------------------------------------------------------------ recovery
    def recover(self) -> None:
        """pouchd's start: settle every upgrade a crash interrupted (before the containers'
        own recovery): the old container before the switch, the new one after it."""
        containers_dir = os.path.dirname(self.config.container_dir("x"))
        if not os.path.isdir(containers_dir):
            return
        for container_id in os.listdir(containers_dir):
            journal = self._read_journal(container_id)
            if journal is not None:
                self._recover_one(journal)

    def _recover_one(self, journal: Journal) -> None:
        plan = journal.plan
        if self.containers.get_or_none(plan.container_id) is None:  # removed meanwhile
            self._drop_old(plan.container_id)
            self._drop_journal(plan.container_id)
            return
        action = recovery_for(journal.phase)
        log.info("container %s: an upgrade was interrupted (%s): %s", plan.container_id[:12], journal.phase, action)
        if self.containers.is_stopped(plan.container_id):  # a start cut short leaves runc state, a mount...
            self.containers.teardown_leftovers(plan.container_id)
        if action == Recovery.ROLL_BACK:
            self._roll_back(plan)
        else:
            side = plan.new
            self.containers.replace_image(plan.container_id, side.image_id, side.image_ref, side.options)
            self._drop_old(plan.container_id)
        self._drop_journal(plan.container_id)

    # ------------------------------------------------------------------ files
    def _rootfs(self, container_id: str) -> str:
        return os.path.join(self.config.container_dir(container_id), "rootfs")

    @staticmethod
    def _old_key(container_id: str) -> str:
        return container_id + OLD_RW_SUFFIX

    def _rw_base(self, key: str) -> str:
        return os.path.dirname(self.images.rw_dirs(key).upper)

    def _journal_path(self, container_id: str) -> str:
        return os.path.join(self.config.container_dir(container_id), JOURNAL_NAME)

    def _write_journal(self, journal: Journal) -> None:
        """Written whole and durable before the step it announces (fsync of the file and its dir)."""
        path = self._journal_path(journal.plan.container_id)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(journal.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(os.path.dirname(path))

    def _read_journal(self, container_id: str) -> Journal | None:
        try:
            with open(self._journal_path(container_id), encoding="utf-8") as f:
                return Journal.from_json(f.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.error("container %s: unreadable upgrade journal, left as it is: %s", container_id[:12], err)
            return None

    def _drop_journal(self, container_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._journal_path(container_id))
        _fsync_dir(self.config.container_dir(container_id))


def last_output(log_path: str, since: float, lines: int = 3, fmt: LogFormat = K8S_FILE) -> str:
    """The last ``lines`` lines a container wrote to its log (in its driver's format, ``fmt``) since
    ``since`` (epoch seconds), joined; "" for a driver that keeps no file."""
    if not log_path:
        return ""
    entries = read_logs(log_path, tail=lines, fmt=fmt)  # parsed from the end
    texts = [e.data.decode(errors="replace").strip() for e in entries if e.timestamp >= since]
    return " / ".join(t for t in texts if t)[-600:]


def _image_health(config: dict | None) -> HealthConfig | None:
    return from_image((config or {}).get("config", {}).get("Healthcheck"))


def _reason(err: Exception) -> str:
    return err.message if isinstance(err, PouchError) else f"{type(err).__name__}: {err}"


def _fsync_dir(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
