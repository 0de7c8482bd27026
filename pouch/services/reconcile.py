"""Recovery at pouchd start as a decision table: the facts about one container in, the
actions that make its record and the host agree out. Pure; ``services/recovery.py`` gathers
the facts and applies the actions.

A daemon killed at any instant leaves each container in one of these situations:

- a removal journaled (``services/pending.py``: ``rm``, ``--rm``) or a record saying
  ``removing``: the removal is finished, whatever runs is killed, nothing stays;
- a create journaled: done if its record was written (the journal goes), undone otherwise
  (removed as a removal is);
- no record and no journal, but files (a create cut short before its record was written):
  they go;
- a record saying running or paused: its conmon alive means it runs (watched again; a
  commit's pause lifted, a pause or unpause runc did but the record missed is recorded);
  conmon gone means it exited meanwhile (the exit recorded, the runtime torn down);
- a record saying created, exited or restarting: a start that reached ``runc start``
  (``services/starting.py``) and still runs under its conmon is adopted (recorded running);
  any other trace of a start (runc state, conmon, bundle, root mount, netns, CNI result) is undone and the
  record keeps its status, so ``start`` and ``rm`` work; then the restart policy applies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from pouch.models import Status


class Action(StrEnum):
    FINISH_REMOVAL = "finish-removal"  # record (if any), runtime, network, mounts, files, journaled volumes
    END_CREATE = "end-create"  # a create whose record was written: its journal goes
    DROP_LEFTOVERS = "drop-leftovers"  # no record: what a cut-short create or removal left
    ADOPT = "adopt"  # running though recorded stopped: recorded running, from the start journal
    UNDO_START = "undo-start"  # a start cut short: runtime, network, mounts undone; the record kept
    THAW = "thaw"  # a commit's pause lifted (services/commitpause.py)
    RECORD_PAUSED = "record-paused"  # runc paused it, the record missed it
    RECORD_RUNNING = "record-running"  # runc resumed it, the record missed it
    WATCH = "watch"  # conmon alive: the exit monitor and health probes again
    SETTLE_EXIT = "settle-exit"  # conmon gone: the exit recorded, the runtime torn down
    RESUME_RESTART = "resume-restart"  # restarting: started again after the first back-off
    BOOT_START = "boot-start"  # stopped: started when its restart policy says so


@dataclass(frozen=True)
class Facts:
    """What is known of one container id at pouchd start."""

    status: Status | None  # the record's; None: no record
    removal_journaled: bool = False
    create_journaled: bool = False
    start_journaled: bool = False  # the start reached `runc start`
    runc: str | None = None  # runc's status: created, running, paused, stopped; None: unknown to runc
    conmon_alive: bool = False
    leftovers: bool = False  # a bundle, a mounted root, a netns or a cached CNI result of a run
    commit_paused: bool = False  # services/commitpause.py's marker


def decide(facts: Facts) -> tuple[Action, ...]:
    """The actions, in order, that bring one container's record and host state into agreement."""
    if facts.create_journaled and facts.status is not None and not facts.removal_journaled:
        return (Action.END_CREATE, *decide(replace(facts, create_journaled=False)))
    if facts.removal_journaled or facts.create_journaled or facts.status == Status.REMOVING:
        return (Action.FINISH_REMOVAL,)
    if facts.status is None:
        return (Action.DROP_LEFTOVERS,)
    if facts.status in (Status.RUNNING, Status.PAUSED):
        return _recorded_active(facts)
    return _recorded_stopped(facts)


def _recorded_active(facts: Facts) -> tuple[Action, ...]:
    if not facts.conmon_alive:
        return (Action.SETTLE_EXIT,)
    if facts.commit_paused:
        return (Action.THAW, Action.WATCH)
    if facts.status == Status.RUNNING and facts.runc == "paused":
        return (Action.RECORD_PAUSED, Action.WATCH)
    if facts.status == Status.PAUSED and facts.runc == "running":
        return (Action.RECORD_RUNNING, Action.WATCH)
    return (Action.WATCH,)


def _recorded_stopped(facts: Facts) -> tuple[Action, ...]:
    """created, exited, dead, restarting: no process is recorded."""
    then = Action.RESUME_RESTART if facts.status == Status.RESTARTING else Action.BOOT_START
    if facts.start_journaled and facts.conmon_alive and facts.runc in ("running", "paused"):
        paused = (Action.RECORD_PAUSED,) if facts.runc == "paused" else ()
        return (Action.ADOPT, *paused, Action.WATCH)
    if facts.runc is not None or facts.conmon_alive or facts.leftovers or facts.start_journaled:
        return (Action.UNDO_START, then)
    return (then,)
