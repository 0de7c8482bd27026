"""The "paused by commit" record and what recover does with it (pouch.services.commitpause).

The real freeze/crash/thaw cycle is tests/integration/test_crash_commit.py; here the
decisions, with a runtime that records what it is asked."""

from __future__ import annotations

import os

from pouch.errors import PouchError
from pouch.services import commitpause


class Runtime:
    def __init__(self, status: str | None, fail: bool = False) -> None:
        self.status = status
        self.fail = fail
        self.resumed: list[str] = []

    def state(self, container_id: str) -> dict | None:
        return None if self.status is None else {"id": container_id, "status": self.status}

    def resume(self, container_id: str) -> None:
        if self.fail:
            raise PouchError("runc resume failed")
        self.resumed.append(container_id)
        self.status = "running"


def test_mark_and_clear(tmp_path):
    commitpause.mark(str(tmp_path))
    assert os.path.exists(tmp_path / "paused-by-commit")
    commitpause.clear(str(tmp_path))
    commitpause.clear(str(tmp_path))  # twice is fine
    assert not os.path.exists(tmp_path / "paused-by-commit")


def test_a_frozen_running_container_is_resumed_and_the_record_dropped(tmp_path):
    runtime = Runtime("paused")
    commitpause.mark(str(tmp_path))
    commitpause.thaw_after_crash(runtime, str(tmp_path), "c1", running=True)
    assert runtime.resumed == ["c1"] and not os.path.exists(tmp_path / "paused-by-commit")


def test_no_record_no_resume(tmp_path):
    runtime = Runtime("paused")  # paused by the user: not commit's to undo
    commitpause.thaw_after_crash(runtime, str(tmp_path), "c1", running=True)
    assert runtime.resumed == []


def test_a_dead_or_user_paused_container_only_loses_the_record(tmp_path):
    for runtime in (Runtime(None), Runtime("paused")):
        commitpause.mark(str(tmp_path))
        commitpause.thaw_after_crash(runtime, str(tmp_path), "c1", running=False)
        assert runtime.resumed == [] and not os.path.exists(tmp_path / "paused-by-commit")


def test_a_failed_resume_keeps_the_record_for_the_next_start(tmp_path):
    commitpause.mark(str(tmp_path))
    commitpause.thaw_after_crash(Runtime("paused", fail=True), str(tmp_path), "c1", running=True)
    assert os.path.exists(tmp_path / "paused-by-commit")
