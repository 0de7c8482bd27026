"""A start in progress, journaled at ``<root>/containers/<id>/starting.json``.

``start`` writes it just before ``runc start`` (the container exists in runc, its network is
set up), or for a rich container with ``--initscript``/``--prestart-hook`` once those ran (its
app waits for them: adopted before, it would wait for good), and removes it once the record
says running, or when the start is undone. A daemon
killed in between leaves it: ``recover`` then adopts the container if it runs (recorded
running with the pid, conmon and network written here) and undoes the start otherwise
(``services/reconcile.py``). Not fsynced: after a host crash nothing of the start is left.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from pouch.jsonfile import write_json_atomic
from pouch.models import NetworkAttachment

FILE = "starting.json"


@dataclass(frozen=True)
class Start:
    pid: int
    conmon_pid: int
    started_at: str
    attachment: NetworkAttachment | None = None

    def to_dict(self) -> dict:
        return {"pid": self.pid, "conmonPid": self.conmon_pid, "startedAt": self.started_at,
                "network": self.attachment.to_dict() if self.attachment else None}


def parse_start(text: str) -> Start | None:
    try:
        data = json.loads(text)
        attachment = NetworkAttachment.from_dict(data["network"]) if data.get("network") else None
        return Start(int(data["pid"]), int(data["conmonPid"]), str(data["startedAt"]), attachment)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def journal_path(container_dir: str) -> str:
    return os.path.join(container_dir, FILE)


def mark(container_dir: str, start: Start) -> None:
    write_json_atomic(journal_path(container_dir), start.to_dict())


def read(container_dir: str) -> Start | None:
    """The journaled start, None when there is none (or it is unreadable: nothing to adopt)."""
    try:
        with open(journal_path(container_dir)) as f:
            return parse_start(f.read())
    except OSError:
        return None


def exists(container_dir: str) -> bool:
    return os.path.exists(journal_path(container_dir))


def clear(container_dir: str) -> None:
    for path in (journal_path(container_dir), journal_path(container_dir) + ".tmp"):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
