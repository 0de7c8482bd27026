"""The recovery decision table (services/reconcile.py), over every combination of facts."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from pouch.models import Status
from pouch.services.reconcile import Action, Facts, decide

A = Action
STATUSES = (None, *Status)
RUNC = (None, "created", "running", "paused", "stopped")


def every_facts():
    for status, removal, creating, start, runc, alive, leftovers, commit in itertools.product(
            STATUSES, (False, True), (False, True), (False, True), RUNC, (False, True), (False, True), (False, True)):
        yield Facts(status, removal_journaled=removal, create_journaled=creating, start_journaled=start, runc=runc,
                    conmon_alive=alive, leftovers=leftovers, commit_paused=commit)


@pytest.mark.parametrize("facts, expected", [
    # a journaled removal is finished, whatever state the container is in
    (Facts(Status.RUNNING, removal_journaled=True, runc="running", conmon_alive=True), (A.FINISH_REMOVAL,)),
    (Facts(None, removal_journaled=True), (A.FINISH_REMOVAL,)),
    (Facts(Status.REMOVING), (A.FINISH_REMOVAL,)),
    # a create journaled: undone before its record was written, done after
    (Facts(None, create_journaled=True), (A.FINISH_REMOVAL,)),
    (Facts(Status.CREATED, create_journaled=True), (A.END_CREATE, A.BOOT_START)),
    (Facts(Status.CREATED, removal_journaled=True, create_journaled=True), (A.FINISH_REMOVAL,)),
    # no record, no journal: files of a create or removal cut short
    (Facts(None, leftovers=True), (A.DROP_LEFTOVERS,)),
    # recorded running or paused
    (Facts(Status.RUNNING, runc="running", conmon_alive=True), (A.WATCH,)),
    (Facts(Status.RUNNING, runc="running"), (A.SETTLE_EXIT,)),
    (Facts(Status.RUNNING, runc="stopped", leftovers=True), (A.SETTLE_EXIT,)),
    (Facts(Status.PAUSED, runc="paused"), (A.SETTLE_EXIT,)),
    (Facts(Status.RUNNING, runc="paused", conmon_alive=True, commit_paused=True), (A.THAW, A.WATCH)),
    (Facts(Status.RUNNING, runc="paused", conmon_alive=True), (A.RECORD_PAUSED, A.WATCH)),
    (Facts(Status.PAUSED, runc="running", conmon_alive=True), (A.RECORD_RUNNING, A.WATCH)),
    (Facts(Status.PAUSED, runc="paused", conmon_alive=True), (A.WATCH,)),
    # recorded created: the cases
    (Facts(Status.CREATED), (A.BOOT_START,)),
    (Facts(Status.CREATED, leftovers=True), (A.UNDO_START, A.BOOT_START)),  # killed after the root was mounted
    (Facts(Status.CREATED, runc="created", conmon_alive=True, leftovers=True),
     (A.UNDO_START, A.BOOT_START)),  # created in runc, never started: "already exists in the runtime"
    (Facts(Status.CREATED, start_journaled=True, runc="running", conmon_alive=True, leftovers=True),
     (A.ADOPT, A.WATCH)),  # started, the record not written yet
    (Facts(Status.CREATED, start_journaled=True, runc="paused", conmon_alive=True, leftovers=True),
     (A.ADOPT, A.RECORD_PAUSED, A.WATCH)),
    (Facts(Status.CREATED, runc="running", conmon_alive=True, leftovers=True),
     (A.UNDO_START, A.BOOT_START)),  # runs without a journaled start: nothing says what it was given
    (Facts(Status.CREATED, start_journaled=True, runc="running", leftovers=True),
     (A.UNDO_START, A.BOOT_START)),  # its conmon is gone: nobody would record its exit
    (Facts(Status.CREATED, start_journaled=True, runc="stopped", conmon_alive=True, leftovers=True),
     (A.UNDO_START, A.BOOT_START)),  # exited already
    (Facts(Status.CREATED, start_journaled=True), (A.UNDO_START, A.BOOT_START)),
    # exited and restarting: the same, then the restart policy
    (Facts(Status.EXITED), (A.BOOT_START,)),
    (Facts(Status.EXITED, start_journaled=True, runc="running", conmon_alive=True), (A.ADOPT, A.WATCH)),
    (Facts(Status.RESTARTING), (A.RESUME_RESTART,)),
    (Facts(Status.RESTARTING, runc="created", conmon_alive=True, leftovers=True), (A.UNDO_START, A.RESUME_RESTART)),
    (Facts(Status.RESTARTING, start_journaled=True, runc="running", conmon_alive=True), (A.ADOPT, A.WATCH)),
    (Facts(Status.DEAD, leftovers=True), (A.UNDO_START, A.BOOT_START)),
])
def test_decide(facts, expected):
    assert decide(facts) == expected


def test_every_situation_ends_startable_and_removable():
    """Over the whole table (2560 situations): an action for each; a removal alone; a container
    that keeps running is watched (its exit will be recorded); one left stopped has nothing of
    a run left (undone, or there was nothing), so `start` and `rm` both work."""
    for facts in every_facts():
        check_outcome(facts)


def check_outcome(facts: Facts) -> None:
    actions = decide(facts)
    assert actions and len(set(actions)) == len(actions)
    if A.END_CREATE in actions:  # the create was done: then as if it had not been journaled
        assert facts.status is not None and actions[0] == A.END_CREATE
        assert actions[1:] == decide(dataclasses.replace(facts, create_journaled=False))
        return
    if A.FINISH_REMOVAL in actions or A.DROP_LEFTOVERS in actions:
        assert len(actions) == 1
        return
    keeps_running = A.WATCH in actions
    assert keeps_running == (facts.conmon_alive and (facts.status in (Status.RUNNING, Status.PAUSED) or A.ADOPT in actions))
    if not keeps_running:
        traces = facts.runc is not None or facts.conmon_alive or facts.leftovers or facts.start_journaled
        recorded_active = facts.status in (Status.RUNNING, Status.PAUSED)
        assert A.SETTLE_EXIT in actions if recorded_active else (A.UNDO_START in actions) == traces
    if A.ADOPT in actions:
        assert facts.start_journaled and facts.runc in ("running", "paused")
