"""Health checks (``--health-*``, the image's HEALTHCHECK) as dockerd runs them.

The container's health config is resolved once, at create (``merge_healthcheck``: the
user's fields over the image's, as dockerd's ``merge()``). While the container runs,
``HealthMonitor`` probes it every interval on the daemon's timer thread: the probe
command runs through exec (as the container's user, with its environment and working
directory), a probe running past its timeout is killed and counts as a failure.
Docker's state machine (``apply_result``): ``starting`` until the first success or
until ``retries`` consecutive failures after the start period, then ``healthy`` /
``unhealthy``; the last 5 results are kept with at most 4 KiB of output each. A
change of status is the event ``health_status: <status>``. The state lives in the
container's state record, so it survives a pouchd restart (``recover`` watches the
running containers again).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import signal
import time

from pouch.fds import wait_readable
from pouch.metadata import containers as store
from pouch.models import Container, CreateOptions, HealthConfig, HealthResult, HealthState, Status
from pouch.services.execs import ExecConfig, exec_process_spec, read_container_process
from pouch.services.timers import TimerSlots
from pouch.stdio import StdioConnection
from pouch.timestamps import epoch_of, rfc3339_of

log = logging.getLogger(__name__)

SECOND = 1_000_000_000
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_START_PERIOD = 0
DEFAULT_RETRIES = 3
MINIMUM_DURATION = 1_000_000  # 1 ms, as dockerd
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096
DEFAULT_SHELL = ("/bin/sh", "-c")

STARTING, HEALTHY, UNHEALTHY, NONE = "starting", "healthy", "unhealthy", "none"


# --- pure ----------------------------------------------------------------------------------------


def from_image(raw: dict | None) -> HealthConfig | None:
    """The ``Healthcheck`` of an image config (``pouch build`` writes it) as a HealthConfig."""
    if not raw:
        return None
    return HealthConfig(
        test=tuple(raw.get("Test") or ()),
        interval=int(raw.get("Interval") or 0),
        timeout=int(raw.get("Timeout") or 0),
        start_period=int(raw.get("StartPeriod") or 0),
        start_interval=int(raw.get("StartInterval") or 0),
        retries=int(raw.get("Retries") or 0),
    )


def merge_healthcheck(user: HealthConfig | None, image: HealthConfig | None) -> HealthConfig | None:
    """dockerd's ``merge()``: no user config takes the image's; unset user fields take the image's."""
    if user is None:
        return image
    if image is None:
        return user
    return HealthConfig(
        test=user.test or image.test,
        interval=user.interval or image.interval,
        timeout=user.timeout or image.timeout,
        start_period=user.start_period or image.start_period,
        start_interval=user.start_interval or image.start_interval,
        retries=user.retries or image.retries,
    )


def with_image_healthcheck(opts: CreateOptions, image_config: dict | None) -> CreateOptions:
    """The create options with the health config resolved against the image's (at create, as Docker)."""
    merged = merge_healthcheck(opts.healthcheck, from_image((image_config or {}).get("config", {}).get("Healthcheck")))
    return opts if merged == opts.healthcheck else dataclasses.replace(opts, healthcheck=merged)


def enabled(config: HealthConfig | None) -> bool:
    return config is not None and bool(config.test) and config.test[0] in ("CMD", "CMD-SHELL")


def health_at_start(state: HealthState | None, config: HealthConfig | None) -> HealthState | None:
    """``State.Health`` when the container starts (again): ``starting`` with no failing
    streak, the last probes kept across restarts (dockerd's ``initHealthMonitor``)."""
    if not enabled(config):
        return state
    return HealthState(STARTING, 0, state.log if state else ())


def health_at_stop(state: HealthState | None) -> HealthState | None:
    """``State.Health`` once the container has stopped: ``unhealthy``, the streak and probes
    kept (dockerd's ``CloseMonitorChannel``: "unhealthy when the monitor has stopped")."""
    if state is None:
        return None
    return HealthState(UNHEALTHY, state.failing_streak, state.log)


def probe_argv(config: HealthConfig, shell: tuple[str, ...] = DEFAULT_SHELL) -> list[str]:
    """``CMD a b`` runs ``a b``; ``CMD-SHELL text`` runs ``/bin/sh -c text``."""
    kind, args = config.test[0], list(config.test[1:])
    return [*shell, *args] if kind == "CMD-SHELL" else args


def interval_seconds(config: HealthConfig) -> float:
    return (config.interval or DEFAULT_INTERVAL) / SECOND


def timeout_seconds(config: HealthConfig) -> float:
    return (config.timeout or DEFAULT_TIMEOUT) / SECOND


def truncate_output(data: bytes) -> str:
    """Docker keeps the first 4 KiB of a probe's output, then ``...``."""
    text = data[:MAX_OUTPUT].decode("utf-8", "replace")
    return text + "..." if len(data) > MAX_OUTPUT else text


def apply_result(state: HealthState | None, result: HealthResult, config: HealthConfig,
                 since_start: float) -> HealthState:
    """The health after one probe (dockerd's ``handleProbeResult``); ``since_start`` is how
    long after the container started the probe began (seconds), for the start period."""
    state = state or HealthState()
    log_entries = (*state.log, result)[-MAX_LOG_ENTRIES:]
    retries = config.retries if config.retries > 0 else DEFAULT_RETRIES
    if result.exit_code == 0:
        return HealthState(HEALTHY, 0, log_entries)
    streak, status = state.failing_streak, state.status
    in_start_period = status == STARTING and since_start < (config.start_period or DEFAULT_START_PERIOD) / SECOND
    if not in_start_period:
        streak += 1
        if streak >= retries:
            status = UNHEALTHY
    return HealthState(status, streak, log_entries)


def health_text(state: HealthState | None) -> str:
    """What ``docker ps`` shows in parentheses after ``Up ...``."""
    if state is None:
        return ""
    return "health: starting" if state.status == STARTING else state.status


def container_health(c: Container) -> str:
    """``starting``/``healthy``/``unhealthy``, or ``none`` without a health check (the ``health=`` filter)."""
    if not enabled(c.options.healthcheck) or c.state.health is None:
        return NONE
    return c.state.health.status


def go_duration(seconds: float) -> str:
    """Go's ``Duration.String()`` for the timeout message (``30s``, ``1.5s``, ``500ms``, ``1m0s``)."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    minutes, rest = divmod(seconds, 60)
    if minutes:
        hours, minutes = divmod(int(minutes), 60)
        return (f"{hours}h" if hours else "") + f"{minutes}m{rest:g}s"
    return f"{rest:g}s"


# --- the monitor (IO) ----------------------------------------------------------------------------


class HealthMonitor:
    """Probes running containers on the shared timer thread (``services/timers.py``)."""

    def __init__(self, containers, scheduler) -> None:
        self.containers = containers  # ContainerService
        self.scheduler = scheduler
        self._timers = TimerSlots(scheduler)  # the next probe per container

    def watch(self, c: Container) -> None:
        """Start probing ``c`` (just started, or found running by ``recover``); the first
        probe comes one interval after the start, as in Docker."""
        config = c.options.healthcheck
        if not enabled(config) or c.state.status not in (Status.RUNNING, Status.PAUSED):
            return
        assert config is not None
        delay = interval_seconds(config)
        if c.state.health is None:
            c.state.health = HealthState()
            store.save_state(self.containers.db, c)
        # one interval after the start or the last probe of this run (recover keeps the rhythm;
        # probes of an earlier run, kept in the log, do not count)
        since = min(_age(c.state.health), time.time() - _parse_rfc3339(c.state.started_at))
        delay = min(delay, max(0.0, delay - since))
        self._schedule(c.id, c.state.started_at, delay)

    def unwatch(self, container_id: str) -> None:
        self._timers.cancel(container_id)

    def _schedule(self, container_id: str, run: str, delay: float) -> None:
        self._timers.replace(container_id, delay, self._probe, container_id, run)

    def _current(self, container_id: str, run: str) -> Container | None:
        c = store.get(self.containers.db, container_id)
        if c is None or c.state.started_at != run or c.state.status not in (Status.RUNNING, Status.PAUSED):
            return None
        return c

    def _probe(self, container_id: str, run: str) -> None:
        c = self._current(container_id, run)
        if c is None or not enabled(c.options.healthcheck):
            self.unwatch(container_id)
            return
        config = c.options.healthcheck
        assert config is not None
        if c.state.status == Status.RUNNING:
            result = self._run_probe(c, config)
            with self.containers.locked(container_id):
                c = self._current(container_id, run)
                if c is None:
                    return
                before = c.state.health.status if c.state.health else STARTING
                since_start = _parse_rfc3339(result.start) - _parse_rfc3339(run)
                c.state.health = apply_result(c.state.health, result, config, since_start)
                store.save_state(self.containers.db, c)
            if c.state.health.status != before:
                log.info("container %s is %s", container_id[:12], c.state.health.status)
                self.containers.events.emit_container(c, f"health_status: {c.state.health.status}")
        if container_id not in self._timers:
            return  # unwatched meanwhile
        self._schedule(container_id, run, interval_seconds(config))

    def _run_probe(self, c: Container, config: HealthConfig) -> HealthResult:
        """Run the probe through exec; -1 with the reason when it cannot run or times out."""
        started = time.time()
        argv = probe_argv(config)
        exec_id = secrets.token_hex(32)
        events = self.containers.events
        events.emit_container(c, "exec_create: " + " ".join(argv), execID=exec_id)
        try:
            container_process = dict(read_container_process(self.containers.config, c.id),
                                     env=self.containers.current_env(c))  # as an exec: `update --env` reaches probes
            spec = exec_process_spec(container_process, ExecConfig(cmd=tuple(argv)), None)
            events.emit_container(c, "exec_start: " + " ".join(argv), execID=exec_id)
            handle = self.containers.runtime.exec_process(c.id, spec, tty=False, stdin=False, detach=False,
                                                          exec_id=exec_id[:32])
        except Exception as err:  # noqa: BLE001 - the probe result says why
            return HealthResult(rfc3339_of(started), rfc3339_of(time.time()), -1, str(err))
        timeout = timeout_seconds(config)
        try:
            output, finished = _read_until(handle.connection, started + timeout)
            if not finished:
                try:
                    os.kill(handle.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                code, text = -1, f"Health check exceeded timeout ({go_duration(timeout)})"
            else:
                code, text = handle.wait(10), truncate_output(output)
        except Exception as err:  # noqa: BLE001
            code, text = -1, str(err)
        finally:
            try:
                handle.wait(5)
            except Exception:  # noqa: BLE001 - killed above; conmon ends with it
                pass
            handle.remove()
        events.emit_container(c, "exec_die", execID=exec_id, exitCode=code)
        return HealthResult(rfc3339_of(started), rfc3339_of(time.time()), code, text)


def _read_until(connection: StdioConnection, deadline: float) -> tuple[bytes, bool]:
    """stdout and stderr of an attached exec until EOF (True) or the deadline (False)."""
    out = bytearray()
    while True:
        remaining = deadline - time.time()
        if remaining <= 0:
            return bytes(out), False
        if not wait_readable([connection], remaining):
            continue
        chunk = connection.recv()
        if chunk is None:
            return bytes(out), True
        if len(out) <= MAX_OUTPUT:
            out.extend(chunk.data)


def _parse_rfc3339(text: str) -> float:
    epoch = epoch_of(text)
    return time.time() if epoch is None else epoch


def _age(state: HealthState) -> float:
    """Seconds since the last probe ended (infinity without one)."""
    if not state.log:
        return float("inf")
    return time.time() - _parse_rfc3339(state.log[-1].end)
