""""Paused by commit", recorded on disk: ``<root>/containers/<id>/paused-by-commit``.

``commit`` freezes a running container (``runc pause``) while it tars the upper dir, and its
record keeps saying running: the pause is commit's, not the user's. The marker is written
before the freeze and removed after the thaw, so a pouchd killed in between leaves it, and
``ContainerService.recover`` resumes the container it names (when runc reports it paused)
before watching it again. Not fsynced: a killed daemon loses no page cache, and after a host
crash the container is gone anyway.
"""

from __future__ import annotations

import logging
import os
from typing import Protocol

from pouch.errors import PouchError

log = logging.getLogger(__name__)

MARKER = "paused-by-commit"


class Freezer(Protocol):
    """What thawing needs of the runtime (``runtime.registry.Runtimes``)."""

    def state(self, container_id: str) -> dict | None: ...

    def resume(self, container_id: str) -> None: ...


def marker_path(container_dir: str) -> str:
    return os.path.join(container_dir, MARKER)


def mark(container_dir: str) -> None:
    with open(marker_path(container_dir), "w"):
        pass


def clear(container_dir: str) -> None:
    try:
        os.unlink(marker_path(container_dir))
    except FileNotFoundError:
        pass


def thaw_after_crash(runtime: Freezer, container_dir: str, container_id: str, *, running: bool) -> None:
    """At recover: a container a commit left frozen is resumed when it still runs (``running``:
    its conmon is alive and its record says running, not user-paused); the marker goes. If the
    resume fails the marker stays, so the next start tries again."""
    if not os.path.exists(marker_path(container_dir)):
        return
    if running:
        try:
            if (runtime.state(container_id) or {}).get("status") == "paused":
                runtime.resume(container_id)
                log.info("resumed container %s that a commit left paused", container_id[:12])
        except PouchError:
            log.exception("resuming container %s that a commit left paused", container_id[:12])
            return
    clear(container_dir)
