"""Restart policies as Docker applies them (moby's ``restartmanager``), pure decisions.

- ``no``: never restarted.
- ``always``: restarted whenever its process exits, except after ``stop``/``kill`` by the
  user; also started again when pouchd starts (even if the user had stopped it).
- ``unless-stopped``: as ``always``, but one stopped by the user stays stopped when pouchd starts.
- ``on-failure[:N]``: restarted when it exits non-zero, at most N times (0: no limit).

Between an exit and the restart the container is ``restarting`` for a back-off delay:
100 ms, doubled after each restart, at most one minute, back to 100 ms once a run
lasted 10 seconds. ``RestartCount`` counts the restarts of the policy; a start by the
user sets it back to 0.
"""

from __future__ import annotations

import logging
import threading

from pouch.errors import InvalidArgument, NotModified, PouchError
from pouch.metadata import containers as store
from pouch.models import RestartPolicy, Status
from pouch.services.timers import TimerSlots
from pouch.timestamps import epoch_of

POLICIES = ("no", "always", "unless-stopped", "on-failure")
INITIAL_DELAY = 0.1  # seconds (moby: defaultTimeout)
MAX_DELAY = 60.0  # moby: maxRestartTimeout
BACKOFF_FACTOR = 2
RESET_AFTER = 10.0  # a run this long resets the back-off


def parse_policy(name: str, maximum_retry_count: int = 0) -> RestartPolicy:
    """``HostConfig.RestartPolicy`` validated as dockerd does (``""`` is ``no``)."""
    name = name or "no"
    if name not in POLICIES:
        raise InvalidArgument(f"invalid restart policy '{name}'")
    if name != "on-failure" and maximum_retry_count:
        raise InvalidArgument(f"maximum retry count cannot be used with restart policy '{name}'")
    if maximum_retry_count < 0:
        raise InvalidArgument("maximum retry count cannot be negative")
    return RestartPolicy(name, maximum_retry_count)


def check_auto_remove(policy: RestartPolicy, auto_remove: bool) -> None:
    """``--rm`` and a restart policy exclude each other (dockerd's 400)."""
    if auto_remove and policy.name != "no":
        raise InvalidArgument("Conflicting options: --restart and --rm: can't create 'AutoRemove' container "
                              f"with restart policy '{policy.name}'")


def should_restart(policy: RestartPolicy, exit_code: int, restart_count: int, stopped_by_user: bool) -> bool:
    """Whether a container whose process just exited is restarted."""
    if stopped_by_user or policy.name == "no":
        return False
    if policy.name in ("always", "unless-stopped"):
        return True
    if policy.name == "on-failure":
        limit = policy.maximum_retry_count
        return exit_code != 0 and (limit == 0 or restart_count < limit)
    return False


def should_start_at_boot(policy: RestartPolicy, exit_code: int, restart_count: int, stopped_by_user: bool,
                         ever_started: bool) -> bool:
    """Whether pouchd starts a container that is not running when the daemon starts
    (after a host reboot, or one that exited while pouchd was down)."""
    if not ever_started:
        return False
    if policy.name == "always":
        return True
    return should_restart(policy, exit_code, restart_count, stopped_by_user)


def next_delay(previous: float, ran_for: float) -> float:
    """The back-off before the next restart, given the previous one (0: none yet) and how
    long the run that just ended lasted (seconds)."""
    if ran_for >= RESET_AFTER:
        previous = 0.0
    delay = INITIAL_DELAY if previous <= 0 else previous * BACKOFF_FACTOR
    return min(delay, MAX_DELAY)


__all__ = ["check_auto_remove", "next_delay", "parse_policy", "should_restart", "should_start_at_boot"]


# --- applying the policy (IO): the container service's exits and pouchd's start -----------------


class RestartManager:
    """Restarts containers after their back-off, on the daemon's timer thread.

    ``containers`` is the ContainerService: its per-container lock, ``start_locked``
    and state store are used so a restart is one more start, serialised with stop,
    kill and rm (which cancel a pending restart through ``cancel``).
    """

    def __init__(self, containers, scheduler) -> None:
        self.containers = containers
        self.scheduler = scheduler
        self._delays: dict[str, float] = {}  # the last back-off per container (in memory, as dockerd)
        self._timers = TimerSlots(scheduler)  # the pending restart per container
        self._lock = threading.Lock()  # _delays

    def on_exit(self, c) -> bool:
        """Called with the container locked once its exit is recorded: with a policy that
        says so, the container becomes ``restarting`` and a start is scheduled."""
        if not should_restart(c.options.restart_policy, c.state.exit_code, c.restart_count, c.state.stopped_by_user):
            self.forget(c.id)
            return False
        ran_for = _seconds_between(c.state.started_at, c.state.finished_at)
        with self._lock:
            delay = self._delays[c.id] = next_delay(self._delays.get(c.id, 0.0), ran_for)
        c.state.status = Status.RESTARTING
        c.restart_count += 1
        self._schedule(c.id, c.state.finished_at, delay)
        return True

    def on_user_start(self, c) -> None:
        """A start by the user: the count and the back-off begin again (as ``docker start``)."""
        c.restart_count = 0
        self.forget(c.id)

    def resume(self, c) -> None:
        """``recover``: a container pouchd left ``restarting`` is restarted after the first back-off."""
        self._schedule(c.id, c.state.finished_at, INITIAL_DELAY)

    def on_boot(self, c) -> None:
        """``recover``: a stopped container whose policy says so is started (a host reboot)."""
        ever_started = c.state.ever_started
        if should_start_at_boot(c.options.restart_policy, c.state.exit_code, c.restart_count,
                                c.state.stopped_by_user, ever_started):
            self.scheduler.call_later(0, self._boot_start, c.id)

    def cancel(self, c) -> None:
        """``stop``/``kill``/``rm -f`` of a container waiting to restart: it stays stopped.
        Called with the container locked."""
        self.forget(c.id)
        c.state.status = Status.EXITED
        store.save_state(self.containers.db, c)
        self.containers.notify_changed()

    def forget(self, container_id: str) -> None:
        with self._lock:
            self._delays.pop(container_id, None)
        self._timers.cancel(container_id)

    def _schedule(self, container_id: str, run: str, delay: float) -> None:
        self._timers.replace(container_id, delay, self._restart, container_id, run)

    def _restart(self, container_id: str, run: str) -> None:
        svc = self.containers
        with svc.locked(container_id):
            self._timers.discard(container_id)
            c = store.get(svc.db, container_id)
            if c is None or c.state.status != Status.RESTARTING or c.state.finished_at != run:
                return  # stopped, removed or started meanwhile
            try:
                svc.start_locked(c)
            except Exception as err:  # not only PouchError: it must not stay `restarting` for good
                logging.getLogger(__name__).warning("restarting container %s failed: %s", container_id[:12], err)
                c = store.get(svc.db, container_id)
                if c is not None:
                    c.state.status = Status.EXITED
                    c.state.error = err.message if isinstance(err, PouchError) else str(err)
                    store.save_state(svc.db, c)
            else:
                svc.events.emit_container(c, "start")
                svc.health.watch(c)
        svc.notify_changed()

    def _boot_start(self, container_id: str) -> None:
        try:
            self.containers.start(container_id)
        except NotModified:
            pass
        except PouchError as err:
            logging.getLogger(__name__).warning("starting container %s at daemon start failed: %s",
                                                container_id[:12], err)


def _seconds_between(start: str, end: str) -> float:
    a, b = epoch_of(start), epoch_of(end)
    return 0.0 if a is None or b is None else max(0.0, b - a)
