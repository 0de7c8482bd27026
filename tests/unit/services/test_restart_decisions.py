"""Restart-policy decisions and back-off (pouch/services/restart.py) and the shared timer thread."""

from __future__ import annotations

import threading
import time

import pytest

from pouch.errors import InvalidArgument
from pouch.models import RestartPolicy
from pouch.services.restart import (
    INITIAL_DELAY,
    MAX_DELAY,
    check_auto_remove,
    next_delay,
    parse_policy,
    should_restart,
    should_start_at_boot,
)
from pouch.services.timers import Scheduler

NO, ALWAYS, UNLESS = RestartPolicy("no"), RestartPolicy("always"), RestartPolicy("unless-stopped")


def on_failure(n: int = 0) -> RestartPolicy:
    return RestartPolicy("on-failure", n)


@pytest.mark.parametrize("policy, code, count, by_user, expected", [
    (NO, 1, 0, False, False),
    (ALWAYS, 0, 0, False, True),
    (ALWAYS, 137, 50, False, True),
    (ALWAYS, 0, 0, True, False),  # stop/kill by the user
    (UNLESS, 0, 3, False, True),
    (UNLESS, 1, 0, True, False),
    (on_failure(), 0, 0, False, False),  # success: done
    (on_failure(), 1, 999, False, True),  # 0 = no limit
    (on_failure(3), 1, 2, False, True),
    (on_failure(3), 1, 3, False, False),  # the count is honoured
    (on_failure(3), 1, 0, True, False),
])
def test_should_restart(policy, code, count, by_user, expected):
    assert should_restart(policy, code, count, by_user) is expected


@pytest.mark.parametrize("policy, code, by_user, started, expected", [
    (ALWAYS, 0, True, True, True),  # `always` comes back at daemon start even after a stop
    (ALWAYS, 0, False, False, False),  # never started: stays created
    (UNLESS, 0, False, True, True),
    (UNLESS, 0, True, True, False),  # stopped by the user: stays stopped
    (on_failure(), 1, False, True, True),
    (on_failure(), 0, False, True, False),
    (on_failure(), 143, True, True, False),
    (NO, 1, False, True, False),
])
def test_should_start_at_boot(policy, code, by_user, started, expected):
    assert should_start_at_boot(policy, code, 0, by_user, started) is expected


def test_backoff_doubles_caps_and_resets_after_a_long_run():
    delays, previous = [], 0.0
    for _ in range(12):
        previous = next_delay(previous, ran_for=0.5)
        delays.append(previous)
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert delays[-1] == MAX_DELAY and max(delays) == MAX_DELAY
    assert next_delay(MAX_DELAY, ran_for=10.0) == INITIAL_DELAY
    assert next_delay(0.4, ran_for=9.9) == 0.8


def test_parse_policy_validates_as_dockerd():
    assert parse_policy("") == RestartPolicy("no", 0)
    assert parse_policy("on-failure", 5) == RestartPolicy("on-failure", 5)
    with pytest.raises(InvalidArgument, match="invalid restart policy 'sometimes'"):
        parse_policy("sometimes")
    with pytest.raises(InvalidArgument, match="maximum retry count cannot be used with restart policy 'always'"):
        parse_policy("always", 2)
    with pytest.raises(InvalidArgument, match="cannot be negative"):
        parse_policy("on-failure", -1)


def test_auto_remove_conflicts_with_a_policy():
    check_auto_remove(NO, True)
    check_auto_remove(ALWAYS, False)
    with pytest.raises(InvalidArgument, match="AutoRemove"):
        check_auto_remove(on_failure(1), True)


def test_api_restart_policy_round_trip():
    from pouch.api.container_json import host_config
    from pouch.api.convert import create_options_from_docker

    opts = create_options_from_docker({"Image": "x", "HostConfig": {
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 4}}})
    assert opts.restart_policy == on_failure(4)
    assert host_config(opts)["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 4}
    with pytest.raises(InvalidArgument, match="can't create 'AutoRemove' container with restart policy"):
        create_options_from_docker({"Image": "x", "HostConfig": {"AutoRemove": True,
                                                                 "RestartPolicy": {"Name": "always"}}})


def test_scheduler_runs_due_jobs_in_order_and_skips_cancelled_ones():
    scheduler = Scheduler(workers=1)
    ran: list[str] = []
    done = threading.Event()
    scheduler.call_later(0.15, ran.append, "late")
    scheduler.call_later(0.05, ran.append, "early")
    scheduler.call_later(0.10, ran.append, "cancelled").cancel()
    scheduler.call_later(0.2, done.set)
    assert done.wait(5)
    assert ran == ["early", "late"]
    scheduler.stop()
    assert scheduler.call_later(0, ran.append, "after stop").cancelled


def test_scheduler_keeps_going_when_a_job_fails():
    scheduler = Scheduler(workers=2)
    done = threading.Event()

    def boom() -> None:
        raise RuntimeError("boom")

    scheduler.call_later(0, boom)
    scheduler.call_later(0.05, done.set)
    assert done.wait(5)
    scheduler.stop()


def test_scheduler_slow_job_does_not_delay_the_others():
    scheduler = Scheduler(workers=4)
    done = threading.Event()
    started = time.monotonic()
    scheduler.call_later(0, time.sleep, 2)
    scheduler.call_later(0.05, done.set)
    assert done.wait(5) and time.monotonic() - started < 1.5
    scheduler.stop()
